"""onnxruntime against torch, on a module whose output depends on every layer.

At torch's default initialisation a deep CNN's output barely depends on its input (batch norm
in eval mode with running mean 0 and variance 1, a signal that shrinks layer after layer), and
a comparison there passes whatever the file computes. So the module is first *exercised*
(``archspec.backends.torch.exercise``: batch-norm statistics measured on real inputs, constant
parameters randomised, and for deep stacks without normalization every linear map scaled to
unit output), and onnxruntime runs the file with the same changed tensors given as initializer
overrides (each ``state_dict`` key is the name of its initializer; ``optimize.py``). Then:

- the outputs must move between two different inputs by at least ``SENSITIVITY`` times the
  tolerance; else the comparison could not tell a wrong file from a right one, and the report
  says so (a warning);
- every output must agree: ``max |Δ| <= atol + rtol * max |y|`` (a relative error ``max |Δ| /
  max |y|`` of at most ``rtol``, or an absolute one of at most ``atol`` for outputs near 0),
  at two sizes of every dynamic dim. Where an output misses that bound, torch runs once more in
  float64: the file still agrees when its distance from the float64 outputs is within the bound
  plus ``ROUNDING`` times torch's own float32 rounding error there (a deep network whose outputs
  reach thousands rounds more than ``rtol`` in either runtime; a wrong file misses by far more).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archspec.backends.onnx.exporter import example
from archspec.backends.onnx.report import (
    SENSITIVITY,
    Diff,
    Tolerance,
    Verified,
    detail,
    first_line,
    fmt_sizes,
)
from archspec.backends.onnx.sizes import SizePlan, size
from archspec.errors import ArchspecError, ErrorCode
from archspec.passes import Analysis

if TYPE_CHECKING:
    import torch

EXERCISE_SEED = 0
CALIBRATION_SEED = 1  # the inputs batch-norm statistics are measured on
SECOND_INPUTS = (2, 3, 4)  # seeds of the second inputs, tried in turn (two draws of few ids may be equal)
ROUNDING = 4.0  # how many times torch's own float32 rounding error the file may add


def check(
    a: Analysis,
    module: torch.nn.Module,
    file: Path,
    proto: Any,
    plan: SizePlan,
    tol: Tolerance,
    say: Callable[[str], None],
    what: ErrorCode = "export",
) -> Verified:
    """Exercise ``module``, then compare onnxruntime with it at each checked size."""
    from archspec.backends.torch.exercise import exercised, rescalable

    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
    found = Verified(opset, Diff(), plan.checks)
    weights = {t.name for t in proto.graph.initializer}
    keys = _keys_by_tensor(module)
    for rescale in (False, True):
        say("exercising the model" + (" (linear maps scaled to unit output)..." if rescale else "..."))
        with exercised(
            module, lambda: example(a, plan.trace, CALIBRATION_SEED), EXERCISE_SEED, rescale
        ) as changed:
            absent = sorted({min(keys[k]) for k in changed if not keys[k] & weights})
            if absent:  # the file hides them (folded or merged): compare at its own weights
                break
            firsts, found.sensitivity, warning = _sensitivity(a, module, plan, tol)
            if warning and not rescale and rescalable(module):
                continue
            state = module.state_dict()
            overrides = {k: numpy(state[k]) for k in changed if k in weights}
            session = _session(file, overrides, what)
            for sizes in plan.checks:
                say(f"running onnxruntime at {fmt_sizes(sizes) or 'the declared shapes'}...")
                found.diff = found.diff.merge(compare(a, module, session, sizes, tol, what, firsts))
            if warning:
                found.warnings.append(warning)
            found.exercised = sorted(changed)
            return found
    found.warnings.append(
        f"{len(absent)} tensor(s) the check would change are not initializers of the file under their "
        f"state_dict names ({', '.join(absent[:3])}{', ...' if len(absent) > 3 else ''}): compared at "
        "the file's own weights, where deep models may hide a wrong layer"
    )
    session = _session(file, {}, what)
    firsts, found.sensitivity, warning = _sensitivity(a, module, plan, tol)
    found.warnings += [warning] if warning else []
    for sizes in plan.checks:
        found.diff = found.diff.merge(compare(a, module, session, sizes, tol, what, firsts))
    return found


def _keys_by_tensor(module: torch.nn.Module) -> dict[str, set[str]]:
    """Each ``state_dict`` key -> every key of the same tensor (tied weights)."""
    state = module.state_dict(keep_vars=True)
    ids: dict[int, set[str]] = {}
    for k, v in state.items():
        ids.setdefault(id(v), set()).add(k)
    return {k: ids[id(v)] for k, v in state.items()}


def _session(file: Path, overrides: dict[str, Any], what: ErrorCode) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 4  # errors come back as exceptions; do not also print them
    values = {k: ort.OrtValue.ortvalue_from_numpy(v) for k, v in overrides.items()}
    for name, value in values.items():
        opts.add_initializer(name, value)
    if values:  # the optimizer would fold constants from the file's values, not these
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        session = ort.InferenceSession(str(file), opts, providers=["CPUExecutionProvider"])
    except Exception as e:
        hint = None
        if "NOT_IMPLEMENTED" in str(e):
            hint = (
                "onnxruntime's CPU provider has no kernel for that operator and dtype (float64 and "
                "bfloat16 convolutions, for example); export the model in float32"
            )
        raise ArchspecError(
            what, f"onnxruntime cannot load the file: {first_line(e)}", got=detail(e), hint=hint
        ) from e
    session._archspec_values = values  # onnxruntime keeps no reference of its own
    return session


def _torch(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    import torch

    with torch.no_grad():
        return _flatten(module(*inputs))


def _sensitivity(
    a: Analysis, module: torch.nn.Module, plan: SizePlan, tol: Tolerance
) -> tuple[dict[str, list[Any]], float | None, str | None]:
    """How far the float outputs move between two inputs, in tolerances (the least over the
    outputs), and a warning when that is under ``SENSITIVITY``. Also torch's outputs at the
    last checked size (the comparison reuses them)."""
    sizes = plan.checks[-1]
    first = _torch(module, example(a, sizes))
    firsts = {fmt_sizes(sizes): first}
    least: tuple[float, str, float] | None = None
    for seed in SECOND_INPUTS:
        least = _least_move(a, tol, first, _torch(module, example(a, sizes, seed)))
        if least is None or least[0] >= SENSITIVITY:
            break
    if least is None:
        return firsts, None, None
    ratio, name, moved = least
    if ratio >= SENSITIVITY:
        return firsts, ratio, None
    return (
        firsts,
        ratio,
        (
            f"output '{name}' moves by only {moved:.2g} between two inputs, under {SENSITIVITY:g} times the "
            "tolerance: this comparison could not tell a wrong file from a right one"
        ),
    )


def _least_move(
    a: Analysis, tol: Tolerance, first: list[Any], second: list[Any]
) -> tuple[float, str, float] | None:
    least: tuple[float, str, float] | None = None
    for name, y0, y1 in zip(a.outputs, first, second, strict=False):
        if not y0.is_floating_point() or y0.numel() == 0:
            continue
        moved = float((y0.double() - y1.double()).abs().nan_to_num(0.0).max())
        big = float(y0.double().abs().nan_to_num(0.0).max())
        ratio = moved / tol.bound(big)
        if least is None or ratio < least[0]:
            least = (ratio, name, moved)
    return least


def compare(
    a: Analysis,
    module: torch.nn.Module,
    session: Any,
    sizes: dict[str, int],
    tol: Tolerance,
    what: ErrorCode = "export",
    known: dict[str, list[Any]] | None = None,
) -> Diff:
    """Run torch and onnxruntime on the same inputs; return the largest |Δ| and |y|."""
    import onnxruntime as ort

    inputs = example(a, sizes)
    at = fmt_sizes(sizes) or "the declared shapes"
    expected = (known or {}).get(fmt_sizes(sizes)) or _torch(module, inputs)
    feeds = {i.name: numpy(x) for i, x in zip(session.get_inputs(), inputs, strict=False)}
    quiet = ort.RunOptions()
    quiet.log_severity_level = 4
    try:
        got = session.run(None, feeds, quiet)
    except Exception as e:
        raise ArchspecError(
            what,
            f"onnxruntime fails at {at}: {first_line(e)}",
            got=detail(e),
            hint="a size traced at export time may have been baked into the graph",
        ) from e
    if len(got) != len(expected):
        raise ArchspecError(what, f"onnxruntime returns {len(got)} outputs, torch {len(expected)}")
    worst = Diff()
    wide: list[list[Any] | None] = []  # torch's outputs in float64, run once, when first needed
    for i, ((name, t), want, have) in enumerate(zip(a.outputs.items(), expected, got, strict=False)):
        shape = [size(d, {**a.sizes, **sizes}) for d in t.shape]
        if list(have.shape) != shape or list(want.shape) != shape:
            raise ArchspecError(
                what,
                f"output '{name}' has the wrong shape at {at}",
                node=name,
                expected=f"{shape} (archspec; torch gives {list(want.shape)})",
                got=f"{list(have.shape)} (onnxruntime)",
                hint="a size traced at export time may have been baked into the graph",
            )
        diff, ok = _difference(want, have, tol)
        if not ok and want.is_floating_point():
            if not wide:
                wide.append(_float64(module, inputs))
            allowance = _within_rounding(want, have, wide[0][i] if wide[0] else None, tol, diff.max_ref)
            ok = allowance is not None
            diff = Diff(diff.max_abs, diff.max_ref, allowance or 0.0)
        if not ok:
            raise ArchspecError(
                what,
                f"onnxruntime and torch disagree on output '{name}' at {at}: max |Δ| {diff.max_abs:.3g}, "
                f"relative {diff.relative:.2g}",
                node=name,
                expected=f"max |Δ| ≤ {tol.atol:.0e} + {tol.rtol:.0e}·max|y| = {tol.bound(diff.max_ref):.2g}",
                got=f"max |Δ| {diff.max_abs:.3g} (max |y| {diff.max_ref:.3g})",
                hint="the file computes something other than the spec's model"
                if diff.relative > 1e-2
                else "raise the tolerance with --atol if this is rounding, else report the layer",
            )
        worst = worst.merge(diff)
    return worst


def _float64(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> list[Any] | None:
    """torch's outputs with the module and its float inputs in float64; None where that fails."""
    import copy

    try:
        wide = copy.deepcopy(module).double()
        xs = tuple(x.double() if x.is_floating_point() else x for x in inputs)
        return _torch(wide, xs)
    except Exception:  # an op without a float64 kernel: no second opinion
        return None


def _within_rounding(want: torch.Tensor, have: Any, exact: Any, tol: Tolerance, big: float) -> float | None:
    """Where onnxruntime's output is as close to the float64 one as the bound plus ``ROUNDING``
    times torch's own float32 distance from it: the rounding allowance that makes ``max |Δ| <=
    bound + allowance`` hold against torch's float32 output; else None."""
    import numpy as np

    if exact is None or not exact.is_floating_point():
        return None
    ref = exact.detach().cpu().numpy()

    def farthest(x: Any) -> float:  # NaN counts as infinitely far
        return float(np.nan_to_num(np.abs(np.asarray(x, dtype=np.float64) - ref), nan=np.inf).max())

    own, err = farthest(want.detach().cpu().numpy()), farthest(have)
    return (ROUNDING + 1) * own if err <= tol.bound(big) + ROUNDING * own else None


def _flatten(out: Any) -> list[torch.Tensor]:
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flatten(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _flatten(o)]
    return [out]


def numpy(x: torch.Tensor) -> Any:
    import torch

    x = x.detach().cpu()
    if x.dtype == torch.bfloat16:
        import ml_dtypes  # onnxruntime's numpy spelling of bfloat16

        return x.float().numpy().astype(ml_dtypes.bfloat16)
    return x.numpy()


def _difference(want: torch.Tensor, have: Any, tol: Tolerance) -> tuple[Diff, bool]:
    """The largest |Δ| and the largest finite |y|, and whether max |Δ| <= atol + rtol * max |y|
    (NaN matches NaN, an infinity only the same infinity; integer outputs must be equal)."""
    import numpy as np
    import torch

    ref = want.detach().cpu().to(torch.float64).numpy()
    got = np.asarray(have).astype(np.float64)
    if ref.size == 0:
        return Diff(), True
    same = (np.isnan(ref) & np.isnan(got)) | (ref == got)  # also equal infinities
    with np.errstate(invalid="ignore"):
        diff = np.nan_to_num(np.where(same, 0.0, np.abs(ref - got)), nan=np.inf)
    finite = np.abs(ref[np.isfinite(ref)])  # an infinite output must match exactly; it sets no scale
    big = float(finite.max()) if finite.size else 0.0
    worst = float(diff.max())
    exact = not (want.is_floating_point() or want.is_complex())  # ids, counts, masks
    ok = worst == 0 if exact else worst <= tol.bound(big)
    return Diff(worst, big), ok
