"""The torch backend: a spec's model as a live ``nn.Module`` (``build``: torch.fx generates its
forward) and as standalone PyTorch source (``pysrc``), both realizing one ``plan``.

This module imports no torch: ``build`` refuses an over-budget model from the static counts
before torch is imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from archspec.pipeline import analyze, spec_of
from archspec.spec import Spec
from archspec.system.guard import check_budget

if TYPE_CHECKING:
    from torch import nn

__all__ = ["build"]


def build(
    spec: Spec | str | Path,
    model: str | None = None,
    *,
    device: Any = "cpu",
    dtype: Any = None,
    seed: int | None = None,
    memory_budget: int | None = None,
) -> nn.Module:
    """Build one model of a spec as a ``torch.nn.Module`` (the first model by default).

    Submodules follow the spec's names; ``device="meta"`` allocates no weights; a ``seed``
    (or the spec's) gives identical weights on every build. Weights beyond the memory budget
    (``memory_budget`` bytes, ``ARCHSPEC_MEMORY_BUDGET``, or half of what the process may
    still allocate: available memory, RLIMIT_AS/RLIMIT_DATA, its cgroup's limit) are refused
    from the static counts, before torch is even imported.
    """
    s = spec_of(spec)
    name = s.pick(model)[0]
    a = analyze(s, name)
    if str(device) != "meta":
        check_budget(a, _dtype_name(dtype), memory_budget)
    from archspec.backends.torch import builder as torch_build

    return torch_build.build(s, name, device=device, dtype=dtype, seed=seed, analysis=a)


def _dtype_name(dtype: Any) -> str | None:
    return None if dtype is None else str(dtype).removeprefix("torch.")
