"""Forward passes of archspec's modules against the hand-written ones, on the same weights."""

from __future__ import annotations

import gc
from typing import Any

from bench.core import Run, calibrate, interleave
from bench.models import BERT_1, LSTM_1, LSTM_32, MLP_1, RESNET18_1, RESNET18_8, Case, paired

ABOUT = "forward of `archspec.build`'s module against the hand-written module, same weights"
CASES = {
    "forward/mlp_1": MLP_1,
    "forward/resnet18_1": RESNET18_1,
    "forward/resnet18_8": RESNET18_8,
    "forward/lstm_1": LSTM_1,
    "forward/lstm_32": LSTM_32,
    "forward/bert_1": BERT_1,
}
ROWS = tuple(CASES)
PROFILES = {
    key: f"forward specs/{c.spec}.yaml " + " ".join(f"--size {k}={v}" for k, v in c.sizes) + " --reps 200"
    for key, c in CASES.items()
}


def run(r: Run) -> None:
    torch = r.torch()
    rounds = r.rounds(5, 41)
    budget = r.rounds(0.03, 0.15)
    for key, case in CASES.items():
        with torch.no_grad():
            _forward(r, key, case, rounds, budget)
        gc.collect()


def _forward(r: Run, key: str, case: Case, rounds: int, budget: float) -> None:
    ours, theirs, xs, same = paired(case)

    def fa() -> Any:
        return ours(*xs)

    def fb() -> Any:
        return theirs(*xs)

    for _ in range(3):
        fa(), fb()
    n = max(calibrate(fa, budget), calibrate(fb, budget))
    ta, tb = interleave([fa, fb], rounds, [n, n])
    r.ratio(
        key,
        f"forward, {case.label}",
        "hand-written module (bench/reference.py), same weights",
        ta,
        tb,
        at_most=1.03,
        detail=f"{same}; {n} calls per round; torch.no_grad, eval",
    )
