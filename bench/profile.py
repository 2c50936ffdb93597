"""Opt-in profiles of what the benchmark rows time (never run by ``bench.run``).

    python -m bench.profile cli check specs/resnet50.yaml   # -X importtime + cProfile of a command
    python -m bench.profile analyze specs/resnet50.yaml [--load]
    python -m bench.profile build specs/lstm_classifier.yaml
    python -m bench.profile forward specs/lstm_classifier.yaml --size batch=1
    python -m bench.profile export specs/transformer_encoder.yaml
    python -m bench.profile scaling chain --nodes 10000 [--load]

Each prints the top functions by cumulative and by own time; ``--reps`` repeats the call
(after one unprofiled warm-up call), ``--top`` sets how many functions are listed.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.core import fmt_s
from bench.procs import PY, ROOT, archspec_cmd, must, run_proc

_NOISE = (
    "<frozen ",
    "{built-in method builtins.exec}",
    "{built-in method builtins.__import__}",
    "{method 'acquire'",
    "{method 'disable'",
    "importlib/__init__.py",
    "cProfile.py",
)


def _short(path: str) -> str:
    for prefix in (str(ROOT) + "/", "/site-packages/", "/lib/python3."):
        i = path.find(prefix)
        if i >= 0:
            rest = path[i + len(prefix) :]
            return rest.split("/", 1)[1] if prefix == "/lib/python3." and "/" in rest else rest
    return path


def stats_text(stats: pstats.Stats, top: int) -> str:
    """Top entries by cumulative and by own time, as a compact text table."""
    raw = stats.stats  # type: ignore[attr-defined]
    total = max((v[3] for v in raw.values()), default=0.0)
    rows = []
    for (file, line, func), (_, nc, tt, ct, _) in raw.items():
        name = f"{func} ({_short(file)}:{line})" if file != "~" else func
        if not any(n in name for n in _NOISE):
            rows.append((ct, tt, nc, name))
    out = [
        f"profiled total ≈ {total:.3f} s",
        "",
        "by cumulative time:",
        "   cum s   own s    calls  function",
    ]
    out += [f"{ct:8.3f} {tt:7.3f} {nc:8d}  {name}" for ct, tt, nc, name in sorted(rows, reverse=True)[:top]]
    out += ["", "by own time:", "   own s   cum s    calls  function"]
    by_own = sorted(rows, key=lambda r: -r[1])[:top]
    out += [f"{tt:8.3f} {ct:7.3f} {nc:8d}  {name}" for ct, tt, nc, name in by_own]
    return "\n".join(out)


def profile_call(fn: Callable[[], Any], reps: int, top: int) -> str:
    fn()  # warm-up: first-use imports and caches
    gc.collect()
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(reps):
        fn()
    pr.disable()
    return f"cProfile of {reps} call(s)\n" + stats_text(pstats.Stats(pr), top)


def importtime_text(stderr: str, top: int) -> str:
    """``-X importtime`` output summed by top-level package, and the largest imports."""
    rows = [
        (int(m.group(2)), int(m.group(1)), (len(m.group(3)) - 1) // 2, m.group(4))
        for m in re.finditer(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$", stderr, re.M)
    ]
    by_pkg: dict[str, int] = {}
    for _, self_us, _, mod in rows:
        by_pkg[mod.split(".")[0]] = by_pkg.get(mod.split(".")[0], 0) + self_us
    total = sum(r[1] for r in rows)
    out = [f"-X importtime: {len(rows)} modules, {total / 1e3:.0f} ms of imports (self times summed)", ""]
    out += ["by package:"] + [
        f"  {us / 1e3:7.1f} ms  {pkg}" for pkg, us in sorted(by_pkg.items(), key=lambda kv: -kv[1])[:top]
    ]
    out += ["", "largest imports (cumulative, with depth):"]
    out += [f"  {cum / 1e3:7.1f} ms  {'  ' * d}{mod}" for cum, _, d, mod in sorted(rows, reverse=True)[:top]]
    return "\n".join(out)


def profile_cli(args: Sequence[str], top: int) -> str:
    """The ``archspec`` command's imports (``-X importtime``) and a cProfile of the whole
    process (``python -m cProfile -m archspec``)."""
    cmd = archspec_cmd(*args)
    head = [PY, "-X", "importtime"] + ([] if cmd[0] == PY else [cmd[0]])
    imports = must(run_proc([*head, *cmd[1:]]), "archspec").stderr
    with tempfile.TemporaryDirectory() as d:
        dump = str(Path(d) / "prof")
        must(run_proc([PY, "-m", "cProfile", "-o", dump, "-m", "archspec", *args]), "cProfile")
        text = stats_text(pstats.Stats(dump), top)
    return importtime_text(imports, top) + "\n\ncProfile of the whole command, imports included:\n" + text


def _sizes(pairs: Sequence[str]) -> dict[str, int]:
    out = {}
    for pair in pairs:
        name, _, size = pair.partition("=")
        out[name] = int(size)
    return out


def target(ns: argparse.Namespace) -> Callable[[], Any]:
    """The call to profile, from the parsed arguments."""
    import archspec

    if ns.what == "scaling":
        from bench.groups.scaling import MAKE

        text = MAKE[ns.spec](ns.nodes)
        if ns.load:
            return lambda: archspec.analyze(archspec.load_text(text))
        spec = archspec.load_text(text)
        return lambda: archspec.analyze(spec)
    spec = archspec.load(ns.spec)
    if ns.what == "analyze":
        if ns.load:
            return lambda: archspec.analyze(archspec.load(ns.spec))
        return lambda: archspec.analyze(spec)
    if ns.what == "build":
        return lambda: archspec.build(spec, seed=0)
    if ns.what == "export":
        out = Path(tempfile.mkdtemp(prefix="archspec-profile-")) / "model.onnx"
        return lambda: archspec.export_onnx(spec, out)
    import torch

    torch.set_num_threads(ns.threads)
    module = archspec.build(spec, seed=0).eval()
    xs = archspec.example_inputs(spec, sizes=_sizes(ns.size))

    def forward() -> Any:
        with torch.no_grad():
            return module(*xs)

    return forward


def gc_share(fn: Callable[[], Any]) -> str:
    """The call's time with the cyclic garbage collector on and paused (best of 2 each)."""
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
    return f"{fmt_s(min(on))} with the garbage collector on, {fmt_s(min(off))} with gc.disable() (best of 2)"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["cli"]:
        print(profile_cli(argv[1:], top=20))
        return 0
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["analyze", "build", "forward", "export", "scaling"])
    p.add_argument("spec", help="a spec file; for scaling, the generated spec: chain or blocks")
    p.add_argument("--load", action="store_true", help="analyze/scaling: time load + analyze from the text")
    p.add_argument("--size", action="append", default=[], help="forward: NAME=SIZE of a symbolic dim")
    p.add_argument("--nodes", type=int, default=10_000, help="scaling: nodes of the generated spec")
    p.add_argument("--reps", type=int, default=5, help="profiled calls (default 5)")
    p.add_argument("--threads", type=int, default=1, help="forward: torch threads (default 1)")
    p.add_argument("--top", type=int, default=20)
    ns = p.parse_args(argv)
    if ns.what == "scaling" and ns.spec not in ("chain", "blocks"):
        p.error("scaling: the spec is chain or blocks")
    fn = target(ns)
    if ns.what == "scaling":
        print(gc_share(fn) + "\n")
    print(profile_call(fn, ns.reps, ns.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
