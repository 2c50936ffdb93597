"""Fully connected layers."""

from __future__ import annotations

from pydantic import PositiveInt

from archspec.layers import costs, register_layer
from archspec.layers.base import (
    LayerParams,
    LayerType,
    Shape,
    TorchCtor,
    need_float,
    need_int,
    need_rank,
    numel,
)
from archspec.layers.costs import Product
from archspec.layers.memory import Kept, MemCtx, Memory
from archspec.shapes import TensorType, tensor


@register_layer
class Linear(LayerType):
    """A fully connected layer on the last dimension of an input of any rank (as ``nn.Linear``):
    ``y = x W^T + b``; ``[..., in] -> [..., out]``."""

    name = "linear"
    family = "linear"
    primary = "out"
    tied = "weight"

    class Params(LayerParams):
        torch_names = {"out_features": "out", "in_features": None}
        out: PositiveInt
        bias: bool = True

    examples = [
        ({"out": 7}, [tensor("batch", 5)]),
        ({"out": 3, "bias": False}, [tensor("batch", "seq", 4)]),
        ({"out": 4}, [tensor("batch", "h", "w", 3)]),
        ({"out": 2}, [tensor(5)]),
    ]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        need_float(x, "linear")
        if x.rank < 1:
            need_rank(x, (1, 2, 3), "linear", hint="linear acts on the last dimension of its input")
        need_int(x.shape[-1], "the input features of linear")
        return x.with_shape((*x.shape[:-1], p.out))

    @classmethod
    def weights(cls, p: Params, xs: list[TensorType]) -> dict[str, Shape]:
        fan_in = need_int(xs[0].shape[-1], "the input features of linear")
        w: dict[str, Shape] = {"weight": (p.out, fan_in)}
        if p.bias:
            w["bias"] = (p.out,)
        return w

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        # the matmul keeps its input (a [-1, in] view of it) for the weight's gradient
        return Memory(keep=(Kept("in0"),) if c.trains else ())

    @classmethod
    def penalized(cls, p: Params, xs: list[TensorType]) -> tuple[str, ...]:
        return ("weight",)

    @classmethod
    def products(cls, p: Params, xs: list[Shape], out: Shape) -> list[Product]:
        rows = numel(out) // p.out
        return [Product(costs.linear(rows, xs[0][-1], p.out), costs.arg(0), "weight")]

    @classmethod
    def other_flops(cls, p: Params, xs: list[Shape], out: Shape) -> int:
        return costs.bias(numel(out), p.bias)

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        fan_in = need_int(xs[0].shape[-1], "the input features of linear")
        return TorchCtor("nn.Linear", {"in_features": fan_in, "out_features": p.out, "bias": p.bias})

    @classmethod
    def label(cls, p: Params) -> str:
        return f"Linear → {p.out}" + ("" if p.bias else " (no bias)")
