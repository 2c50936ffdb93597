"""Verification of an exported file: the ONNX checker, strict shape inference against
archspec's types, and onnxruntime against torch at each checked size."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from archspec.backends.onnx.exporter import example
from archspec.backends.onnx.report import Diff, Progress, Tolerance, detail, first_line, fmt_sizes
from archspec.backends.onnx.sizes import SizePlan, size
from archspec.errors import ArchspecError
from archspec.passes import Analysis
from archspec.shapes import TensorType

if TYPE_CHECKING:
    import onnx
    import torch


def verify(
    a: Analysis,
    module: torch.nn.Module,
    tmp: Path,
    plan: SizePlan,
    tol: Tolerance,
    say: Progress,
) -> tuple[int, Diff, list[dict[str, int]]]:
    """Check the file at ``tmp``; return its opset, the max |Δ| and the sizes run at."""
    say("checking the ONNX file...")
    _check_model(tmp)
    proto = _load_graph(tmp)
    say("inferring shapes (strict)...")
    _check_inferred_outputs(a, proto)
    session = _session(tmp)
    worst = Diff()
    for sizes in plan.checks:
        say(f"running onnxruntime at {fmt_sizes(sizes) or 'the declared shapes'}...")
        worst = worst.merge(compare(a, module, session, sizes, tol))
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
    return opset, worst, plan.checks


def _check_model(tmp: Path) -> None:
    import onnx

    try:
        onnx.checker.check_model(str(tmp), full_check=True)
    except Exception as e:  # ValidationError, InferenceError
        hint = None
        if "unsupported type" in str(e):
            hint = "that operator takes this dtype only at a later opset (--opset), if at all"
        raise ArchspecError(
            "export",
            f"the ONNX checker rejects the exported file: {first_line(e)}",
            got=detail(e),
            hint=hint,
        ) from e


def _load_graph(tmp: Path) -> onnx.ModelProto:
    import onnx

    return onnx.load(str(tmp), load_external_data=False)


def _check_inferred_outputs(a: Analysis, proto: onnx.ModelProto) -> None:
    """ONNX's own strict shape inference must reach archspec's output shapes and dtypes."""
    import onnx

    bare = onnx.ModelProto()
    bare.CopyFrom(proto)
    del bare.graph.value_info[:]
    for out in bare.graph.output:
        out.type.tensor_type.ClearField("shape")
    try:
        inferred = onnx.shape_inference.infer_shapes(bare, check_type=True, strict_mode=True, data_prop=True)
    except Exception as e:  # InferenceError
        raise ArchspecError(
            "export", f"ONNX shape inference (strict) fails: {first_line(e)}", got=detail(e)
        ) from e
    declared = [(v, n, t, "input") for v, (n, t) in zip(proto.graph.input, a.inputs.items(), strict=False)]
    found = [(v, n, t, "output") for v, (n, t) in zip(inferred.graph.output, a.outputs.items(), strict=False)]
    for value, name, t, what in declared + found:
        problem = _type_problem(value.type.tensor_type, t)
        if problem:
            verb = "declares" if what == "input" else "infers"
            raise ArchspecError(
                "export",
                f"ONNX {verb} a different type for {what} '{name}': {problem}",
                node=name,
                expected=str(t),
                got=_fmt_onnx_type(value.type.tensor_type),
            )


def _type_problem(tt: Any, t: TensorType) -> str | None:
    import onnx

    dtype = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type).name if tt.elem_type else "?"
    if tt.elem_type == onnx.TensorProto.BFLOAT16:
        dtype = "bfloat16"
    if dtype != t.dtype:
        return f"dtype {dtype}, archspec says {t.dtype}"
    if not tt.HasField("shape"):
        return "no shape could be inferred"
    dims = tt.shape.dim
    if len(dims) != t.rank:
        return f"rank {len(dims)}, archspec says {t.rank}"
    for i, (d, ours) in enumerate(zip(dims, t.shape, strict=False)):
        if d.HasField("dim_value") and isinstance(ours, int) and d.dim_value != ours:
            return f"dim {i} is {d.dim_value}, archspec says {ours}"
        if d.HasField("dim_value") and not isinstance(ours, int):
            return (
                f"dim {i} is fixed at {d.dim_value} where archspec has '{ours}' (a traced size was baked in)"
            )
    return None


def _fmt_onnx_type(tt: Any) -> str:
    dims = [str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in tt.shape.dim]
    return f"elem_type {tt.elem_type} [{', '.join(dims)}]"


def _session(tmp: Path) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 4  # errors come back as exceptions; do not also print them
    try:
        return ort.InferenceSession(str(tmp), opts, providers=["CPUExecutionProvider"])
    except Exception as e:
        hint = None
        if "NOT_IMPLEMENTED" in str(e):
            hint = (
                "onnxruntime's CPU provider has no kernel for that operator and dtype (float64 and "
                "bfloat16 convolutions, for example); export the model in float32"
            )
        raise ArchspecError(
            "export",
            f"onnxruntime cannot load the exported file: {first_line(e)}",
            got=detail(e),
            hint=hint,
        ) from e


def _quiet_run() -> Any:
    import onnxruntime as ort

    options = ort.RunOptions()
    options.log_severity_level = 4
    return options


def compare(
    a: Analysis, module: torch.nn.Module, session: Any, sizes: dict[str, int], tol: Tolerance
) -> Diff:
    """Run torch and onnxruntime on the same inputs; return the max |Δ| over the outputs."""
    import torch

    inputs = example(a, sizes)
    with torch.no_grad():
        expected = _flatten(module(*inputs))
    feeds = {i.name: _numpy(x) for i, x in zip(session.get_inputs(), inputs, strict=False)}
    at = fmt_sizes(sizes) or "the declared shapes"
    try:
        got = session.run(None, feeds, _quiet_run())
    except Exception as e:
        raise ArchspecError(
            "export",
            f"onnxruntime fails at {at}: {first_line(e)}",
            got=detail(e),
            hint="a size traced at export time may have been baked into the graph",
        ) from e
    if len(got) != len(expected):
        raise ArchspecError("export", f"onnxruntime returns {len(got)} outputs, torch {len(expected)}")
    worst = Diff()
    for (name, t), want, have in zip(a.outputs.items(), expected, got, strict=False):
        shape = [size(d, {**a.sizes, **sizes}) for d in t.shape]
        if list(have.shape) != shape or list(want.shape) != shape:
            raise ArchspecError(
                "export",
                f"output '{name}' has the wrong shape at {at}",
                node=name,
                expected=f"{shape} (archspec; torch gives {list(want.shape)})",
                got=f"{list(have.shape)} (onnxruntime)",
                hint="a size traced at export time may have been baked into the graph",
            )
        diff, ok = _difference(want, have, tol)
        if not ok:
            raise ArchspecError(
                "export",
                f"onnxruntime and torch disagree on output '{name}' at {at}",
                node=name,
                expected=f"|Δ| ≤ {tol.atol:.0e} + {tol.rtol:.0e}·|y| everywhere",
                got=f"max |Δ| {diff.max_abs:.3g} (|y| up to {diff.max_ref:.3g})",
                hint="raise the tolerance with --atol if this is rounding, else report the layer",
            )
        worst = worst.merge(diff)
    return worst


def _flatten(out: Any) -> list[torch.Tensor]:
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flatten(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _flatten(o)]
    return [out]


def _numpy(x: torch.Tensor) -> Any:
    import torch

    if x.dtype == torch.bfloat16:
        import ml_dtypes  # onnxruntime's numpy spelling of bfloat16

        return x.float().numpy().astype(ml_dtypes.bfloat16)
    return x.detach().cpu().numpy()


def _difference(want: torch.Tensor, have: Any, tol: Tolerance) -> tuple[Diff, bool]:
    """The max |Δ| and |y|, and whether |Δ| <= atol + rtol * |y| everywhere (NaN matches NaN)."""
    import numpy as np
    import torch

    ref = want.detach().cpu().to(torch.float64).numpy()
    got = np.asarray(have).astype(np.float64)
    if ref.size == 0:
        return Diff(), True
    same = (np.isnan(ref) & np.isnan(got)) | (ref == got)  # also equal infinities
    with np.errstate(invalid="ignore"):
        diff = np.nan_to_num(np.where(same, 0.0, np.abs(ref - got)), nan=np.inf)
    size = np.nan_to_num(np.abs(ref), nan=0.0, posinf=np.inf)
    exact = not (want.is_floating_point() or want.is_complex())  # ids, counts, masks
    ok = bool(np.all(diff == 0)) if exact else bool(np.all(diff <= tol.atol + tol.rtol * size))
    return Diff(float(diff.max()), float(size.max())), ok
