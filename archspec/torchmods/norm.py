"""Normalization modules that torch lacks (copied into standalone files: imports torch only)."""

from __future__ import annotations

import torch
from torch import nn


class LayerNormDim(nn.LayerNorm):
    """``nn.LayerNorm`` over one dim ``dim`` that is not the last (the channels of [N, C, H, W]):
    that dim is moved last, normalized, and moved back. Its state_dict is ``nn.LayerNorm``'s."""

    def __init__(
        self,
        normalized_shape: tuple[int, ...],
        dim: int,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
    ) -> None:
        super().__init__(normalized_shape, eps=eps, elementwise_affine=elementwise_affine, bias=bias)
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = nn.functional.layer_norm(
            x.movedim(self.dim, -1), self.normalized_shape, self.weight, self.bias, self.eps
        )
        return y.movedim(-1, self.dim)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, dim={self.dim}"
