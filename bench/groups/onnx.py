"""``archspec.export_onnx`` against ``torch.onnx.export`` called directly on the same module."""

from __future__ import annotations

import gc
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.core import Run, Times, fmt_s, median
from bench.models import BERT_1, LSTM_1, MLP_1, RESNET18_1, Case, dynamic_shapes, quiet

ABOUT = "`archspec.export_onnx` (without its verification) against `torch.onnx.export` called directly"
CASES = {"onnx/mlp": MLP_1, "onnx/lstm": LSTM_1, "onnx/resnet18": RESNET18_1, "onnx/bert": BERT_1}
ROWS = tuple(CASES)
PROFILES = {key: f"export specs/{c.spec}.yaml --reps 1" for key, c in CASES.items()}
AGAINST = "`torch.onnx.export(module, args, f, dynamo=True, dynamic_shapes=..., external_data=False)`"


def run(r: Run) -> None:
    r.torch()
    rounds = r.rounds(1, 5)
    tmp = Path(tempfile.mkdtemp(prefix="archspec-bench-onnx-"))
    try:
        # Warm up both paths once (the first export in a process imports and initializes a lot).
        for fn in _pair(MLP_1, tmp)[:2]:
            fn()
        for key, case in CASES.items():
            _compare(r, key, case, tmp, rounds if case is not BERT_1 else min(rounds, 3))
            gc.collect()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _compare(r: Run, key: str, case: Case, tmp: Path, rounds: int) -> None:
    ours, theirs, box = _pair(case, tmp)
    a, verify = [], []
    whole, b = Times(), Times()
    for _ in range(rounds):
        gc.collect()
        c0, w0 = time.process_time(), time.perf_counter()
        report = ours()
        whole.wall.append(time.perf_counter() - w0)
        whole.cpu.append(time.process_time() - c0)
        a.append(report.export_seconds)
        verify.append(report.verify_seconds)
        gc.collect()
        c0, w0 = time.process_time(), time.perf_counter()
        theirs()
        b.wall.append(time.perf_counter() - w0)
        b.cpu.append(time.process_time() - c0)
    r.ratio(
        key,
        f"ONNX export (no verification), {case.model}",
        AGAINST,
        a,
        b.wall,
        at_most=1.1,
        detail=f"archspec's time is its report's `export_seconds` (building the module to the saved "
        f"file); verification apart: {fmt_s(median(verify))}; CPU time: the whole `export_onnx` call "
        f"{fmt_s(median(whole.cpu))} (verification included; wall {fmt_s(median(whole.wall))}), "
        f"the direct export {fmt_s(median(b.cpu))}; {box}",
    )


def _pair(case: Case, tmp: Path) -> tuple[Callable[[], Any], Callable[[], None], str]:
    import torch

    import archspec

    spec = archspec.load(case.path)
    module = archspec.build(spec, seed=0).eval()
    sizes, dynamic = dynamic_shapes(spec)
    args = archspec.example_inputs(spec, sizes=sizes)

    def ours() -> Any:
        return archspec.export_onnx(spec, tmp / "ours.onnx")

    def theirs() -> None:
        with quiet(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                args,
                str(tmp / "theirs.onnx"),
                dynamo=True,
                dynamic_shapes=dynamic,
                external_data=False,
            )

    return ours, theirs, "traced at " + ", ".join(f"{k}={v}" for k, v in sizes.items())
