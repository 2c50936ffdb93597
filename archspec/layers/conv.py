"""Convolutions over 1, 2 or 3 spatial dims, and depthwise convolutions (one filter group per
input channel, the channel count inferred)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import NonNegativeInt, PositiveInt

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
    numel,
)
from archspec.layers.costs import Product
from archspec.layers.memory import Kept, MemCtx, Memory
from archspec.layers.spatial import (  # noqa: F401 (re-exported: pool.py and plugins use them)
    LAYOUTS,
    SpatialParams,
    fmt_size,
    out_size,
    per_dim,
    spatial_out,
    torch_arg,
)
from archspec.shapes import TensorType, tensor

# Convolutions -------------------------------------------------------------------------


class _ConvParams(SpatialParams):
    spatial = ("kernel", "stride", "padding", "dilation")
    torch_names = {"out_channels": "out", "kernel_size": "kernel", "in_channels": None}

    out: PositiveInt
    kernel: PositiveInt | list[PositiveInt]
    stride: PositiveInt | list[PositiveInt] = 1
    padding: NonNegativeInt | list[NonNegativeInt] | Literal["same", "valid"] = 0
    dilation: PositiveInt | list[PositiveInt] = 1
    groups: PositiveInt = 1
    bias: bool = True


class _Conv(LayerType):
    """A convolution over ``ndim`` spatial dims of a [N, C, *spatial] input."""

    family = "conv"
    primary = "out"
    tied = "weight"
    ndim: ClassVar[int]

    @classmethod
    def penalized(cls, p: LayerParams, xs: list[TensorType]) -> tuple[str, ...]:
        return ("weight",)

    @classmethod
    def channels(cls, x: TensorType) -> int:
        return need_int(x.shape[1], f"the input channels of {cls.name}")

    @classmethod
    def out_channels(cls, p: Any, x: TensorType) -> int:
        return int(p.out)

    @classmethod
    def groups(cls, p: Any, x: TensorType) -> int:
        return int(p.groups)

    @classmethod
    def infer(cls, p: _ConvParams, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        need_float(x, cls.name)
        need_rank(
            x,
            (cls.ndim + 2,),
            cls.name,
            hint=f"{cls.name} takes {LAYOUTS[cls.ndim]}"
            + ("; `permute: [0, 2, 1]` moves features to dim 1" if cls.ndim == 1 else ""),
        )
        cin, groups = cls.channels(x), cls.groups(p, x)
        for what, n in (("input channels", cin), ("out", cls.out_channels(p, x))):
            if n % groups:
                raise ShapeError(
                    f"{what} ({n}) is not divisible by groups ({groups})",
                    expected=f"{what} a multiple of {groups}",
                    got=str(n),
                    hint="choose groups that divide both the input channels and out",
                )
        stride = per_dim(p.stride, cls.ndim)
        if p.padding == "same":
            if any(s != 1 for s in stride):
                raise ShapeError(
                    "padding 'same' needs stride 1 (torch refuses strided 'same')",
                    expected="stride 1",
                    got=f"stride {p.stride}",
                    hint="give explicit padding, e.g. kernel // 2, for a strided convolution",
                    code="bad-value",
                )
            spatial = list(x.shape[2:])
        else:
            spatial = spatial_out(
                x,
                per_dim(p.kernel, cls.ndim),
                stride,
                cls.padding(p),
                per_dim(p.dilation, cls.ndim),
            )
        return x.with_shape((x.shape[0], cls.out_channels(p, x), *spatial))

    @classmethod
    def padding(cls, p: _ConvParams) -> tuple[int, ...]:
        return per_dim(0 if isinstance(p.padding, str) else p.padding, cls.ndim)  # "valid" is 0

    @classmethod
    def weights(cls, p: _ConvParams, xs: list[TensorType]) -> dict[str, Shape]:
        x = xs[0]
        out = cls.out_channels(p, x)
        w = {"weight": (out, cls.channels(x) // cls.groups(p, x), *per_dim(p.kernel, cls.ndim))}
        if p.bias:
            w["bias"] = (out,)
        return w

    @classmethod
    def memory(cls, p: _ConvParams, c: MemCtx) -> Memory:
        # the input (and the weight); "same" padding of an odd total width pads a copy first
        x = c.ins[0]
        if p.padding == "same":
            kernel, dilation = per_dim(p.kernel, cls.ndim), per_dim(p.dilation, cls.ndim)
            odd = [d * (k - 1) % 2 for k, d in zip(kernel, dilation, strict=True)]
            if any(odd):
                padded = (*x[:2], *(s + o for s, o in zip(x[2:], odd, strict=True)))
                return Memory(keep=(Kept("padded", padded),))
        return Memory(keep=(Kept("in0"),))

    @classmethod
    def products(cls, p: _ConvParams, xs: list[Shape], out: Shape) -> list[Product]:
        macs = costs.conv(numel(out), xs[0][1] // p.groups, numel(per_dim(p.kernel, cls.ndim)))
        return [Product(macs, costs.arg(0), "weight")]

    @classmethod
    def other_flops(cls, p: _ConvParams, xs: list[Shape], out: Shape) -> int:
        return costs.bias(numel(out), p.bias)

    @classmethod
    def torch(cls, p: _ConvParams, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor(
            f"nn.Conv{cls.ndim}d",
            {
                "in_channels": cls.channels(xs[0]),
                "out_channels": cls.out_channels(p, xs[0]),
                "kernel_size": torch_arg(p.kernel),
                "stride": torch_arg(p.stride),
                "padding": torch_arg(p.padding),
                "dilation": torch_arg(p.dilation),
                "groups": cls.groups(p, xs[0]),
                "bias": p.bias,
            },
        )

    @classmethod
    def label(cls, p: _ConvParams) -> str:
        text = f"{cls.display_name()} {fmt_size(p.kernel, cls.ndim)}"
        if per_dim(p.stride, cls.ndim) != (1,) * cls.ndim:
            text += f" /{p.stride if isinstance(p.stride, int) else fmt_size(p.stride, cls.ndim)}"
        extras = [f"dilation {p.dilation}"] if p.dilation != 1 else []
        extras += [f"groups {p.groups}"] if p.groups != 1 else []
        extras += [] if p.bias else ["no bias"]
        return f"{text} → {p.out}" + (f" ({', '.join(extras)})" if extras else "")


@register_layer
class Conv1d(_Conv):
    """1-D convolution over [batch, channels, length] (``nn.Conv1d``).

    ``kernel``, ``stride``, ``padding`` and ``dilation`` take an int or a one-item list;
    ``padding`` may also be ``"same"`` (stride 1 only; keeps the length) or ``"valid"`` (0).
    The output length is floor((L + 2·padding - dilation·(kernel - 1) - 1) / stride) + 1.
    """

    name = "conv1d"
    ndim = 1

    class Params(_ConvParams):
        ndim = 1

    examples = [
        ({"out": 8, "kernel": 3}, [tensor("batch", 4, "seq")]),
        (
            {"out": 4, "kernel": 2, "stride": 2, "padding": 1, "dilation": 2, "groups": 2, "bias": False},
            [tensor("batch", 6, "seq")],
        ),
        ({"out": 5, "kernel": [4], "padding": "same"}, [tensor("batch", 3, "seq")]),
    ]


@register_layer
class Conv2d(_Conv):
    """2-D convolution over [batch, channels, h, w] (``nn.Conv2d``).

    ``kernel``, ``stride``, ``padding`` and ``dilation`` take an int (both dims) or a list
    ``[h, w]``; ``padding`` may also be ``"same"`` (stride 1 only; keeps h and w) or
    ``"valid"`` (0). Each output size is
    floor((size + 2·padding - dilation·(kernel - 1) - 1) / stride) + 1; the input channels
    must be known and, like ``out``, divisible by ``groups``.
    """

    name = "conv2d"
    ndim = 2

    class Params(_ConvParams):
        ndim = 2

    examples = [
        ({"out": 8, "kernel": 3}, [tensor("batch", 3, "h", "w")]),
        (
            {"out": 6, "kernel": [3, 1], "stride": 2, "padding": 1, "bias": False},
            [tensor("batch", 4, "h", "w")],
        ),
        (
            {"out": 8, "kernel": 3, "padding": "same", "dilation": 2, "groups": 4},
            [tensor("batch", 4, "h", "w")],
        ),
        (
            {"out": 4, "kernel": 2, "stride": [2, 1], "padding": "valid", "groups": 2},
            [tensor("batch", 2, "h", "w")],
        ),
    ]


@register_layer
class Conv3d(_Conv):
    """3-D convolution over [batch, channels, d, h, w] (``nn.Conv3d``): video, volumes.

    ``kernel``, ``stride``, ``padding`` and ``dilation`` take an int (every dim) or a list
    ``[d, h, w]``; otherwise as ``conv2d``.
    """

    name = "conv3d"
    ndim = 3

    class Params(_ConvParams):
        ndim = 3

    examples = [
        ({"out": 4, "kernel": 3, "padding": 1}, [tensor("batch", 2, 5, "h", "w")]),
        (
            {"out": 6, "kernel": [1, 3, 3], "stride": [1, 2, 2], "groups": 3, "bias": False},
            [tensor("batch", 3, 4, "h", "w")],
        ),
    ]


# Depthwise convolutions ----------------------------------------------------------------


class _DepthwiseParams(SpatialParams):
    spatial = ("kernel", "stride", "padding", "dilation")
    torch_names = {
        "out_channels": "multiplier",
        "groups": None,
        "in_channels": None,
        "kernel_size": "kernel",
        "depth_multiplier": "multiplier",
    }

    kernel: PositiveInt | list[PositiveInt]
    stride: PositiveInt | list[PositiveInt] = 1
    padding: NonNegativeInt | list[NonNegativeInt] | Literal["same", "valid"] = 0
    dilation: PositiveInt | list[PositiveInt] = 1
    multiplier: PositiveInt = 1
    bias: bool = True


class _Depthwise(_Conv):
    """A convolution with one filter group per input channel: groups = out / multiplier = C."""

    primary = "kernel"

    @classmethod
    def out_channels(cls, p: Any, x: TensorType) -> int:
        return cls.channels(x) * int(p.multiplier)

    @classmethod
    def groups(cls, p: Any, x: TensorType) -> int:
        return cls.channels(x)

    @classmethod
    def products(cls, p: Any, xs: list[Shape], out: Shape) -> list[Product]:
        macs = costs.conv(numel(out), 1, numel(per_dim(p.kernel, cls.ndim)))  # one channel per filter
        return [Product(macs, costs.arg(0), "weight")]

    @classmethod
    def label(cls, p: Any) -> str:
        text = f"{cls.display_name()} {fmt_size(p.kernel, cls.ndim)}"
        if per_dim(p.stride, cls.ndim) != (1,) * cls.ndim:
            text += f" /{p.stride if isinstance(p.stride, int) else fmt_size(p.stride, cls.ndim)}"
        extras = [f"×{p.multiplier}"] if p.multiplier != 1 else []
        extras += [f"dilation {p.dilation}"] if p.dilation != 1 else []
        extras += [] if p.bias else ["no bias"]
        return text + (f" ({', '.join(extras)})" if extras else "")


_DEPTHWISE_DOC = """

    Each input channel is convolved with its own ``multiplier`` filters (``nn.Conv{n}d`` with
    ``groups`` = the input channels C and ``out_channels`` = C·multiplier, both inferred: neither
    is written). ``kernel``, ``stride``, ``padding`` (an int, one per spatial dim, ``"same"`` at
    stride 1 or ``"valid"``) and ``dilation`` are as for ``conv{n}d``; ``weight`` is
    [C·multiplier, 1, *kernel].
"""


@register_layer
class DepthwiseConv1d(_Depthwise):
    __doc__ = "Depthwise 1-D convolution over [batch, channels, length]." + _DEPTHWISE_DOC.format(n=1)
    name = "depthwise_conv1d"
    ndim = 1

    class Params(_DepthwiseParams):
        ndim = 1

    examples = [
        ({"kernel": 3, "padding": 1}, [tensor("batch", 4, "seq")]),
        ({"kernel": 4, "padding": 3, "multiplier": 2, "bias": False}, [tensor("batch", 3, "seq")]),
    ]


@register_layer
class DepthwiseConv2d(_Depthwise):
    __doc__ = "Depthwise 2-D convolution over [batch, channels, h, w]." + _DEPTHWISE_DOC.format(n=2)
    name = "depthwise_conv2d"
    ndim = 2

    class Params(_DepthwiseParams):
        ndim = 2

    examples = [
        ({"kernel": 3, "stride": 2, "padding": 1, "bias": False}, [tensor("batch", 6, "h", "w")]),
        ({"kernel": [3, 5], "padding": "same", "multiplier": 2}, [tensor("batch", 3, "h", "w")]),
        ({"kernel": 7, "padding": 3}, [tensor("batch", 4, "h", "w")]),
    ]


@register_layer
class DepthwiseConv3d(_Depthwise):
    __doc__ = "Depthwise 3-D convolution over [batch, channels, d, h, w]." + _DEPTHWISE_DOC.format(n=3)
    name = "depthwise_conv3d"
    ndim = 3

    class Params(_DepthwiseParams):
        ndim = 3

    examples = [({"kernel": 3, "padding": 1}, [tensor("batch", 4, 3, "h", "w")])]
