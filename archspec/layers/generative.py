"""Layers that grow spatial size: transposed convolutions and upsampling (GAN generators, decoders)."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt, model_validator

from archspec import shapes as dims
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
from archspec.shapes import Dim, TensorType, tensor

PosPair = Annotated[list[PositiveInt], Field(min_length=2, max_length=2)]
NonNegPair = Annotated[list[NonNegativeInt], Field(min_length=2, max_length=2)]


def _per_dim(v: int | list[int], n: int) -> tuple[int, ...]:
    return tuple(v) if isinstance(v, list) else (v,) * n


def _torch_arg(v: int | list[int]) -> int | tuple[int, ...]:
    return tuple(v) if isinstance(v, list) else v


_CONV_TORCH_NAMES: dict[str, str | None] = {
    "out_channels": "out",
    "kernel_size": "kernel",
    "in_channels": None,
}


class ConvTranspose1dParams(LayerParams):
    torch_names = _CONV_TORCH_NAMES
    out: PositiveInt
    kernel: PositiveInt
    stride: PositiveInt = 1
    padding: NonNegativeInt = 0
    output_padding: NonNegativeInt = 0
    dilation: PositiveInt = 1
    groups: PositiveInt = 1
    bias: bool = True


class ConvTranspose2dParams(LayerParams):
    torch_names = _CONV_TORCH_NAMES
    out: PositiveInt
    kernel: PositiveInt | PosPair
    stride: PositiveInt | PosPair = 1
    padding: NonNegativeInt | NonNegPair = 0
    output_padding: NonNegativeInt | NonNegPair = 0
    dilation: PositiveInt | PosPair = 1
    groups: PositiveInt = 1
    bias: bool = True


class _ConvTranspose(LayerType):
    """Shared rule of the transposed convolutions (``nd`` spatial dimensions)."""

    family = "generative"
    primary = "out"
    tied = "weight"
    nd: ClassVar[int]

    @classmethod
    def penalized(cls, p: LayerParams, xs: list[TensorType]) -> tuple[str, ...]:
        return ("weight",)

    @classmethod
    def _in_channels(cls, x: TensorType) -> int:
        return need_int(x.shape[-cls.nd - 1], f"the input channels of {cls.name}")

    @classmethod
    def infer(cls, p: Any, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        need_float(x, cls.name)
        hint = None
        if cls.nd == 2 and x.rank == 2:  # a latent vector [batch, nz]
            hint = f"add `reshape: [{x.shape[1]}, 1, 1]` before it to make the latent a 1×1 map"
        need_rank(x, (cls.nd + 1, cls.nd + 2), cls.name, hint=hint)
        c_in = cls._in_channels(x)
        if c_in % p.groups or p.out % p.groups:
            raise ShapeError(
                f"groups={p.groups} must divide both the input channels ({c_in}) and out ({p.out})",
                expected=f"channels divisible by {p.groups}",
                got=f"{c_in} in, {p.out} out",
            )
        n = cls.nd
        k, s, pad = _per_dim(p.kernel, n), _per_dim(p.stride, n), _per_dim(p.padding, n)
        op, dil = _per_dim(p.output_padding, n), _per_dim(p.dilation, n)
        spatial: list[Dim] = []
        for i, size in enumerate(x.shape[-n:]):
            if op[i] >= s[i] and op[i] >= dil[i]:
                raise ShapeError(
                    "output_padding must be smaller than either stride or dilation",
                    expected=f"output_padding < {max(s[i], dil[i])}",
                    got=str(op[i]),
                )
            # torch: (L - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
            shift = dil[i] * (k[i] - 1) + op[i] + 1 - 2 * pad[i] - s[i]
            out = dims.add(dims.mul(size, s[i]), shift)
            if isinstance(out, int) and out < 1:
                raise ShapeError(
                    f"{cls.name} would produce an empty output (size {out}) from spatial size {size}",
                    got=f"{x}",
                    hint="reduce padding or increase the kernel or stride",
                )
            spatial.append(out)
        return x.with_shape((*x.shape[: -n - 1], p.out, *spatial))

    @classmethod
    def weights(cls, p: Any, xs: list[TensorType]) -> dict[str, Shape]:
        c_in = cls._in_channels(xs[0])
        w = {"weight": (c_in, p.out // p.groups, *_per_dim(p.kernel, cls.nd))}
        if p.bias:
            w["bias"] = (p.out,)
        return w

    @classmethod
    def memory(cls, p: Any, c: MemCtx) -> Memory:
        return Memory(keep=(Kept("in0"),))  # the input (and the weight)

    @classmethod
    def products(cls, p: Any, xs: list[Shape], out: Shape) -> list[Product]:
        macs = costs.conv_transpose(numel(xs[0]), p.out // p.groups, numel(_per_dim(p.kernel, cls.nd)))
        return [Product(macs, costs.arg(0), "weight")]

    @classmethod
    def other_flops(cls, p: Any, xs: list[Shape], out: Shape) -> int:
        return costs.bias(numel(out), p.bias)

    @classmethod
    def torch(cls, p: Any, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor(
            f"nn.ConvTranspose{cls.nd}d",
            {
                "in_channels": cls._in_channels(xs[0]),
                "out_channels": p.out,
                "kernel_size": _torch_arg(p.kernel),
                "stride": _torch_arg(p.stride),
                "padding": _torch_arg(p.padding),
                "output_padding": _torch_arg(p.output_padding),
                "groups": p.groups,
                "bias": p.bias,
                "dilation": _torch_arg(p.dilation),
            },
        )

    @classmethod
    def label(cls, p: Any) -> str:
        k, s = _per_dim(p.kernel, cls.nd), _per_dim(p.stride, cls.nd)
        stride = "" if set(s) == {1} else " /" + ("×".join(map(str, s)) if len(set(s)) > 1 else str(s[0]))
        text = f"ConvT{cls.nd}d {'×'.join(map(str, k))}{stride} → {p.out}"
        return text + ("" if p.bias else " (no bias)")


@register_layer
class ConvTranspose1d(_ConvTranspose):
    """A transposed 1-D convolution (``nn.ConvTranspose1d``) on ``[batch, channels, length]``.

    The output length is torch's
    ``(L - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1``;
    ``output_padding`` (< stride or < dilation) picks among the lengths that a strided
    convolution would map back to the same input length. Input channels must be known.
    """

    name = "conv_transpose1d"
    nd = 1
    Params = ConvTranspose1dParams
    examples = [
        (
            {"out": 8, "kernel": 4, "stride": 2, "padding": 1, "bias": False},
            [tensor("batch", 6, "seq")],
        ),
        (
            {"out": 4, "kernel": 3, "stride": 3, "output_padding": 2, "dilation": 2, "groups": 2},
            [tensor("batch", 6, "w")],
        ),
    ]


@register_layer
class ConvTranspose2d(_ConvTranspose):
    """A transposed 2-D convolution (``nn.ConvTranspose2d``) on ``[batch, channels, h, w]``.

    The building block of DCGAN-style generators: ``kernel: 4, stride: 2, padding: 1``
    doubles h and w; ``kernel: 4, stride: 1, padding: 0`` turns a ``[batch, nz, 1, 1]``
    latent into a 4×4 map. Each spatial size follows torch's
    ``(L - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1``.
    ``kernel``, ``stride``, ``padding``, ``output_padding`` and ``dilation`` take an int
    or a ``[h, w]`` pair; ``output_padding`` must be smaller than stride or dilation.
    The weight is ``[in, out / groups, kh, kw]``, as in torch.
    """

    name = "conv_transpose2d"
    nd = 2
    Params = ConvTranspose2dParams
    examples = [
        ({"out": 16, "kernel": 4, "stride": 1, "padding": 0}, [tensor("batch", 10, 1, 1)]),
        ({"out": 8, "kernel": 4, "stride": 2, "padding": 1}, [tensor("batch", 6, "h", "w")]),
        (
            {
                "out": 6,
                "kernel": [3, 2],
                "stride": [2, 1],
                "padding": [1, 0],
                "output_padding": [1, 0],
                "dilation": [1, 2],
                "groups": 3,
            },
            [tensor("batch", 3, "h", "w")],
        ),
        ({"out": 5, "kernel": 3, "padding": 1, "bias": False}, [tensor(4, "h", "w")]),
    ]


@register_layer
class Upsample(LayerType):
    """Resizes the spatial dimensions (``nn.Upsample``) by ``scale`` or to a fixed ``size``.

    Give exactly one of ``scale`` (an int or float factor; the output is
    ``floor(L * scale)``, as in torch) or ``size`` (an int, or one int per spatial
    dimension). ``mode: nearest`` takes ``[batch, channels, length]``, ``[batch, channels,
    h, w]`` or 5-D input; ``mode: bilinear`` needs a 4-D ``[batch, channels, h, w]`` input
    and may set ``align_corners``. No MACs; bilinear costs 7 other FLOPs per output element.
    """

    name = "upsample"
    family = "generative"
    primary = "scale"

    class Params(LayerParams):
        scale: PositiveInt | PositiveFloat | None = None
        size: PositiveInt | list[PositiveInt] | None = None
        mode: Literal["nearest", "bilinear"] = "nearest"
        align_corners: bool = False

        @model_validator(mode="after")
        def _check(self) -> Self:
            if (self.scale is None) == (self.size is None):
                raise ValueError("give exactly one of `scale` or `size`")
            if self.align_corners and self.mode != "bilinear":
                raise ValueError("align_corners only applies to mode: bilinear")
            return self

    examples = [
        ({"scale": 2}, [tensor("batch", 3, "h", "w")]),
        ({"scale": 1.5, "mode": "bilinear"}, [tensor("batch", 3, "h", "w")]),
        ({"size": [16, 20], "mode": "bilinear", "align_corners": True}, [tensor("batch", 2, "h", "w")]),
        ({"scale": 3}, [tensor("batch", 4, "seq")]),
        ({"size": 10}, [tensor("batch", 4, "seq")]),
    ]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        need_float(x, "upsample")
        if p.mode == "bilinear":
            need_rank(x, (4,), "bilinear upsample", hint="use mode: nearest for 1-D or 3-D data")
        else:
            need_rank(x, (3, 4, 5), "upsample")
        n = x.rank - 2
        if p.size is not None:
            size = _per_dim(p.size, n)
            if len(size) != n:
                raise ShapeError(
                    f"size needs one value per spatial dimension ({n})",
                    expected=f"{n} values",
                    got=str(p.size),
                )
            return x.with_shape((*x.shape[:2], *size))
        assert p.scale is not None
        return x.with_shape((*x.shape[:2], *(_scaled(d, p.scale) for d in x.shape[2:])))

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        return Memory()  # nearest and bilinear keep only the sizes

    @classmethod
    def other_flops(cls, p: Params, xs: list[Shape], out: Shape) -> int:
        return costs.bilinear(numel(out)) if p.mode == "bilinear" else 0  # nearest copies

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        kwargs: dict[str, Any] = {"mode": p.mode}
        if p.size is not None:
            kwargs["size"] = _torch_arg(p.size)
        else:
            kwargs["scale_factor"] = p.scale
        if p.mode == "bilinear":
            kwargs["align_corners"] = p.align_corners
        return TorchCtor("nn.Upsample", kwargs)

    @classmethod
    def label(cls, p: Params) -> str:
        mode = "" if p.mode == "nearest" else f" {p.mode}"
        if p.size is not None:
            return f"Upsample → {'×'.join(map(str, _per_dim(p.size, 1)))}{mode}"
        return f"Upsample ×{p.scale}{mode}"


def _scaled(d: Dim, scale: int | float) -> Dim:
    """torch's output size ``floor(float(L) * scale)``, symbolic where ``L`` is."""
    if isinstance(scale, int):
        return dims.mul(d, scale)
    if isinstance(d, int):
        out = math.floor(float(d) * scale)
        if out < 1:
            raise ShapeError(
                f"upsample by {scale} turns size {d} into {out}",
                hint="use a larger scale or a fixed size",
            )
        return out
    # a float is a dyadic rational p / 2^k, and floor(L * p / 2^k) is what torch computes
    num, den = Fraction(scale).as_integer_ratio()
    return (d * num) // den
