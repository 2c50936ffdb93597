"""Shape modules that torch lacks (copied into standalone files: imports torch only)."""

from __future__ import annotations

import torch
from torch import nn


class Reshape(nn.Module):
    """Reshape the non-batch dims: [N, ...] -> [N, *shape]; one entry may be -1."""

    def __init__(self, shape: list[int]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={list(self.shape)}"


class Permute(nn.Module):
    """Reorder all dims, batch included: ``x.permute(*dims)``."""

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = tuple(dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(*self.dims)

    def extra_repr(self) -> str:
        return f"dims={list(self.dims)}"


class Select(nn.Module):
    """Take one position along a dim, removing that dim: ``x.select(dim, index)``."""

    def __init__(self, dim: int, index: int) -> None:
        super().__init__()
        self.dim = dim
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.select(self.dim, self.index)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, index={self.index}"


class BatchSelect(nn.Module):
    """``x[i, index[i]]`` for each batch row i: one position along ``dim`` per row, that dim
    removed (a gather with the positions broadcast over the other dims)."""

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        d = self.dim % x.dim()
        sizes = list(x.shape)
        sizes[d] = 1
        rows = index.to(torch.int64).reshape(-1, *[1] * (x.dim() - 1)).expand(sizes)
        return x.gather(d, rows).squeeze(d)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
