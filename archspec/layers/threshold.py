"""Threshold activations."""

from __future__ import annotations

from archspec.layers import costs, register_layer
from archspec.layers.base import LayerParams, LayerType, Shape, TorchCtor, need_float, numel
from archspec.layers.memory import MemCtx, Memory
from archspec.shapes import TensorType, tensor


@register_layer
class Step(LayerType):
    """The Heaviside step of the classic perceptron: 1.0 where ``x > threshold``, else 0.0.

    Keeps the input's shape and float dtype (``threshold`` defaults to 0.0; ``step: 0.5``
    sets it). Its gradient is zero almost everywhere, so nothing before it learns by
    backpropagation: train a perceptron with the perceptron rule, or put a ``sigmoid``
    in its place while training.
    """

    name = "step"
    family = "threshold"
    primary = "threshold"

    class Params(LayerParams):
        threshold: float = 0.0

    examples = [
        ({}, [tensor("batch", 6)]),
        ({"threshold": 0.5}, [tensor("batch", "seq", 4)]),
        ({"threshold": -1}, [tensor("batch", 3, "h", "w", dtype="float64")]),
    ]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        need_float(xs[0], "step")
        return xs[0]

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        return Memory(differentiable=False)  # a comparison: no gradient flows through it

    @classmethod
    def other_flops(cls, p: Params, xs: list[Shape], out: Shape) -> int:
        return costs.elementwise(numel(out))  # a comparison

    @classmethod
    def output_requires_grad(cls, p: Params, inputs: list[bool], trainable: bool) -> bool:
        return False  # the comparison has no gradient: nothing before it learns by backprop

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor("threshold.Step", {"threshold": p.threshold})

    @classmethod
    def label(cls, p: Params) -> str:
        return f"Step (x > {p.threshold:g})"
