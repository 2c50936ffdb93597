"""An export of given weights is also checked at those weights: onnxruntime runs the file as it is
(no initializer overrides) and must agree with the module the weights came from, in eval mode,
at every checked size. The exercised check (runtime.py) proves the graph; this one proves the
file is the trained model (and, for ``export_onnx(..., module=m)``, that it computes what ``m``
computes, whether or not ``m`` was built by archspec)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from archspec.backends.onnx import runtime
from archspec.backends.onnx.exporter import example
from archspec.backends.onnx.report import Diff, Tolerance, fmt_sizes
from archspec.backends.onnx.sizes import SizePlan
from archspec.errors import ArchspecError
from archspec.passes import Analysis

if TYPE_CHECKING:
    import torch


def check(
    a: Analysis,
    reference: torch.nn.Module,
    file: Path,
    plan: SizePlan,
    tol: Tolerance,
    say: Callable[[str], None],
) -> Diff:
    """onnxruntime on ``file`` against ``reference`` at each checked size; the largest difference."""
    session = runtime._session(file, {}, "export")
    worst = Diff()
    for sizes in plan.checks:
        say(f"running onnxruntime at the given weights, {fmt_sizes(sizes) or 'the declared shapes'}...")
        known = {fmt_sizes(sizes): outputs(reference, example(a, sizes))}
        try:
            worst = worst.merge(runtime.compare(a, reference, session, sizes, tol, known=known))
        except ArchspecError as e:
            raise ArchspecError(
                "export",
                f"at the given weights, {e.message}",
                node=e.node,
                expected=e.expected,
                got=e.got,
                hint=e.hint,
            ) from e
    return worst


def outputs(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    """The module's outputs in eval mode, on its own device, returned on the CPU; the module's
    training flags are put back afterwards."""
    import torch

    device = next((t.device for t in module.state_dict().values()), torch.device("cpu"))
    modes = {m: m.training for m in module.modules()}
    module.eval()
    try:
        with torch.no_grad():
            out = runtime._flatten(module(*(x.to(device) for x in inputs)))
    except Exception as e:
        raise ArchspecError(
            "export",
            f"the module the weights come from fails on the example inputs: {type(e).__name__}: {e}",
            hint="pass the trained module whose state_dict the spec's model has",
        ) from e
    finally:
        for m, mode in modes.items():
            m.training = mode
    return [t.cpu() for t in out]
