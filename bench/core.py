"""Rows and timing shared by every group.

A row is one measurement against its target. Comparisons are ratios taken in one run with
archspec and the alternative interleaved (A, B, A, B, ...) over several rounds: the value is
the median of the per-round ratios, the spread their range. Absolute targets give the median
and the range. Nothing asserts on time; a missed target is reported as missed.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


class BenchError(RuntimeError):
    """A group could not measure what it declares (a failed command, a result that differs)."""


def fmt_s(t: float) -> str:
    if t >= 1:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.1f} ms"
    return f"{t * 1e6:.1f} µs"


def fmt_range(xs: Sequence[float], fmt: Callable[[float], str]) -> str:
    return f"{fmt(min(xs))}–{fmt(max(xs))} (n={len(xs)})"


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


@dataclass
class Row:
    key: str  # stable id, declared by its group: "group/name"
    group: str
    what: str
    against: str
    value: str  # the formatted measured value
    target: str
    met: bool | None  # None: information, no target
    spread: str
    detail: str = ""
    data: dict[str, float] = field(default_factory=dict)  # the medians behind the value
    profile: str = ""  # arguments of `python -m bench.profile` that profile what the row times


@dataclass
class Times:
    """Per-call seconds of one function over the rounds: process CPU time and wall-clock time."""

    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)


@dataclass
class Run:
    """The rows one group measures; ``declared`` are the keys it must produce, no more, no less."""

    group: str
    declared: Sequence[str]
    quick: bool
    threads: int = 1
    rows: list[Row] = field(default_factory=list)

    def rounds(self, quick: T, full: T) -> T:
        """``quick`` in a quick run, else ``full`` (rounds, time budgets)."""
        return quick if self.quick else full

    def add(self, row: Row) -> Row:
        if row.key not in self.declared:
            raise BenchError(f"{self.group}: row {row.key!r} is not declared in ROWS")
        if any(r.key == row.key for r in self.rows):
            raise BenchError(f"{self.group}: row {row.key!r} measured twice")
        self.rows.append(row)
        mark = {True: "met", False: "MISSED", None: "info"}[row.met]
        print(f"  {row.what}: {row.value} (target {row.target or '-'}: {mark}; {row.spread})", flush=True)
        return row

    def check_complete(self) -> None:
        missing = [k for k in self.declared if k not in {r.key for r in self.rows}]
        if missing:
            raise BenchError(f"{self.group}: declared rows not measured: {', '.join(missing)}")

    def torch(self) -> Any:
        """torch, with the run's number of threads."""
        import torch

        torch.set_num_threads(self.threads)
        return torch

    def ratio(
        self,
        key: str,
        what: str,
        against: str,
        ours: Times | list[float],
        theirs: Times | list[float],
        *,
        at_most: float | None = None,
        at_least_speedup: float | None = None,
        detail: str = "",
    ) -> Row:
        """A paired comparison, per round. ``at_most``: ours/theirs must be ≤ it;
        ``at_least_speedup``: theirs/ours must be ≥ it. With ``Times``, CPU time decides and
        wall-clock time is shown beside it; with lists, those (wall) seconds decide."""
        both = isinstance(ours, Times) and isinstance(theirs, Times)
        a = ours.cpu if isinstance(ours, Times) else ours
        b = theirs.cpu if isinstance(theirs, Times) else theirs
        clock = "CPU time" if both else "wall"
        notes = [f"{clock}: archspec {fmt_s(median(a))}, alternative {fmt_s(median(b))}"]
        speed = at_least_speedup is not None

        def per_round(x: list[float], y: list[float]) -> list[float]:
            return [t / o if speed else o / t for o, t in zip(x, y, strict=True)]

        fmt: Callable[[float], str] = (
            (lambda v: f"{v:.2f}x" if v < 2 else f"{v:.1f}x") if speed else (lambda v: f"{v:.3f}")
        )
        ratios = per_round(a, b)
        v = median(ratios)
        if isinstance(ours, Times) and isinstance(theirs, Times):
            wall = per_round(ours.wall, theirs.wall)
            notes.append(
                f"wall-clock {'speed-up' if speed else 'ratio'} {fmt(median(wall))} "
                f"(per round {fmt_range(wall, fmt)}; wall medians {fmt_s(median(ours.wall))} vs "
                f"{fmt_s(median(theirs.wall))})"
            )
        if detail:
            notes.append(detail)
        met: bool | None
        if at_least_speedup is not None:
            value, target = f"{fmt(v)} faster", f"≥ {at_least_speedup:g}x faster"
            met = v >= at_least_speedup
        else:
            value, target = f"{v:.3f}x", "" if at_most is None else f"≤ {at_most:g}x"
            met = None if at_most is None else v <= at_most
        row = Row(key, self.group, what, against, value, target, met, "per round " + fmt_range(ratios, fmt))
        row.detail = "; ".join(notes)
        row.data = {"ours": median(a), "theirs": median(b), "value": v}
        return self.add(row)

    def absolute(
        self,
        key: str,
        what: str,
        xs: list[float],
        *,
        below: float | None,
        unit: str = "s",
        detail: str = "",
    ) -> Row:
        v = median(xs)
        if unit == "s":
            fmt: Callable[[float], str] = fmt_s
            target = "" if below is None else f"< {fmt_s(below)}"
        else:
            fmt = lambda m: f"{m:.1f} {unit}"  # noqa: E731
            target = "" if below is None else f"< {below:g} {unit}"
        met = None if below is None else v < below
        row = Row(key, self.group, what, "—", fmt(v), target, met, "range " + fmt_range(xs, fmt), detail)
        row.data = {"value": v}
        return self.add(row)

    def check(self, key: str, what: str, ok: bool, value: str, detail: str = "") -> Row:
        return self.add(Row(key, self.group, what, "—", value, "yes", ok, "every run", detail))


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
    """Per-call seconds of each function, timed A, B, A, B, ... over ``rounds`` rounds (the mean
    of each round's ``inner`` calls), as process CPU time and as wall-clock time. On a shared
    machine CPU time leaves out the time other processes held the core; wall time does not."""
    times = [Times() for _ in fns]
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
