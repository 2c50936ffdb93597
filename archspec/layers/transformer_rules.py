"""The cost and memory rules of ``scaled_dot_product_attention`` and ``attention``: their matrix
products and other FLOPs (``layers.costs``), and what they keep for backward (``layers.memory``),
written after archspec.torchmods.transformer's code paths and checked against FlopCounterMode and
autograd on CPU (tests/test_costs.py, tests/test_plan_layers.py).

Grouped-query key/value heads are repeated (``repeat_interleave``) before the attention kernel,
which then keeps the repeated copies. The kernel is fused (flash/efficient: it keeps q, k, v, the
output, the log-sum-exp and an explicit mask, never the scores) unless the plan asks for the math
path, or on CPU when torch's flash kernel does not apply (dropout, 3-D inputs, a value width
other than the key width, a mask that needs a gradient); the math path keeps the scaled q and k,
the probabilities (and their dropout) and v.
"""

from __future__ import annotations

from dataclasses import dataclass

from archspec.layers import costs
from archspec.layers.attention_memory import split
from archspec.layers.base import ShapeError
from archspec.layers.costs import Product
from archspec.layers.memory import Kept, MemCtx, Memory, dropout_kept, keep
from archspec.layers.rms_norm import rms_norm_flops, rms_norm_kept
from archspec.layers.rotary import rope_flops, rope_kept


@dataclass(frozen=True)
class Core:
    """One attention core: ``b`` batch, ``heads`` query heads, ``sq`` queries, ``sk`` keys, key
    width ``e``, value width ``ev``; q, k and v as they reach the kernel (k and v before any
    grouped-query repetition, ``grouped``), dropout, an explicit ``mask`` storage (fused only)."""

    b: int
    heads: int
    sq: int
    sk: int
    e: int
    ev: int
    q: Kept
    k: Kept
    v: Kept
    grouped: bool
    dropout: float
    mask: Kept | None = None


def fused(c: MemCtx, math_on_cpu: bool) -> bool:
    """Whether the fused kernel runs: unless the plan asks for the math path, or on CPU where
    torch's flash kernel does not apply (``math_on_cpu``)."""
    return c.attention == "fused" and not (c.device == "cpu" and math_on_cpu)


def core_kept(c: MemCtx, a: Core, out: Kept, is_fused: bool) -> tuple[Kept, ...]:
    """The attention kernel's storages (``out``: its output's storage)."""
    k = Kept("k_rep", (a.b, a.heads, a.sk, a.e)) if a.grouped else a.k
    v = Kept("v_rep", (a.b, a.heads, a.sk, a.ev)) if a.grouped else a.v
    if is_fused:
        return keep(a.q, k, v, a.mask, Kept("lse", (a.b, a.heads, a.sq), "float32"), out)
    scores = (a.b, a.heads, a.sq, a.sk)
    dropped = dropout_kept("probs", scores, a.dropout, c)
    return keep(
        Kept("q_scaled", (a.b, a.heads, a.sq, a.e)),
        Kept("k_scaled", (a.b, a.heads, a.e, a.sk)),
        Kept("probs", scores, core=True),
        *(Kept(d.of, d.shape, d.dtype, core=True) for d in dropped),
        Kept("probs.dropped", scores, core=True) if a.dropout > 0 else None,
        v,
    )


def sdpa_memory(c: MemCtx, dropout: float) -> Memory:
    """``scaled_dot_product_attention`` on q, k, v (3-D or 4-D) and an optional mask."""
    q, k, v = c.ins[:3]
    heads, kv = (q[1], k[1]) if len(q) == 4 else (1, 1)
    mask: Kept | None = None
    if len(c.ins) == 4:  # a bool mask becomes a float copy; a float one is kept as given
        mask = Kept("mask", c.ins[3]) if not c.grad(3) else None
    math_on_cpu = dropout > 0 or len(q) != 4 or q[-1] != v[-1] or c.grad(3)
    is_fused = fused(c, math_on_cpu)
    # the math path multiplies by v reshaped to [b·heads, seq, e]: a copy of v when its heads were
    # split off by a permute (as specs do), not a view of input 2's (possibly larger) storage
    v_kept = Kept("v_bmm", v) if not is_fused and len(v) == 4 else Kept("in2")
    ins = Kept("in0"), Kept("in1"), v_kept
    a = Core(q[0], heads, q[-2], k[-2], q[-1], v[-1], *ins, grouped=heads != kv, dropout=dropout, mask=mask)
    return Memory(keep=core_kept(c, a, Kept("out"), is_fused))


@dataclass(frozen=True)
class AttentionShape:
    """The attention layer's sizes: widths ``d`` (queries) and ``kdim`` (keys and values), head counts
    and size, whether it uses rope (rotating ``rotary`` features) and qk-norm, causal, sliding
    window, dropout on the attention weights."""

    d: int
    kdim: int
    heads: int
    kv_heads: int
    head_dim: int
    rotary: int | None
    qk_norm: bool
    causal: bool
    window: int | None
    dropout: float


def attention_memory(c: MemCtx, s: AttentionShape) -> Memory:
    """``attention``: projections, qk-norm, rope, the kernel, the output projection."""
    t = split(c, s.heads, None, "attention")
    if s.kv_heads % t:
        raise ShapeError(
            f"tensor parallelism of degree {t} must divide the {s.kv_heads} key/value heads",
            expected=f"a degree dividing {s.kv_heads}",
            got=str(t),
            hint="choose a tensor-parallel degree that divides both head counts",
            code="bad-value",
        )
    (b, sq, _), sk = c.ins[0], c.ins[-1][1]
    h, kv, hd = s.heads // t, s.kv_heads // t, s.head_dim
    kept = keep(Kept("in0") if c.trains else None, Kept("in1") if c.trains and len(c.ins) > 1 else None)
    q, k = Kept("q_proj", (b, sq, h * hd)), Kept("k_proj", (b, sk, kv * hd))
    if s.qk_norm:
        kept += rms_norm_kept("q_norm.", q, (b, sq, h, 1), q.shape, True, c.trains)
        kept += rms_norm_kept("k_norm.", k, (b, sk, kv, 1), k.shape, True, c.trains)
        q, k = Kept("q_norm", q.shape), Kept("k_norm", k.shape)
    if s.rotary is not None:
        kept += rope_kept((sq, s.rotary))
        q, k = Kept("q_rope", q.shape), Kept("k_rope", k.shape)
    mask = Kept("mask", (sq, sk)) if s.causal and s.window is not None else None
    core = Core(b, h, sq, sk, hd, hd, q, k, Kept("v_proj", (b, sk, kv * hd)), h != kv, s.dropout, mask)
    out = Kept("attn_out", (b, h, sq, hd))
    is_fused = fused(c, s.dropout > 0)
    kept += core_kept(c, core, out, is_fused)
    # o_proj keeps its input, the merged heads: a view of the kernel's output when that has q's
    # [b, s, h, hd] layout (fused, q a view of its projection), else a contiguous copy (the math
    # path's batched products, or a fused kernel fed q rebuilt by a partial rotation's concat)
    partial = s.rotary is not None and s.rotary < hd
    if c.trains and (not is_fused or partial):
        kept += (Kept("merged", (b * sq, h * hd)),)
    cache: tuple[Kept, ...] = ()
    if s.causal and len(c.ins) == 1:  # the keys and values of the last tokens (at most a window)
        length = c.context if s.window is None else min(c.context, s.window)
        cache = (Kept("kv_cache", (2, b, length, kv * hd)),)
    return Memory(keep=kept, cache=cache, split=_split(t))


def _split(t: int) -> dict[str, int]:
    """q, k, v projections split by heads (column parallel, with their biases); o_proj by its
    input (row parallel; its bias whole); the per-head norms replicated."""
    names = ("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight")
    return {n: t for n in names} | {f"{n}_proj.bias": t for n in "qkv"}


# Costs -------------------------------------------------------------------------------------


def scores_other(scores: int, masked: bool) -> int:
    """Per attention score: the scaling, the mask's add when masked (causal, a window or an
    explicit mask), the softmax (dropout on the weights is the identity at inference)."""
    return costs.elementwise(scores, 2 if masked else 1) + costs.softmax(scores)


def sdpa_products(q: tuple[int, ...], k: tuple[int, ...], v: tuple[int, ...]) -> list[Product]:
    """``q kᵀ`` and ``weights · v`` over all query heads (grouped key/value heads repeated)."""
    rows = q[0] * (q[1] if len(q) == 4 else 1)  # batch × query heads
    return [
        Product(costs.matmul(rows, q[-2], q[-1], k[-2]), costs.arg(0), costs.arg(1)),
        Product(costs.matmul(rows, q[-2], k[-2], v[-1]), costs.INNER, costs.arg(2)),
    ]


def attention_products(s: AttentionShape, xs: list[tuple[int, ...]]) -> list[Product]:
    """The q, k, v projections, ``q kᵀ`` and ``weights · v`` (query heads), the output projection;
    keys and values from input 1 in cross-attention."""
    (b, sq, _), sk = xs[0], xs[-1][1]
    q_width, kv_width = s.heads * s.head_dim, s.kv_heads * s.head_dim
    kv_in = costs.arg(len(xs) - 1)
    return [
        Product(costs.linear(b * sq, s.d, q_width), costs.arg(0), "q_proj.weight"),
        Product(costs.linear(b * sk, s.kdim, kv_width), kv_in, "k_proj.weight"),
        Product(costs.linear(b * sk, s.kdim, kv_width), kv_in, "v_proj.weight"),
        Product(costs.matmul(b * s.heads, sq, s.head_dim, sk), costs.INNER, costs.INNER),
        Product(costs.matmul(b * s.heads, sq, sk, s.head_dim), costs.INNER, costs.INNER),
        Product(costs.linear(b * sq, q_width, s.d), costs.INNER, "o_proj.weight"),
    ]


def attention_other(s: AttentionShape, x: tuple[int, ...], sk: int, bias: tuple[bool, ...]) -> int:
    """Bias adds, qk-norm, rope (one table for q and k), the scores' scaling, mask and softmax."""
    b, sq = x[0], x[1]
    q_n, kv_n = b * sq * s.heads * s.head_dim, b * sk * s.kv_heads * s.head_dim
    flops = sum(costs.bias(n, on) for n, on in zip((q_n, kv_n, kv_n, b * sq * s.d), bias, strict=True))
    if s.qk_norm:
        flops += rms_norm_flops(q_n, True) + rms_norm_flops(kv_n, True)
    if s.rotary is not None:
        rotated = (q_n + kv_n) // s.head_dim * s.rotary
        flops += rope_flops(rotated, sq * s.rotary)
    return flops + scores_other(b * s.heads * sq * sk, s.causal)
