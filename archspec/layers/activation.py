"""Element-wise activations and (log-)softmax."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from archspec.layers import costs, register_layer
from archspec.layers.base import LayerParams, LayerType, Shape, TorchCtor, need_float, numel
from archspec.layers.memory import Kept, MemCtx, Memory
from archspec.shapes import TensorType, tensor


class _Elementwise(LayerType):
    """An activation with no parameters that keeps its input's shape."""

    family = "activation"
    torch_cls: ClassVar[str]
    examples = [({}, [tensor("batch", 6)]), ({}, [tensor("batch", 2, 3, 3)])]
    keeps: ClassVar[str] = "out"

    @classmethod
    def infer(cls, p: LayerParams, xs: list[TensorType]) -> TensorType:
        need_float(xs[0], cls.name)
        return xs[0]

    @classmethod
    def memory(cls, p: LayerParams, c: MemCtx) -> Memory:
        return Memory(keep=(Kept(cls.keeps),))

    @classmethod
    def other_flops(cls, p: LayerParams, xs: list[Shape], out: Shape) -> int:
        return costs.elementwise(numel(out))

    @classmethod
    def torch(cls, p: LayerParams, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor(cls.torch_cls, p.model_dump())

    @classmethod
    def display_name(cls) -> str:
        return cls.torch_cls.split(".")[-1]


@register_layer
class ReLU(_Elementwise):
    """max(0, x)."""

    name = "relu"
    torch_cls = "nn.ReLU"


@register_layer
class LeakyReLU(_Elementwise):
    """x if x > 0 else slope * x."""

    name = "leaky_relu"
    torch_cls = "nn.LeakyReLU"
    primary = "negative_slope"
    keeps = "in0"

    class Params(LayerParams):
        negative_slope: float = 0.01


@register_layer
class GELU(_Elementwise):
    """Gaussian error linear unit (exact, or the tanh approximation)."""

    name = "gelu"
    torch_cls = "nn.GELU"
    primary = "approximate"
    keeps = "in0"

    class Params(LayerParams):
        approximate: str = Field("none", pattern="^(none|tanh)$")


@register_layer
class SiLU(_Elementwise):
    """x * sigmoid(x) (swish)."""

    name = "silu"
    torch_cls = "nn.SiLU"
    keeps = "in0"


@register_layer
class Sigmoid(_Elementwise):
    """1 / (1 + exp(-x))."""

    name = "sigmoid"
    torch_cls = "nn.Sigmoid"


@register_layer
class Tanh(_Elementwise):
    """Hyperbolic tangent."""

    name = "tanh"
    torch_cls = "nn.Tanh"


class _SoftmaxParams(LayerParams):
    dim: int = -1


@register_layer
class Softmax(_Elementwise):
    """Softmax over one dimension (the last by default)."""

    name = "softmax"
    torch_cls = "nn.Softmax"
    primary = "dim"
    Params = _SoftmaxParams

    @classmethod
    def infer(cls, p: _SoftmaxParams, xs: list[TensorType]) -> TensorType:  # type: ignore[override]
        from archspec.layers.base import ShapeError

        x = super().infer(p, xs)
        if not -x.rank <= p.dim < x.rank:
            raise ShapeError(
                f"dim {p.dim} is out of range for a {x.rank}-D input",
                expected=f"dim in [{-x.rank}, {x.rank - 1}]",
                got=str(p.dim),
            )
        return x

    @classmethod
    def other_flops(cls, p: LayerParams, xs: list[Shape], out: Shape) -> int:
        return costs.softmax(numel(out))


@register_layer
class LogSoftmax(Softmax):
    """log(softmax(x)) over one dimension, computed stably."""

    name = "log_softmax"
    torch_cls = "nn.LogSoftmax"
