"""``archspec check`` of ResNet-50 against building it by hand and printing torchinfo's summary,
both whole processes."""

from __future__ import annotations

from bench.core import BenchError, Run, fmt_range, fmt_s, median
from bench.procs import archspec_cmd, module_cmd, must, run_proc

ABOUT = "`archspec check` of ResNet-50 against a hand-written model + torchinfo, whole process"
ROWS = ("check_resnet50/whole_process",)
PROFILES = {"check_resnet50/whole_process": "cli check specs/resnet50.yaml"}
ALTERNATIVE = "bench.alternatives.torchinfo_resnet50"
PARAMS = "25,557,032"


def run(r: Run) -> None:
    rounds = r.rounds(3, 9)
    ours_cmd = archspec_cmd("check", "specs/resnet50.yaml")
    theirs_cmd = module_cmd(ALTERNATIVE)
    a, b = must(run_proc(ours_cmd), "archspec check"), must(run_proc(theirs_cmd), ALTERNATIVE)
    for p, who in ((a, "archspec"), (b, "torchinfo")):
        if PARAMS not in p.stdout:
            raise BenchError(f"{who} does not report {PARAMS} parameters for ResNet-50")
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(must(run_proc(ours_cmd), "archspec check"))
        theirs.append(must(run_proc(theirs_cmd), ALTERNATIVE))
    cpu = [t.cpu / o.cpu for o, t in zip(ours, theirs, strict=True)]
    r.ratio(
        "check_resnet50/whole_process",
        "`archspec check specs/resnet50.yaml`, whole process",
        f"`python -m {ALTERNATIVE}` (ResNet-50 by hand + `torchinfo.summary`), whole process",
        [p.seconds for p in ours],
        [p.seconds for p in theirs],
        at_least_speedup=10,
        detail=f"by CPU time (user + system) {median(cpu):.1f}x faster (per round "
        f"{fmt_range(cpu, lambda v: f'{v:.1f}x')}; {fmt_s(median([p.cpu for p in ours]))} vs "
        f"{fmt_s(median([p.cpu for p in theirs]))}); both print {PARAMS} params",
    )
