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


class RelativePositionBias(nn.Module):
    """T5's relative position bias, ``[1, heads, seq_q, seq_k]``, from ``weight [buckets, heads]``.

    The offset ``j - i`` of key j from query i is put in a bucket: with ``bidirectional`` half the
    buckets are for positive offsets; of each direction's buckets, the first half count distances
    0, 1, ... exactly and the rest grow logarithmically up to ``max_distance`` (farther offsets
    share the last one). Without ``bidirectional``, positive offsets (later keys) go to bucket 0.
    Only the inputs' lengths (dim 1) are read.
    """

    def __init__(self, heads: int, buckets: int = 32, max_distance: int = 128, bidirectional: bool = True):
        super().__init__()
        self.buckets, self.max_distance, self.bidirectional = buckets, max_distance, bidirectional
        self.weight = nn.Parameter(torch.empty(buckets, heads))
        nn.init.normal_(self.weight)

    def bucket(self, offset: torch.Tensor) -> torch.Tensor:
        n = self.buckets
        base = torch.zeros_like(offset)
        if self.bidirectional:
            n //= 2
            base = (offset > 0).long() * n
            distance = offset.abs()
        else:
            distance = (-offset).clamp(min=0)
        exact = n // 2
        # log-spaced buckets for distance >= exact (the clamp keeps log's argument positive)
        far = distance.clamp(min=exact).float() / exact
        spread = torch.log(far) / math.log(self.max_distance / exact) * (n - exact)
        logarithmic = (exact + spread.long()).clamp(max=n - 1)
        return base + torch.where(distance < exact, distance, logarithmic)

    def forward(self, x: torch.Tensor, keys: torch.Tensor | None = None) -> torch.Tensor:
        keys = x if keys is None else keys
        i = torch.arange(x.size(1), device=self.weight.device)
        j = torch.arange(keys.size(1), device=self.weight.device)
        table = nn.functional.embedding(self.bucket(j.unsqueeze(0) - i.unsqueeze(1)), self.weight)
        return table.permute(2, 0, 1).unsqueeze(0)

    def extra_repr(self) -> str:
        heads, distance, both = self.weight.shape[1], self.max_distance, self.bidirectional
        return f"heads={heads}, buckets={self.buckets}, max_distance={distance}, bidirectional={both}"
