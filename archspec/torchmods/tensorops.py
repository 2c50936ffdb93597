"""Tensor-operation modules that torch lacks (copied into standalone files: imports torch only)."""

from __future__ import annotations

import torch
from torch import nn


class Expand(nn.Module):
    """``x.expand(*sizes)``, where a size given as -1 with a source ``[i, j]`` is read at run time
    from dim ``j`` of input ``i`` (0 is ``x`` itself): a class token expanded to the batch."""

    def __init__(self, sizes: list[int], sources: list[list[int] | None]) -> None:
        super().__init__()
        self.sizes = list(sizes)
        self.sources = [None if s is None else (s[0], s[1]) for s in sources]

    def forward(self, x: torch.Tensor, *likes: torch.Tensor) -> torch.Tensor:
        inputs = (x, *likes)
        pairs = zip(self.sizes, self.sources, strict=True)
        sizes = [n if s is None else inputs[s[0]].shape[s[1]] for n, s in pairs]
        return x.expand(*sizes)

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}, sources={self.sources}"


class Slice(nn.Module):
    """``x[..., start:end:step]`` along ``dim``."""

    def __init__(self, dim: int, start: int, end: int | None, step: int) -> None:
        super().__init__()
        self.dim, self.start, self.end, self.step = dim, start, end, step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.dim % x.dim()
        return x[(slice(None),) * d + (slice(self.start, self.end, self.step),)]

    def extra_repr(self) -> str:
        return f"dim={self.dim}, start={self.start}, end={self.end}, step={self.step}"
