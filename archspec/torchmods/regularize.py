"""Regularization modules that torch lacks (copied into standalone files: imports torch only)."""

from __future__ import annotations

import torch
from torch import nn


class StochasticDepth(nn.Module):
    """Drop-path with torchvision's semantics: in training, a Bernoulli(1 - p) draw per sample
    (``mode="row"``) or one for the whole batch (``"batch"``) zeroes the input, and survivors are
    scaled by 1/(1 - p); the identity in eval mode or when ``p`` is 0."""

    def __init__(self, p: float, mode: str = "row") -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"drop probability must be in [0, 1], got {p}")
        if mode not in ("row", "batch"):
            raise ValueError(f"mode must be 'row' or 'batch', got {mode!r}")
        self.p = p
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"
