"""Threshold units (the classic perceptron's step activation)."""

import torch
from torch import nn


class Step(nn.Module):
    """Heaviside step: 1.0 where ``x > threshold``, else 0.0, in ``x``'s dtype.

    The gradient is zero almost everywhere, so layers before it do not learn by backprop.
    """

    def __init__(self, threshold: float = 0.0) -> None:
        super().__init__()
        self.threshold = threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x > self.threshold).to(x.dtype)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}"
