"""Resource guards: refuse to allocate weights beyond a memory budget, before allocating."""

from __future__ import annotations

import os
from typing import Any

from archspec.errors import ArchspecError

ENV = "ARCHSPEC_MEMORY_BUDGET"
BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int64": 8, "int32": 4, "bool": 1}


def available_memory() -> int:
    """Bytes of memory available now (MemAvailable on Linux; total memory elsewhere)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * 1024**3


def default_budget() -> int:
    """Half the available memory, or ``$ARCHSPEC_MEMORY_BUDGET`` (bytes, or with K/M/G suffix)."""
    env = os.environ.get(ENV)
    if env:
        return parse_size(env)
    return available_memory() // 2


def parse_size(text: str) -> int:
    units = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    try:
        if t and t[-1] in units:
            return int(float(t[:-1]) * units[t[-1]])
        return int(t)
    except ValueError:
        raise ArchspecError("bad-value", f"{ENV}={text!r} is not a size (e.g. 8G)") from None


def check_budget(analysis: Any, dtype: Any = None, budget: int | None = None) -> None:
    """Raise if the model's parameters and buffers would not fit in the budget."""
    name = str(dtype).removeprefix("torch.") if dtype is not None else "float32"
    need = (analysis.total_params + analysis.buffers) * BYTES.get(name, 4)
    limit = budget if budget is not None else default_budget()
    if need > limit:
        raise ArchspecError(
            "memory-budget",
            f"model '{analysis.model}' has {analysis.total_params:,} parameters; its weights "
            f"need {_fmt(need)}, over the budget of {_fmt(limit)}",
            expected=f"at most {_fmt(limit)}",
            got=_fmt(need),
            hint=f"build with device='meta' to inspect it without weights, or raise the budget "
            f"(memory_budget=..., or {ENV}=...)",
        )


def _fmt(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:,.1f} {unit}"
        value /= 1024
    return f"{n} B"
