"""Pooling modules that torch lacks (copied into standalone files: imports torch only)."""

from __future__ import annotations

import torch
from torch import nn


class GlobalAvgPool(nn.Module):
    """Average over every spatial dim: [N, C, *spatial] -> [N, C]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=tuple(range(2, x.dim())))
