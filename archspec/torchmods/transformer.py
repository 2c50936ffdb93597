"""Rotary position embedding, scaled dot-product attention and the attention layer of current
decoder models (Llama, Mistral, Qwen), built on ``torch.nn.functional.scaled_dot_product_attention``.

Heads are laid out as Hugging Face's Llama has them, ``[batch, heads, seq, head_dim]``; the
attention module's parameters are ``q_proj``, ``k_proj``, ``v_proj``, ``o_proj`` and the optional
per-head norms ``q_norm`` and ``k_norm``, so that its state_dict keys are Hugging Face's. Rotary
frequencies and masks are computed in ``forward`` from the runtime lengths: no buffers, and one
module (or ONNX graph) serves any length.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def rope_inv_freq(
    dim: int,
    theta: float,
    scaling: str | None = None,
    factor: float = 1.0,
    low_freq_factor: float = 1.0,
    high_freq_factor: float = 4.0,
    original_max_positions: int = 8192,
) -> torch.Tensor:
    """The ``dim // 2`` rotation frequencies ``theta ** (-2i / dim)`` (float32).

    ``scaling="linear"`` divides them all by ``factor``; ``scaling="llama3"`` is Llama 3.1's static
    rescaling: a frequency whose wavelength ``2*pi/f`` is longer than ``original_max_positions /
    low_freq_factor`` is divided by ``factor``, one shorter than ``original_max_positions /
    high_freq_factor`` is kept, and one in between is blended linearly in ``1/wavelength``.
    """
    exponents = torch.arange(0, dim, 2, dtype=torch.int64).to(torch.float32) / dim
    inv = 1.0 / (theta**exponents)
    if scaling == "linear":
        return inv / factor
    if scaling == "llama3":
        wavelength = 2 * math.pi / inv
        # t = 0 where the wavelength is original/low (slowed), 1 where it is original/high (kept)
        t = (original_max_positions / wavelength - low_freq_factor) / (high_freq_factor - low_freq_factor)
        t = t.clamp(0.0, 1.0)
        return (1 - t) * inv / factor + t * inv
    return inv


def rope_cos_sin(
    angles: torch.Tensor, interleaved: bool, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of ``angles [..., seq, r/2]`` laid out for ``r`` features: each angle twice,
    as halves ``(a, a)`` (half-split pairs) or side by side (``interleaved``); in x's dtype."""
    both = angles.repeat_interleave(2, dim=-1) if interleaved else torch.cat((angles, angles), dim=-1)
    return both.cos().to(dtype), both.sin().to(dtype)


def rope_rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, interleaved: bool) -> torch.Tensor:
    """Turn the feature pairs of ``x [..., seq, r]``: ``x·cos + turn(x)·sin``.

    Half-split pairs ``(i, i + r/2)`` as Hugging Face's Llama (``turn(x) = (-x2, x1)``), or
    adjacent pairs ``(2i, 2i + 1)`` with ``interleaved`` (Meta's original Llama code, GPT-J).
    """
    if interleaved:
        turned = torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)
    else:
        first, second = x.chunk(2, dim=-1)
        turned = torch.cat((-second, first), dim=-1)
    return x * cos + turned * sin


class RotaryEmbedding(nn.Module):
    """Rotary position embedding of ``x [..., seq, head_dim]`` at positions ``0 .. seq-1``, or at
    ``positions`` ([seq] or [batch, seq], batch being x's dim 0).

    Only the first ``rotary_dim`` features turn (all by default); the rest pass through. Angles
    are computed in float32 and cast to x's dtype, as Hugging Face does.
    """

    def __init__(
        self,
        head_dim: int,
        theta: float = 10000.0,
        rotary_dim: int | None = None,
        interleaved: bool = False,
        scaling: str | None = None,
        factor: float = 1.0,
        low_freq_factor: float = 1.0,
        high_freq_factor: float = 4.0,
        original_max_positions: int = 8192,
    ) -> None:
        super().__init__()
        self.head_dim, self.theta = head_dim, theta
        self.rotary_dim = rotary_dim or head_dim
        self.interleaved = interleaved
        self.scaling, self.factor = scaling, factor
        self.low_freq_factor, self.high_freq_factor = low_freq_factor, high_freq_factor
        self.original_max_positions = original_max_positions

    def angles(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """Angles ``[seq, rotary_dim/2]`` or ``[batch, 1.., seq, rotary_dim/2]`` for x's rank."""
        inv = rope_inv_freq(
            self.rotary_dim,
            self.theta,
            self.scaling,
            self.factor,
            self.low_freq_factor,
            self.high_freq_factor,
            self.original_max_positions,
        ).to(x.device)
        if positions is None:
            positions = torch.arange(x.size(-2), device=x.device)
        angles = positions.to(torch.float32).unsqueeze(-1) * inv
        if angles.dim() == 3:  # per-batch positions: heads (and other middle dims) broadcast
            angles = angles.view(angles.size(0), *([1] * (x.dim() - 3)), *angles.shape[1:])
        return angles

    def forward(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        cos, sin = rope_cos_sin(self.angles(x, positions), self.interleaved, x.dtype)
        return apply_rope(x, cos, sin, self.rotary_dim, self.interleaved)

    def extra_repr(self) -> str:
        return f"head_dim={self.head_dim}, theta={self.theta}, rotary_dim={self.rotary_dim}"


def apply_rope(
    x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, rotary_dim: int, interleaved: bool
) -> torch.Tensor:
    """Rotate the first ``rotary_dim`` features of x; pass the others through."""
    if rotary_dim == x.size(-1):
        return rope_rotate(x, cos, sin, interleaved)
    turned = rope_rotate(x[..., :rotary_dim], cos, sin, interleaved)
    return torch.cat((turned, x[..., rotary_dim:]), dim=-1)


def window_mask(seq_q: int, seq_k: int, window: int | None, device: torch.device) -> torch.Tensor:
    """[seq_q, seq_k] bool, True where query i may attend key j: ``j <= i`` and, with a
    ``window``, ``j > i - window`` (the last ``window`` positions, i itself included)."""
    i = torch.arange(seq_q, device=device).unsqueeze(1)
    j = torch.arange(seq_k, device=device).unsqueeze(0)
    keep = j <= i
    if window is not None:
        keep = keep & (j > i - window)
    return keep


def attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None,
    causal: bool,
    dropout: float,
    scale: float | None,
) -> torch.Tensor:
    """``torch.nn.functional.scaled_dot_product_attention``; key/value heads are repeated for
    grouped-query attention (kv head j serves query heads j*g .. j*g+g-1, as ``enable_gqa``); a
    causal condition and a mask together become one mask (later keys masked out)."""
    groups = q.size(-3) // k.size(-3) if q.dim() >= 4 else 1
    if groups > 1:
        k = k.repeat_interleave(groups, dim=-3)
        v = v.repeat_interleave(groups, dim=-3)
    if mask is not None and mask.requires_grad and torch.onnx.is_in_onnx_export():
        # an inference graph needs no gradient for a computed mask (T5's position bias), and
        # torch 2.13's ONNX decompositions mistake the output's strides when the mask has one
        mask = mask.detach()
    if causal and mask is not None:  # torch takes one or the other: fold the causal condition in
        i = torch.arange(q.size(-2), device=q.device)
        later = torch.arange(k.size(-2), device=q.device).unsqueeze(0) > i.unsqueeze(1)
        if mask.dtype == torch.bool:
            mask = mask & ~later
        else:
            mask = mask + torch.zeros_like(later, dtype=mask.dtype).masked_fill(later, float("-inf"))
        causal = False
    return torch.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=causal, scale=scale
    )


class ScaledDotProductAttention(nn.Module):
    """``softmax(q kᵀ · scale + mask) v`` over ``q [..., seq_q, e]``, ``k [..., seq_k, e]``,
    ``v [..., seq_k, e_v]`` and an optional ``mask`` (bool: True attends; float: added).

    Dropout on the attention weights acts in training mode only (the function itself would
    apply it always). Key/value tensors with fewer heads than the queries are grouped-query.
    """

    def __init__(self, causal: bool = False, dropout: float = 0.0, scale: float | None = None) -> None:
        super().__init__()
        self.causal, self.dropout, self.scale = causal, dropout, scale

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        p = self.dropout if self.training else 0.0
        return attend(q, k, v, mask, self.causal, p, self.scale)

    def extra_repr(self) -> str:
        return f"causal={self.causal}, dropout={self.dropout}, scale={self.scale}"


class Attention(nn.Module):
    """Multi-head attention as Llama, Mistral and Qwen write it (Hugging Face's parameter names).

    ``x [batch, seq, embed_dim]`` (and, for cross-attention, ``memory [batch, seq_m, kdim]`` giving
    keys and values) -> ``[batch, seq, embed_dim]``: ``q_proj``, ``k_proj``, ``v_proj`` split into
    ``heads`` query and ``kv_heads`` key/value heads of ``head_dim``; optional RMSNorm per head
    (``q_norm``, ``k_norm``); rotary embedding when ``rope_theta`` is given (``rotary_dim`` and
    the ``rope_*`` arguments are RotaryEmbedding's); grouped-query attention; a causal mask,
    optionally limited to a sliding window; heads merged and projected back by ``o_proj``.
    ``bias`` is (q, k, v, o).
    """

    def __init__(
        self,
        embed_dim: int,
        heads: int,
        kv_heads: int,
        head_dim: int,
        kdim: int | None = None,
        bias: tuple[bool, bool, bool, bool] = (True, True, True, True),
        causal: bool = False,
        sliding_window: int | None = None,
        dropout: float = 0.0,
        scale: float | None = None,
        qk_norm_eps: float | None = None,
        rope_theta: float | None = None,
        rotary_dim: int | None = None,
        rope_interleaved: bool = False,
        rope_scaling: str | None = None,
        rope_factor: float = 1.0,
        rope_low_freq_factor: float = 1.0,
        rope_high_freq_factor: float = 4.0,
        rope_original_max_positions: int = 8192,
    ) -> None:
        super().__init__()
        kdim = kdim or embed_dim
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, head_dim
        self.causal, self.sliding_window = causal, sliding_window
        self.dropout, self.scale = dropout, scale
        self.q_proj = nn.Linear(embed_dim, heads * head_dim, bias=bias[0])
        self.k_proj = nn.Linear(kdim, kv_heads * head_dim, bias=bias[1])
        self.v_proj = nn.Linear(kdim, kv_heads * head_dim, bias=bias[2])
        self.o_proj = nn.Linear(heads * head_dim, embed_dim, bias=bias[3])
        self.q_norm: nn.Module | None = None
        self.k_norm: nn.Module | None = None
        if qk_norm_eps is not None:
            self.q_norm = nn.RMSNorm(head_dim, eps=qk_norm_eps)
            self.k_norm = nn.RMSNorm(head_dim, eps=qk_norm_eps)
        self.rotary: RotaryEmbedding | None = None
        if rope_theta is not None:
            self.rotary = RotaryEmbedding(
                head_dim,
                rope_theta,
                rotary_dim,
                rope_interleaved,
                rope_scaling,
                rope_factor,
                rope_low_freq_factor,
                rope_high_freq_factor,
                rope_original_max_positions,
            )

    def split(self, x: torch.Tensor, heads: int) -> torch.Tensor:
        """[batch, seq, heads * head_dim] -> [batch, heads, seq, head_dim]."""
        return x.view(x.size(0), x.size(1), heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None) -> torch.Tensor:
        kv = x if memory is None else memory
        q = self.q_proj(x).view(x.size(0), x.size(1), self.heads, self.head_dim)
        k = self.k_proj(kv).view(kv.size(0), kv.size(1), self.kv_heads, self.head_dim)
        if self.q_norm is not None and self.k_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        v = self.split(self.v_proj(kv), self.kv_heads)
        if self.rotary is not None:  # one cos/sin table for q and k
            r, interleaved = self.rotary.rotary_dim, self.rotary.interleaved
            cos, sin = rope_cos_sin(self.rotary.angles(q), interleaved, q.dtype)
            q, k = apply_rope(q, cos, sin, r, interleaved), apply_rope(k, cos, sin, r, interleaved)
        mask, causal = None, self.causal
        if self.causal and self.sliding_window is not None:
            mask, causal = window_mask(q.size(2), k.size(2), self.sliding_window, q.device), False
        p = self.dropout if self.training else 0.0
        out = attend(q, k, v, mask, causal, p, self.scale)
        return self.o_proj(out.transpose(1, 2).reshape(x.size(0), x.size(1), self.heads * self.head_dim))
