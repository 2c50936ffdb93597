"""The torch backend: a spec's model as a live ``nn.Module`` (``build``: torch.fx generates its
forward) and as standalone PyTorch source (``pysrc``), both realizing one ``plan``.

This module imports no torch: ``build`` refuses an over-budget model from the static counts
before torch is imported (given ``weights``, torch is imported to check them first).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from archspec.pipeline import analyze, spec_of
from archspec.spec import Spec
from archspec.system.guard import check_budget

if TYPE_CHECKING:
    from torch import nn

    from archspec.backends.torch.weights import Weights

__all__ = ["build"]


def build(
    spec: Spec | str | Path,
    model: str | None = None,
    *,
    device: Any = "cpu",
    dtype: Any = None,
    seed: int | None = None,
    memory_budget: int | None = None,
    weights: Weights | None = None,
) -> nn.Module:
    """Build one model of a spec as a ``torch.nn.Module`` (the first model by default).

    Submodules follow the spec's names; ``device="meta"`` allocates no weights; a ``seed``
    (or the spec's) gives identical weights on every build. Weights beyond the memory budget
    (``memory_budget`` bytes, ``ARCHSPEC_MEMORY_BUDGET``, or half of what the process may
    still allocate: available memory, RLIMIT_AS/RLIMIT_DATA, its cgroup's limit) are refused
    from the static counts, before torch is even imported.

    ``weights`` (a safetensors file, a torch checkpoint, a mapping of names to tensors, or a
    module) are loaded into the model: first checked against its state_dict layout, built on
    ``device="meta"`` (nothing allocated), where every missing, unexpected and wrong-shaped key
    is one ``weights`` error; then copied in, converted to the model's dtype and device
    (``archspec.backends.torch.weights``). With ``device="meta"`` they are only checked.
    """
    s = spec_of(spec)
    name = s.pick(model)[0]
    a = analyze(s, name)
    fit = None
    if weights is not None:  # the layout check comes first: it allocates nothing
        from archspec.backends.torch.weights import checked

        fit = checked(s, name, weights, dtype)
    if str(device) != "meta":
        check_budget(a, _dtype_name(dtype), memory_budget)
    from archspec.backends.torch import builder as torch_build

    module = torch_build.build(s, name, device=device, dtype=dtype, seed=seed, analysis=a)
    if fit is not None:
        fit.load_into(module)
    return module


def _dtype_name(dtype: Any) -> str | None:
    return None if dtype is None else str(dtype).removeprefix("torch.")
