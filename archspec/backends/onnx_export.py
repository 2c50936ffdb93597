"""``archspec.export_onnx``: export a model to ONNX and prove the file right before it lands.

The model is built with ``archspec.build`` and exported with torch's current (dynamo)
exporter. Every plain symbolic input dim becomes a named dynamic axis. The file is written
into a temporary folder beside the target, checked there (``onnx.checker`` full check,
strict shape inference against archspec's own shapes, onnxruntime against torch at two
sizes of every dynamic dim) and only then moved into place. A failure leaves the target
directory as it was.

This module imports torch and onnx lazily: it is imported only when exporting.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from archspec.backends import onnx_limits
from archspec.backends.onnx_tidy import tidy
from archspec.errors import ArchspecError
from archspec.passes import Analysis
from archspec.pipeline import analyze, load
from archspec.shapes import Dim, TensorType
from archspec.spec import Spec, expr
from archspec.system.guard import check_forward_budget
from archspec.system.interrupts import deferred, time_limit

if TYPE_CHECKING:
    import onnx
    import onnx_ir
    import torch

__all__ = ["ExportReport", "check_limits", "export_analysis", "export_onnx", "lint"]

MIN_OPSET = 18  # the dynamo exporter's own operator set; older ones need a lossy conversion
# One protobuf file holds at most 2 GiB; keep room for the graph itself.
SINGLE_FILE_LIMIT = 2**31 - 2**26
DEFAULT_ATOL = {"float32": 1e-4, "float64": 1e-7, "float16": 1e-2, "bfloat16": 5e-2}
# Plus this much of |y|: float32 spacing at |y| = 500 is 3e-5, so deep models with large
# outputs (GPT-2's logits reach ~500 at random init) cannot meet 1e-4 alone.
DEFAULT_RTOL = {"float32": 1e-5, "float64": 1e-9, "float16": 1e-3, "bfloat16": 1e-2}
_PIP = "pip install 'archspec[onnx]'"
_BATCH_NAMES = frozenset({"batch", "batch_size", "bs", "b", "n", "num"})
_SEQ_BASES = (7, 11, 13, 17, 19, 23, 29, 31)  # distinct trace sizes (torch unifies equal ones)
_SCALES = (1, 2, 4, 8, 16, 32)
_ITEMSIZE = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "bool": 1}


@dataclass
class ExportReport:
    """What an export wrote and how it was verified."""

    paths: list[Path]  # the .onnx file, then the external data file if any
    model: str
    opset: int
    max_abs_diff: float
    atol: float
    rtol: float  # an output passes where |Δ| <= atol + rtol * |y| (numpy.allclose)
    max_abs_output: float  # the largest |y| torch produced
    sizes_checked: list[dict[str, int]]  # the dynamic dims' sizes onnxruntime ran at
    dynamic_dims: list[str]
    export_seconds: float
    verify_seconds: float
    file_bytes: int  # all files together
    external_data: str | None = None
    outputs_checked: list[str] = field(default_factory=list)

    def describe(self) -> str:
        where = ", ".join(str(p) for p in self.paths)
        head = f"onnx: {where} (opset {self.opset}, {_mb(self.file_bytes)})"
        at = " and ".join(_fmt_sizes(s) for s in self.sizes_checked) or "the declared shapes"
        check = f"verified at {at}: max |Δ| {self.max_abs_diff:.1e} ≤ {self.atol:.0e}"
        if self.max_abs_diff > self.atol:  # passed on the relative part
            check += f" + {self.rtol:.0e}·|y| (|y| ≤ {self.max_abs_output:.3g})"
        times = f"export {self.export_seconds:.1f} s, verify {self.verify_seconds:.1f} s"
        return f"{head}, {check} ({times})"


# Public entry points -----------------------------------------------------------------


def export_onnx(
    spec_or_path: Spec | str | Path,
    path: str | Path,
    model: str | None = None,
    opset: int | None = None,
    *,
    atol: float | None = None,
    external_data: str | None = None,
    sizes: Mapping[str, int] | None = None,
    timeout: float | None = None,
    max_nodes: int | None = None,
    memory_budget: int | None = None,
) -> ExportReport:
    """Export one model of a spec (the first by default) to ``path`` and verify it.

    ``sizes`` fixes symbolic dims (they become static in the file); the remaining plain
    symbolic input dims are dynamic axes. ``external_data`` names the weights file (beside
    ``path``) that models of 2 GB or more need. Raises ``ArchspecError`` when the model
    cannot be exported or the file fails verification; the target is then left untouched.
    Bounds (``archspec.backends.onnx_limits``): ``max_nodes`` layer nodes (default 5,000),
    ``timeout`` seconds (default 300; 0 = none), and the memory budget (weights, example
    inputs and activations; ``memory_budget`` bytes or ``ARCHSPEC_MEMORY_BUDGET``).
    """
    spec = spec_or_path if isinstance(spec_or_path, Spec) else load(spec_or_path)
    name = spec.pick(model)[0]
    a = analyze(spec, name, sizes)
    return export_analysis(
        a,
        path,
        opset=opset,
        atol=atol,
        external_data=external_data,
        timeout=timeout,
        max_nodes=max_nodes,
        memory_budget=memory_budget,
    )


def export_analysis(
    a: Analysis,
    path: str | Path,
    *,
    opset: int | None = None,
    atol: float | None = None,
    external_data: str | None = None,
    progress: bool = False,
    timeout: float | None = None,
    max_nodes: int | None = None,
    memory_budget: int | None = None,
) -> ExportReport:
    """Export an analyzed model to ``path``; see ``export_onnx``."""
    _require_dependencies()
    target = Path(path)
    say = _Progress(progress)
    plan = check_limits(a, max_nodes=max_nodes, memory_budget=memory_budget)
    seconds = onnx_limits.timeout(timeout)
    opset = _check_opset(opset)
    lint(a, opset)
    data_name = _external_data_name(a, target, external_data)
    tol = _tolerance(a, atol)

    say(f"exporting {a.model} to ONNX (opset {opset})...")
    t0 = time.perf_counter()
    made = _missing_folders(target.parent)
    tmpdir = _tempdir(target)
    done = False
    try:
        tmp = tmpdir / target.name
        with time_limit(seconds, onnx_limits.expired(a.model, seconds or 0)):
            module = _build(a)
            program = _run_exporter(a, module, plan, opset)
            _check_dims_kept(a, program)
            _annotate(program.model, a, module)
            _save(program.model, tmp, data_name)
            del program
            t1 = time.perf_counter()
            opset_written, diff, checked = _verify(a, module, tmp, plan, tol, say)
            t2 = time.perf_counter()
        files = [tmp] + ([tmpdir / data_name] if data_name else [])
        size = sum(f.stat().st_size for f in files)
        with deferred():  # moving the files into place is not cut in half by a signal
            _install([(f, target.parent / f.name) for f in files], tmpdir)
        done = True
    finally:
        with deferred():
            shutil.rmtree(tmpdir, ignore_errors=True)
            if not done:
                _remove_empty(made)
    paths = [target] + ([target.parent / data_name] if data_name else [])
    return ExportReport(
        paths=paths,
        model=a.model,
        opset=opset_written,
        max_abs_diff=diff.max_abs,
        atol=tol.atol,
        rtol=tol.rtol,
        max_abs_output=diff.max_ref,
        sizes_checked=checked,
        dynamic_dims=list(plan.dims),
        export_seconds=t1 - t0,
        verify_seconds=t2 - t1,
        file_bytes=size,
        external_data=data_name,
        outputs_checked=list(a.outputs),
    )


# Checks before exporting ---------------------------------------------------------------


def check_limits(a: Analysis, *, max_nodes: int | None = None, memory_budget: int | None = None) -> _SizePlan:
    """The ONNX step's static bounds, before torch is imported: at most ``max_nodes`` layer
    nodes, and weights, example inputs and activations at every size the step runs the model
    at within the memory budget. Returns the sizes it will run at."""
    onnx_limits.check_nodes(a.model, sum(1 for _ in a.graph.layers()), max_nodes)
    plan = _SizePlan.make(a)
    check_forward_budget(
        a,
        [plan.trace, *plan.checks],
        dtype=_float_dtype(a),
        weight_copies=onnx_limits.WEIGHT_COPIES,
        budget=memory_budget,
        what="the ONNX export",
    )
    return plan


def _require_dependencies() -> None:
    for mod in ("torch", "onnx", "onnxscript", "onnxruntime"):
        if importlib.util.find_spec(mod) is None:
            raise ArchspecError(
                "missing-dependency",
                f"ONNX export needs '{mod}', which is not installed",
                hint=_PIP,
            )


def _check_opset(opset: int | None) -> int:
    from torch.onnx import _constants

    top = int(getattr(_constants, "ONNX_MAX_OPSET", 23))
    if opset is None:
        return int(getattr(_constants, "ONNX_DEFAULT_OPSET", MIN_OPSET))
    if not MIN_OPSET <= opset <= top:
        raise ArchspecError(
            "unsupported",
            f"ONNX opset {opset} is not supported by this exporter",
            expected=f"an opset from {MIN_OPSET} to {top}",
            got=str(opset),
            hint="leave --opset out to use the exporter's default",
        )
    return opset


def lint(a: Analysis, opset: int) -> None:
    """Every layer that cannot be exported at ``opset``, reported at once."""
    issues: list[tuple[str, str, str]] = []
    for _, node in a.graph.walk():
        if node.kind == "layer" and node.layer is not None and node.params is not None:
            why = node.layer.onnx_issue(node.params, opset, [a.shape(t) for t in node.in_types])
            if why:
                issues.append((node.path, node.type, why))
    if not issues:
        return
    lines = "\n".join(f"  - {path} ({kind}): {why}" for path, kind, why in issues)
    raise ArchspecError(
        "unsupported",
        f"{len(issues)} layer(s) of model '{a.model}' cannot be exported to ONNX opset {opset}:\n{lines}",
        node=issues[0][0] if len(issues) == 1 else None,
        hint="change those layers, or try another --opset",
    )


def _external_data_name(a: Analysis, target: Path, name: str | None) -> str | None:
    """The external data file name to use, or None for one self-contained file."""
    if name is not None:
        bad = not name or name in (".", "..") or Path(name).name != name or "\\" in name
        if bad or name == target.name:
            raise ArchspecError(
                "export",
                f"external data name '{name}' must be a plain file name beside the .onnx file",
                hint=f"e.g. --external-data {target.stem}.onnx.data",
            )
        return name
    size = _weight_bytes(a)
    if size >= SINGLE_FILE_LIMIT:
        raise ArchspecError(
            "export",
            f"model '{a.model}' has {_mb(size)} of weights; one ONNX file holds at most 2 GB",
            hint=f"store the weights beside it: --external-data {target.stem}.onnx.data "
            f"(export_onnx(..., external_data='{target.stem}.onnx.data'))",
        )
    return None


def _weight_bytes(a: Analysis) -> int:
    """Bytes of parameters and buffers, as archspec counts them."""
    return (a.total_params + a.buffers) * _ITEMSIZE.get(_float_dtype(a) or "float32", 4)


def _float_dtype(a: Analysis) -> str | None:
    """The floating dtype of the model's inputs (None when every input is integer)."""
    for t in a.inputs.values():
        if t.dtype.startswith(("float", "bfloat")):
            return t.dtype
    return None


@dataclass(frozen=True)
class _Tolerance:
    atol: float
    rtol: float


def _tolerance(a: Analysis, atol: float | None) -> _Tolerance:
    """The loosest default among the model's float dtypes (float32 when it has none)."""
    dtypes = [t.dtype for t in (*a.inputs.values(), *a.outputs.values()) if t.dtype in DEFAULT_ATOL]
    dtype = max(dtypes or ["float32"], key=lambda d: DEFAULT_ATOL[d])
    if atol is not None and not atol >= 0:
        raise ArchspecError("export", f"the tolerance must be a number >= 0, got {atol}")
    return _Tolerance(atol if atol is not None else DEFAULT_ATOL[dtype], DEFAULT_RTOL[dtype])


@dataclass
class _Diff:
    """How far onnxruntime is from torch: the largest |Δ| and the largest |y|."""

    max_abs: float = 0.0
    max_ref: float = 0.0

    def merge(self, other: _Diff) -> _Diff:
        return _Diff(max(self.max_abs, other.max_abs), max(self.max_ref, other.max_ref))


# Dynamic dims and the sizes they are traced and checked at ------------------------------


def _symbols(dim: Dim) -> set[str]:
    return set() if isinstance(dim, int) else set(dim.symbols)


@dataclass
class _SizePlan:
    """Sizes for each dynamic dim: one to trace at, two to check at."""

    dims: list[str]
    trace: dict[str, int]
    checks: list[dict[str, int]]

    @classmethod
    def make(cls, a: Analysis) -> _SizePlan:
        dims = sorted({s for t in a.inputs.values() for d in t.shape for s in _symbols(d)})
        if not dims:
            return cls([], {}, [{}])
        for scale in _SCALES:
            trace, small, large = _candidates(dims, scale)
            if all(_fits(a, s) for s in (trace, small, large)):
                return cls(dims, trace, [small, large])
        raise ArchspecError(
            "unsupported",
            f"no sizes of {', '.join(dims)} found that every layer of '{a.model}' accepts",
            hint="fix those dims with sizes (--dim NAME=N) and export again",
        )


def _candidates(dims: list[str], scale: int) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    trace, small, large = {}, {}, {}
    others = [d for d in dims if d.lower() not in _BATCH_NAMES]
    for d in dims:
        if d.lower() in _BATCH_NAMES:
            trace[d], small[d], large[d] = 2, 1, 3
        else:
            base = _SEQ_BASES[others.index(d) % len(_SEQ_BASES)] * scale
            trace[d], small[d], large[d] = base, base - 2, base + 2
    return trace, small, large


def _fits(a: Analysis, sizes: dict[str, int]) -> bool:
    """Every tensor of the model has a positive size at ``sizes``."""
    types = [*a.inputs.values()] + [n.out for _, n in a.graph.walk() if n.out is not None]
    try:
        return all(_size(d, {**a.sizes, **sizes}) > 0 for t in types for d in t.shape)
    except (ValueError, KeyError):
        return False


def _size(dim: Dim, sizes: Mapping[str, int]) -> int:
    return dim if isinstance(dim, int) else dim.evaluate(sizes)


def _dynamic_shapes(a: Analysis, plan: _SizePlan) -> tuple[dict[int, Any] | None, ...]:
    """``torch.export`` dynamic shapes: one named Dim per symbol, shared across inputs."""
    from torch.export import Dim as TorchDim

    named = {d: TorchDim(d) for d in plan.dims}
    shapes: list[dict[int, Any] | None] = []
    for name, t in a.inputs.items():
        axes: dict[int, Any] = {}
        for i, d in enumerate(t.shape):
            if not isinstance(d, int):
                axes[i] = _torch_dim(a, name, d, named)
        shapes.append(axes or None)
    return tuple(shapes)


def _torch_dim(a: Analysis, inp: str, dim: Dim, named: dict[str, Any]) -> Any:
    if str(dim) in named:
        return named[str(dim)]
    try:  # an expression: a derived dim such as 2 * seq (torch supports + - * by ints)
        return expr.evaluate(str(dim), named)
    except (expr.ExprError, TypeError, AttributeError) as e:
        raise ArchspecError(
            "unsupported",
            f"input '{inp}' has the dim '{dim}', which cannot be a dynamic ONNX axis ({e})",
            node=inp,
            hint="use a plain symbol, or fix its symbols with sizes (--dim NAME=N)",
        ) from None


# Building and exporting --------------------------------------------------------------------


EXPORT_SEED = 0  # weights of an export when the spec sets no seed


def _build(a: Analysis) -> torch.nn.Module:
    import torch

    from archspec.backends.torch.builder import build

    dtype = _float_dtype(a)
    seed = a.graph.seed if a.graph.seed is not None else a.spec.file.seed
    module = build(
        a.spec,
        a.model,
        dtype=getattr(torch, dtype) if dtype not in (None, "float32") else None,
        seed=EXPORT_SEED if seed is None else seed,  # the same spec exports the same weights
    )
    return module.eval()


def _inputs(a: Analysis, sizes: dict[str, int]) -> tuple[torch.Tensor, ...]:
    from archspec.backends.torch.builder import example_inputs

    return example_inputs(a.spec, a.model, {**a.sizes, **sizes})


def _run_exporter(a: Analysis, module: torch.nn.Module, plan: _SizePlan, opset: int) -> Any:
    import torch

    args = _inputs(a, plan.trace)
    shapes = _dynamic_shapes(a, plan) if plan.dims else None
    with _captured() as log, _rnn_patches(bool(plan.dims)):
        try:
            program = torch.onnx.export(
                module,
                args,
                None,
                dynamo=True,
                dynamic_shapes=shapes,
                external_data=False,
                opset_version=opset,
                input_names=list(a.inputs),
                output_names=list(a.outputs),
                verbose=False,
            )
        except Exception as e:
            err = e
        else:
            return program
    raise ArchspecError(
        "export",
        f"torch.onnx.export failed for model '{a.model}': {_first_line(err)}",
        got="\n".join(t for t in (_tail(log.text(), 12), _detail(err)) if t) or None,
        hint=_export_hint(err, plan),
    ) from err


@contextlib.contextmanager
def _rnn_patches(dynamic: bool) -> Iterator[None]:
    """Keep LSTM/GRU sequence lengths dynamic through the whole export (two torch bugs).

    For dynamic shapes the exporter swaps in a while-loop decomposition of aten.lstm/gru,
    but only around the capture step: the decomposition step then recomputes their output
    shapes with the Python-loop decomposition and bakes the traced length into whatever
    reads them (two stacked LSTMs: a Reshape to [7, -1, 5]; pytorch/pytorch#191855, fixed
    upstream by #193192). So archspec keeps the patch on for the whole export. And the patch
    edits ``py_kernels`` without clearing the ops' dispatch caches, so the kernel cached by
    one export leaks into the next (and into eager runs); the caches are cleared around it.
    """
    _clear_rnn_dispatch()
    try:
        with contextlib.ExitStack() as stack:
            if dynamic:
                for patch in _while_loop_rnn_patches():
                    stack.enter_context(patch)
                _clear_rnn_dispatch()
            yield
    finally:
        _clear_rnn_dispatch()


def _while_loop_rnn_patches() -> list[contextlib.AbstractContextManager[None]]:
    try:
        from torch.export import _patches
    except ImportError:  # an older or newer torch: rely on the exporter and on verification
        return []
    names = ("register_lstm_while_loop_decomposition", "register_gru_while_loop_decomposition")
    return [getattr(_patches, n)() for n in names if hasattr(_patches, n)]


def _clear_rnn_dispatch() -> None:
    import torch

    for name in ("lstm", "gru", "rnn_tanh", "rnn_relu"):
        packet = getattr(torch.ops.aten, name, None)
        for overload in ("input", "data"):
            cache = getattr(getattr(packet, overload, None), "_dispatch_cache", None)
            if isinstance(cache, dict):
                cache.clear()


def _check_dims_kept(a: Analysis, program: Any) -> None:
    """The exporter may silently fix a dynamic dim at its traced size (it "refines" the
    dynamic shapes from torch.export's suggested fixes); say so before verifying."""
    import onnx_ir as ir

    for value, (name, t) in zip(program.model.graph.inputs, a.inputs.items(), strict=False):
        if value.shape is None:
            continue
        for i, (d, ours) in enumerate(zip(value.shape, t.shape, strict=False)):
            if not isinstance(ours, int) and not isinstance(d, ir.SymbolicDim):
                raise ArchspecError(
                    "export",
                    f"the exporter fixed dim {i} ('{ours}') of input '{name}' at its traced size {d}",
                    node=name,
                    hint="a layer's torch code specializes on that size; fix it with sizes (--dim "
                    f"{ours}=N) to export a static graph",
                )


def _export_hint(err: Exception, plan: _SizePlan) -> str:
    text = str(err)
    if "Constraints violated" in text or "specialized" in text or "guard" in text.lower():
        dims = ", ".join(plan.dims)
        return f"the model constrains a dynamic dim ({dims}); fix it with sizes (--dim NAME=N)"
    return "the exporter's messages are above; the layer named there may need a different setting"


# Carrying archspec's knowledge into the file ----------------------------------------------


def _annotate(model: onnx_ir.Model, a: Analysis, module: torch.nn.Module) -> None:
    import archspec

    spec = a.spec
    counts = (
        f"{a.total_params:,} parameters ({a.trainable_params:,} trainable, "
        f"{a.non_trainable_params:,} frozen), {a.buffers:,} buffer elements"
    )
    model.doc_string = (
        f"spec '{spec.name}', model '{a.model}': {counts}. Generated by archspec {archspec.__version__}."
    )
    doc = a.graph.doc or spec.file.doc
    model.graph.doc_string = f"archspec model '{a.model}' of spec '{spec.name}'" + (f": {doc}" if doc else "")
    model.metadata_props.update(
        {
            "archspec.version": archspec.__version__,
            "archspec.spec": PurePath(spec.path).name,  # no directory at all: the same bytes anywhere
            "archspec.spec_name": spec.name,
            "archspec.model": a.model,
            "archspec.total_params": str(a.total_params),
            "archspec.trainable_params": str(a.trainable_params),
            "archspec.non_trainable_params": str(a.non_trainable_params),
            "archspec.buffers": str(a.buffers),
            "archspec.inputs": "; ".join(f"{n}: {t}" for n, t in a.inputs.items()),
            "archspec.outputs": "; ".join(f"{n}: {t}" for n, t in a.outputs.items()),
        }
    )
    _name_io(model.graph.inputs, a.inputs, "input")
    _name_io(model.graph.outputs, a.outputs, "output")
    _name_nodes(model.graph, a, {name for name, _ in module.named_modules()})
    tidy(model.graph)


def _name_io(values: Sequence[Any], types: dict[str, TensorType], what: str) -> None:
    """Give graph inputs/outputs archspec's dim names (``batch``, ``(h - 3) // 2 + 1``)."""
    import onnx_ir as ir

    for value, (name, t) in zip(values, types.items(), strict=False):
        value.doc_string = f"archspec {what} '{name}': {t}"
        if value.shape is None or len(value.shape) != t.rank:
            continue  # verification reports the rank mismatch
        # Name only the dims that are symbolic in the file too: a fixed size stays visible.
        dims = [
            ir.SymbolicDim(str(ours)) if isinstance(d, ir.SymbolicDim) and not isinstance(ours, int) else d
            for d, ours in zip(value.shape, t.shape, strict=False)
        ]
        value.shape = ir.Shape(dims)


def _name_nodes(graph: onnx_ir.Graph, a: Analysis, modules: set[str]) -> None:
    """Name each ONNX node after the module it came from (``layer1.0.conv1/Conv``) and record
    the archspec node it belongs to in its metadata (``archspec.path``, ``archspec.layer``)."""
    nodes = {n.path: n for _, n in a.graph.walk()}
    used: dict[str, int] = {}
    for node in graph:
        scope = _module_path(node.metadata_props.get("pkg.torch.onnx.name_scopes"), modules)
        if scope is None:
            continue
        owner = _owner(scope, nodes)
        if owner is not None:
            node.metadata_props["archspec.path"] = owner
            node.metadata_props["archspec.layer"] = nodes[owner].type
        base = f"{scope}/{node.op_type}" if scope else node.op_type
        count = used.get(base, 0)
        used[base] = count + 1
        node.name = base if count == 0 else f"{base}_{count}"


def _module_path(scopes: str | None, modules: set[str]) -> str | None:
    """``"['', 'layer1', '0', 'conv1', 'conv2d']"`` -> ``layer1.0.conv1``: the scopes that
    name submodules (some scopes are full paths, ``['', 'enc', 'enc.self_attn', 'view']``;
    the op comes last)."""
    if not scopes:
        return None
    try:
        parts = ast.literal_eval(scopes)
    except (ValueError, SyntaxError):
        return None
    if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
        return None
    path = ""
    for part in parts:  # a scope is a submodule's name, or (for some) its full path
        joined = f"{path}.{part}" if path else part
        if part and joined in modules:
            path = joined
        elif part in modules and part.startswith(f"{path}."):
            path = part
    return path


def _owner(scope: str, nodes: Mapping[str, Any]) -> str | None:
    """The deepest archspec node whose path is ``scope`` or a prefix of it."""
    parts = scope.split(".") if scope else []
    for i in range(len(parts), 0, -1):
        candidate = ".".join(parts[:i])
        if candidate in nodes:
            return candidate
    return None


def _save(model: onnx_ir.Model, tmp: Path, data_name: str | None) -> None:
    import onnx_ir as ir

    try:
        ir.save(model, tmp, format="protobuf", external_data=data_name)
    except (OSError, ValueError) as e:
        raise ArchspecError("export", f"cannot write the ONNX file: {e}") from e


# Verification ------------------------------------------------------------------------------


def _verify(
    a: Analysis,
    module: torch.nn.Module,
    tmp: Path,
    plan: _SizePlan,
    tol: _Tolerance,
    say: _Progress,
) -> tuple[int, _Diff, list[dict[str, int]]]:
    """Check the file at ``tmp``; return its opset, the max |Δ| and the sizes run at."""
    say("checking the ONNX file...")
    _check_model(tmp)
    proto = _load_graph(tmp)
    say("inferring shapes (strict)...")
    _check_inferred_outputs(a, proto)
    session = _session(tmp)
    worst = _Diff()
    for sizes in plan.checks:
        say(f"running onnxruntime at {_fmt_sizes(sizes) or 'the declared shapes'}...")
        worst = worst.merge(_compare(a, module, session, sizes, tol))
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
            f"the ONNX checker rejects the exported file: {_first_line(e)}",
            got=_detail(e),
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
            "export", f"ONNX shape inference (strict) fails: {_first_line(e)}", got=_detail(e)
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
            f"onnxruntime cannot load the exported file: {_first_line(e)}",
            got=_detail(e),
            hint=hint,
        ) from e


def _quiet_run() -> Any:
    import onnxruntime as ort

    options = ort.RunOptions()
    options.log_severity_level = 4
    return options


def _compare(
    a: Analysis, module: torch.nn.Module, session: Any, sizes: dict[str, int], tol: _Tolerance
) -> _Diff:
    """Run torch and onnxruntime on the same inputs; return the max |Δ| over the outputs."""
    import torch

    inputs = _inputs(a, sizes)
    with torch.no_grad():
        expected = _flatten(module(*inputs))
    feeds = {i.name: _numpy(x) for i, x in zip(session.get_inputs(), inputs, strict=False)}
    at = _fmt_sizes(sizes) or "the declared shapes"
    try:
        got = session.run(None, feeds, _quiet_run())
    except Exception as e:
        raise ArchspecError(
            "export",
            f"onnxruntime fails at {at}: {_first_line(e)}",
            got=_detail(e),
            hint="a size traced at export time may have been baked into the graph",
        ) from e
    if len(got) != len(expected):
        raise ArchspecError("export", f"onnxruntime returns {len(got)} outputs, torch {len(expected)}")
    worst = _Diff()
    for (name, t), want, have in zip(a.outputs.items(), expected, got, strict=False):
        shape = [_size(d, {**a.sizes, **sizes}) for d in t.shape]
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


def _difference(want: torch.Tensor, have: Any, tol: _Tolerance) -> tuple[_Diff, bool]:
    """The max |Δ| and |y|, and whether |Δ| <= atol + rtol * |y| everywhere (NaN matches NaN)."""
    import numpy as np
    import torch

    ref = want.detach().cpu().to(torch.float64).numpy()
    got = np.asarray(have).astype(np.float64)
    if ref.size == 0:
        return _Diff(), True
    same = (np.isnan(ref) & np.isnan(got)) | (ref == got)  # also equal infinities
    with np.errstate(invalid="ignore"):
        diff = np.nan_to_num(np.where(same, 0.0, np.abs(ref - got)), nan=np.inf)
    size = np.nan_to_num(np.abs(ref), nan=0.0, posinf=np.inf)
    exact = not (want.is_floating_point() or want.is_complex())  # ids, counts, masks
    ok = bool(np.all(diff == 0)) if exact else bool(np.all(diff <= tol.atol + tol.rtol * size))
    return _Diff(float(diff.max()), float(size.max())), ok


# Files: a temporary folder beside the target, moved into place only when all is well ---------


def _missing_folders(folder: Path) -> list[Path]:
    """The folders that creating ``folder`` would create, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def _tempdir(target: Path) -> Path:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as e:
        raise ArchspecError("io", f"cannot write '{target}': {e.strerror}") from None


def _install(moves: list[tuple[Path, Path]], tmpdir: Path) -> None:
    """Move each verified file onto its target (data before the model that points at it).

    Each move is atomic; if a later one fails, the targets already replaced get their
    old contents back, so the folder never holds a model with the wrong weights."""
    backups: list[tuple[Path, Path | None]] = []
    try:
        for i, (src, dst) in enumerate(reversed(moves)):
            backup = tmpdir / f".backup{i}"
            if dst.exists():
                _keep(dst, backup)
                backups.append((dst, backup))
            else:
                backups.append((dst, None))
            os.chmod(src, _mode(dst))
            os.replace(src, dst)
    except OSError as e:
        for old, kept in reversed(backups):
            with contextlib.suppress(OSError):
                if kept is None:
                    old.unlink(missing_ok=True)
                else:
                    os.replace(kept, old)
        raise ArchspecError("io", f"cannot move the ONNX file into place: {e.strerror or e}") from e


def _mode(target: Path) -> int:
    """Keep an existing file's mode; a new file gets 0666 less the umask (as archspec.system.io)."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _keep(path: Path, backup: Path) -> None:
    """A second name for ``path``'s current contents (a hard link, else a copy)."""
    try:
        os.link(path, backup)
    except OSError:
        shutil.copy2(path, backup)


# Quiet exporter, visible progress --------------------------------------------------------------


class _Progress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.stream = sys.stderr

    def __call__(self, line: str) -> None:
        if self.enabled:
            print(line, file=self.stream, flush=True)


class _Log:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def text(self) -> str:
        return "".join(self.parts)


@contextlib.contextmanager
def _captured() -> Iterator[_Log]:
    """Swallow everything the exporter prints (Python streams, warnings and the C-level fds)."""
    log = _Log()
    buf = io.StringIO()
    with tempfile.TemporaryFile(mode="w+b") as raw, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        saved = _redirect_fds(raw.fileno())
        try:
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
                yield log
        finally:
            with deferred():  # a signal must not leave stdout and stderr pointing at the log
                _restore_fds(saved)
            raw.seek(0)
            log.parts += [buf.getvalue(), raw.read().decode("utf-8", "replace")]
            log.parts += [f"{w.category.__name__}: {w.message}\n" for w in caught]


def _redirect_fds(to: int) -> list[tuple[int, int]]:
    saved = []
    for fd in (1, 2):
        with contextlib.suppress(OSError, ValueError):
            for stream in (sys.__stdout__, sys.__stderr__):
                if stream is not None:
                    with contextlib.suppress(OSError, ValueError):
                        stream.flush()
            saved.append((fd, os.dup(fd)))
            os.dup2(to, fd)
    return saved


def _restore_fds(saved: list[tuple[int, int]]) -> None:
    for fd, copy in saved:
        os.dup2(copy, fd)
        os.close(copy)


# Formatting -------------------------------------------------------------------------------------


def _fmt_sizes(sizes: Mapping[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sizes.items())


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:300]


def _detail(e: BaseException) -> str | None:
    """The rest of a multi-line error message (None when the first line says it all)."""
    text = str(e).strip()
    return _tail(text) if "\n" in text else None


def _tail(text: str, lines: int = 25) -> str:
    kept = [ln for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(kept[-lines:])
