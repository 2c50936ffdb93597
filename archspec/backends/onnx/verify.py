"""Verification of an ONNX file: the ONNX checker and strict shape inference against archspec's
types here; onnxruntime against torch, on an exercised module, in runtime.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archspec.backends.onnx import runtime
from archspec.backends.onnx.report import Progress, Tolerance, Verified, detail, first_line
from archspec.backends.onnx.sizes import SizePlan
from archspec.errors import ArchspecError, ErrorCode
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
    reference: torch.nn.Module | None = None,
) -> Verified:
    """Check the file at ``tmp`` against archspec's types and against ``module``; with a
    ``reference`` (the module given weights came from), also at the file's own weights
    against it (trained.py)."""
    proto = check_file(a, tmp, say)
    check_weights(tmp, proto, module)
    found = runtime.check(a, module, tmp, proto, plan, tol, say)
    if reference is not None:
        from archspec.backends.onnx import trained

        found.diff = found.diff.merge(trained.check(a, reference, tmp, plan, tol, say))
    return found


def check_weights(tmp: Path, proto: Any, module: torch.nn.Module) -> None:
    """Each initializer named by a ``state_dict`` key holds the module's value, bit for bit
    (the runtime check replaces the constant ones, so it would not see them)."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer):
        proto = onnx.load(str(tmp))
    stored = {t.name: t for t in proto.graph.initializer}
    for key, value in module.state_dict().items():
        if key in stored:
            have = numpy_helper.to_array(stored[key])
            want = runtime.numpy(value)
            if have.shape != want.shape or have.tobytes() != np.ascontiguousarray(want).tobytes():
                raise ArchspecError("export", f"the file's initializer '{key}' is not the module's", node=key)


def check_file(a: Analysis, tmp: Path, say: Callable[[str], None], what: ErrorCode = "export") -> Any:
    """The ONNX checker and strict shape inference; return the file's graph (no external data)."""
    say("checking the ONNX file...")
    _check_model(tmp, what)
    proto = _load_graph(tmp, what)
    say("inferring shapes (strict)...")
    _check_inferred_outputs(a, proto, what)
    return proto


def _check_model(tmp: Path, what: ErrorCode) -> None:
    import onnx

    try:
        onnx.checker.check_model(str(tmp), full_check=True)
    except Exception as e:  # ValidationError, InferenceError
        hint = None
        if "unsupported type" in str(e):
            hint = "that operator takes this dtype only at a later opset (--opset), if at all"
        raise ArchspecError(
            what,
            f"the ONNX checker rejects the file: {first_line(e)}",
            got=detail(e),
            hint=hint,
        ) from e


def _load_graph(tmp: Path, what: ErrorCode) -> onnx.ModelProto:
    import onnx

    try:
        return onnx.load(str(tmp), load_external_data=False)
    except Exception as e:  # DecodeError, OSError
        raise ArchspecError(what, f"cannot read '{tmp.name}' as an ONNX file: {first_line(e)}") from e


def _check_inferred_outputs(a: Analysis, proto: onnx.ModelProto, what: ErrorCode) -> None:
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
            what, f"ONNX shape inference (strict) fails: {first_line(e)}", got=detail(e)
        ) from e
    weights = {i.name for i in proto.graph.initializer}
    inputs = [v for v in proto.graph.input if v.name not in weights]
    if len(inputs) != len(a.inputs) or len(proto.graph.output) != len(a.outputs):
        raise ArchspecError(
            what,
            f"the file has {len(inputs)} input(s) and {len(proto.graph.output)} output(s); model "
            f"'{a.model}' has {len(a.inputs)} and {len(a.outputs)}",
            expected=", ".join(a.inputs) + " -> " + ", ".join(a.outputs),
            got=", ".join(v.name for v in inputs) + " -> " + ", ".join(v.name for v in proto.graph.output),
        )
    declared = [(v, n, t, "input") for v, (n, t) in zip(inputs, a.inputs.items(), strict=False)]
    found = [(v, n, t, "output") for v, (n, t) in zip(inferred.graph.output, a.outputs.items(), strict=False)]
    for value, name, t, kind in declared + found:
        problem = _type_problem(value.type.tensor_type, t)
        if problem:
            verb = "declares" if kind == "input" else "infers"
            raise ArchspecError(
                what,
                f"ONNX {verb} a different type for {kind} '{name}': {problem}",
                node=name,
                expected=str(t),
                got=_fmt_onnx_type(value.type.tensor_type),
                hint="if the file is meant to have that size, give it: --dim NAME=N"
                if "baked in" in problem
                else None,
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
