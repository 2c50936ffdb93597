"""In-process analysis of ResNet-50 (``archspec.analyze``, and ``archspec.load`` + ``analyze``)
against ``torchinfo.summary`` of the hand-written model."""

from __future__ import annotations

from typing import Any

from bench.core import BenchError, Run, calibrate, interleave
from bench.procs import SPECS

ABOUT = "in-process analysis of ResNet-50 against `torchinfo.summary`"
ROWS = ("analyze_resnet50/analyze", "analyze_resnet50/load_analyze")
PROFILES = {
    "analyze_resnet50/analyze": "analyze specs/resnet50.yaml --reps 20",
    "analyze_resnet50/load_analyze": "analyze specs/resnet50.yaml --load --reps 20",
}
AGAINST = "`torchinfo.summary(model, input_size=(1,3,224,224), verbose=0)`, in process"


def run(r: Run) -> None:
    torch = r.torch()
    import torchinfo

    import archspec
    from bench.reference import resnet50

    rounds = r.rounds(5, 15)
    path = SPECS / "resnet50.yaml"
    spec = archspec.load(path)
    torch.manual_seed(0)
    model = resnet50()
    a = archspec.analyze(spec)
    stats = torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0)
    if a.total_params != stats.total_params:
        raise BenchError(f"archspec counts {a.total_params:,} params, torchinfo {stats.total_params:,}")

    def ours() -> Any:
        return archspec.analyze(spec)

    def ours_load() -> Any:
        return archspec.analyze(archspec.load(path))

    def theirs() -> Any:
        return torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0)

    budget = r.rounds(0.1, 0.3)
    inner = [calibrate(ours, budget), calibrate(ours_load, budget), calibrate(theirs, budget)]
    t_ours, t_load, t_theirs = interleave([ours, ours_load, theirs], rounds, inner)
    same = f"both count {a.total_params:,} params"
    r.ratio(
        "analyze_resnet50/analyze",
        "`archspec.analyze(spec)` of ResNet-50, called again and again on one loaded spec, in process",
        AGAINST,
        t_ours,
        t_theirs,
        at_least_speedup=50,
        detail=same,
    )
    r.ratio(
        "analyze_resnet50/load_analyze",
        "`archspec.load` + `archspec.analyze` of ResNet-50, in process",
        AGAINST,
        t_load,
        t_theirs,
        at_least_speedup=50,
        detail=same,
    )
