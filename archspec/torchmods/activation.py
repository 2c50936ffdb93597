"""Activation modules that torch lacks (copied into standalone files: imports torch only)."""

from __future__ import annotations

import torch
from torch import nn


class QuickGELU(nn.Module):
    """``x * sigmoid(1.702 * x)``: CLIP's sigmoid approximation of GELU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)
