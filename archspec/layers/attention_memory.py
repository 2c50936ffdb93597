"""What the attention layers keep for backward (their ``memory`` rules; see ``layers.memory``).

Written after torch's own code paths: ``nn.MultiheadAttention`` (batch-first inputs transposed to
``[seq, batch, d]``, a packed q/k/v projection, ``scaled_dot_product_attention``, the output
projection) and ``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer`` (residuals,
layer norms, dropouts, the feed-forward net). Under tensor parallelism of degree ``t`` the heads
and the feed-forward width are split over the ranks (Megatron-LM's layout): what depends on them
is divided by ``t``; layer-norm inputs, residuals and their dropout masks are replicated.
"""

from __future__ import annotations

from dataclasses import dataclass

from archspec.layers.base import ShapeError
from archspec.layers.memory import Kept, MemCtx, Memory, dropout_kept, keep

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Attn:
    """One attention: ``b`` batch, ``s`` queries, ``sk`` keys, width ``d``, ``heads`` (all per
    tensor-parallel rank), dropout on the probabilities, causal mask, weights training."""

    b: int
    s: int
    sk: int
    d: int
    heads: int
    dropout: float
    causal: bool
    trains: bool


def split(c: MemCtx, heads: int, ff: int | None, what: str) -> int:
    """The tensor-parallel degree, checked against the heads (and feed-forward width)."""
    if heads % c.tp or (ff is not None and ff % c.tp):
        raise ShapeError(
            f"tensor parallelism of degree {c.tp} must divide the {heads} heads"
            + (f" and the feed-forward width {ff}" if ff is not None else "")
            + f" of {what}",
            expected=f"a degree dividing {heads}",
            got=str(c.tp),
            hint="choose a tensor-parallel degree that divides the heads",
            code="bad-value",
        )
    return c.tp


def sdpa(c: MemCtx, a: Attn, q: Kept, k: Kept, v: Kept, tag: str) -> tuple[Kept, ...]:
    """Scaled dot-product attention and the output projection's input.

    The fused kernels (flash/efficient; on CPU the flash kernel when there is no dropout) keep
    q, k, v, the output, the log-sum-exp and an explicit mask. The math path (``c.attention ==
    "math"``, and what torch takes on CPU with dropout) materializes the scores: it keeps scaled
    q and k, the probabilities, their dropout mask and the dropped probabilities (the attention
    core), and a copy of the output for the projection."""
    hd = a.d // a.heads
    if c.attention == "math" or (c.device == "cpu" and a.dropout > 0):
        scores = (a.b, a.heads, a.s, a.sk)
        dropped = dropout_kept(f"{tag}.probs", scores, a.dropout, c)
        return keep(
            v,
            Kept(f"{tag}.q_scaled", (a.b, a.heads, a.s, hd)),
            Kept(f"{tag}.k_scaled", (a.b, a.heads, hd, a.sk)),
            Kept(f"{tag}.probs", scores, core=True),
            *(Kept(k.of, k.shape, k.dtype, core=True) for k in dropped),
            Kept(f"{tag}.probs.dropped", scores, core=True) if a.dropout > 0 else None,
            Kept(f"{tag}.out", (a.s * a.b, a.d)) if a.trains else None,
        )
    return keep(
        q,
        k,
        v,
        Kept(f"{tag}.mask", (1, 1, a.s, a.sk)) if a.causal else None,
        Kept(f"{tag}.lse", (a.b, a.heads, a.s), "float32"),
        Kept(f"{tag}.out", (a.b, a.heads, a.s, hd)),
    )


def self_attention(c: MemCtx, a: Attn, tag: str) -> tuple[Kept, ...]:
    """Self-attention on an input of width ``a.d * t``: its time-major copy (kept for the packed
    projection's weight gradient), the packed q/k/v storage, then ``sdpa``."""
    qkv = Kept(f"{tag}.qkv", (3, a.s, a.b, a.d))
    copy = Kept(f"{tag}.x_t", (a.s * a.b, a.d * c.tp)) if a.trains else None
    return keep(copy) + sdpa(c, a, qkv, qkv, qkv, tag)


def cross_attention(c: MemCtx, a: Attn, kdim: int, tag: str) -> tuple[Kept, ...]:
    """Attention of queries to a memory of width ``kdim``: copies of both inputs, then q and a
    packed k/v projection (``kdim == d``), or q, k and v separately (``kdim != d``: keys and
    values each copy the memory)."""
    full = a.d * c.tp
    copies = [Kept(f"{tag}.x_t", (a.s * a.b, full))] if a.trains else []
    q = Kept(f"{tag}.q", (a.s, a.b, a.d))
    if kdim == full:
        copies += [Kept(f"{tag}.mem_t", (a.sk * a.b, kdim))] if a.trains else []
        kv = Kept(f"{tag}.kv", (2, a.sk, a.b, a.d))
        return (*copies, *sdpa(c, a, q, kv, kv, tag))
    if a.trains:
        copies += [Kept(f"{tag}.k_t", (a.sk * a.b, kdim)), Kept(f"{tag}.v_t", (a.sk * a.b, kdim))]
    k, v = (
        Kept(f"{tag}.k", (a.b, a.heads, a.sk, a.d // a.heads)),
        Kept(f"{tag}.v", (a.b, a.heads, a.sk, a.d // a.heads)),
    )
    return (*copies, *sdpa(c, a, q, k, v, tag))


def attention_split(prefix: str, bias: bool, t: int) -> dict[str, int]:
    """nn.MultiheadAttention's weights split over ``t`` ranks: q/k/v by heads (column parallel),
    the output projection by its input (row parallel; its bias stays whole)."""
    names = ["in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight", "out_proj.weight"]
    return {f"{prefix}{n}": t for n in names + (["in_proj_bias"] if bias else [])}


def multihead(c: MemCtx, heads: int, dropout: float, causal: bool, bias: bool) -> Memory:
    """``multihead_attention``: self-attention on one input, cross-attention on two."""
    b, s, d = c.ins[0]
    t = split(c, heads, None, "multihead_attention")
    sk = c.ins[-1][1]
    a = Attn(b, s, sk, d // t, heads // t, dropout, causal, c.trains)
    kept = self_attention(c, a, "attn") if len(c.ins) == 1 else cross_attention(c, a, c.ins[1][2], "attn")
    cache = (Kept("kv_cache", (2, b, c.context, d // t)),) if causal and len(c.ins) == 1 else ()
    return Memory(keep=kept, cache=cache, split=attention_split("", bias, t))


def _norm(tag: str, x: Kept, b: int, s: int) -> tuple[Kept, ...]:
    """A layer norm over d keeps its input, the mean and the reciprocal std."""
    return (x, Kept(f"{tag}.mean", (b, s, 1), "stat"), Kept(f"{tag}.rstd", (b, s, 1), "stat"))


def feed_forward(c: MemCtx, b: int, s: int, d: int, ff: int, gelu: bool, p: float) -> tuple[Kept, ...]:
    """``linear2(dropout(activation(linear1(x))))`` then dropout: linear1's input, the
    activation's output (ReLU) or input (GELU), the inner dropout and linear2's input, the
    outer dropout's mask."""
    inner = (b, s, ff)
    pre, act = Kept("ff.pre", inner), Kept("ff.act", inner)
    kept = keep(Kept("ff.in", (b, s, d)) if c.trains else None, pre if gelu else act)
    if p == 0:
        kept += keep(act if gelu and c.trains else None)
    else:
        kept += dropout_kept("ff", inner, p, c) + keep(Kept("ff.dropped", inner) if c.trains else None)
    return kept + dropout_kept("drop2", (b, s, d), p, c)


def encoder_layer(
    c: MemCtx, heads: int, ff: int, dropout: float, gelu: bool, pre: bool, causal: bool
) -> Memory:
    """``transformer_encoder_layer``: self-attention and feed-forward, post- or pre-norm."""
    b, s, d = c.ins[0]
    t = split(c, heads, ff, "transformer_encoder_layer")
    a = Attn(b, s, s, d // t, heads // t, dropout, causal, c.trains)
    kept = _norm("norm1", Kept("in0"), b, s) if pre else ()
    kept += self_attention(c, a, "self_attn") + dropout_kept("drop1", (b, s, d), dropout, c)
    kept += _norm("norm2" if pre else "norm1", Kept("res1", (b, s, d)), b, s)
    kept += feed_forward(c, b, s, d, ff // t, gelu, dropout)
    kept += () if pre else _norm("norm2", Kept("res2", (b, s, d)), b, s)
    cache = (Kept("kv_cache", (2, b, c.context, d // t)),) if causal else ()
    return Memory(keep=kept, cache=cache, split=_layer_split(t, ("self_attn.",), True))


def decoder_layer(
    c: MemCtx, heads: int, ff: int, dropout: float, gelu: bool, pre: bool, causal: bool
) -> Memory:
    """``transformer_decoder_layer``: self-attention, cross-attention to the memory (input 1),
    feed-forward; each with a residual and a layer norm."""
    b, s, d = c.ins[0]
    sm = c.ins[1][1]
    t = split(c, heads, ff, "transformer_decoder_layer")
    sa = Attn(b, s, s, d // t, heads // t, dropout, causal, c.trains)
    ca = Attn(b, s, sm, d // t, heads // t, dropout, False, c.trains)
    kept = _norm("norm1", Kept("in0"), b, s) if pre else ()
    kept += self_attention(c, sa, "self_attn") + dropout_kept("drop1", (b, s, d), dropout, c)
    kept += _norm("norm2" if pre else "norm1", Kept("res1", (b, s, d)), b, s)
    kept += cross_attention(c, ca, d, "cross_attn") + dropout_kept("drop_x", (b, s, d), dropout, c)
    kept += _norm("norm3" if pre else "norm2", Kept("res2", (b, s, d)), b, s)
    kept += feed_forward(c, b, s, d, ff // t, gelu, dropout)
    kept += () if pre else _norm("norm3", Kept("res3", (b, s, d)), b, s)
    cache: tuple[Kept, ...] = (Kept("kv_cache", (2, b, c.context, d // t)),) if causal else ()
    cache += (Kept("memory_kv", (2, b, sm, d // t)),)
    return Memory(keep=kept, cache=cache, split=_layer_split(t, ("self_attn.", "multihead_attn."), True))


def _layer_split(t: int, attns: tuple[str, ...], bias: bool) -> dict[str, int]:
    out: dict[str, int] = {}
    for prefix in attns:
        out |= attention_split(prefix, bias, t)
    return out | {"linear1.weight": t, "linear1.bias": t, "linear2.weight": t}
