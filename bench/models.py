"""The benchmarked specs, each paired with its hand-written module in ``bench.reference``."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bench.core import BenchError
from bench.procs import SPECS


@dataclass(frozen=True)
class Case:
    key: str  # bench.reference.KEY_MAPS key
    spec: str  # specs/<spec>.yaml
    ref: str  # the bench.reference constructor
    sizes: tuple[tuple[str, int], ...]
    label: str

    @property
    def path(self) -> str:
        return str(SPECS / f"{self.spec}.yaml")

    @property
    def model(self) -> str:
        """The label without the sizes: "ResNet-18"."""
        return self.label.split(",")[0]

    def reference(self) -> Callable[[], Any]:
        from bench import reference

        made: Callable[[], Any] = getattr(reference, self.ref)
        return made


MLP_1 = Case("mlp", "mlp", "SimpleMLP", (("batch", 1),), "MLP (specs/mlp.yaml), batch 1")
RESNET18_1 = Case("resnet18", "resnet18", "resnet18", (("batch", 1),), "ResNet-18, batch 1")
RESNET18_8 = Case("resnet18", "resnet18", "resnet18", (("batch", 8),), "ResNet-18, batch 8")
LSTM_1 = Case("lstm", "lstm_classifier", "LSTMClassifier", (("batch", 1),), "LSTM classifier, batch 1")
LSTM_32 = Case("lstm", "lstm_classifier", "LSTMClassifier", (("batch", 32),), "LSTM classifier, batch 32")
BERT_1 = Case(
    "bert",
    "transformer_encoder",
    "BertLikeEncoder",
    (("batch", 1), ("seq", 128)),
    "transformer encoder (BERT-base), batch 1, seq 128",
)


def _outputs(y: Any) -> list[Any]:
    return list(y) if isinstance(y, (tuple, list)) else [y]


def _nparams(m: Any) -> int:
    return sum(p.numel() for p in m.parameters())  # parameters() yields a tied weight once


def paired(case: Case) -> tuple[Any, Any, tuple[Any, ...], str]:
    """archspec's module and the reference with the same weights, checked equal (parameter
    counts and outputs), and inputs for them; the last item says what was checked."""
    import torch

    import archspec
    from bench.reference import to_reference

    ours = archspec.build(case.path, seed=0).eval()
    torch.manual_seed(1)
    theirs = case.reference()().eval()
    theirs.load_state_dict(to_reference(case.key, ours.state_dict()), strict=True)
    n1, n2 = _nparams(ours), _nparams(theirs)
    if n1 != n2:
        raise BenchError(f"{case.label}: archspec has {n1:,} params, the reference {n2:,}")
    xs = archspec.example_inputs(case.path, sizes=dict(case.sizes))
    with torch.no_grad():
        ya, yb = _outputs(ours(*xs)), _outputs(theirs(*xs))
    if len(ya) != len(yb) or any(a.shape != b.shape for a, b in zip(ya, yb, strict=True)):
        raise BenchError(f"{case.label}: the outputs differ in number or shape")
    diff = max(float((a - b).abs().max()) for a, b in zip(ya, yb, strict=True))
    if all(torch.equal(a, b) for a, b in zip(ya, yb, strict=True)):
        same = f"{n1:,} params each, outputs identical"
    elif diff <= 1e-5:
        same = f"{n1:,} params each, outputs equal within {diff:.1e}"
    else:
        raise BenchError(f"{case.label}: outputs differ by {diff:.3g}")
    return ours, theirs, xs, same


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence what the exporter prints, Python-level and C-level (as archspec does)."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def dynamic_shapes(spec: Any) -> tuple[dict[str, int], tuple[Any, ...] | None]:
    """The sizes to trace at (batch 2, other symbolic dims 7, as archspec traces) and
    ``torch.onnx.export``'s ``dynamic_shapes`` making every symbolic input dim dynamic."""
    from torch.export import Dim

    import archspec

    a = archspec.analyze(spec)
    for name, t in a.inputs.items():
        odd = [d for d in t.shape if not isinstance(d, (int, str))]
        if odd:
            raise BenchError(f"input {name!r}: dims {odd!r} are neither sizes nor names")
    dims = sorted({d for t in a.inputs.values() for d in t.shape if isinstance(d, str) and d.isidentifier()})
    sizes = {d: 2 if d == "batch" else 7 for d in dims}
    named = {d: Dim(d) for d in dims}
    dynamic = tuple(
        {i: named[d] for i, d in enumerate(t.shape) if isinstance(d, str) and d in named} or None
        for t in a.inputs.values()
    )
    return sizes, dynamic if any(dynamic) else None
