"""Whole-process timing: a command from spawn to exit, with its CPU time and peak memory."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.core import BenchError

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
PY = sys.executable
LAUNCH = Path(__file__).resolve().parent / "launch.py"
PYCACHE = Path(tempfile.gettempdir()) / "archspec-bench-pycache"


@dataclass
class Proc:
    seconds: float  # wall-clock, spawn to exit
    maxrss_mb: float  # the process's own peak resident memory
    rc: int
    stdout: str
    stderr: str
    cpu: float  # user + system CPU seconds of the process


def child_env(bytecode_cache: bool = True) -> dict[str, str]:
    """The environment of timed processes: this checkout's archspec first on the path, and a
    bytecode cache (the normal state of an installed package) kept outside the repository."""
    env = dict(os.environ)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def run_proc(cmd: Sequence[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> Proc:
    """Run ``cmd`` to completion through ``launch.py``: wall seconds, its own peak RSS, exit code,
    output and CPU time."""
    exe = shutil.which(cmd[0]) or cmd[0]
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".txt") as res,
    ):
        subprocess.run(
            [PY, "-I", "-S", str(LAUNCH), res.name, exe, *cmd[1:]],
            stdout=out,
            stderr=err,
            env=env or child_env(),
            cwd=cwd,
            check=True,
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
    """The installed ``archspec`` command (beside this interpreter), else ``python -m archspec``."""
    script = Path(PY).parent / "archspec"
    if script.exists():
        return [str(script), *args]
    found = shutil.which("archspec")
    return [found, *args] if found else [PY, "-m", "archspec", *args]


def module_cmd(module: str, *args: str) -> list[str]:
    """``python -m module args``: the alternatives' scripts are modules of this package."""
    return [PY, "-m", module, *args]


def must(p: Proc, what: str) -> Proc:
    if p.rc != 0:
        raise BenchError(f"{what} failed (exit {p.rc}): {p.stderr.strip()[-1200:]}")
    return p


def imported_modules(cmd: Sequence[str]) -> list[str]:
    """The modules a Python command imports, from ``-X importtime`` (``cmd[0]`` a Python script
    or this interpreter)."""
    head = [PY, "-X", "importtime"] + ([] if cmd[0] == PY else [cmd[0]])
    p = must(run_proc([*head, *cmd[1:]]), " ".join(cmd))
    return [m.group(1) for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \| *(\S+)$", p.stderr, re.M)]
