"""T5's relative position bias (Raffel et al., 2020): one learned scalar per head and distance
bucket, added to the attention scores (the attention family)."""

from __future__ import annotations

from pydantic import PositiveInt

from archspec.layers import register_layer
from archspec.layers.base import LayerParams, LayerType, Shape, ShapeError, TorchCtor, need_rank
from archspec.layers.memory import Kept, MemCtx, Memory
from archspec.shapes import TensorType, tensor


@register_layer
class RelativePositionBias(LayerType):
    """The additive attention bias of T5: ``[1, heads, seq_q, seq_k]`` from a learned table
    ``weight [buckets, heads]`` (Hugging Face's ``relative_attention_bias.weight``), looked up at
    the bucket of each key's offset j - i from its query. Inputs ``[batch, seq_q, ...]`` (the
    queries' sequence, e.g. the hidden states) and optionally ``[batch, seq_k, ...]`` (the keys';
    the first again by default): only their lengths are read, positions are 0 .. seq-1.

    Buckets: ``bidirectional`` (an encoder) gives half of them to keys after the query; the rest
    count |j - i| exactly below half of them, then logarithmically up to ``max_distance``, beyond
    which every offset shares the last bucket. Without ``bidirectional`` (a causal decoder) keys
    after the query all fall in bucket 0 (a causal mask hides them anyway). Feed the output to
    ``scaled_dot_product_attention`` as its mask, with ``scale: 1.0`` for T5, which does not scale
    its scores: ``{scaled_dot_product_attention: {scale: 1.0}, inputs: [q, k, v, bias]}``.
    """

    name = "relative_position_bias"
    family = "attention"
    primary = "heads"
    min_inputs = 1
    max_inputs = 2

    class Params(LayerParams):
        torch_names = {
            "num_buckets": "buckets",
            "relative_attention_num_buckets": "buckets",
            "relative_attention_max_distance": "max_distance",
            "n_heads": "heads",
        }
        heads: PositiveInt
        buckets: PositiveInt = 32
        max_distance: PositiveInt = 128
        bidirectional: bool = True

    examples = [
        ({"heads": 4}, [tensor("batch", "seq", 8)]),
        ({"heads": 2, "buckets": 8, "max_distance": 6}, [tensor("batch", "seq", 8), tensor("batch", 7, 8)]),
        ({"heads": 3, "buckets": 6, "max_distance": 5, "bidirectional": False}, [tensor("batch", "seq", 4)]),
    ]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        halves = 4 if p.bidirectional else 2  # per direction (bidirectional), half of them exact
        exact = p.buckets // halves
        if exact < 1 or p.max_distance <= exact:
            raise ShapeError(
                f"{p.buckets} buckets up to distance {p.max_distance} leave no room for the "
                + ("exact offsets" if exact < 1 else "logarithmic buckets"),
                expected=f"buckets >= {halves}, max_distance > buckets // {halves}",
                got=f"buckets {p.buckets}, max_distance {p.max_distance}",
                hint="T5 uses 32 buckets up to distance 128",
                code="bad-value",
            )
        for x in xs:
            need_rank(x, (2, 3, 4, 5), cls.name, hint="its inputs are sequences, [batch, seq, ...]")
        if len(xs) == 2 and xs[0].shape[0] != xs[1].shape[0]:
            raise ShapeError(
                "the query and key sequences must have the same batch",
                expected=f"[{xs[0].shape[0]}, seq_k, ...]",
                got=str(xs[1]),
            )
        dtype = xs[0].dtype if xs[0].dtype.startswith(("float", "bfloat")) else "float32"
        return TensorType((1, p.heads, xs[0].shape[1], xs[-1].shape[1]), dtype)

    @classmethod
    def weights(cls, p: Params, xs: list[TensorType]) -> dict[str, Shape]:
        return {"weight": (p.buckets, p.heads)}

    @classmethod
    def penalized(cls, p: Params, xs: list[TensorType]) -> tuple[str, ...]:
        return ("weight",)

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        # the table lookup keeps the bucket of each (query, key) pair for the table's gradient
        buckets = Kept("buckets", (c.ins[0][1], c.ins[-1][1]), "int64")
        return Memory(keep=(buckets,) if c.trains else ())

    @classmethod
    def output_requires_grad(cls, p: Params, inputs: list[bool], trainable: bool) -> bool:
        return trainable  # only the inputs' lengths are read

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        kwargs = {"heads": p.heads, "buckets": p.buckets, "max_distance": p.max_distance}
        return TorchCtor("attention.RelativePositionBias", kwargs | {"bidirectional": p.bidirectional})

    @classmethod
    def label(cls, p: Params) -> str:
        return f"RelativePositionBias {p.buckets} buckets ≤{p.max_distance}" + (
            "" if p.bidirectional else " causal"
        )
