"""``archspec.build`` on a loaded spec against the hand-written module's constructor."""

from __future__ import annotations

import gc
from typing import Any

from bench.core import Run, calibrate, interleave
from bench.models import BERT_1, LSTM_1, MLP_1, RESNET18_1, paired

ABOUT = "`archspec.build` against the hand-written module's constructor"
CASES = {"build/mlp": MLP_1, "build/lstm": LSTM_1, "build/resnet18": RESNET18_1, "build/bert": BERT_1}
ROWS = tuple(CASES)
PROFILES = {key: f"build specs/{c.spec}.yaml --reps 20" for key, c in CASES.items()}


def run(r: Run) -> None:
    torch = r.torch()
    import archspec

    rounds = r.rounds(3, 9)
    budget = r.rounds(0.1, 0.3)
    for key, case in CASES.items():
        paired(case)  # the same module, checked
        spec = archspec.load(case.path)
        made = case.reference()

        def ours(spec: Any = spec) -> Any:
            return archspec.build(spec, seed=0)

        def theirs(made: Any = made) -> Any:
            torch.manual_seed(0)
            return made()

        n = max(calibrate(ours, budget), calibrate(theirs, budget))
        ta, tb = interleave([ours, theirs], rounds, [n, n])
        r.ratio(
            key,
            f"`archspec.build(spec, seed=0)`, {case.model}",
            "`torch.manual_seed(0); Reference()` (bench/reference.py)",
            ta,
            tb,
            at_most=1.1,
            detail=f"spec loaded once; {n} builds per round",
        )
        gc.collect()
