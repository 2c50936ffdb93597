"""Run the benchmark groups, each in a fresh process; save the results and write the report.

    python -m bench.run                      # every group; writes docs/performance.md
    python -m bench.run --quick              # every group once, few repeats; prints only
    python -m bench.run --only forward,build # some groups; prints only
    python -m bench.run --note "idle"        # a sentence about the machine, for the report

A group that fails, or measures fewer rows than it declares, fails the run (exit 1) and
docs/performance.md is left as it was; the other groups still run, so one run shows every
failure. Results go to build/bench/results.json (``--results``); ``python -m bench.report``
writes the report again from them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import report
from bench.core import Row
from bench.groups import GROUPS
from bench.procs import PY, ROOT, child_env
from bench.report import RESULTS


def run_group(name: str, quick: bool, threads: int) -> tuple[list[Row], float, str]:
    """The group's rows, its seconds, and an error ("" when it measured every row)."""
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "rows.json"
        cmd = [PY, "-m", "bench.group", name, "--threads", str(threads), "--results", str(out)]
        t0 = time.perf_counter()
        p = subprocess.run([*cmd, *(["--quick"] if quick else [])], cwd=ROOT, env=child_env(), check=False)
        seconds = time.perf_counter() - t0
        if p.returncode != 0:
            return (
                [],
                seconds,
                f"`python -m bench.group {name}` exited {p.returncode} (its traceback is above)",
            )
        return [Row(**row) for row in json.loads(out.read_text(encoding="utf-8"))], seconds, ""


def _cpu() -> str:
    name, extra = platform.processor() or platform.machine(), []
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = (s.strip() for s in line.partition(":"))
            if key == "model name":
                name = value
            elif key in ("cpu family", "model") and value.isdigit():
                extra.append(f"{key} {value}")
            if not line.strip():
                break
    return f"{name} ({', '.join(extra)})" if extra else name


def _memory() -> str:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    return "?"


def _git() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    try:
        dirty = git("status", "--porcelain", "--", "archspec", "specs", "bench")
        return f"git {git('rev-parse', '--short', 'HEAD')}" + (
            " with uncommitted changes to archspec/, specs/ or bench/" if dirty else ""
        )
    except OSError:
        return "?"


def machine(threads: int) -> list[tuple[str, str]]:
    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    return [
        ("CPU", f"{_cpu()}, {os.cpu_count()} logical cores"),
        ("Memory", _memory()),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("torch", f"{version('torch')}; torch.set_num_threads({threads}) in process"),
        ("onnx, onnxruntime", f"{version('onnx')}, {version('onnxruntime')}"),
        ("torchinfo", version("torchinfo")),
        ("archspec", _git()),
        ("Date", datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")),
    ]


def loadavg() -> str:
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="every group once with few repeats: a smoke run")
    p.add_argument("--only", default=None, help=f"comma-separated groups: {', '.join(GROUPS)}")
    p.add_argument("--threads", type=int, default=1, help="torch threads in process (default 1)")
    p.add_argument("--note", default="", help="a sentence about the machine during the run, for the report")
    p.add_argument("--results", default=str(RESULTS), help=f"save the results here (default {RESULTS})")
    p.add_argument(
        "--doc",
        default=None,
        help="write the report here (default: docs/performance.md, "
        "after a full run of every group without a failure)",
    )
    args = p.parse_args(argv)
    picked = [g.strip() for g in args.only.split(",") if g.strip()] if args.only else list(GROUPS)
    unknown = [g for g in picked if g not in GROUPS]
    if unknown:
        p.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    groups = [g for g in GROUPS if g in picked]  # in report order

    info = machine(args.threads)
    for k, v in info:
        print(f"{k:>8}: {v}")
    results: dict[str, Any] = {"quick": args.quick, "threads": args.threads, "note": args.note, "info": info}
    results.update(load=[loadavg()], rows=[], errors=[], seconds={})
    print(f"    load: {results['load'][0]}\n")
    t0 = time.perf_counter()
    for g in groups:
        print(f"[{g}]", flush=True)
        rows, seconds, error = run_group(g, args.quick, args.threads)
        results["rows"] += [row.__dict__ for row in rows]
        results["seconds"][g] = seconds
        if error:
            results["errors"].append(error)
            print(f"  FAILED: {error}", flush=True)
    results["elapsed"] = time.perf_counter() - t0
    results["load"].append(loadavg())
    out = Path(args.results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")

    rows = [Row(**row) for row in results["rows"]]
    print("\n" + report.table_text(rows))
    missed = sum(r.met is False for r in rows)
    print(
        f"\n{len(rows)} rows, {missed} target(s) missed, {len(results['errors'])} group(s) failed; "
        f"{results['elapsed']:.0f} s; load {' -> '.join(results['load'])}; results in {out}"
    )
    for e in results["errors"]:
        print(f"FAILED: {e}", file=sys.stderr)
    complete = not results["errors"] and not args.quick and groups == list(GROUPS)
    doc = Path(args.doc) if args.doc else (report.DOC if complete else None)
    if doc is not None:
        report.write(doc, report.render(results))
        print(f"wrote {doc}")
    elif results["errors"]:
        print("docs/performance.md not written: a group failed", file=sys.stderr)
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
