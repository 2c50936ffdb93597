"""Batch-first attention, transformer layers and positional encodings.

The attention classes subclass torch's, so parameter names (``in_proj_weight``,
``self_attn.out_proj.weight``...) are torch's own. Causal masks are built in ``forward``
from the runtime sequence lengths, so one module (or ONNX graph) serves any length.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def causal_mask(query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """[seq_q, seq_k] bool mask, True where key j comes after query i (j > i): not attended."""
    i = torch.arange(query.size(1), device=query.device)
    j = torch.arange(key.size(1), device=query.device)
    return j.unsqueeze(0) > i.unsqueeze(1)


class MultiheadAttention(nn.MultiheadAttention):
    """``nn.MultiheadAttention`` (batch-first): ``forward(x)`` is self-attention,
    ``forward(x, memory)`` cross-attention; returns only the attention output."""

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        kdim: int | None = None,
        vdim: int | None = None,
        causal: bool = False,
    ) -> None:
        super().__init__(
            embed_dim, num_heads, dropout=dropout, bias=bias, kdim=kdim, vdim=vdim, batch_first=True
        )
        self.causal = causal

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        kv = x if memory is None else memory
        mask = causal_mask(x, kv) if self.causal else None
        return super().forward(x, kv, kv, attn_mask=mask, need_weights=False)[0]


class TransformerEncoderLayer(nn.TransformerEncoderLayer):
    """``nn.TransformerEncoderLayer`` (batch-first), optionally causal."""

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str = "relu",
        layer_norm_eps: float = 1e-5,
        norm_first: bool = False,
        bias: bool = True,
        causal: bool = False,
    ) -> None:
        super().__init__(
            d_model,
            nhead,
            dim_feedforward=dim_feedforward,
            dropout=dropout,
            activation=activation,
            layer_norm_eps=layer_norm_eps,
            batch_first=True,
            norm_first=norm_first,
            bias=bias,
        )
        self.causal = causal

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        mask = causal_mask(x, x) if self.causal else None
        return super().forward(x, src_mask=mask)


class TransformerDecoderLayer(nn.TransformerDecoderLayer):
    """``nn.TransformerDecoderLayer`` (batch-first): ``forward(target, memory)``;
    the target's self-attention is causal unless ``causal=False``."""

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str = "relu",
        layer_norm_eps: float = 1e-5,
        norm_first: bool = False,
        bias: bool = True,
        causal: bool = True,
    ) -> None:
        super().__init__(
            d_model,
            nhead,
            dim_feedforward=dim_feedforward,
            dropout=dropout,
            activation=activation,
            layer_norm_eps=layer_norm_eps,
            batch_first=True,
            norm_first=norm_first,
            bias=bias,
        )
        self.causal = causal

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        mask = causal_mask(x, x) if self.causal else None
        return super().forward(x, memory, tgt_mask=mask)


class SinusoidalPositionalEncoding(nn.Module):
    """Adds the fixed sin/cos encoding of "Attention Is All You Need" to [B, T, d].

    Computed in forward for the runtime length, so there is no parameter or buffer.
    Even features get sin(pos / 10000^(2i/d)), odd ones the matching cos.
    """

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0) -> None:
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(x.size(1), device=x.device, dtype=torch.float32).unsqueeze(1)
        even = torch.arange(0, self.d_model, 2, device=x.device, dtype=torch.float32)
        angle = pos * torch.exp(even * (-math.log(10000.0) / self.d_model))  # [T, ceil(d/2)]
        pe = torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1)[:, : self.d_model]
        return self.dropout(x + pe.to(x.dtype))

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}"


class LearnedPositionalEncoding(nn.Module):
    """Adds a trained position table ``weight`` [max_len, d] (rows 0..T-1) to [B, T, d]."""

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(max_len, d_model))
        nn.init.normal_(self.weight, std=0.02)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(x + self.weight[: x.size(1)])
