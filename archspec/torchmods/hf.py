"""Modules laid out as Hugging Face's ``transformers`` lays them out, so that its checkpoints load."""

from __future__ import annotations

import torch
from torch import nn


class Conv1D(nn.Module):
    """Hugging Face's ``Conv1D`` (GPT-2): a linear layer on the last dim whose ``weight`` is stored
    ``[in_features, out_features]`` (the transpose of ``nn.Linear``'s): ``y = x @ weight + bias``.
    Starts as HF's: weight normal with std 0.02, bias zeros."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features)
        y = flat @ self.weight if self.bias is None else torch.addmm(self.bias, flat, self.weight)
        return y.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
        )
