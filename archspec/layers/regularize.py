"""Regularization layers (active in training only)."""

from __future__ import annotations

from pydantic import Field

from archspec.layers import register_layer
from archspec.layers.base import LayerParams, LayerType, TorchCtor, need_float
from archspec.layers.memory import MemCtx, Memory, dropout_kept
from archspec.shapes import TensorType, tensor


@register_layer
class Dropout(LayerType):
    """Zero each element with probability ``p`` in training, scaling the rest by 1/(1-p).

    Keeps the shape; an identity at inference (``nn.Dropout``).
    """

    name = "dropout"
    family = "regularize"
    primary = "p"

    class Params(LayerParams):
        p: float = Field(0.5, ge=0, le=1)

    examples = [({}, [tensor("batch", 6)]), ({"p": 0.1}, [tensor("batch", "seq", 4)])]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        need_float(xs[0], cls.name)
        return xs[0]

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        if p.p == 0:  # torch returns the input itself
            return Memory(views={"out": "in0"})
        return Memory(keep=dropout_kept("dropout", c.ins[0], p.p, c))

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor("nn.Dropout", {"p": p.p})

    @classmethod
    def label(cls, p: Params) -> str:
        return f"Dropout {p.p:g}"
