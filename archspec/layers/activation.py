"""Element-wise activations, learned-slope PReLU, the gated GLU and (log-)softmax."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from archspec.layers import costs, register_layer
from archspec.layers.base import (
    LayerParams,
    LayerType,
    Shape,
    ShapeError,
    TorchCtor,
    TorchFn,
    need_float,
    need_int,
    numel,
)
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
class QuickGELU(_Elementwise):
    """x * sigmoid(1.702 * x), the sigmoid approximation of GELU that OpenAI's CLIP trained with
    (Hugging Face's ``quick_gelu``); not the exact GELU nor its tanh approximation."""

    name = "quick_gelu"
    torch_cls = "activation.QuickGELU"
    keeps = "in0"

    @classmethod
    def memory(cls, p: LayerParams, c: MemCtx) -> Memory:
        return Memory(keep=(Kept("in0"), Kept("sigmoid", c.out)))  # the product's two factors

    @classmethod
    def other_flops(cls, p: LayerParams, xs: list[Shape], out: Shape) -> int:
        return costs.elementwise(numel(out), 3)  # the scaling, the sigmoid, the product

    @classmethod
    def display_name(cls) -> str:
        return "QuickGELU"


@register_layer
class Exp(_Elementwise):
    """e ** x, element by element (``torch.exp``): a scale kept as its logarithm (CLIP's
    ``logit_scale.exp()``)."""

    name = "exp"
    examples = [({}, [tensor("batch", 6)]), ({}, [tensor("batch", 2, 3, 3)]), ({}, [tensor()])]

    @classmethod
    def torch(cls, p: LayerParams, xs: list[TensorType]) -> None:  # type: ignore[override]
        return None

    @classmethod
    def torch_fn(cls, p: LayerParams) -> TorchFn:
        return TorchFn("torch.exp")

    @classmethod
    def display_name(cls) -> str:
        return "Exp"


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


class _DimParams(LayerParams):
    dim: int = -1


@register_layer
class Softmax(_Elementwise):
    """Softmax over one dimension (the last by default)."""

    name = "softmax"
    torch_cls = "nn.Softmax"
    primary = "dim"
    Params = _DimParams

    @classmethod
    def infer(cls, p: _DimParams, xs: list[TensorType]) -> TensorType:  # type: ignore[override]
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


@register_layer
class ReLU6(_Elementwise):
    """min(max(0, x), 6) (MobileNetV2)."""

    name = "relu6"
    torch_cls = "nn.ReLU6"
    keeps = "in0"


@register_layer
class Hardswish(_Elementwise):
    """x * relu6(x + 3) / 6 (MobileNetV3)."""

    name = "hardswish"
    torch_cls = "nn.Hardswish"
    keeps = "in0"


@register_layer
class Hardsigmoid(_Elementwise):
    """relu6(x + 3) / 6, a piecewise-linear sigmoid (MobileNetV3's squeeze-excitation gate)."""

    name = "hardsigmoid"
    torch_cls = "nn.Hardsigmoid"
    keeps = "in0"


@register_layer
class ELU(_Elementwise):
    """x if x > 0 else alpha * (exp(x) - 1)."""

    name = "elu"
    torch_cls = "nn.ELU"
    keeps = "in0"
    primary = "alpha"

    class Params(LayerParams):
        alpha: float = 1.0


@register_layer
class Mish(_Elementwise):
    """x * tanh(softplus(x))."""

    name = "mish"
    torch_cls = "nn.Mish"
    keeps = "in0"


@register_layer
class Softplus(_Elementwise):
    """log(1 + exp(beta * x)) / beta, linear (x) where beta * x > threshold."""

    name = "softplus"
    torch_cls = "nn.Softplus"
    keeps = "in0"
    primary = "beta"

    class Params(LayerParams):
        beta: float = 1.0
        threshold: float = 20.0


@register_layer
class PReLU(_Elementwise):
    """x if x > 0 else a * x, with the slope ``a`` learned (``nn.PReLU``).

    One slope for every element (``weight [1]``), or with ``per_channel: true`` one per channel
    of dim 1 (``weight [C]``, C known: [batch, C, ...]). Slopes start at ``slope`` (0.25).
    """

    name = "prelu"
    torch_cls = "nn.PReLU"
    keeps = "in0"

    class Params(LayerParams):
        torch_names = {"num_parameters": "per_channel", "init": "slope"}
        per_channel: bool = False
        slope: float = 0.25

    examples = [
        ({}, [tensor("batch", 6)]),
        ({"per_channel": True, "slope": 0.1}, [tensor("batch", 3, "h", "w")]),
        ({"per_channel": True}, [tensor("batch", 4, "seq")]),
    ]

    @classmethod
    def count(cls, p: Params, x: TensorType) -> int:
        if not p.per_channel:
            return 1
        if x.rank < 2:
            raise ShapeError(
                "prelu with `per_channel` needs the channels in dim 1",
                expected="[batch, channels, ...]",
                got=str(x),
            )
        return need_int(x.shape[1], "the channels of prelu")

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:  # type: ignore[override]
        x = super().infer(p, xs)
        cls.count(p, x)
        return x

    @classmethod
    def weights(cls, p: Params, xs: list[TensorType]) -> dict[str, Shape]:
        return {"weight": (cls.count(p, xs[0]),)}

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:  # type: ignore[override]
        return TorchCtor("nn.PReLU", {"num_parameters": cls.count(p, xs[0]), "init": p.slope})

    @classmethod
    def label(cls, p: Params) -> str:
        return "PReLU" + (" (per channel)" if p.per_channel else "")


@register_layer
class GLU(_Elementwise):
    """Gated linear unit: split ``dim`` (the last by default) into halves a, b; a * sigmoid(b).

    The size of ``dim`` must be known and even; the output has half of it (``nn.GLU``).
    """

    name = "glu"
    torch_cls = "nn.GLU"
    primary = "dim"
    keeps = "in0"
    Params = _DimParams
    examples = [
        ({}, [tensor("batch", 6)]),
        ({"dim": 1}, [tensor("batch", 4, "seq")]),
        ({"dim": -1}, [tensor("batch", "seq", 8)]),
    ]

    @classmethod
    def infer(cls, p: _DimParams, xs: list[TensorType]) -> TensorType:  # type: ignore[override]
        x = super().infer(p, xs)
        if not -x.rank <= p.dim < x.rank:
            raise ShapeError(
                f"dim {p.dim} is out of range for a {x.rank}-D input",
                expected=f"dim in [{-x.rank}, {x.rank - 1}]",
                got=str(p.dim),
            )
        d = p.dim % x.rank
        size = need_int(x.shape[d], f"the size of the dim that glu halves (dim {d})")
        if size % 2:
            raise ShapeError(
                f"glu halves dim {d}, whose size {size} is odd",
                expected=f"an even size in dim {d}",
                got=str(x),
                hint="make the layer before it produce twice the width you want out",
            )
        return x.with_shape((*x.shape[:d], size // 2, *x.shape[d + 1 :]))

    @classmethod
    def other_flops(cls, p: LayerParams, xs: list[Shape], out: Shape) -> int:
        return costs.elementwise(numel(out), 2)  # a sigmoid of one half, times the other half

    @classmethod
    def label(cls, p: _DimParams) -> str:
        return "GLU" + (f" (dim {p.dim})" if p.dim != -1 else "")
