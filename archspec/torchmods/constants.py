"""Constant tensors that layers hold as buffers (made once, when the module is built)."""

from __future__ import annotations

import torch


def causal_mask(size: int) -> torch.Tensor:
    """``[size, size]`` booleans, True where query i may see key j (j <= i)."""
    return torch.ones(size, size, dtype=torch.bool).tril()


def arange(size: int) -> torch.Tensor:
    """``[size]``: 0, 1, ..., size - 1 (positions)."""
    return torch.arange(size)
