"""``archspec verify SPEC FILE.onnx``: check any ONNX file against one model of a spec.

The file (one archspec wrote, or one a user exported from a trained model) must pass the ONNX
checker and ONNX's strict shape inference to archspec's input and output types; then each of
the model's ``state_dict`` entries is taken from the file's initializer of that name (archspec
names them so; so does ``torch.onnx.export(..., optimize=False)``), the torch module is built
with them, and onnxruntime must agree with it on an exercised module at two sizes of every
dynamic dim (runtime.py). Any disagreement is one ``verify`` error.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archspec.backends.onnx import limits, runtime, verify
from archspec.backends.onnx.report import Verified, fmt_sizes, tolerance
from archspec.backends.onnx.sizes import SizePlan
from archspec.errors import ArchspecError
from archspec.pipeline import analyze, load
from archspec.spec import Spec

if TYPE_CHECKING:
    import torch

OPTIONAL = ("num_batches_tracked",)  # unused in eval mode; exporters drop it
_SHOWN = 8


@dataclass
class VerifyReport:
    """What ``verify_onnx`` checked and found."""

    file: Path
    model: str
    weights: int  # state_dict entries taken from the file
    found: Verified
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        d = self.found.diff
        at = " and ".join(fmt_sizes(s) for s in self.found.sizes) or "the declared shapes"
        return (
            f"verified {self.file} against model '{self.model}' ({self.weights} weights from the file): "
            f"onnxruntime = torch at {at}, relative error {d.relative:.1e} (max |Δ| {d.max_abs:.1e})"
        )


def verify_onnx(
    spec_or_path: Spec | str | Path,
    file: str | Path,
    model: str | None = None,
    *,
    sizes: Mapping[str, int] | None = None,
    atol: float | None = None,
    progress: bool = False,
) -> VerifyReport:
    """Check ``file`` against one model of a spec (the first by default); raise
    ``ArchspecError("verify")`` where they disagree. ``sizes``: dims the file fixes."""
    limits.require_dependencies()
    spec = spec_or_path if isinstance(spec_or_path, Spec) else load(spec_or_path)
    a = analyze(spec, spec.pick(model)[0], sizes)
    path = Path(file)
    if not path.is_file():
        raise ArchspecError("verify", f"no ONNX file at '{path}'")
    say = _say if progress else _quiet
    proto = verify.check_file(a, path, say, what="verify")
    module = _module(a, path)
    n = len(module.state_dict())
    found = runtime.check(a, module, path, proto, SizePlan.make(a), tolerance(a, atol), say, what="verify")
    return VerifyReport(path, a.model, n, found, found.warnings)


def _module(a: Any, path: Path) -> torch.nn.Module:
    """The model built with each ``state_dict`` entry from the file's initializer of its name."""
    import onnx
    import torch
    from onnx import numpy_helper

    from archspec.backends.onnx.exporter import build_module

    module = build_module(a)
    proto = onnx.load(str(path), load_external_data=True)
    stored = {t.name: t for t in proto.graph.initializer}
    state = module.state_dict()
    taken: dict[str, Any] = {}
    missing, wrong = [], []
    for key, value in state.items():
        t = stored.get(key)
        if t is None:
            if not key.endswith(OPTIONAL):
                missing.append(key)
        elif tuple(t.dims) != tuple(value.shape):
            wrong.append(f"{key}: {list(t.dims)} in the file, the model has {list(value.shape)}")
        else:
            taken[key] = torch.from_numpy(numpy_helper.to_array(t).copy()).to(value.dtype)
    if missing or wrong:
        lines = [f"    {k}" for k in (wrong + missing)[:_SHOWN]]
        if len(wrong) + len(missing) > _SHOWN:
            lines.append(f"    ... and {len(wrong) + len(missing) - _SHOWN} more")
        raise ArchspecError(
            "verify",
            f"cannot take the weights of model '{a.model}' from '{path.name}': {len(missing)} of its "
            f"{len(state)} state_dict entries have no initializer of that name, {len(wrong)} another "
            "shape:\n" + "\n".join(lines),
            hint="export with torch.onnx.export(..., optimize=False) (its optimizer folds batch norms "
            "into convolutions and renames weights), or with archspec compile --weights",
        )
    with torch.no_grad():
        module.load_state_dict(taken, strict=False)
    return module.eval()


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _quiet(line: str) -> None:
    pass
