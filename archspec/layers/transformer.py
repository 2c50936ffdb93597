"""Attention as current decoder models (Llama, Mistral, Qwen) compute it: scaled dot-product
attention over q, k, v as a node, and the ``attention`` layer with grouped-query heads, rotary
position embedding, per-head norms and sliding windows. Rotary embedding itself is in
rotary.py, RMSNorm in rms_norm.py.

Heads are ``[batch, heads, seq, head_dim]`` and parameter names are Hugging Face's Llama
(``q_proj``, ``k_proj``, ``v_proj``, ``o_proj``, ``q_norm``, ``k_norm``).
"""

from __future__ import annotations

from pydantic import PositiveFloat, PositiveInt

from archspec.layers import register_layer
from archspec.layers import transformer_rules as rules
from archspec.layers.attention import Rate, sequence_features
from archspec.layers.base import (
    LayerParams,
    LayerType,
    Shape,
    ShapeError,
    TorchCtor,
    need_float,
    need_rank,
    numel,
)
from archspec.layers.costs import Product
from archspec.layers.memory import MemCtx, Memory
from archspec.layers.rotary import RopeSettings, check_rotary, rope_kwargs, rope_label
from archspec.shapes import BroadcastError, Dim, TensorType, broadcast, fmt_shape, tensor


def _differ(a: Dim | tuple[Dim, ...], b: Dim | tuple[Dim, ...]) -> bool:
    """Sizes (or shapes) that differ by meaning (symbolic dims compared as expressions)."""
    return bool(a != b)


def grouped_heads(q_heads: Dim, kv_heads: Dim) -> int:
    """How many query heads share one key/value head (1 unless grouped-query); an error when
    the counts do not divide."""
    if not _differ(q_heads, kv_heads):
        return 1
    if not isinstance(q_heads, int) or not isinstance(kv_heads, int):
        raise ShapeError(
            f"query and key/value head counts differ ({q_heads} vs {kv_heads}) and are not both known",
            expected="known head counts, the query's a multiple of the key/value's",
            got=f"{q_heads} query heads, {kv_heads} key/value heads",
        )
    if q_heads % kv_heads:
        fits = [n for n in range(1, q_heads + 1) if q_heads % n == 0]
        raise ShapeError(
            f"{q_heads} query heads cannot be grouped over {kv_heads} key/value heads",
            expected=f"a key/value head count that divides {q_heads}",
            got=f"{kv_heads} key/value heads ({q_heads} % {kv_heads} = {q_heads % kv_heads})",
            hint=f"grouped-query attention shares each key/value head among an equal number of "
            f"query heads: use {', '.join(map(str, fits))} key/value heads",
            code="bad-value",
        )
    return q_heads // kv_heads


@register_layer
class ScaledDotProductAttention(LayerType):
    """``softmax(q kᵀ · scale + mask) · v`` (``torch.nn.functional.scaled_dot_product_attention``).

    Inputs ``q [batch, heads, seq_q, e]``, ``k [batch, kv_heads, seq_k, e]``,
    ``v [batch, kv_heads, seq_k, e_v]`` (or 3-D, without the heads dim), and an optional ``mask``
    that broadcasts to ``[batch, heads, seq_q, seq_k]``: bool (True = attend) or float (added to
    the scores). Output ``[batch, heads, seq_q, e_v]``. Fewer key/value heads than query heads is
    grouped-query attention (torch's ``enable_gqa``): kv head j serves query heads j·g .. j·g+g-1,
    g = heads / kv_heads, which must divide. ``causal``: query i sees keys 0..i (top-left
    aligned); with a mask too, both apply (T5's decoder: a causal mask and a float position
    bias). ``scale`` defaults to ``1/sqrt(e)`` (``scale: 1.0``: unscaled, as T5). ``dropout``
    acts on the attention weights in training only.
    """

    name = "scaled_dot_product_attention"
    family = "attention"
    min_inputs = 3
    max_inputs = 4

    class Params(LayerParams):
        torch_names = {"is_causal": "causal", "dropout_p": "dropout", "enable_gqa": None, "attn_mask": None}
        causal: bool = False
        dropout: Rate = 0.0
        scale: PositiveFloat | None = None

    examples = [
        ({}, [tensor("batch", 4, "seq", 8)] * 3),
        ({"causal": True}, [tensor("batch", 4, "seq", 8), *[tensor("batch", 2, "seq", 8)] * 2]),
        (
            {"scale": 0.5},
            [
                tensor("batch", 6, "seq", 4),
                tensor("batch", 2, 7, 4),
                tensor("batch", 2, 7, 5),
                tensor("seq", 7, dtype="bool"),
            ],
        ),
        ({"dropout": 0.1}, [tensor("batch", "seq", 8), tensor("batch", 3, 8), tensor("batch", 3, 2)]),
        ({}, [*[tensor("batch", 2, "seq", 4)] * 3, tensor("batch", 1, 1, "seq")]),
        ({"causal": True, "scale": 1.0}, [*[tensor("batch", 2, "seq", 4)] * 3, tensor(1, 2, "seq", "seq")]),
        ({"causal": True}, [*[tensor("batch", 2, "seq", 4)] * 3, tensor("seq", "seq", dtype="bool")]),
    ]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        q, k, v = xs[:3]
        for label, t in zip(("q", "k", "v"), (q, k, v), strict=True):
            need_rank(t, (3, 4), f"{cls.name} {label}", hint="q, k and v are [batch, heads, seq, head_dim]")
            need_float(t, f"{cls.name} {label}")
        if not q.rank == k.rank == v.rank or not q.dtype == k.dtype == v.dtype:
            raise ShapeError(
                "q, k and v must have one rank and one dtype",
                expected=f"{q.rank}-D {q.dtype} (as q)",
                got=f"k {k}, v {v}",
            )
        if _differ(q.shape[0], k.shape[0]) or _differ(k.shape[:-1], v.shape[:-1]):
            raise ShapeError(
                "k and v must agree on everything but their last dim, and with q on the batch",
                expected=f"k [{k.shape[0]}, ..., seq_k, e] and v [..., seq_k, e_v] alike",
                got=f"q {q}, k {k}, v {v}",
            )
        if _differ(q.shape[-1], k.shape[-1]):
            raise ShapeError(
                "q and k must have the same last dim (the head size)",
                expected=f"k [..., {q.shape[-1]}]",
                got=str(k),
            )
        if q.rank == 4:
            grouped_heads(q.shape[1], k.shape[1])
        if len(xs) == 4:
            cls._check_mask(p, q, k, xs[3])
        return q.with_shape((*q.shape[:-1], v.shape[-1]))

    @classmethod
    def _check_mask(cls, p: Params, q: TensorType, k: TensorType, mask: TensorType) -> None:
        scores = (*q.shape[:-1], k.shape[-2])
        if mask.dtype not in ("bool", q.dtype):
            raise ShapeError(
                "the mask must be bool (True = attend) or q's float dtype (added to the scores)",
                expected=f"bool or {q.dtype}",
                got=str(mask),
            )
        try:
            ok = mask.rank <= len(scores) and not _differ(broadcast(mask.shape, scores), scores)
        except BroadcastError:
            ok = False
        if not ok:
            raise ShapeError(
                f"the mask {fmt_shape(mask.shape)} does not broadcast to the attention scores "
                f"{fmt_shape(scores)}",
                expected=f"{fmt_shape(scores)} or a shape that broadcasts to it, "
                f"e.g. {fmt_shape(scores[-2:])}",
                got=str(mask),
                hint=f"the mask's last two dims are the query and the key length ({scores[-2]} and "
                f"{scores[-1]} here); earlier dims (batch, heads) may be 1 or left out",
            )

    @classmethod
    def products(cls, p: Params, xs: list[Shape], out: Shape) -> list[Product]:
        return rules.sdpa_products(*xs[:3])

    @classmethod
    def other_flops(cls, p: Params, xs: list[Shape], out: Shape) -> int:
        return rules.scores_other(numel(out) // xs[2][-1] * xs[1][-2], p.causal or len(xs) == 4)

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        return rules.sdpa_memory(c, p.dropout)

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor(
            "transformer.ScaledDotProductAttention",
            {"causal": p.causal, "dropout": p.dropout, "scale": p.scale},
        )

    @classmethod
    def label(cls, p: Params) -> str:
        return "ScaledDotProductAttention" + (" causal" if p.causal else "")

    @classmethod
    def display_name(cls) -> str:
        return "ScaledDotProductAttention"


class ProjectionBias(LayerParams):
    """Which of the four projections have a bias (Qwen2: q, k and v but not o)."""

    q: bool
    k: bool
    v: bool
    o: bool


class QkNorm(LayerParams):
    eps: PositiveFloat = 1e-6


class AttentionParams(LayerParams):
    torch_names = {
        "num_heads": "heads",
        "num_attention_heads": "heads",
        "num_key_value_heads": "kv_heads",
        "embed_dim": None,
        "hidden_size": None,
        "attention_bias": "bias",
        "attention_dropout": "dropout",
        "rope_theta": "rope",
        "is_causal": "causal",
    }
    heads: PositiveInt
    kv_heads: PositiveInt | None = None  # default: heads (multi-head); 1: multi-query
    head_dim: PositiveInt | None = None  # default: d / heads
    bias: bool | ProjectionBias = True
    causal: bool = False
    sliding_window: PositiveInt | None = None
    rope: bool | RopeSettings = False
    qk_norm: bool | QkNorm = False
    dropout: Rate = 0.0
    scale: PositiveFloat | None = None  # default 1/sqrt(head_dim)

    def biases(self) -> tuple[bool, bool, bool, bool]:
        b = self.bias
        return (b.q, b.k, b.v, b.o) if isinstance(b, ProjectionBias) else (b, b, b, b)

    def rope_settings(self) -> RopeSettings | None:
        return RopeSettings() if self.rope is True else (self.rope or None)

    def qk_eps(self) -> float | None:
        return QkNorm().eps if self.qk_norm is True else (self.qk_norm.eps if self.qk_norm else None)


@register_layer
class Attention(LayerType):
    """Multi-head attention as current decoders write it (Hugging Face's Llama attention).

    ``x [batch, seq, d]`` -> ``[batch, seq, d]``; a second input ``memory [batch, seq_m, d_m]``
    makes it cross-attention (keys and values from the memory). Projections ``q_proj``
    (d -> heads·head_dim), ``k_proj`` and ``v_proj`` (-> kv_heads·head_dim), ``o_proj`` (back to
    d). ``kv_heads`` below ``heads`` is grouped-query attention (1: multi-query); it must divide
    ``heads``. ``head_dim`` defaults to d / heads and may differ from it (Gemma, Qwen3).
    ``bias`` (default true, as torch): all four projections, or each, all four named
    (``{q: true, k: true, v: true, o: false}``, Qwen2); Llama and Mistral have ``bias: false``.
    ``qk_norm``: RMSNorm of each query and key head (``q_norm``, ``k_norm``: weight [head_dim],
    eps 1e-6 unless ``{eps: ...}``), before the rotary embedding (Qwen3). ``rope``: rotary
    embedding of q and k at positions 0..seq-1 (``true``: theta 10000; or the settings of the
    ``rope`` layer: ``{theta: 500000}``). ``causal``: query i sees keys 0..i;
    ``sliding_window: w`` (with causal) only the last w of them (i-w < j ≤ i, as Mistral).
    ``scale`` defaults to 1/sqrt(head_dim); ``dropout`` acts on the attention weights. Computed
    with ``torch.nn.functional.scaled_dot_product_attention``.
    """

    name = "attention"
    family = "attention"
    primary = "heads"
    max_inputs = 2
    Params = AttentionParams
    examples = [
        ({"heads": 4}, [tensor("batch", "seq", 16)]),
        (
            {"heads": 4, "kv_heads": 2, "bias": False, "causal": True, "rope": {"theta": 500000.0}},
            [tensor("batch", "seq", 16)],
        ),
        (
            {"heads": 4, "kv_heads": 1, "head_dim": 6, "qk_norm": True, "rope": True, "causal": True},
            [tensor("batch", "seq", 8)],
        ),
        (
            {
                "heads": 2,
                "bias": {"q": True, "k": True, "v": True, "o": False},
                "causal": True,
                "sliding_window": 3,
            },
            [tensor("batch", "seq", 8)],
        ),
        (
            {"heads": 3, "kv_heads": 1, "scale": 1.0, "dropout": 0.1},
            [tensor("batch", "seq", 6), tensor("batch", 5, 10)],
        ),
    ]

    @classmethod
    def dims(cls, p: AttentionParams, xs: list[TensorType]) -> tuple[int, int, int, int]:
        """(d, kdim, head_dim, kv_heads), every setting checked against the inputs."""
        d = sequence_features(xs[0], cls.name)
        kdim = sequence_features(xs[1], f"{cls.name} memory") if len(xs) > 1 else d
        if len(xs) > 1 and _differ(xs[0].shape[0], xs[1].shape[0]):
            raise ShapeError("x and memory have different batch sizes", got=f"{xs[0]} and {xs[1]}")
        kv = p.kv_heads or p.heads
        grouped_heads(p.heads, kv)
        if p.head_dim is None and d % p.heads:
            raise ShapeError(
                f"the width {d} is not divisible by heads={p.heads}",
                expected=f"a multiple of {p.heads}, or an explicit head_dim",
                got=str(d),
                hint=f"give `head_dim` (q_proj then maps {d} to heads·head_dim), or heads that divide {d}",
            )
        head_dim = p.head_dim or d // p.heads
        rope = p.rope_settings()
        if rope is not None:
            if len(xs) > 1:
                raise ShapeError(
                    "rotary embedding in cross-attention is not supported",
                    hint="apply `rope` to the queries and keys yourself, or drop `rope`",
                    code="bad-value",
                )
            check_rotary(rope, head_dim, cls.name)
        if p.sliding_window is not None and not p.causal:
            raise ShapeError(
                "sliding_window is a limit on a causal mask",
                expected="causal: true",
                got=f"sliding_window: {p.sliding_window} without causal",
                hint="add `causal: true` (query i then sees keys i-w < j ≤ i)",
                code="bad-value",
            )
        return d, kdim, head_dim, kv

    @classmethod
    def infer(cls, p: AttentionParams, xs: list[TensorType]) -> TensorType:
        cls.dims(p, xs)
        return xs[0]

    @classmethod
    def weights(cls, p: AttentionParams, xs: list[TensorType]) -> dict[str, Shape]:
        d, kdim, hd, kv = cls.dims(p, xs)
        w: dict[str, Shape] = {}
        for name, out, fan_in, bias in zip(
            ("q_proj", "k_proj", "v_proj", "o_proj"),
            (p.heads * hd, kv * hd, kv * hd, d),
            (d, kdim, kdim, p.heads * hd),
            p.biases(),
            strict=True,
        ):
            w[f"{name}.weight"] = (out, fan_in)
            if bias:
                w[f"{name}.bias"] = (out,)
        if p.qk_eps() is not None:
            w |= {"q_norm.weight": (hd,), "k_norm.weight": (hd,)}
        return w

    @classmethod
    def penalized(cls, p: AttentionParams, xs: list[TensorType]) -> tuple[str, ...]:
        return ("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight")

    @classmethod
    def sizes(cls, p: AttentionParams, xs: list[Shape]) -> rules.AttentionShape:
        d, kdim = xs[0][-1], xs[-1][-1]
        hd, rope = p.head_dim or d // p.heads, p.rope_settings()
        rotary = None if rope is None else rope.rotary_dim or hd
        kv, qk_norm = p.kv_heads or p.heads, p.qk_eps() is not None
        return rules.AttentionShape(
            d, kdim, p.heads, kv, hd, rotary, qk_norm, p.causal, p.sliding_window, p.dropout
        )

    @classmethod
    def products(cls, p: AttentionParams, xs: list[Shape], out: Shape) -> list[Product]:
        return rules.attention_products(cls.sizes(p, xs), xs)

    @classmethod
    def other_flops(cls, p: AttentionParams, xs: list[Shape], out: Shape) -> int:
        return rules.attention_other(cls.sizes(p, xs), xs[0], xs[-1][1], p.biases())

    @classmethod
    def memory(cls, p: AttentionParams, c: MemCtx) -> Memory:
        return rules.attention_memory(c, cls.sizes(p, list(c.ins)))

    @classmethod
    def torch(cls, p: AttentionParams, xs: list[TensorType]) -> TorchCtor:
        d, kdim, hd, kv = cls.dims(p, xs)
        kw: dict[str, object] = {"embed_dim": d, "heads": p.heads, "kv_heads": kv, "head_dim": hd}
        if kdim != d:
            kw["kdim"] = kdim
        kw |= {"bias": p.biases(), "causal": p.causal, "sliding_window": p.sliding_window}
        kw |= {"dropout": p.dropout, "scale": p.scale, "qk_norm_eps": p.qk_eps()}
        rope = p.rope_settings()
        if rope is not None:
            kw |= rope_kwargs(rope, "rope_")
        return TorchCtor("transformer.Attention", kw)

    @classmethod
    def label(cls, p: AttentionParams) -> str:
        kv = p.kv_heads or p.heads
        parts = ["Attention", f"{p.heads}h" + (f"/{kv}kv" if kv != p.heads else "")]
        if p.head_dim:
            parts.append(f"d{p.head_dim}")
        rope = p.rope_settings()
        parts += [f"RoPE {rope_label(rope)}"] if rope else []
        parts += ["qk-norm"] if p.qk_norm else []
        parts += ["causal"] if p.causal else []
        parts += [f"window {p.sliding_window}"] if p.sliding_window else []
        return " ".join(parts)
