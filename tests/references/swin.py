"""Swin Transformer V1, Swin-T (Liu et al., 2021, "Hierarchical Vision Transformer using Shifted
Windows"), torchvision's layout (``swin_t``: patch 4, width 96, depths [2, 2, 6, 2], heads
[3, 6, 12, 24], window 7x7, stochastic depth 0.2).

Tensors stay channels-last ([b, h, w, c]) from the patch embedding to the final norm. Keys:
``features.0`` (``.0`` 4x4/4 conv, ``.1`` permute, ``.2`` LayerNorm), stages at ``features.1/3/5/7``,
patch merging at ``features.2/4/6`` (``.reduction`` Linear(4C, 2C, bias=False) after ``.norm``
LayerNorm(4C)), then ``norm``, ``head``. A block has ``norm1``, ``attn`` (``qkv``, ``proj``,
``relative_position_bias_table`` [(2*7-1)^2, heads], and the persistent int64 buffer
``relative_position_index`` [49*49], which is part of the state_dict), ``norm2``, ``mlp.0``/``mlp.3``.
LayerNorm eps 1e-5. Odd blocks of a stage shift their windows by window // 2, except where the
(padded) map is no larger than the window, where the shift is dropped (stage 4 at 224x224 input).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ._common import MLP, Permute, StochasticDepth

SWIN_T_PARAMS = 28_288_354


def _relative_position_index(wh: int, ww: int) -> torch.Tensor:
    """For query position i and key position j of a window (row-major), the row of the bias table
    that holds their offset: (dy + wh - 1) * (2 * ww - 1) + (dx + ww - 1), flattened to [N * N]."""
    rows = torch.arange(wh).repeat_interleave(ww)
    cols = torch.arange(ww).repeat(wh)
    dy = rows[:, None] - rows[None, :] + (wh - 1)
    dx = cols[:, None] - cols[None, :] + (ww - 1)
    return (dy * (2 * ww - 1) + dx).flatten()


def _windows(x: torch.Tensor, wh: int, ww: int) -> torch.Tensor:
    """[b, H, W, c] -> [b * windows, wh * ww, c], windows in row-major order."""
    b, h, w, c = x.shape
    x = x.view(b, h // wh, wh, w // ww, ww, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b * (h // wh) * (w // ww), wh * ww, c)


def _unwindows(x: torch.Tensor, b: int, h: int, w: int, wh: int, ww: int) -> torch.Tensor:
    c = x.shape[-1]
    x = x.view(b, h // wh, w // ww, wh, ww, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, c)


def _shift_mask(h: int, w: int, wh: int, ww: int, sh: int, sw: int, like: torch.Tensor) -> torch.Tensor:
    """[windows, N, N] additive mask: -100 between tokens that came from different regions of the
    cyclically shifted map (they are not neighbours in the image), 0 within one region."""

    def bands(size: int, window: int, shift: int) -> torch.Tensor:
        label = torch.zeros(size, device=like.device)
        label[size - window :] = 1.0
        label[size - shift :] = 2.0
        return label

    region = bands(h, wh, sh)[:, None] * 3 + bands(w, ww, sw)[None, :]
    ids = _windows(region[None, :, :, None], wh, ww).squeeze(-1)  # [windows, N]
    diff = ids[:, None, :] - ids[:, :, None]
    return torch.where(diff != 0, -100.0, 0.0).to(like.dtype)


class ShiftedWindowAttention(nn.Module):
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
        table = torch.zeros((2 * wh - 1) * (2 * ww - 1), num_heads)
        self.relative_position_bias_table = nn.Parameter(nn.init.trunc_normal_(table, std=0.02))
        self.register_buffer("relative_position_index", _relative_position_index(wh, ww))

    def relative_position_bias(self) -> torch.Tensor:
        n = self.window_size[0] * self.window_size[1]
        index: torch.Tensor = self.relative_position_index  # type: ignore[assignment]
        bias = self.relative_position_bias_table[index].view(n, n, -1)
        return bias.permute(2, 0, 1).unsqueeze(0)  # [1, heads, N, N]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        wh, ww = self.window_size
        x = F.pad(x, (0, 0, 0, (ww - w % ww) % ww, 0, (wh - h % wh) % wh))
        ph, pw = x.shape[1], x.shape[2]
        sh = 0 if wh >= ph else self.shift_size[0]
        sw = 0 if ww >= pw else self.shift_size[1]
        shifted = sh + sw > 0
        if shifted:
            x = torch.roll(x, shifts=(-sh, -sw), dims=(1, 2))
        t = _windows(x, wh, ww)  # [b*nw, N, c]
        bw, n, _ = t.shape
        heads = self.num_heads
        qkv = self.qkv(t).reshape(bw, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * (c // heads) ** -0.5) @ k.transpose(-2, -1)
        attn = attn + self.relative_position_bias()
        if shifted:
            mask = _shift_mask(ph, pw, wh, ww, sh, sw, attn)  # [nw, N, N]
            nw = mask.shape[0]
            attn = (attn.view(bw // nw, nw, heads, n, n) + mask[None, :, None]).view(bw, heads, n, n)
        attn = F.dropout(F.softmax(attn, dim=-1), p=self.attention_dropout, training=self.training)
        out = (attn @ v).transpose(1, 2).reshape(bw, n, c)
        out = F.dropout(self.proj(out), p=self.dropout, training=self.training)
        out = _unwindows(out, b, ph, pw, wh, ww)
        if shifted:
            out = torch.roll(out, shifts=(sh, sw), dims=(1, 2))
        return out[:, :h, :w, :].contiguous()


class SwinTransformerBlock(nn.Module):
    """``x + drop_path(attn(norm1(x)))`` then ``x + drop_path(mlp(norm2(x)))`` (channels-last)."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: list[int],
        shift_size: list[int],
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        stochastic_depth_prob: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = ShiftedWindowAttention(
            dim, window_size, shift_size, num_heads, attention_dropout, dropout
        )
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = MLP(dim, int(dim * mlp_ratio), dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.stochastic_depth(self.attn(self.norm1(x)))
        return x + self.stochastic_depth(self.mlp(self.norm2(x)))


class PatchMerging(nn.Module):
    """Concatenate each 2x2 neighbourhood's tokens in the order (0,0), (1,0), (0,1), (1,1) (row,
    col offsets; odd sizes are zero-padded first), LayerNorm(4C), Linear(4C, 2C, bias=False)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-3], x.shape[-2]
        x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        parts = [x[..., r::2, c::2, :] for c in (0, 1) for r in (0, 1)]
        return self.reduction(self.norm(torch.cat(parts, dim=-1)))


class SwinTransformer(nn.Module):
    def __init__(
        self,
        patch_size: int = 4,
        embed_dim: int = 96,
        depths: list[int] | None = None,
        num_heads: list[int] | None = None,
        window_size: int = 7,
        mlp_ratio: float = 4.0,
        stochastic_depth_prob: float = 0.2,
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        depths = depths or [2, 2, 6, 2]
        num_heads = num_heads or [3, 6, 12, 24]
        layers: list[nn.Module] = [
            nn.Sequential(
                nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size),
                Permute([0, 2, 3, 1]),
                nn.LayerNorm(embed_dim, eps=1e-5),
            )
        ]
        total = sum(depths)
        block_id = 0
        window = [window_size, window_size]
        for i, depth in enumerate(depths):
            dim = embed_dim * 2**i
            blocks: list[nn.Module] = []
            for j in range(depth):
                shift = [0, 0] if j % 2 == 0 else [window_size // 2] * 2
                sd_prob = stochastic_depth_prob * float(block_id) / (total - 1)
                blocks.append(
                    SwinTransformerBlock(dim, num_heads[i], window, shift, mlp_ratio, 0.0, 0.0, sd_prob)
                )
                block_id += 1
            layers.append(nn.Sequential(*blocks))
            if i < len(depths) - 1:
                layers.append(PatchMerging(dim))
        self.features = nn.Sequential(*layers)
        features = embed_dim * 2 ** (len(depths) - 1)
        self.norm = nn.LayerNorm(features, eps=1e-5)
        self.permute = Permute([0, 3, 1, 2])
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.head = nn.Linear(features, num_classes)
        # torchvision's final pass re-initialises every Linear (the MLPs' xavier init included)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.features(x))
        return self.head(self.flatten(self.avgpool(self.permute(x))))


def swin_t(num_classes: int = 1000) -> SwinTransformer:
    """torchvision ``swin_t`` (V1): 28,288,354 parameters at 1000 classes."""
    return SwinTransformer(4, 96, [2, 2, 6, 2], [3, 6, 12, 24], 7, 4.0, 0.2, num_classes)
