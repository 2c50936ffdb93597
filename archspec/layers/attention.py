"""Attention: multi-head attention, transformer encoder and decoder layers.

All are batch-first: sequences are ``[batch, seq, d]`` with ``d`` a known size.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveFloat, PositiveInt

from archspec.layers import attention_memory as mem
from archspec.layers import costs, register_layer
from archspec.layers.base import (
    LayerParams,
    LayerType,
    Shape,
    ShapeError,
    TorchCtor,
    need_float,
    need_int,
    need_rank,
)
from archspec.layers.costs import Product
from archspec.layers.memory import MemCtx, Memory
from archspec.shapes import TensorType, tensor

Rate = Annotated[float, Field(ge=0.0, lt=1.0)]  # a dropout probability


def sequence_features(x: TensorType, what: str) -> int:
    """Check a [batch, seq, d] float input and return its known d."""
    need_rank(x, (3,), what, hint=f"{what} takes [batch, seq, features] (batch-first)")
    need_float(x, what)
    return need_int(x.shape[2], f"the features of the {what} input")


def _same_batch(a: TensorType, b: TensorType, what: str) -> None:
    x, y = a.shape[0], b.shape[0]
    if isinstance(x, int) and isinstance(y, int) and x != y:
        raise ShapeError(
            f"{what}: the two inputs have different batch sizes",
            expected=f"batch {x}",
            got=str(b),
        )
    if a.dtype != b.dtype:
        raise ShapeError(f"{what}: the two inputs have different dtypes", expected=a.dtype, got=b.dtype)


def _divisible(d: int, heads: int, what: str) -> None:
    if d % heads:
        fits = [h for h in range(1, min(d, 64) + 1) if d % h == 0]
        raise ShapeError(
            f"{what}: embedding dim {d} is not divisible by heads={heads}",
            expected=f"a multiple of {heads}",
            got=str(d),
            hint=f"heads must divide {d}: e.g. {', '.join(map(str, fits[-6:]))}",
        )


def _mha_weights(prefix: str, d: int, kdim: int, bias: bool) -> dict[str, Shape]:
    """nn.MultiheadAttention's parameters: packed q/k/v unless keys have another width."""
    w: dict[str, Shape]
    if kdim == d:
        w = {f"{prefix}in_proj_weight": (3 * d, d)}
    else:
        w = {f"{prefix}q_proj_weight": (d, d), f"{prefix}k_proj_weight": (d, kdim)}
        w[f"{prefix}v_proj_weight"] = (d, kdim)
    if bias:
        w[f"{prefix}in_proj_bias"] = (3 * d,)
    w[f"{prefix}out_proj.weight"] = (d, d)
    if bias:
        w[f"{prefix}out_proj.bias"] = (d,)
    return w


def _projections(weights: dict[str, Shape]) -> tuple[str, ...]:
    """The weight matrices of attention projections and feed-forward layers (not norms, biases)."""
    return tuple(
        n
        for n in weights
        if n.endswith(("proj_weight", "proj.weight")) or n in ("linear1.weight", "linear2.weight")
    )


@register_layer
class MultiheadAttention(LayerType):
    """Multi-head scaled dot-product attention (``torch.nn.MultiheadAttention``, batch-first).

    One input ``[batch, seq, d]`` is self-attention; two inputs (query, memory) is
    cross-attention, the memory ``[batch, seq_m, d_m]`` giving both keys and values (when
    ``d_m != d`` torch keeps separate ``q/k/v_proj_weight`` instead of ``in_proj_weight``).
    The output is the attention output only, ``[batch, seq, d]``; ``d`` must be divisible by
    ``heads``. ``causal``: query i sees keys 0..i only (the mask follows the runtime lengths).
    """

    name = "multihead_attention"
    family = "attention"
    primary = "heads"
    max_inputs = 2

    class Params(LayerParams):
        torch_names = {"num_heads": "heads", "embed_dim": None, "kdim": None, "vdim": None}
        heads: PositiveInt
        dropout: Rate = 0.0  # on the attention weights
        bias: bool = True
        causal: bool = False

    examples = [
        ({"heads": 4}, [tensor("batch", "seq", 16)]),
        ({"heads": 2, "causal": True, "bias": False}, [tensor("batch", "seq", 8)]),
        ({"heads": 4}, [tensor("batch", "seq", 16), tensor("batch", 6, 16)]),
        ({"heads": 2, "causal": True}, [tensor("batch", "seq", 8), tensor("batch", 9, 12)]),
    ]

    @classmethod
    def _dims(cls, p: Params, xs: list[TensorType]) -> tuple[int, int]:
        d = sequence_features(xs[0], cls.name)
        _divisible(d, p.heads, cls.name)
        kdim = sequence_features(xs[-1], f"{cls.name} memory") if len(xs) > 1 else d
        if len(xs) > 1:
            _same_batch(xs[0], xs[1], cls.name)
        return d, kdim

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        cls._dims(p, xs)
        return xs[0]

    @classmethod
    def penalized(cls, p: Params, xs: list[TensorType]) -> tuple[str, ...]:
        return _projections(cls.weights(p, xs))

    @classmethod
    def weights(cls, p: Params, xs: list[TensorType]) -> dict[str, Shape]:
        d, kdim = cls._dims(p, xs)
        return _mha_weights("", d, kdim, p.bias)

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        return mem.multihead(c, p.heads, p.dropout, p.causal, p.bias)

    @classmethod
    def products(cls, p: Params, xs: list[Shape], out: Shape) -> list[Product]:
        (batch, seq_q, d), (_, seq_k, kdim) = xs[0], xs[-1]
        memory = costs.arg(len(xs) - 1)
        return costs.attention_products("", batch, seq_q, seq_k, d, kdim, costs.arg(0), memory)

    @classmethod
    def other_flops(cls, p: Params, xs: list[Shape], out: Shape) -> int:
        (batch, seq_q, d), seq_k = xs[0], xs[-1][1]
        return costs.attention_other(batch, seq_q, seq_k, d, p.heads, p.bias, p.causal)

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        d, kdim = cls._dims(p, xs)
        kwargs = {"embed_dim": d, "num_heads": p.heads, "dropout": p.dropout, "bias": p.bias}
        if kdim != d:
            kwargs |= {"kdim": kdim, "vdim": kdim}
        return TorchCtor("attention.MultiheadAttention", {**kwargs, "causal": p.causal})

    @classmethod
    def label(cls, p: Params) -> str:
        return f"MultiheadAttention {p.heads}h" + (" causal" if p.causal else "")


class TransformerParams(LayerParams):
    torch_names = {"nhead": "heads", "d_model": None}
    heads: PositiveInt
    dim_feedforward: PositiveInt | None = None  # default 4 * d
    dropout: Rate = 0.1
    activation: Literal["relu", "gelu"] = "relu"
    norm_first: bool = False  # pre-norm (GPT-2 style) instead of post-norm (BERT style)
    causal: bool = False
    layer_norm_eps: PositiveFloat = 1e-5
    bias: bool = True  # for the linear layers, attention and layer norms alike


class DecoderParams(TransformerParams):
    causal: bool = True  # the target's self-attention


@register_layer
class TransformerEncoderLayer(LayerType):
    """One transformer encoder block (``torch.nn.TransformerEncoderLayer``, batch-first).

    Self-attention then a feed-forward net (``d → dim_feedforward → d``), each with a
    residual connection and layer norm: after the residual by default (post-norm, as
    BERT), before each sublayer with ``norm_first: true`` (pre-norm, as GPT-2). ``gelu`` is
    the exact GELU. ``causal: true`` masks future positions. Input and output ``[batch, seq, d]``.
    With d=768, heads=12 the parameter count equals a BERT-base layer (7,087,872).
    """

    name = "transformer_encoder_layer"
    family = "attention"
    primary = "heads"
    Params = TransformerParams
    examples = [
        ({"heads": 4, "dropout": 0.0}, [tensor("batch", "seq", 16)]),
        (
            {
                "heads": 2,
                "dim_feedforward": 24,
                "activation": "gelu",
                "norm_first": True,
                "causal": True,
                "dropout": 0.0,
            },
            [tensor("batch", "seq", 8)],
        ),
        ({"heads": 3, "bias": False, "layer_norm_eps": 1e-6, "dropout": 0.0}, [tensor("batch", 4, 12)]),
    ]

    @classmethod
    def _d(cls, p: TransformerParams, xs: list[TensorType]) -> int:
        d = sequence_features(xs[0], cls.name)
        _divisible(d, p.heads, cls.name)
        return d

    @classmethod
    def infer(cls, p: TransformerParams, xs: list[TensorType]) -> TensorType:
        cls._d(p, xs)
        return xs[0]

    @classmethod
    def _ff_weights(cls, p: TransformerParams, d: int, norms: int) -> dict[str, Shape]:
        ff = p.dim_feedforward or 4 * d
        w: dict[str, Shape] = {"linear1.weight": (ff, d)}
        if p.bias:
            w["linear1.bias"] = (ff,)
        w["linear2.weight"] = (d, ff)
        if p.bias:
            w["linear2.bias"] = (d,)
        for i in range(1, norms + 1):
            w[f"norm{i}.weight"] = (d,)
            if p.bias:
                w[f"norm{i}.bias"] = (d,)
        return w

    @classmethod
    def weights(cls, p: TransformerParams, xs: list[TensorType]) -> dict[str, Shape]:
        d = cls._d(p, xs)
        return _mha_weights("self_attn.", d, d, p.bias) | cls._ff_weights(p, d, 2)

    @classmethod
    def memory(cls, p: TransformerParams, c: MemCtx) -> Memory:
        ff, gelu = p.dim_feedforward or 4 * c.ins[0][2], p.activation == "gelu"
        return mem.encoder_layer(c, p.heads, ff, p.dropout, gelu, p.norm_first, p.causal)

    @classmethod
    def penalized(cls, p: TransformerParams, xs: list[TensorType]) -> tuple[str, ...]:
        return _projections(cls.weights(p, xs))

    @classmethod
    def products(cls, p: TransformerParams, xs: list[Shape], out: Shape) -> list[Product]:
        (batch, seq, d), ff = xs[0], p.dim_feedforward or 4 * xs[0][2]
        x = costs.INNER if p.norm_first else costs.arg(0)  # pre-norm attends to norm1(x)
        attn = costs.attention_products("self_attn.", batch, seq, seq, d, d, x, x)
        return attn + costs.feed_forward_products(batch * seq, d, ff)

    @classmethod
    def other_flops(cls, p: TransformerParams, xs: list[Shape], out: Shape) -> int:
        (batch, seq, d), ff = xs[0], p.dim_feedforward or 4 * xs[0][2]
        attn = costs.attention_other(batch, seq, seq, d, p.heads, p.bias, p.causal)
        return attn + costs.feed_forward_other(batch * seq, d, ff, p.bias, sublayers=2)

    @classmethod
    def torch(cls, p: TransformerParams, xs: list[TensorType]) -> TorchCtor:
        d = cls._d(p, xs)
        return TorchCtor(
            f"attention.{cls.__name__}",
            {
                "d_model": d,
                "nhead": p.heads,
                "dim_feedforward": p.dim_feedforward or 4 * d,
                "dropout": p.dropout,
                "activation": p.activation,
                "layer_norm_eps": p.layer_norm_eps,
                "norm_first": p.norm_first,
                "bias": p.bias,
                "causal": p.causal,
            },
        )

    @classmethod
    def label(cls, p: TransformerParams) -> str:
        parts = [cls.display_name(), f"{p.heads}h"]
        if p.dim_feedforward:
            parts.append(f"ff {p.dim_feedforward}")
        if p.activation != "relu":
            parts.append(p.activation)
        if p.norm_first:
            parts.append("pre-norm")
        if p.causal:
            parts.append("causal")
        return " ".join(parts)

    @classmethod
    def display_name(cls) -> str:
        return cls.__name__


@register_layer
class TransformerDecoderLayer(TransformerEncoderLayer):
    """One transformer decoder block (``torch.nn.TransformerDecoderLayer``, batch-first).

    Two inputs: the target ``[batch, seq, d]`` and the encoder memory ``[batch, seq_m, d]``
    (same ``d``). Self-attention on the target (causal by default), cross-attention to the
    memory, then the feed-forward net, each with residual and layer norm (post-norm, or
    pre-norm with ``norm_first: true``). Output ``[batch, seq, d]``.
    """

    name = "transformer_decoder_layer"
    Params = DecoderParams
    min_inputs = 2
    max_inputs = 2
    examples = [
        ({"heads": 4, "dropout": 0.0}, [tensor("batch", "seq", 16), tensor("batch", 6, 16)]),
        (
            {
                "heads": 2,
                "causal": False,
                "norm_first": True,
                "activation": "gelu",
                "dim_feedforward": 20,
                "bias": False,
                "dropout": 0.0,
            },
            [tensor("batch", "seq", 8), tensor("batch", "seq", 8)],
        ),
    ]

    @classmethod
    def _d(cls, p: TransformerParams, xs: list[TensorType]) -> int:
        d = super()._d(p, xs)
        m = sequence_features(xs[1], f"{cls.name} memory")
        if m != d:
            raise ShapeError(
                f"{cls.name}: the memory has {m} features but the target has {d}",
                expected=f"memory [batch, seq_m, {d}]",
                got=str(xs[1]),
                hint="project the memory with a `linear` to the target's width",
            )
        _same_batch(xs[0], xs[1], cls.name)
        return d

    @classmethod
    def weights(cls, p: TransformerParams, xs: list[TensorType]) -> dict[str, Shape]:
        d = cls._d(p, xs)
        attn = _mha_weights("self_attn.", d, d, p.bias) | _mha_weights("multihead_attn.", d, d, p.bias)
        return attn | cls._ff_weights(p, d, 3)

    @classmethod
    def memory(cls, p: TransformerParams, c: MemCtx) -> Memory:
        ff, gelu = p.dim_feedforward or 4 * c.ins[0][2], p.activation == "gelu"
        return mem.decoder_layer(c, p.heads, ff, p.dropout, gelu, p.norm_first, p.causal)

    @classmethod
    def products(cls, p: TransformerParams, xs: list[Shape], out: Shape) -> list[Product]:
        (batch, seq, d), seq_m = xs[0], xs[1][1]
        cross = costs.attention_products("multihead_attn.", batch, seq, seq_m, d, d, costs.INNER, "in1")
        return super().products(p, xs, out) + cross

    @classmethod
    def other_flops(cls, p: TransformerParams, xs: list[Shape], out: Shape) -> int:
        (batch, seq, d), seq_m = xs[0], xs[1][1]
        cross = costs.attention_other(batch, seq, seq_m, d, p.heads, p.bias, causal=False)
        return super().other_flops(p, xs, out) + cross + costs.sublayer_other(batch * seq * d, p.bias)
