#!/usr/bin/env python
"""archspec measured against the alternatives: prints a table and writes docs/performance.md.

    python bench/run.py                 # the full run; writes docs/performance.md
    python bench/run.py --quick         # a smoke run (about 2 minutes); prints only
    python bench/run.py --only forward  # one group (comma-separated for several); prints only

Every comparison is a ratio taken in one run, with archspec and the alternative interleaved
(A, B, A, B, ...) over several rounds; the value is the median of the per-round ratios and the
spread is their range. Absolute targets (seconds, megabytes) report the median and the range.
Nothing here asserts on time: a missed target is reported, with a profile of the miss.

Groups: cli, check_resnet50, analyze_resnet50, gpt3, forward, build, onnx, scaling.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime
import gc
import io
import json
import math
import os
import platform
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SPECS = ROOT / "specs"
DOC = ROOT / "docs" / "performance.md"
PY = sys.executable
PYCACHE = Path(tempfile.gettempdir()) / "archspec-bench-pycache"

sys.path.insert(0, str(BENCH))

GROUPS = ["cli", "check_resnet50", "analyze_resnet50", "gpt3", "forward", "build", "onnx", "scaling"]


# Results --------------------------------------------------------------------------------------


@dataclass
class Row:
    group: str
    what: str
    against: str
    value: str  # formatted measured value
    target: str
    met: bool | None  # None: information, no target
    spread: str
    detail: str = ""
    profile: str = ""  # filled for misses
    data: dict[str, float] = field(default_factory=dict)  # medians, for the notes on misses


@dataclass
class Run:
    quick: bool
    threads: int
    profile: bool = True  # profile each missed target (for the report)
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        mark = {True: "met", False: "MISSED", None: "info"}[row.met]
        print(f"  {row.what}: {row.value} (target {row.target or '-'}: {mark}; {row.spread})", flush=True)
        return row


def _fmt_s(t: float) -> str:
    if t >= 1:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.1f} ms"
    return f"{t * 1e6:.1f} µs"


def _range(xs: Sequence[float], fmt: Callable[[float], str]) -> str:
    return f"{fmt(min(xs))}–{fmt(max(xs))} (n={len(xs)})"


@dataclass
class Times:
    """Per-call seconds of one function over the rounds: process CPU time and wall-clock time."""

    cpu: list[float]
    wall: list[float]


def ratio_row(
    run: Run,
    group: str,
    what: str,
    against: str,
    ours: Times | list[float],
    theirs: Times | list[float],
    *,
    at_most: float | None = None,
    at_least_speedup: float | None = None,
    detail: str = "",
) -> Row:
    """A paired comparison, per round. ``at_most``: ours/theirs must be ≤ it; ``at_least_speedup``:
    theirs/ours must be ≥ it. With ``Times``, CPU time decides and wall-clock time is shown."""
    a, b = (ours.cpu, theirs.cpu) if isinstance(ours, Times) and isinstance(theirs, Times) else (ours, theirs)
    assert isinstance(a, list) and isinstance(b, list)
    clock = "CPU time" if isinstance(ours, Times) else "wall"
    notes = [f"{clock}: archspec {_fmt_s(statistics.median(a))}, alternative {_fmt_s(statistics.median(b))}"]
    speed = at_least_speedup is not None

    def per_round(x: list[float], y: list[float]) -> list[float]:
        return [t / o if speed else o / t for o, t in zip(x, y, strict=True)]

    fmt: Callable[[float], str] = (lambda v: f"{v:.1f}x") if speed else (lambda v: f"{v:.3f}")
    ratios = per_round(a, b)
    v = statistics.median(ratios)
    if isinstance(ours, Times) and isinstance(theirs, Times):
        wall = per_round(ours.wall, theirs.wall)
        notes.append(
            f"wall-clock {'speed-up' if speed else 'ratio'} {fmt(statistics.median(wall))} "
            f"(per round {_range(wall, fmt)}; wall medians {_fmt_s(statistics.median(ours.wall))} vs "
            f"{_fmt_s(statistics.median(theirs.wall))})"
        )
    if detail:
        notes.append(detail)
    met: bool | None
    if speed:
        assert at_least_speedup is not None
        value, target, met = f"{v:.1f}x faster", f"≥ {at_least_speedup:g}x faster", v >= at_least_speedup
    else:
        value, target = f"{v:.3f}x", "" if at_most is None else f"≤ {at_most:g}x"
        met = None if at_most is None else v <= at_most
    row = Row(group, what, against, value, target, met, "per round " + _range(ratios, fmt), "; ".join(notes))
    row.data = {"ours": statistics.median(a), "theirs": statistics.median(b), "value": v}
    return run.add(row)


def abs_row(
    run: Run,
    group: str,
    what: str,
    xs: list[float],
    *,
    below: float | None,
    unit: str = "s",
    detail: str = "",
) -> Row:
    v = statistics.median(xs)
    if unit == "s":
        fmt: Callable[[float], str] = _fmt_s
        target = "" if below is None else f"< {_fmt_s(below)}"
    else:
        fmt = lambda m: f"{m:.1f} {unit}"  # noqa: E731
        target = "" if below is None else f"< {below:g} {unit}"
    met = None if below is None else v < below
    row = Row(group, what, "—", fmt(v), target, met, "range " + _range(xs, fmt), detail)
    row.data = {"value": v}
    return run.add(row)


def check_row(run: Run, group: str, what: str, ok: bool, value: str, detail: str = "") -> Row:
    return run.add(Row(group, what, "—", value, "yes", ok, "every run", detail))


# Timing -------------------------------------------------------------------------------------


def calibrate(fn: Callable[[], Any], budget: float) -> int:
    """How many calls of ``fn`` take about ``budget`` seconds (after one warm-up call)."""
    fn()
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed > min(budget / 3, 0.3) or n >= 100_000:
            break
    return max(1, round(budget * n / elapsed))


def interleave(fns: Sequence[Callable[[], Any]], rounds: int, inner: Sequence[int]) -> list[Times]:
    """Per-call seconds of each function, timed A, B, A, B, ... over ``rounds`` rounds (the mean of
    each round's ``inner`` calls), as process CPU time and as wall-clock time. The machine is
    shared: CPU time leaves out the time other processes held the core, which wall time does not."""
    times = [Times([], []) for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            gc.collect()
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(inner[i]):
                fn()
            w1, c1 = time.perf_counter(), time.process_time()
            times[i].cpu.append((c1 - c0) / inner[i])
            times[i].wall.append((w1 - w0) / inner[i])
    return times


@dataclass
class Proc:
    seconds: float  # wall-clock, spawn to exit
    maxrss_mb: float
    rc: int
    stdout: str
    stderr: str
    cpu: float = 0.0  # user + system CPU seconds of the process


def child_env(bytecode_cache: bool = True) -> dict[str, str]:
    """The environment of timed subprocesses: with a bytecode cache (the normal state of an
    installed package) kept outside the repository, so no file is written into it."""
    env = dict(os.environ)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    return env


# A tiny launcher forks and execs the command and reports its wall time and rusage: a process
# forked from this one (torch imported, hundreds of MB) would report this process's peak RSS,
# which Linux carries across exec into ru_maxrss.
_LAUNCHER = """import os, sys, time
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - t0
with open(sys.argv[1], "w") as f:
    cpu = usage.ru_utime + usage.ru_stime
    f.write(f"{seconds!r} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)} {cpu!r}")
"""


def run_proc(cmd: Sequence[str], env: dict[str, str] | None = None) -> Proc:
    """Run ``cmd`` to completion: wall seconds, its own peak RSS (wait4), exit code and output."""
    exe = shutil.which(cmd[0]) or cmd[0]
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".txt") as res,
    ):
        subprocess.run(
            [PY, "-I", "-S", "-c", _LAUNCHER, res.name, exe, *cmd[1:]],
            stdout=out,
            stderr=err,
            env=env or child_env(),
            cwd=ROOT,
            check=False,
        )
        seconds, rss_kib, rc, cpu = res.read().split()
        out.seek(0)
        err.seek(0)
        return Proc(
            float(seconds),
            int(rss_kib) / 1024,
            int(rc),
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            float(cpu),
        )


def archspec_cmd(*args: str) -> list[str]:
    script = Path(PY).parent / "archspec"
    if script.exists():
        return [str(script), *args]
    found = shutil.which("archspec")
    return [found, *args] if found else [PY, "-m", "archspec", *args]


def must(p: Proc, what: str) -> Proc:
    if p.rc != 0:
        raise RuntimeError(f"{what} failed (exit {p.rc}): {p.stderr.strip()[-800:]}")
    return p


# Profiles (for misses) -------------------------------------------------------------------------

_IMPORT_NOISE = (
    "<frozen ",
    "{built-in method builtins.exec}",
    "{built-in method builtins.__import__}",
    "{method 'acquire'",
    "importlib/__init__.py",
)


def _short(path: str) -> str:
    for prefix in (str(ROOT) + "/", "/site-packages/", "/lib/python3."):
        i = path.find(prefix)
        if i >= 0:
            rest = path[i + len(prefix) :]
            return rest.split("/", 1)[1] if prefix == "/lib/python3." and "/" in rest else rest
    return path


def stats_text(stats: pstats.Stats, top: int = 15, restrict: str | None = None) -> str:
    """Top entries by cumulative and by own time, as a compact text table."""
    raw = stats.stats  # type: ignore[attr-defined]
    total = max((v[3] for v in raw.values()), default=0.0)
    rows = []
    for (file, line, func), (_, nc, tt, ct, _) in raw.items():
        name = f"{func} ({_short(file)}:{line})" if file != "~" else func
        if any(n in name for n in _IMPORT_NOISE) or name.startswith("{method 'disable'"):
            continue
        if restrict and not re.search(restrict, file):
            continue
        rows.append((ct, tt, nc, name))
    out = [
        f"profiled total ≈ {total:.3f} s",
        "",
        "by cumulative time:",
        "   cum s   own s    calls  function",
    ]
    out += [f"{ct:8.3f} {tt:7.3f} {nc:8d}  {name}" for ct, tt, nc, name in sorted(rows, reverse=True)[:top]]
    out += ["", "by own time:", "   own s   cum s    calls  function"]
    out += [
        f"{tt:8.3f} {ct:7.3f} {nc:8d}  {name}" for ct, tt, nc, name in sorted(rows, key=lambda r: -r[1])[:top]
    ]
    return "\n".join(out)


def profile_call(fn: Callable[[], Any], reps: int = 1, top: int = 15, restrict: str | None = None) -> str:
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(reps):
        fn()
    pr.disable()
    text = stats_text(pstats.Stats(pr), top, restrict)
    return (f"cProfile of {reps} call(s)\n" if reps > 1 else "") + text


_CLI_PROFILE = """
import contextlib, cProfile, io, pstats, sys
pr = cProfile.Profile(); pr.enable()
from archspec.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    main(sys.argv[1:])
pr.disable()
pr.dump_stats(sys.argv[0])
"""


def importtime(cmd_args: Sequence[str]) -> tuple[list[tuple[int, int, int, str]], str]:
    """``-X importtime`` of an archspec command: (cumulative µs, self µs, depth, module) rows."""
    script = archspec_cmd()[0]
    cmd = (
        [PY, "-X", "importtime", script, *cmd_args]
        if script != PY
        else [PY, "-X", "importtime", "-m", "archspec", *cmd_args]
    )
    p = run_proc(cmd)
    rows = []
    for line in p.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append((int(m.group(2)), int(m.group(1)), (len(m.group(3)) - 1) // 2, m.group(4)))
    return rows, p.stderr


def importtime_text(rows: list[tuple[int, int, int, str]], top: int = 12) -> str:
    total = sum(r[1] for r in rows)
    by_pkg: dict[str, int] = {}
    for _, self_us, _, mod in rows:
        pkg = mod.split(".")[0]
        by_pkg[pkg] = by_pkg.get(pkg, 0) + self_us
    out = [
        f"-X importtime: {len(rows)} modules, {total / 1e3:.0f} ms of import in all (self times summed)",
        "",
        "by package (self times summed):",
    ]
    out += [f"  {us / 1e3:7.1f} ms  {pkg}" for pkg, us in sorted(by_pkg.items(), key=lambda kv: -kv[1])[:top]]
    out += ["", "largest imports (cumulative, with depth):"]
    out += [
        f"  {cum / 1e3:7.1f} ms  {'  ' * depth}{mod}"
        for cum, _, depth, mod in sorted(rows, reverse=True)[:top]
    ]
    return "\n".join(out)


def profile_cli(cmd_args: Sequence[str], top: int = 15) -> str:
    rows, _ = importtime(cmd_args)
    with tempfile.TemporaryDirectory() as d:
        dump = os.path.join(d, "prof")
        must(run_proc([PY, "-c", _CLI_PROFILE.replace("sys.argv[0]", repr(dump)), *cmd_args]), "profiling")
        text = stats_text(pstats.Stats(dump), top)
    return importtime_text(rows) + "\n\ncProfile of the whole command, imports included:\n" + text


# Groups ----------------------------------------------------------------------------------------


def group_cli(run: Run) -> None:
    rounds = 5 if run.quick else 15
    help_cmd, check_cmd = archspec_cmd("--help"), archspec_cmd("check", "specs/mlp.yaml")
    for cmd in (help_cmd, check_cmd):  # warm the bytecode and page caches
        must(run_proc(cmd), " ".join(cmd))
    must(run_proc([PY, "-c", "pass"]), "python")
    procs: dict[str, list[Proc]] = {"help": [], "check": [], "python": []}
    for _ in range(rounds):
        procs["help"].append(must(run_proc(help_cmd), "archspec --help"))
        procs["check"].append(must(run_proc(check_cmd), "archspec check"))
        procs["python"].append(run_proc([PY, "-c", "pass"]))
    start = (
        f"bare `python -c pass` takes {_fmt_s(statistics.median(p.seconds for p in procs['python']))} here"
    )

    def cpu(key: str) -> str:
        return f"CPU time (user + system) {_fmt_s(statistics.median(p.cpu for p in procs[key]))}; {start}"

    r1 = abs_row(
        run,
        "cli",
        "`archspec --help`, whole process",
        [p.seconds for p in procs["help"]],
        below=0.3,
        detail=cpu("help"),
    )
    r2 = abs_row(
        run,
        "cli",
        "`archspec check specs/mlp.yaml`, whole process",
        [p.seconds for p in procs["check"]],
        below=0.3,
        detail=cpu("check"),
    )
    for r, key in ((r1, "help"), (r2, "check")):
        r.data["cpu"] = statistics.median(p.cpu for p in procs[key])
        r.data["python"] = statistics.median(p.seconds for p in procs["python"])
    for r, args in ((r1, ["--help"]), (r2, ["check", "specs/mlp.yaml"])):
        rows, _ = importtime(args)
        torch_mods = [m for _, _, _, m in rows if m == "torch" or m.startswith("torch.")]
        check_row(
            run,
            "cli",
            f"{r.what.split(',')[0]} does not import torch",
            not torch_mods,
            "torch not imported" if not torch_mods else f"imports {len(torch_mods)} torch modules",
        )
        if r.met is False and run.profile:
            r.profile = profile_cli(args)
    cold = [run_proc(check_cmd, child_env(bytecode_cache=False)).seconds for _ in range(max(3, rounds // 3))]
    abs_row(
        run,
        "cli",
        "`archspec check specs/mlp.yaml` without a bytecode cache (PYTHONDONTWRITEBYTECODE=1)",
        cold,
        below=None,
        detail="information: archspec's own sources compiled on every run",
    )


def group_check_resnet50(run: Run) -> None:
    rounds = 3 if run.quick else 9
    ours_cmd = archspec_cmd("check", "specs/resnet50.yaml")
    theirs_cmd = [PY, str(BENCH / "torchinfo_resnet50.py")]
    a, b = must(run_proc(ours_cmd), "archspec check"), must(run_proc(theirs_cmd), "torchinfo script")
    for p, who in ((a, "archspec"), (b, "torchinfo")):
        if "25,557,032" not in p.stdout:
            raise RuntimeError(f"{who} does not report 25,557,032 parameters for ResNet-50")
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(must(run_proc(ours_cmd), "archspec check"))
        theirs.append(must(run_proc(theirs_cmd), "torchinfo script"))
    cpu = [t.cpu / o.cpu for o, t in zip(ours, theirs, strict=True)]
    r = ratio_row(
        run,
        "check_resnet50",
        "`archspec check specs/resnet50.yaml`, whole process",
        "`python bench/torchinfo_resnet50.py` (ResNet-50 by hand + `torchinfo.summary`), whole process",
        [p.seconds for p in ours],
        [p.seconds for p in theirs],
        at_least_speedup=10,
        detail=f"by CPU time (user + system) {statistics.median(cpu):.1f}x faster (per round "
        f"{_range(cpu, lambda v: f'{v:.1f}x')}; {_fmt_s(statistics.median(p.cpu for p in ours))} vs "
        f"{_fmt_s(statistics.median(p.cpu for p in theirs))}); both print 25,557,032 params",
    )
    if r.met is False and run.profile:
        r.profile = profile_cli(["check", "specs/resnet50.yaml"])


def group_analyze_resnet50(run: Run) -> None:
    import torch
    import torchinfo
    from reference import resnet50

    import archspec

    rounds = 5 if run.quick else 15
    path = SPECS / "resnet50.yaml"
    spec = archspec.load(path)
    torch.manual_seed(0)
    model = resnet50()
    a = archspec.analyze(spec)
    stats = torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0)
    if a.total_params != stats.total_params:
        raise RuntimeError(f"archspec counts {a.total_params:,} params, torchinfo {stats.total_params:,}")

    def ours() -> Any:
        return archspec.analyze(spec)

    def ours_load() -> Any:
        return archspec.analyze(archspec.load(path))

    def theirs() -> Any:
        return torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0)

    budget = 0.1 if run.quick else 0.3
    inner = [calibrate(ours, budget), calibrate(ours_load, budget), calibrate(theirs, budget)]
    t_ours, t_load, t_theirs = interleave([ours, ours_load, theirs], rounds, inner)
    same = f"both count {a.total_params:,} params"
    against = "`torchinfo.summary(model, input_size=(1,3,224,224), verbose=0)`, in process"
    r1 = ratio_row(
        run,
        "analyze_resnet50",
        "`archspec.analyze(spec)` of ResNet-50, called again and again on one loaded spec, in process",
        against,
        t_ours,
        t_theirs,
        at_least_speedup=50,
        detail=same,
    )
    r2 = ratio_row(
        run,
        "analyze_resnet50",
        "`archspec.load` + `archspec.analyze` of ResNet-50, in process",
        against,
        t_load,
        t_theirs,
        at_least_speedup=50,
        detail=same,
    )
    if r1.met is False and run.profile:
        r1.profile = profile_call(ours, reps=20)
    if r2.met is False and run.profile:
        r2.profile = profile_call(ours_load, reps=20)


def gpt3_spec() -> Path:
    found = SPECS / "gpt3.yaml"
    return found if found.exists() else BENCH / "specs" / "gpt3.yaml"


def group_gpt3(run: Run) -> None:
    rounds = 3 if run.quick else 9
    spec = gpt3_spec()
    cmd = archspec_cmd("check", str(spec.relative_to(ROOT)))
    first = must(run_proc(cmd), "archspec check gpt3")
    params = re.search(r"Total params: ([\d,]+)", first.stdout)
    procs = [must(run_proc(cmd), "archspec check gpt3") for _ in range(rounds)]
    detail = (
        f"{spec.relative_to(ROOT)}: {params.group(1) if params else '?'} params; CPU time (user + system) "
        f"{_fmt_s(statistics.median(p.cpu for p in procs))}"
    )
    r1 = abs_row(
        run,
        "gpt3",
        f"`archspec check {spec.relative_to(ROOT)}` (175B params), whole process",
        [p.seconds for p in procs],
        below=1.0,
        detail=detail,
    )
    r2 = abs_row(
        run,
        "gpt3",
        "… its peak memory (ru_maxrss of the process)",
        [p.maxrss_mb for p in procs],
        below=150,
        unit="MB",
        detail="wait4's ru_maxrss of the archspec process",
    )
    if (r1.met is False or r2.met is False) and run.profile:
        r1.profile = profile_cli(["check", str(spec.relative_to(ROOT))])


# Forward, build, export: archspec's modules vs the hand-written ones ----------------------------


@dataclass
class Case:
    key: str  # reference.KEY_MAPS key
    spec: str
    ref: Callable[[], Any]
    sizes: dict[str, int]
    label: str


def cases(which: str, quick: bool) -> list[Case]:
    import reference as R

    all_cases = {
        "mlp/1": Case("mlp", "mlp", R.SimpleMLP, {"batch": 1}, "MLP (specs/mlp.yaml), batch 1"),
        "resnet18/1": Case("resnet18", "resnet18", R.resnet18, {"batch": 1}, "ResNet-18, batch 1"),
        "resnet18/8": Case("resnet18", "resnet18", R.resnet18, {"batch": 8}, "ResNet-18, batch 8"),
        "lstm/1": Case("lstm", "lstm_classifier", R.LSTMClassifier, {"batch": 1}, "LSTM classifier, batch 1"),
        "lstm/32": Case(
            "lstm", "lstm_classifier", R.LSTMClassifier, {"batch": 32}, "LSTM classifier, batch 32"
        ),
        "bert/1": Case(
            "bert",
            "transformer_encoder",
            R.BertLikeEncoder,
            {"batch": 1, "seq": 128},
            "transformer encoder (BERT-base), batch 1, seq 128",
        ),
    }
    picks = {
        ("forward", True): ["mlp/1", "lstm/1", "resnet18/1"],
        ("forward", False): ["mlp/1", "resnet18/1", "resnet18/8", "lstm/1", "lstm/32", "bert/1"],
        ("build", True): ["mlp/1", "lstm/1", "resnet18/1"],
        ("build", False): ["mlp/1", "lstm/1", "resnet18/1", "bert/1"],
        ("onnx", True): ["mlp/1"],
        ("onnx", False): ["mlp/1", "lstm/1", "resnet18/1", "bert/1"],
    }
    return [all_cases[k] for k in picks[(which, quick)]]


def _outputs(y: Any) -> list[Any]:
    return list(y) if isinstance(y, (tuple, list)) else [y]


def _nparams(m: Any) -> int:
    return sum(p.numel() for p in m.parameters())  # parameters() yields a tied weight once


def paired(case: Case) -> tuple[Any, Any, tuple[Any, ...], str]:
    """archspec's module and the reference with the same weights, checked equal; and inputs."""
    import torch
    from reference import to_reference

    import archspec

    path = SPECS / f"{case.spec}.yaml"
    ours = archspec.build(path, seed=0).eval()
    torch.manual_seed(1)
    theirs = case.ref().eval()
    theirs.load_state_dict(to_reference(case.key, ours.state_dict()), strict=True)
    n1, n2 = _nparams(ours), _nparams(theirs)
    if n1 != n2:
        raise RuntimeError(f"{case.label}: archspec has {n1:,} params, the reference {n2:,}")
    xs = archspec.example_inputs(path, sizes=case.sizes)
    with torch.no_grad():
        ya, yb = _outputs(ours(*xs)), _outputs(theirs(*xs))
    if len(ya) != len(yb) or any(a.shape != b.shape for a, b in zip(ya, yb, strict=True)):
        raise RuntimeError(f"{case.label}: the outputs differ in number or shape")
    diff = max(float((a - b).abs().max()) for a, b in zip(ya, yb, strict=True))
    if all(torch.equal(a, b) for a, b in zip(ya, yb, strict=True)):
        same = f"{n1:,} params each, outputs identical"
    elif diff <= 1e-5:
        same = f"{n1:,} params each, outputs equal within {diff:.1e}"
    else:
        raise RuntimeError(f"{case.label}: outputs differ by {diff:.3g}")
    return ours, theirs, xs, same


def group_forward(run: Run) -> None:
    rounds = 11 if run.quick else 41
    budget = 0.05 if run.quick else 0.15
    for case in cases("forward", run.quick):
        _forward(run, case, rounds, budget)
        gc.collect()


def _forward(run: Run, case: Case, rounds: int, budget: float) -> None:
    import torch

    ours, theirs, xs, same = paired(case)

    def fa() -> Any:
        return ours(*xs)

    def fb() -> Any:
        return theirs(*xs)

    with torch.no_grad():
        for _ in range(3):
            fa(), fb()
        n = max(calibrate(fa, budget), calibrate(fb, budget))
        ta, tb = interleave([fa, fb], rounds, [n, n])
    r = ratio_row(
        run,
        "forward",
        f"forward, {case.label}",
        "hand-written module (bench/reference.py), same weights",
        ta,
        tb,
        at_most=1.03,
        detail=f"{same}; {n} calls per round; torch.no_grad, eval",
    )
    if r.met is False and run.profile:
        r.profile = _forward_breakdown(ours, theirs, xs, n, rounds)


def _forward_breakdown(ours: Any, theirs: Any, xs: tuple[Any, ...], n: int, rounds: int) -> str:
    """Where the extra time goes: archspec's module called normally, through ``nn.Module``'s call
    path only (no fx ``_WrappedCall``), its generated ``forward`` alone, and the reference; then a
    cProfile of archspec's module."""
    import torch
    from torch import nn

    forward = type(ours).forward
    fns = {
        "archspec module(*x)": lambda: ours(*xs),
        "nn.Module._call_impl(archspec module, *x) (skips fx's _WrappedCall)": lambda: nn.Module._call_impl(
            ours, *xs
        ),
        "archspec module's generated forward, called directly": lambda: forward(ours, *xs),
        "hand-written module(*x)": lambda: theirs(*xs),
    }
    with torch.no_grad():
        times = interleave(list(fns.values()), max(11, rounds // 2), [n] * len(fns))
        prof = profile_call(lambda: ours(*xs), reps=n, top=12)
    lines = [f"CPU time per forward, interleaved (median of {len(times[0].cpu)} rounds of {n} calls):"]
    lines += [f"  {_fmt_s(statistics.median(t.cpu)):>10}  {k}" for k, t in zip(fns, times, strict=True)]
    return "\n".join(lines) + "\n\ncProfile of archspec's module:\n" + prof


def group_build(run: Run) -> None:
    import torch

    import archspec

    rounds = 3 if run.quick else 9
    budget = 0.1 if run.quick else 0.3
    for case in cases("build", run.quick):
        paired(case)  # the same module, checked
        spec = archspec.load(SPECS / f"{case.spec}.yaml")

        def ours(spec: Any = spec) -> Any:
            return archspec.build(spec, seed=0)

        def theirs(case: Case = case) -> Any:
            torch.manual_seed(0)
            return case.ref()

        n = max(calibrate(ours, budget), calibrate(theirs, budget))
        ta, tb = interleave([ours, theirs], rounds, [n, n])
        r = ratio_row(
            run,
            "build",
            f"`archspec.build(spec, seed=0)`, {case.label.split(',')[0]}",
            "`torch.manual_seed(0); Reference()` (bench/reference.py)",
            ta,
            tb,
            at_most=1.1,
            detail=f"spec loaded once; {n} builds per round",
        )
        if r.met is False and run.profile:
            r.profile = profile_call(ours, reps=max(1, min(n, 20)), top=18)
        gc.collect()


ONNX_STEPS = ["lint", "_build", "_run_exporter", "_check_dims_kept", "_annotate", "_save", "_verify"]


def _phase_timer(module: Any, names: Sequence[str]) -> tuple[dict[str, list[float]], Callable[[], None]]:
    """Wrap ``module.<name>`` functions to sum their [wall, CPU] seconds; returns the sums and an
    undo. Names the module no longer has are skipped."""
    spent: dict[str, list[float]] = {}
    saved = {}
    for name in names:
        fn = getattr(module, name, None)
        if fn is None:
            continue
        saved[name] = fn

        def timed(*a: Any, _fn: Any = fn, _name: str = name, **k: Any) -> Any:
            w0, c0 = time.perf_counter(), time.process_time()
            try:
                return _fn(*a, **k)
            finally:
                acc = spent.setdefault(_name, [0.0, 0.0])
                acc[0] += time.perf_counter() - w0
                acc[1] += time.process_time() - c0

        setattr(module, name, timed)

    def undo() -> None:
        for name, fn in saved.items():
            setattr(module, name, fn)

    return spent, undo


def group_onnx(run: Run) -> None:
    from archspec.backends import onnx_export as ox

    rounds = 1 if run.quick else 5
    tmp = Path(tempfile.mkdtemp(prefix="archspec-bench-onnx-"))
    spent, undo = _phase_timer(ox, ONNX_STEPS)  # archspec's export steps, timed one by one
    try:
        # Warm up both paths once (the first export in a process imports and initializes a lot).
        warm = cases("onnx", True)[0]
        _export_pair(warm, tmp)[0]()
        _export_pair(warm, tmp)[1]()
        for case in cases("onnx", run.quick):
            ours, theirs, box = _export_pair(case, tmp)
            a, b = Times([], []), Times([], [])
            verify, whole = [], []
            steps: dict[str, list[float]] = {n: [] for n in ONNX_STEPS}
            for _ in range(rounds if case.key != "bert" else min(rounds, 3)):
                spent.clear()
                gc.collect()
                c0 = time.process_time()
                ours()
                c1 = time.process_time()
                a.wall.append(box["export"])
                a.cpu.append(c1 - c0 - spent.get("_verify", [0.0, 0.0])[1])
                verify.append(box["verify"])
                whole.append(box["wall"])
                for n in steps:
                    steps[n].append(spent.get(n, [math.nan])[0])
                gc.collect()
                c0, w0 = time.process_time(), time.perf_counter()
                theirs()
                b.wall.append(time.perf_counter() - w0)
                b.cpu.append(time.process_time() - c0)
            label = case.label.split(",")[0]
            r = ratio_row(
                run,
                "onnx",
                f"ONNX export (no verification), {label}",
                "`torch.onnx.export(module, args, f, dynamo=True, dynamic_shapes=..., external_data=False)`",
                a,
                b,
                at_most=1.1,
                detail=f"archspec's wall time is its report.export_seconds, its CPU time the whole call's "
                f"less verification; verification apart: {_fmt_s(statistics.median(verify))}; whole "
                f"export_onnx call {_fmt_s(statistics.median(whole))}; {box['sizes']}",
            )
            if r.met is False and run.profile:
                lines = [
                    f"archspec.export_onnx's steps, wall seconds (median of {len(whole)} calls, {label}):"
                ]
                lines += [
                    f"  {statistics.median(v):8.3f} s  {n}" for n, v in steps.items() if not math.isnan(v[0])
                ]
                lines += [
                    f"  {statistics.median(a.wall):8.3f} s  = report.export_seconds (build to save)",
                    f"  {statistics.median(b.wall):8.3f} s  torch.onnx.export called directly on the same "
                    "module, in the same rounds",
                ]
                r.profile = "\n".join(lines)
            gc.collect()
    finally:
        undo()
        shutil.rmtree(tmp, ignore_errors=True)


def _export_pair(case: Case, tmp: Path) -> tuple[Callable[[], None], Callable[[], None], dict[str, Any]]:
    import torch
    from torch.export import Dim

    import archspec

    path = SPECS / f"{case.spec}.yaml"
    spec = archspec.load(path)
    a = archspec.analyze(spec)
    module = archspec.build(spec, seed=0).eval()
    dims = sorted({d for t in a.inputs.values() for d in t.shape if isinstance(d, str) and d.isidentifier()})
    trace = {d: 2 if d == "batch" else 7 for d in dims}  # the sizes archspec traces at
    args = archspec.example_inputs(spec, sizes=trace)
    named = {d: Dim(d) for d in dims}
    dynamic = tuple(
        {i: named[d] for i, d in enumerate(t.shape) if isinstance(d, str) and d in named} or None
        for t in a.inputs.values()
    )
    box: dict[str, Any] = {"sizes": "traced at " + ", ".join(f"{k}={v}" for k, v in trace.items())}

    def ours() -> None:
        t0 = time.perf_counter()
        rep = archspec.export_onnx(spec, tmp / "ours.onnx")
        box["wall"] = time.perf_counter() - t0
        box["export"], box["verify"] = rep.export_seconds, rep.verify_seconds

    def theirs() -> None:
        with _quiet(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                args,
                str(tmp / "theirs.onnx"),
                dynamo=True,
                dynamic_shapes=dynamic or None,
                external_data=False,
            )

    return ours, theirs, box


@contextlib.contextmanager
def _quiet() -> Any:
    """Silence what the exporter prints, Python-level and C-level (as archspec does when exporting)."""
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


# Scaling ------------------------------------------------------------------------------------


def chain_spec(n: int) -> str:
    body = "\n".join("  - linear: 8" if i % 2 == 0 else "  - relu" for i in range(n))
    return f"name: chain\ninputs: {{x: [batch, 8]}}\nlayers:\n{body}\n"


PER_STAGE = 8  # residual blocks per stage; a stage is 2 + 8 * 4 nodes


def blocks_spec(n: int) -> str:
    stages = max(1, round((n - 1) / (2 + PER_STAGE * 4)))
    return f"""name: blocks
blocks:
  res:
    args: {{width: int}}
    layers:
      - {{name: fc, linear: $width}}
      - {{name: act, relu}}
      - {{name: out, add: [act, input]}}
  stage:
    args: {{width: int}}
    layers:
      - {{name: blocks, res: $width, repeat: {PER_STAGE}}}
inputs: {{x: [batch, 8]}}
layers:
  - {{name: stages, stage: 8, repeat: {stages}}}
"""


def _scaling_rows(run: Run) -> None:
    import archspec

    rounds, small = (3, 5) if run.quick else (9, 10)  # rounds; 1k runs per round
    archspec.analyze(archspec.load(chain_spec(10)))  # warm-up: first-use imports
    archspec.analyze(archspec.load(blocks_spec(10)))
    for variant, make in (("chain of linear/relu", chain_spec), ("blocks + repeat + add", blocks_spec)):
        text1, text10 = make(1_000), make(10_000)
        spec1, spec10 = archspec.load(text1), archspec.load(text10)
        nodes1 = sum(1 for _ in archspec.analyze(spec1).graph.walk())
        nodes10 = sum(1 for _ in archspec.analyze(spec10).graph.walk())
        ratios: dict[str, float] = {}
        pairs: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
            ("analyze", partial(archspec.analyze, spec1), partial(archspec.analyze, spec10)),
            ("load + analyze", partial(_load_analyze, text1), partial(_load_analyze, text10)),
        ]
        for what, f1, f10 in pairs:
            t1, t10 = interleave([f1, f10], rounds, [small, 1])  # several 1k runs, then one 10k run
            per = [b / a for a, b in zip(t1.cpu, t10.cpu, strict=True)]
            per_wall = [b / a for a, b in zip(t1.wall, t10.wall, strict=True)]
            ratios[what] = v = statistics.median(per)
            r = run.add(
                Row(
                    "scaling",
                    f"{what}: t(10k) / t(1k), {variant}",
                    "—",
                    f"{v:.1f}",
                    "≤ 12",
                    v <= 12,
                    "per round " + _range(per, lambda x: f"{x:.1f}"),
                    f"CPU time: t(1k) {_fmt_s(statistics.median(t1.cpu))} ({nodes1:,} nodes), "
                    f"t(10k) {_fmt_s(statistics.median(t10.cpu))} ({nodes10:,} nodes); wall-clock ratio "
                    f"{statistics.median(per_wall):.1f} "
                    f"(per round {_range(per_wall, lambda x: f'{x:.1f}')}); "
                    f"1k run {small} times per round",
                )
            )
            if r.met is False and run.profile:
                r.profile = _scaling_profile(f10, what)
        if run.quick:
            continue
        # 100,000 nodes: absolute times (after a guard against a run that would take hours).
        guess = statistics.median(t10.wall) * ratios["load + analyze"]
        if guess > 300:
            run.add(
                Row(
                    "scaling",
                    f"load + analyze, 100k nodes, {variant}",
                    "—",
                    "not run",
                    "< 30 s",
                    False,
                    f"predicted {guess:.0f} s from the 1k and 10k times",
                )
            )
            continue
        text = make(100_000)
        t_ld, t_an, t_again, c_ld, c_an, c_again = [], [], [], [], [], []
        for _ in range(2):
            gc.collect()
            c0, t0 = time.process_time(), time.perf_counter()
            spec = archspec.load(text)
            c1, t1_ = time.process_time(), time.perf_counter()
            a = archspec.analyze(spec)  # what a user does: load, then analyze
            c2, t2 = time.process_time(), time.perf_counter()
            del a
            gc.collect()
            c3, t3 = time.process_time(), time.perf_counter()
            a = archspec.analyze(spec)  # again, as the 1k/10k "analyze" rows time it
            t_ld.append(t1_ - t0)
            t_an.append(t2 - t1_)
            t_again.append(time.perf_counter() - t3)
            c_ld.append(c1 - c0)
            c_an.append(c2 - c1)
            c_again.append(time.process_time() - c3)
        nodes = sum(1 for _ in a.graph.walk())
        del a, spec
        gc.collect()
        both = [x + y for x, y in zip(t_ld, t_an, strict=True)]
        r1 = abs_row(
            run,
            "scaling",
            f"analyze, 100k nodes, {variant}",
            t_again,
            below=30.0,
            detail=f"{nodes:,} nodes; `archspec.analyze` again on a loaded spec; CPU time "
            f"{_fmt_s(statistics.median(c_again))}",
        )
        r2 = abs_row(
            run,
            "scaling",
            f"load + analyze, 100k nodes, {variant}",
            both,
            below=30.0,
            detail=f"`archspec.load` of the text {_fmt_s(statistics.median(t_ld))}, then `analyze` "
            f"{_fmt_s(statistics.median(t_an))}; CPU time "
            f"{_fmt_s(statistics.median([x + y for x, y in zip(c_ld, c_an, strict=True)]))}",
        )
        for r in (r1, r2):
            if r.met is False and run.profile:
                f = (
                    partial(_load_analyze, text)
                    if r is r2
                    else partial(archspec.analyze, archspec.load(text))
                )
                r.profile = _scaling_profile(f, r.what.split(",")[0])


def group_scaling(run: Run) -> None:
    """Run in a fresh process: the bench process holds torch and every model built so far, and
    the garbage collector's full passes over that heap would be charged to archspec."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as res:
        flags = ["--quick"] if run.quick else []
        flags += ["--profile"] if run.profile else ["--no-profile"]
        cmd = [PY, str(Path(__file__).resolve()), "--child", "scaling", "--out", res.name, *flags]
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        sys.stdout.write(p.stdout)
        if p.returncode != 0:
            raise RuntimeError(f"the scaling process failed: {p.stderr.strip()[-800:]}")
        for r in json.load(res)["rows"]:
            run.rows.append(Row(**r))


def _child(group: str, quick: bool, profile: bool, out: Path) -> int:
    run = Run(quick, 1, profile=profile)
    globals()[f"_{group}_rows"](run)
    out.write_text(json.dumps({"rows": [asdict(r) for r in run.rows]}), encoding="utf-8")
    return 0


def _load_analyze(text: str) -> Any:
    import archspec

    return archspec.analyze(archspec.load(text))


def _scaling_profile(fn: Callable[[], Any], what: str) -> str:
    """cProfile of one run, and the share of the cyclic garbage collector in it."""
    on, off = [], []
    for _ in range(2):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        on.append(time.perf_counter() - t0)
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            fn()
            off.append(time.perf_counter() - t0)
        finally:
            gc.enable()
    head = (
        f"{what}: {_fmt_s(min(on))} with the garbage collector on, {_fmt_s(min(off))} with gc.disable() "
        f"(best of 2 each)\n\n"
    )
    gc.collect()
    return head + profile_call(fn, top=15)


# Machine and report -----------------------------------------------------------------------------


def machine(threads: int) -> list[tuple[str, str]]:
    import torch

    cpu = platform.processor() or platform.machine()
    extra: list[str] = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "model name":
                cpu = value
            elif key in ("cpu family", "model") and value.isdigit():
                extra.append(f"{key} {value}")
            if not line.strip() and cpu:
                break
    if extra:
        cpu = f"{cpu} ({', '.join(extra)})"
    mem = "?"
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "archspec", "specs"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        rev = f"{rev}{' with uncommitted changes to archspec/ or specs/' if dirty else ''}"
    except OSError:
        rev = "?"
    return [
        ("CPU", f"{cpu}, {os.cpu_count()} logical cores"),
        ("Memory", mem),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("torch", f"{torch.__version__}; torch.set_num_threads({threads}) in process"),
        ("archspec", f"git {rev}"),
        ("Date", datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")),
    ]


def table_text(rows: list[Row]) -> str:
    head = ("measured", "value", "target", "met")
    body = [(r.what, r.value, r.target or "—", {True: "yes", False: "NO", None: "info"}[r.met]) for r in rows]
    widths = [min(70, max(len(x[i]) for x in [head, *body])) for i in range(4)]
    line = lambda cells: "  ".join(c[:w].ljust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    return "\n".join([line(head), line(tuple("-" * w for w in widths)), *[line(b) for b in body]])


def write_doc(
    run: Run, info: list[tuple[str, str]], load: tuple[str, str], elapsed: float, out: Path
) -> None:
    md = [
        "# Performance",
        "",
        "archspec measured against what it replaces: a hand-written PyTorch module, `torchinfo`, and",
        "`torch.onnx.export` called directly. Generated by `python bench/run.py` (re-run it to refresh this",
        "page); the hand-written reference modules are in `bench/reference.py`.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
    ]
    md += [f"| {k} | {v} |" for k, v in info]
    md += [
        f"| Load average | {load[0]} at the start, {load[1]} at the end (other processes were running) |",
        f"| Run | {'quick' if run.quick else 'full'}, {elapsed / 60:.1f} minutes |",
        "",
        "## Method",
        "",
        "- **Ratios are taken in one run, interleaved.** archspec and the alternative run alternately",
        "  (A, B, A, B, ...) for several rounds; a row's value is the median of the per-round ratios, its",
        "  spread their range (min–max over n rounds). Absolute targets give the median and the range.",
        "- **CPU time decides the in-process ratios; wall-clock time is shown beside it.** The machine is",
        "  shared (see the load average): another process holding a core inflates wall time by tens of",
        "  percent at random, while the process's CPU time (`time.process_time`) leaves that out. With",
        "  one torch thread all work runs on the calling thread, so CPU time is the work done.",
        "- **Whole-process rows** time the installed `archspec` command (or the alternative script) from",
        "  spawn to exit, wall clock, as the targets say; CPU time (user + system) and peak memory (the",
        "  process's own `ru_maxrss`, from `wait4` in a tiny launcher) are from the same runs.",
        "  Subprocesses run with a bytecode cache (kept outside the repository via `PYTHONPYCACHEPREFIX`),",
        "  the normal state of an installed package; one row shows the cost without it.",
        "- **Forward** compares `archspec.build(...)` with the hand-written module of `bench/reference.py`",
        "  after loading the same `state_dict` into it; each pair is checked first (equal parameter",
        "  counts, identical outputs). `eval()`, `torch.no_grad()`, warm-up calls, then many calls per",
        "  round, `torch.set_num_threads(1)`.",
        "- **Build** times `archspec.build(spec, seed=0)` on a loaded spec against",
        "  `torch.manual_seed(0); Reference()`.",
        "- **ONNX** compares archspec's export without verification (wall: its `report.export_seconds`,",
        "  model build to saved file; CPU: the `export_onnx` call less its verification step) with",
        "  `torch.onnx.export(module, args, f, dynamo=True, dynamic_shapes=..., external_data=False)` called",
        "  directly on an archspec-built module, traced at the same sizes with the same dynamic dims.",
        "  Both paths are warmed up once first; verification time is reported apart.",
        "- **Scaling** generates specs as text in process: a chain of `linear`/`relu`, and nested blocks",
        "  (a stage of 8 residual blocks of `linear`, `relu`, `add`, repeated); nodes are those",
        "  `Analysis.graph.walk()` yields. Each round runs the 1k spec several times, then the 10k one.",
        '  "analyze" rows call `archspec.analyze` again and again on one loaded spec (whatever `load`',
        '  hands over to the first call is used up by the warm-up), "load + analyze" rows start from text.',
        "- Nothing asserts on time; a missed target is listed below with a profile of it.",
        "",
        "## Summary",
        "",
        *_summary(run),
        "",
        "## Results",
        "",
        "| # | group | measured | against | value | target | met | spread |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(run.rows, 1):
        met = {True: "yes", False: "**no**", None: "—"}[r.met]
        cells = [str(i), r.group, r.what, r.against, r.value, r.target or "—", met, r.spread]
        md.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    md += ["", "Details, by row:", ""]
    md += [f"{i}. {r.detail}" for i, r in enumerate(run.rows, 1) if r.detail]
    misses = [r for r in run.rows if r.met is False]
    md += ["", "## Missed targets", ""]
    md += [
        "The explanations below were written at commit abe6f95 and are kept as the analysis of",
        "that profile. Since then (the numbers above are measured on the current code): a build",
        "passes the budget check's analysis through (one analysis and one plan per build), the IR",
        "is built with the garbage collector paused, and the CLI skips pydantic's plugin scan.",
        "Still open: block instances are expanded and validated one by one (memoizing identical",
        "instances is the next step for `analyze`), fx code generation per graph module (build),",
        "YAML parsed by PyYAML's pure-Python scanner (libyaml for `load`), start-up imports (check).",
        "",
    ]
    if not misses:
        md += ["None."]
    for r in misses:
        md += [f"### {r.what}: {r.value} (target {r.target})", ""]
        why = explain(r)
        if why:
            md += [why, ""]
        if r.profile:
            md += ["```", r.profile.rstrip(), "```", ""]
    if run.errors:
        md += ["", "## Could not measure", ""] + [f"- {e}" for e in run.errors]
    out.write_text("\n".join(md).rstrip() + "\n", encoding="utf-8")


# Readings of the profiles of each missed target, written from this benchmark's runs (archspec at
# git abe6f95); each is printed above the fresh profile it refers to, so a reader can check that it
# still holds. Keys: a group, or "group/word" for the rows of that group whose title has the word.
_IMPORTS = """\
archspec's start-up is mostly importing its analysis stack, above all building its pydantic
models: every layer type's settings and the spec's sections are pydantic classes, and each builds
its validation schema when its module is imported (`pydantic/_internal/_model_construction.py
__new__` in the profile, ~44 classes), although a spec uses a handful of layer types; the layer
modules are all imported when a spec is loaded (`spec/__init__.py _check_names` →
`layers.registry()`). pydantic also scans installed packages' entry points for plugins
(`pydantic.plugin._loader` → `importlib.metadata`). Directions for archspec (not changed here):
`defer_build=True` in the models' `ConfigDict`, so a schema is built on first validation; register
layer types without importing every family."""

WHY: dict[str, str] = {
    "cli": """\
Start-up dominates: the interpreter alone takes the `python -c pass` time in the details, and
loading, analyzing and printing a small spec take a few tens of ms. """
    + _IMPORTS,
    "check_resnet50": """\
Both processes are mostly start-up: the alternative's is `import torch` plus one forward pass of
ResNet-50, archspec's its imports (loading and analyzing ResNet-50 take ~15 ms). 10x needs
archspec's whole process under {need} here. """
    + _IMPORTS,
    "analyze_resnet50": """\
`torchinfo.summary` runs one ResNet-50 forward pass at batch 1 with hooks (one torch thread here;
with more threads it gets faster and this target harder): 50x needs archspec under {need}. Repeated
on a loaded spec, `analyze` spends about half its time expanding the spec into the IR (`ir/build.py`
`_repeat` → `_block` → `_fill` → `_node`: each of the 16 bottleneck instances is expanded anew,
its entries' settings validated again by pydantic, its `$expressions` evaluated) and a third
counting (`passes/counts.py`, mostly `macs` → `concrete`, which sizes every output shape again).
Directions: expand a block once per distinct argument set and reuse it; compute MACs on demand.""",
    "analyze_resnet50/archspec.load": """\
50x needs load + analyze under {need}. More than half of this is `archspec.load` parsing the YAML
with PyYAML's pure-Python scanner, parser and composer (`yaml/scanner.py`, `yaml/composer.py`; the C
parser is not used because archspec composes its own nodes to keep line/column marks and to refuse
anchors, tags and duplicate keys), then validating the file with pydantic and expanding it (which
`load` now does, handing the result to the first `analyze`). Directions: compose from the events of
libyaml's C parser, which carry the same marks (measured while writing this: archspec's `load_text`
of specs/resnet50.yaml 5.3 ms, `yaml.parse(text, Loader=yaml.CLoader)` of it 0.64 ms), or cache the
parsed file by content.""",
    "forward": """\
The same torch kernels run; the difference is Python call overhead, a few µs per forward, so it
shows on the smallest models at batch 1 and is lost in the noise on large ones (a miss there within
the spread is not a measurable slowdown). On the LSTM classifier at batch 1 (~122 µs per forward;
the breakdown below is from the same kind of interleaved CPU-time runs): calling the module through
`torch.fx`'s `GraphModule.__call__` (→ `_WrappedCall.__call__` → `nn.Module._call_impl`) costs ~2 µs
more than a plain module call, and the generated `forward` calls the spec's `sigmoid` as an
`nn.Sigmoid` submodule (~3 µs) where hand-written code calls `torch.sigmoid`. archspec's `LSTM`
wrapper (`forward` + `_pick_output`) costs nothing measurable. Directions: give the root a plain
`nn.Module` class whose `forward` is the fx-generated code (no `_WrappedCall`), and emit
parameter-free elementwise layers as `call_function` nodes instead of submodules.""",
    "build": """\
`archspec.build` constructs the same torch modules (same init, same cost) and then some: torch.fx
code generation for every graph module, the root and each block instance (`GraphModule.__init__` →
`recompile` → `_gen_python_code`, `compile`, `linecache`), ~1–1.5 ms each: ~13 ms of ResNet-18's
build for its 9 graph modules; the analysis, run twice (once in `archspec.build` for the memory
budget, again in `torch_build._Builder.model`, which also re-checks the budget and calls
`plan_model` twice); a forked RNG state. On the MLP and the LSTM classifier, whose modules take
~0.3–1.2 ms to construct, that fixed ~1–1.5 ms is the whole gap; on BERT-base, whose weights take
~0.3 s to initialize, it vanishes. Directions: generate one forward per distinct block structure and
reuse it for every instance with that structure (the standalone-source backend already emits one
class per block structure), and pass the analysis through instead of redoing it.""",
    "onnx": """\
archspec's `report.export_seconds` spans building the model (`_build`), the exporter call
(`_run_exporter`, the same `torch.onnx.export`, returning the program in memory, plus output capture
and an RNN dispatch-cache reset), annotating the graph and saving it (`_save`, with `onnx_ir`); the
direct call exports and saves in one. The steps below show the difference is about `_build` plus
`_save`, within the run-to-run spread of an export (see the per-round range).""",
    "scaling": """\
No single function grows faster than the node count; the superlinear part is Python's cyclic
garbage collector. Analysis allocates many small container objects that all stay alive (the IR
nodes, their pydantic settings, tensor types), and each full collection walks all of them, so GC
time grows faster than the graph (the head of the profile gives the time with and without
`gc.disable()`). Directions: pause the collector while `analyze` (and `load`) run, e.g.
`gc.disable()` or `gc.freeze()` and restore it after, or raise its thresholds meanwhile.""",
}


def _summary(run: Run) -> list[str]:
    targets = [r for r in run.rows if r.met is not None]
    missed = [(i, r) for i, r in enumerate(run.rows, 1) if r.met is False]
    out = [f"{len(targets) - len(missed)} of {len(targets)} targets met."]
    if missed:
        out += ["", "Missed (each with its profile below):", ""]
        out += [f"- #{i} {r.what}: {r.value} (target {r.target})" for i, r in missed]
    if run.errors:
        out += ["", f"{len(run.errors)} group(s) could not be measured (see the end)."]
    return out


def explain(r: Row) -> str:
    """The reading of a miss's profile: the notes for its row, and the import summary."""
    keys = [k for k in WHY if "/" in k and k.split("/")[0] == r.group and k.split("/")[1] in r.what]
    text = WHY[keys[0]] if keys else WHY.get(r.group, "")
    if "{need}" in text:
        theirs = r.data.get("theirs")
        factor = 10 if r.group == "check_resnet50" else 50
        text = text.replace("{need}", _fmt_s(theirs / factor) if theirs else "a fraction of it")
    parts = [text]
    m = re.search(r"-X importtime: \d+ modules, (\d+) ms", r.profile)
    if m:
        pkgs = re.findall(
            r"^\s+([\d.]+) ms  (\S+)$", r.profile.split("by package")[1].split("largest")[0], re.M
        )
        top = ", ".join(f"{p} {float(ms):.0f} ms" for ms, p in pkgs[:4])
        parts.append(
            f"Imports take {m.group(1)} ms of the process here (self times summed by `-X importtime`, "
            f"which inflates them). Largest: {top}."
        )
    return "\n\n".join(p for p in parts if p)


def loadavg() -> str:
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


LAST = Path(tempfile.gettempdir()) / "archspec-bench-last.json"


def rewrite(out: Path) -> int:
    """The report again from the last run's results (to revise its text without measuring)."""
    data = json.loads(LAST.read_text(encoding="utf-8"))
    run = Run(data["quick"], data["threads"], rows=[Row(**r) for r in data["rows"]], errors=data["errors"])
    write_doc(run, [tuple(kv) for kv in data["info"]], tuple(data["load"]), data["elapsed"], out)
    print(f"wrote {out} from {LAST}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--quick", action="store_true", help="fewer rounds and models: a smoke run of about 2 minutes"
    )
    p.add_argument("--only", default=None, help=f"comma-separated groups: {', '.join(GROUPS)}")
    p.add_argument("--threads", type=int, default=1, help="torch threads in process (default 1)")
    p.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="profile every missed target (default: when writing the report)",
    )
    p.add_argument(
        "--out",
        default=None,
        help="write the report here (default: docs/performance.md for a full run, none for --quick/--only)",
    )
    p.add_argument(
        "--rewrite",
        action="store_true",
        help="measure nothing: rewrite the report (--out, default docs/performance.md) from the saved "
        "results of the run that last wrote docs/performance.md",
    )
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return _child(args.child, args.quick, bool(args.profile), Path(args.out))
    if args.rewrite:
        return rewrite(Path(args.out) if args.out else DOC)
    groups = GROUPS if not args.only else [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        p.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    out = Path(args.out) if args.out else (DOC if not args.quick and not args.only else None)
    explicit_out = args.out is not None

    import torch

    torch.set_num_threads(args.threads)
    run = Run(args.quick, args.threads, profile=args.profile if args.profile is not None else out is not None)
    start_load, t0 = loadavg(), time.perf_counter()
    info = machine(args.threads)
    for k, v in info:
        print(f"{k:>8}: {v}")
    print(f"    load: {start_load}\n")
    for g in groups:
        print(f"[{g}]", flush=True)
        try:
            globals()[f"group_{g}"](run)
        except Exception as e:  # report the group as not measured, go on with the others
            run.errors.append(f"{g}: {type(e).__name__}: {e}")
            print(f"  could not measure {g}: {type(e).__name__}: {e}", flush=True)
    elapsed = time.perf_counter() - t0
    print()
    print(table_text(run.rows))
    missed = [r for r in run.rows if r.met is False]
    print(
        f"\n{len(run.rows)} rows, {len(missed)} target(s) missed, {len(run.errors)} group(s) failed; "
        f"{elapsed:.0f} s; load {start_load} -> {loadavg()}"
    )
    end_load = loadavg()
    if out is not None and run.errors and not explicit_out:
        # Keep the last complete report: a failed group is usually archspec mid-edit.
        out = Path(tempfile.gettempdir()) / "archspec-performance-incomplete.md"
        print(f"{len(run.errors)} group(s) failed: not replacing docs/performance.md")
    if out is not None and out.resolve() == DOC.resolve():  # what --rewrite rebuilds the report from
        results = {
            "quick": run.quick,
            "threads": run.threads,
            "rows": [asdict(r) for r in run.rows],
            "errors": run.errors,
            "info": info,
            "load": [start_load, end_load],
            "elapsed": elapsed,
        }
        LAST.write_text(json.dumps(results), encoding="utf-8")
    if out is not None:
        write_doc(run, info, (start_load, end_load), elapsed, out)
        print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    else:
        print("(not writing docs/performance.md for a --quick or --only run; pass --out PATH to)")
    return 1 if run.errors else 0


if __name__ == "__main__":
    sys.exit(main())
