"""``archspec check`` of a 175B-parameter spec: time and peak memory of the whole process."""

from __future__ import annotations

import re

from bench.core import BenchError, Run, fmt_s, median
from bench.procs import archspec_cmd, must, run_proc

ABOUT = "`archspec check` of GPT-3 (175B params): time and memory, whole process"
ROWS = ("gpt3/check", "gpt3/memory")
SPEC = "specs/gpt3.yaml"
PROFILES = {"gpt3/check": f"cli check {SPEC}", "gpt3/memory": f"cli check {SPEC}"}


def run(r: Run) -> None:
    rounds = r.rounds(3, 9)
    cmd = archspec_cmd("check", SPEC)
    first = must(run_proc(cmd), f"archspec check {SPEC}")
    params = re.search(r"Total params: ([\d,]+)", first.stdout)
    if not params:
        raise BenchError(f"`archspec check {SPEC}` prints no 'Total params:' line")
    procs = [must(run_proc(cmd), f"archspec check {SPEC}") for _ in range(rounds)]
    r.absolute(
        "gpt3/check",
        f"`archspec check {SPEC}` (175B params), whole process",
        [p.seconds for p in procs],
        below=1.0,
        detail=f"{SPEC}: {params.group(1)} params; CPU time (user + system) "
        f"{fmt_s(median([p.cpu for p in procs]))}",
    )
    r.absolute(
        "gpt3/memory",
        "… its peak memory (ru_maxrss of the process)",
        [p.maxrss_mb for p in procs],
        below=150,
        unit="MB",
        detail="wait4's ru_maxrss of the archspec process",
    )
