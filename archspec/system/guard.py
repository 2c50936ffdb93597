"""Resource guards: refuse to allocate beyond a memory budget, from the static counts, before
torch allocates anything.

The budget is ``$ARCHSPEC_MEMORY_BUDGET`` (or ``memory_budget=``) when given, else half of
what this process may still use: the least of the memory available on the machine, the
headroom under its ``RLIMIT_AS``/``RLIMIT_DATA`` soft limits, and the headroom under its
cgroup's memory limit (v2 ``memory.max`` or v1 ``memory.limit_in_bytes``, up the tree).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archspec.errors import ArchspecError
from archspec.passes.sizing import concrete, sized_dim
from archspec.shapes import TensorType

ENV = "ARCHSPEC_MEMORY_BUDGET"
BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int64": 8, "int32": 4, "bool": 1}
_UNLIMITED = 2**62  # cgroup v1 writes "no limit" as a page-rounded 2^63 - 1


@dataclass(frozen=True)
class Headroom:
    """How many more bytes this process may allocate, and which limit says so."""

    bytes: int
    source: str  # "available memory", "RLIMIT_AS", "RLIMIT_DATA", "cgroup memory limit"


def available_memory() -> int:
    """Bytes of memory available now (MemAvailable on Linux; total memory elsewhere)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * 1024**3


def headroom() -> Headroom:
    """The least of available memory, the rlimit headrooms and the cgroup headroom."""
    found = [Headroom(available_memory(), "available memory")]
    found += rlimit_headroom()
    cg = cgroup_headroom()
    if cg is not None:
        found.append(Headroom(cg, "cgroup memory limit"))
    return min(found, key=lambda h: h.bytes)


def rlimit_headroom() -> list[Headroom]:
    """Soft limit minus current use, for RLIMIT_AS (VmSize) and RLIMIT_DATA (VmData)."""
    try:
        import resource
    except ImportError:  # not a POSIX system
        return []
    status = _proc_status()
    out = []
    for name, used in (("RLIMIT_AS", "VmSize"), ("RLIMIT_DATA", "VmData")):
        soft, _ = resource.getrlimit(getattr(resource, name))
        if soft != resource.RLIM_INFINITY and soft >= 0:
            out.append(Headroom(max(0, soft - status.get(used, 0)), name))
    return out


def _proc_status() -> dict[str, int]:
    """Sizes (bytes) from /proc/self/status: VmSize, VmData, ..."""
    sizes = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                parts = value.split()
                if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
                    sizes[key] = int(parts[0]) * 1024
    except OSError:
        pass
    return sizes


def cgroup_headroom(
    cgroup_file: str | Path = "/proc/self/cgroup", mountinfo: str | Path = "/proc/self/mountinfo"
) -> int | None:
    """Limit minus usage (less reclaimable file cache) of this process's memory cgroup and each
    of its ancestors, the least of them; None if no limit is set or none can be read."""
    try:
        groups = Path(cgroup_file).read_text().splitlines()
        mounts = Path(mountinfo).read_text().splitlines()
    except OSError:
        return None
    best: int | None = None
    for line in groups:
        hid, controllers, path = [*line.split(":", 2), "", ""][:3]
        v2 = hid == "0" and controllers == ""
        if not v2 and "memory" not in controllers.split(","):
            continue
        for folder in _cgroup_folders(mounts, path, v2):
            room = _cgroup_room(folder, v2)
            if room is not None and (best is None or room < best):
                best = room
    return best


def _cgroup_folders(mounts: Iterable[str], path: str, v2: bool) -> list[Path]:
    """The cgroup's folder and its ancestors, up to the mount point."""
    for line in mounts:
        head, _, tail = line.partition(" - ")
        fields, kinds = head.split(), tail.split()
        if len(fields) < 5 or len(kinds) < 3:
            continue
        root, point, fstype, options = fields[3], fields[4], kinds[0], kinds[2].split(",")
        if (fstype == "cgroup2") if v2 else (fstype == "cgroup" and "memory" in options):
            rel = os.path.relpath(path, root) if path.startswith(root) else path.lstrip("/")
            folder = Path(point) / ("" if rel == "." else rel)
            chain = [folder, *folder.parents]
            return [f for f in chain if f == Path(point) or Path(point) in f.parents]
    return []


def _cgroup_room(folder: Path, v2: bool) -> int | None:
    limit_file, usage_file, cache_key = (
        ("memory.max", "memory.current", "inactive_file")
        if v2
        else ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
    )
    try:
        text = (folder / limit_file).read_text().strip()
        if text == "max" or int(text) >= _UNLIMITED:
            return None
        limit, usage = int(text), int((folder / usage_file).read_text().strip())
    except (OSError, ValueError):
        return None
    cache = 0
    try:
        for line in (folder / "memory.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == cache_key:
                cache = int(value)
    except (OSError, ValueError):
        pass
    return max(0, limit - max(0, usage - cache))


def default_budget() -> int:
    """``$ARCHSPEC_MEMORY_BUDGET`` (bytes, or with K/M/G suffix), else half the headroom."""
    env = os.environ.get(ENV)
    if env:
        return parse_size(env)
    return headroom().bytes // 2


def _limit(budget: int | None) -> tuple[int, str]:
    """The budget in bytes and a phrase saying where it comes from."""
    if budget is not None:
        return budget, "memory_budget"
    env = os.environ.get(ENV)
    if env:
        return parse_size(env), ENV
    room = headroom()
    return room.bytes // 2, f"half of the {_fmt(room.bytes)} this process may still use ({room.source})"


def parse_size(text: str) -> int:
    units = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    try:
        if t and t[-1] in units:
            return int(float(t[:-1]) * units[t[-1]])
        return int(t)
    except (ValueError, OverflowError):
        raise ArchspecError("bad-value", f"{ENV}={text!r} is not a size (e.g. 8G)") from None


def _hint() -> str:
    return f"raise the budget (memory_budget=..., or {ENV}=..., e.g. {ENV}=16G)"


def check_budget(analysis: Any, dtype: Any = None, budget: int | None = None) -> None:
    """Raise if the model's parameters and buffers would not fit in the budget."""
    name = str(dtype).removeprefix("torch.") if dtype is not None else "float32"
    need = (analysis.total_params + analysis.buffers) * BYTES.get(name, 4)
    limit, source = _limit(budget)
    if need > limit:
        raise ArchspecError(
            "memory-budget",
            f"model '{analysis.model}' has {analysis.total_params:,} parameters; its weights "
            f"need {_fmt(need)}, over the budget of {_fmt(limit)} ({source})",
            expected=f"at most {_fmt(limit)}",
            got=_fmt(need),
            hint="build with device='meta' to inspect it without weights, or " + _hint(),
        )


@dataclass(frozen=True)
class ForwardNeed:
    """What running a model once at some sizes holds in memory, in bytes (an upper bound:
    every layer's output counted as if all were alive at once)."""

    sizes: dict[str, int]
    weights: int
    inputs: dict[str, int]  # per input
    activations: int

    @property
    def total(self) -> int:
        return self.weights + sum(self.inputs.values()) + self.activations


def forward_need(
    a: Any, sizes: Mapping[str, int], dtype: str | None = None, weight_copies: int = 1
) -> ForwardNeed:
    """Weights (``weight_copies`` of them, in ``dtype``), example inputs and every layer's
    output of analysis ``a`` at ``sizes`` (symbols not given take the analysis' own sizes)."""
    full = {**a.sizes, **sizes}
    weights = (a.total_params + a.buffers) * BYTES.get(dtype or "float32", 4) * weight_copies
    inputs = {name: _bytes(t, full) for name, t in a.inputs.items()}
    acts = sum(_bytes(n.out, full) for _, n in a.graph.walk() if n.kind == "layer" and n.out is not None)
    return ForwardNeed(dict(sizes), weights, inputs, acts)


def _bytes(t: TensorType, sizes: Mapping[str, int]) -> int:
    n = 1
    for d in concrete(t, sizes):  # a symbol with no size: 1, as for MACs
        n *= d
    return n * BYTES.get(t.dtype, 4)


def check_forward_budget(
    a: Any,
    sizes: Sequence[Mapping[str, int]],
    *,
    dtype: str | None = None,
    weight_copies: int = 1,
    budget: int | None = None,
    what: str = "running the model",
) -> ForwardNeed:
    """Raise ``memory-budget`` unless weights, example inputs and activations fit in the budget
    at each of ``sizes``; return the largest need."""
    needs = [forward_need(a, s, dtype, weight_copies) for s in sizes or [{}]]
    worst = max(needs, key=lambda n: n.total)
    limit, source = _limit(budget)
    if worst.total <= limit:
        return worst
    at = ", ".join(f"{k}={v}" for k, v in worst.sizes.items())
    name, size = max(worst.inputs.items(), key=lambda kv: kv[1], default=("", 0))
    shape = ""
    if name:
        t = a.inputs[name]
        dims = ", ".join(str(_dim(d, {**a.sizes, **worst.sizes})) for d in t.shape)
        shape = f"; the largest input, '{name}', is {t.dtype}[{dims}]: {_fmt(size)}"
    copies = f" ({weight_copies} copies)" if weight_copies > 1 else ""
    raise ArchspecError(
        "memory-budget",
        f"{what} of model '{a.model}' needs about {_fmt(worst.total)}"
        + (f" at {at}" if at else "")
        + f", over the budget of {_fmt(limit)} ({source}): weights{copies} {_fmt(worst.weights)}, "
        f"example inputs {_fmt(sum(worst.inputs.values()))}, activations {_fmt(worst.activations)}{shape}",
        node=name or None,
        expected=f"at most {_fmt(limit)}",
        got=_fmt(worst.total),
        hint=(
            "the weights alone are most of it: a smaller configuration of the spec (its vars:), or "
            if worst.weights >= worst.total // 2
            else "use smaller sizes for the symbolic dims (--dim NAME=N), or "
        )
        + _hint(),
    )


def _dim(d: Any, sizes: Mapping[str, int]) -> Any:
    return sized_dim(d, sizes)


def _fmt(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:,.1f} {unit}"
        value /= 1024
    return f"{n} B"
