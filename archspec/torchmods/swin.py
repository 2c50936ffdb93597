"""Swin Transformer's shifted-window attention and patch merging, in torchvision's layout
(copied into standalone files: imports torch only).

Both take channels-last maps ``[batch, h, w, c]``, as torchvision's ``SwinTransformer`` keeps
them between its patch embedding and its final norm.
"""

from __future__ import annotations

import torch
from torch import nn


def relative_position_index(wh: int, ww: int) -> torch.Tensor:
    """For query i and key j of a wh x ww window (row-major), the row of the bias table holding
    their offset, ``(dy + wh - 1) * (2 * ww - 1) + (dx + ww - 1)``, flattened to ``[N * N]``."""
    rows = torch.arange(wh).repeat_interleave(ww)
    cols = torch.arange(ww).repeat(wh)
    dy = rows[:, None] - rows[None, :] + (wh - 1)
    dx = cols[:, None] - cols[None, :] + (ww - 1)
    return (dy * (2 * ww - 1) + dx).flatten()


def _trunc_normal(*linears: nn.Linear) -> None:
    """torchvision's initialisation of Swin's linear layers: weights truncated-normal (std 0.02),
    biases zero."""
    for m in linears:
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


def _bands(size: int, window: int, shift: int, device: torch.device) -> torch.Tensor:
    """Which of the shifted map's three regions along one dim each position lies in."""
    i = torch.arange(size, device=device)
    return (i >= size - window).long() + (i >= size - shift).long()


class ShiftedWindowAttention(nn.Module):
    """torchvision's ``ShiftedWindowAttention`` (Swin V1): pad the map to a multiple of the
    window, roll it by ``-shift`` (no shift along a dim where the padded map is no larger than
    the window), attend within each window with a learned relative position bias (and, when
    shifted, a -100 mask between tokens from different regions of the rolled map), project,
    roll back and crop."""

    def __init__(
        self,
        dim: int,
        window_size: list[int],
        shift_size: list[int],
        num_heads: int,
        attention_dropout: float = 0.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.window_size = list(window_size)
        self.shift_size = list(shift_size)
        self.num_heads = num_heads
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        wh, ww = self.window_size
        table = torch.empty((2 * wh - 1) * (2 * ww - 1), num_heads)
        self.relative_position_bias_table = nn.Parameter(nn.init.trunc_normal_(table, std=0.02))
        self.register_buffer("relative_position_index", relative_position_index(wh, ww))
        _trunc_normal(self.qkv, self.proj)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        wh, ww = self.window_size
        x = nn.functional.pad(x, (0, 0, 0, (ww - w % ww) % ww, 0, (wh - h % wh) % wh))
        ph, pw = x.shape[1], x.shape[2]
        # no shift along a dim the padded map fits in one window of (a zero shift compares nothing)
        sh = self.shift_size[0] if self.shift_size[0] and ph > wh else 0
        sw = self.shift_size[1] if self.shift_size[1] and pw > ww else 0
        shifted = sh + sw > 0
        if shifted:
            x = torch.roll(x, shifts=(-sh, -sw), dims=(1, 2))
        nh, nw = ph // wh, pw // ww
        n, heads = wh * ww, self.num_heads
        x = x.view(b, nh, wh, nw, ww, c).permute(0, 1, 3, 2, 4, 5).reshape(b * nh * nw, n, c)
        qkv = self.qkv(x).reshape(b * nh * nw, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * (c // heads) ** -0.5).matmul(k.transpose(-2, -1))
        index: torch.Tensor = self.relative_position_index  # type: ignore[assignment]
        bias = self.relative_position_bias_table[index].view(n, n, heads).permute(2, 0, 1)
        attn = attn + bias.unsqueeze(0)
        if shifted:
            region = _bands(ph, wh, sh, x.device)[:, None] * 3 + _bands(pw, ww, sw, x.device)[None, :]
            ids = region.view(nh, wh, nw, ww).permute(0, 2, 1, 3).reshape(nh * nw, n)
            mask = torch.where(ids[:, None, :] != ids[:, :, None], -100.0, 0.0).to(attn.dtype)
            attn = (attn.view(b, nh * nw, heads, n, n) + mask[None, :, None]).view(-1, heads, n, n)
        attn = nn.functional.dropout(
            nn.functional.softmax(attn, dim=-1), p=self.attention_dropout, training=self.training
        )
        x = attn.matmul(v).transpose(1, 2).reshape(b * nh * nw, n, c)
        x = nn.functional.dropout(self.proj(x), p=self.dropout, training=self.training)
        x = x.view(b, nh, nw, wh, ww, c).permute(0, 1, 3, 2, 4, 5).reshape(b, ph, pw, c)
        if shifted:
            x = torch.roll(x, shifts=(sh, sw), dims=(1, 2))
        return x[:, :h, :w, :].contiguous()

    def extra_repr(self) -> str:
        return f"window_size={self.window_size}, shift_size={self.shift_size}, num_heads={self.num_heads}"


class PatchMerging(nn.Module):
    """torchvision's ``PatchMerging`` (Swin V1): zero-pad h and w to even, concatenate each 2x2
    neighbourhood's channels in the order (0, 0), (1, 0), (0, 1), (1, 1) (row, column offsets)
    to 4c, ``norm`` (LayerNorm(4c)), then ``reduction`` (Linear(4c, out), no bias)."""

    def __init__(self, dim: int, out: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.dim = dim
        self.reduction = nn.Linear(4 * dim, out, bias=False)
        self.norm = nn.LayerNorm(4 * dim, eps=eps)
        _trunc_normal(self.reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-3], x.shape[-2]
        x = nn.functional.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat(
            [x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]], -1
        )
        return self.reduction(self.norm(x))
