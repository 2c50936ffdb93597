"""How analysis time grows with the graph: generated specs of 1k, 10k and 100k nodes."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from bench.core import Row, Run, fmt_range, fmt_s, interleave, median

ABOUT = "`archspec.load` and `archspec.analyze` of generated specs, 1k to 100k nodes"
VARIANTS = {"chain": "chain of linear/relu", "blocks": "blocks + repeat + add"}
ROWS = tuple(
    f"scaling/{v}_{what}"
    for v in VARIANTS
    for what in ("analyze", "load_analyze", "analyze_100k", "load_analyze_100k")
)
PROFILES = {
    f"scaling/{v}_{what}": f"scaling {v} --nodes {n}" + (" --load" if "load" in what else "") + " --reps 1"
    for v in VARIANTS
    for what, n in (
        ("analyze", 10_000),
        ("load_analyze", 10_000),
        ("analyze_100k", 100_000),
        ("load_analyze_100k", 100_000),
    )
}
PER_STAGE = 8  # residual blocks per stage; a stage is 2 + 8 * 4 nodes


def chain_spec(n: int) -> str:
    body = "\n".join("  - linear: 8" if i % 2 == 0 else "  - relu" for i in range(n))
    return f"name: chain\ninputs: {{x: [batch, 8]}}\nlayers:\n{body}\n"


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


MAKE: dict[str, Callable[[int], str]] = {"chain": chain_spec, "blocks": blocks_spec}


def load_analyze(text: str) -> Any:
    import archspec

    return archspec.analyze(archspec.load_text(text))


def nodes(a: Any) -> int:
    return sum(1 for _ in a.graph.walk())


def run(r: Run) -> None:
    import archspec

    rounds, small = r.rounds((3, 5), (9, 10))  # rounds; 1k runs per round
    for make in MAKE.values():  # warm-up: first-use imports
        load_analyze(make(10))
    for variant, label in VARIANTS.items():
        make = MAKE[variant]
        text1, text10 = make(1_000), make(10_000)
        spec1, spec10 = archspec.load_text(text1), archspec.load_text(text10)
        n1, n10 = nodes(archspec.analyze(spec1)), nodes(archspec.analyze(spec10))
        pairs = {
            "analyze": (partial(archspec.analyze, spec1), partial(archspec.analyze, spec10)),
            "load + analyze": (partial(load_analyze, text1), partial(load_analyze, text10)),
        }
        guess = 0.0
        for what, (f1, f10) in pairs.items():
            t1, t10 = interleave([f1, f10], rounds, [small, 1])  # several 1k runs, then one 10k run
            per = [b / a for a, b in zip(t1.cpu, t10.cpu, strict=True)]
            per_wall = [b / a for a, b in zip(t1.wall, t10.wall, strict=True)]
            v = median(per)
            guess = median(t10.wall) * v  # the last pair is load + analyze
            r.add(
                Row(
                    f"scaling/{variant}_{what.replace(' + ', '_')}",
                    "scaling",
                    f"{what}: t(10k) / t(1k), {label}",
                    "—",
                    f"{v:.1f}",
                    "≤ 12",
                    v <= 12,
                    "per round " + fmt_range(per, lambda x: f"{x:.1f}"),
                    f"CPU time: t(1k) {fmt_s(median(t1.cpu))} ({n1:,} nodes), t(10k) "
                    f"{fmt_s(median(t10.cpu))} ({n10:,} nodes); wall-clock ratio {median(per_wall):.1f} "
                    f"(per round {fmt_range(per_wall, lambda x: f'{x:.1f}')}); "
                    f"1k run {small} times per round",
                    {"value": v},
                )
            )
        _hundred_k(r, variant, label, guess)


def _hundred_k(r: Run, variant: str, label: str, guess: float) -> None:
    """100,000 nodes: absolute times (unless the 10k time predicts a run of many minutes)."""
    import archspec

    keys = (f"scaling/{variant}_analyze_100k", f"scaling/{variant}_load_analyze_100k")
    if guess > 300:
        for key, what in zip(keys, ("analyze", "load + analyze"), strict=True):
            r.add(
                Row(
                    key,
                    "scaling",
                    f"{what}, 100k nodes, {label}",
                    "—",
                    "not run",
                    "< 30 s",
                    False,
                    f"predicted {guess:.0f} s from the 1k and 10k times",
                )
            )
        return
    text = MAKE[variant](100_000)
    wall: dict[str, list[float]] = {"load": [], "analyze": [], "again": []}
    cpu: dict[str, list[float]] = {"load": [], "analyze": [], "again": []}
    a: Any = None
    for _ in range(r.rounds(1, 2)):
        del a
        gc.collect()
        marks = [(time.process_time(), time.perf_counter())]
        spec = archspec.load_text(text)
        marks.append((time.process_time(), time.perf_counter()))
        a = archspec.analyze(spec)  # what a user does: load, then analyze
        marks.append((time.process_time(), time.perf_counter()))
        del a
        gc.collect()
        marks.append((time.process_time(), time.perf_counter()))
        a = archspec.analyze(spec)  # again, as the 1k/10k "analyze" rows time it
        marks.append((time.process_time(), time.perf_counter()))
        for step, (i, j) in (("load", (0, 1)), ("analyze", (1, 2)), ("again", (3, 4))):
            cpu[step].append(marks[j][0] - marks[i][0])
            wall[step].append(marks[j][1] - marks[i][1])
    count = nodes(a)
    r.absolute(
        keys[0],
        f"analyze, 100k nodes, {label}",
        wall["again"],
        below=30.0,
        detail=f"{count:,} nodes; `archspec.analyze` again on a loaded spec; CPU time "
        f"{fmt_s(median(cpu['again']))}",
    )
    both = [x + y for x, y in zip(wall["load"], wall["analyze"], strict=True)]
    both_cpu = [x + y for x, y in zip(cpu["load"], cpu["analyze"], strict=True)]
    r.absolute(
        keys[1],
        f"load + analyze, 100k nodes, {label}",
        both,
        below=30.0,
        detail=f"`archspec.load` of the text {fmt_s(median(wall['load']))}, then `analyze` "
        f"{fmt_s(median(wall['analyze']))}; CPU time {fmt_s(median(both_cpu))}",
    )
