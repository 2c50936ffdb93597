"""Convolutions, and the spatial helpers that pooling shares."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import NonNegativeInt, PositiveInt, ValidationInfo, field_validator

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

# Shared spatial helpers (pool.py uses them too) ---------------------------------------


class SpatialParams(LayerParams):
    """Params whose ``spatial`` fields take one int (every spatial dim) or one per dim."""

    ndim: ClassVar[int]  # 1 for *1d layers, 2 for *2d
    spatial: ClassVar[tuple[str, ...]]

    @field_validator("*")
    @classmethod
    def _check_length(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name in cls.spatial and isinstance(value, list) and len(value) != cls.ndim:
            raise ValueError(f"takes one int or a list of {cls.ndim} (one per spatial dim), not {len(value)}")
        return value


def per_dim(value: int | list[int], n: int) -> tuple[int, ...]:
    """An int or list setting as one value per spatial dim."""
    return tuple(value) if isinstance(value, list) else (value,) * n


def torch_arg(value: Any) -> Any:
    """A list setting as the tuple torch constructors conventionally take."""
    return tuple(value) if isinstance(value, list) else value


def fmt_size(value: int | list[int], n: int) -> str:
    return "×".join(str(v) for v in per_dim(value, n))


def out_size(size: Dim, k: int, s: int, p: int, d: int = 1, ceil: bool = False) -> Dim:
    """torch's output length: floor((size + 2p - d(k-1) - 1) / s) + 1, symbolic or not.

    In ``ceil`` mode (pooling) the division rounds up, but the last window must start
    inside the input or its left padding, which caps the length at ceil((size + p) / s).
    """
    span = d * (k - 1) + 1  # the effective kernel
    if s == 1:
        return dims.add(size, 2 * p - span + 1)
    if ceil and s > span - p:
        # The cap binds: as floor((size + c) / s) it is the smaller of the two for every size.
        return dims.floordiv(dims.add(size, p + s - 1), s)
    rounding = s - 1 if ceil else 0
    return dims.add(dims.floordiv(dims.add(size, 2 * p - span + rounding), s), 1)


def spatial_out(
    x: TensorType,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    dilation: tuple[int, ...] | None = None,
    ceil: bool = False,
) -> list[Dim]:
    """The output spatial dims of a sliding window over ``x``'s dims 2..; checks known sizes."""
    dilation = dilation or (1,) * len(kernel)
    out = []
    for i, (size, k, s, p, d) in enumerate(zip(x.shape[2:], kernel, stride, padding, dilation, strict=True)):
        o = out_size(size, k, s, p, d, ceil)
        if isinstance(o, int) and o < 1:
            assert isinstance(size, int)
            span = d * (k - 1) + 1
            raise ShapeError(
                f"the kernel ({span} wide) is larger than the padded input "
                f"({size} + 2×{p}) in spatial dim {i + 2}",
                expected=f"size ≥ {span - 2 * p} in dim {i + 2}",
                got=str(x),
                hint="use a smaller kernel or more padding, or downsample less before this layer",
            )
        out.append(o)
    return out


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
    def infer(cls, p: _ConvParams, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        need_float(x, cls.name)
        layout = "[batch, channels, length]" if cls.ndim == 1 else "[batch, channels, h, w]"
        need_rank(
            x,
            (cls.ndim + 2,),
            cls.name,
            hint=f"{cls.name} takes {layout}"
            + ("; `permute: [0, 2, 1]` moves features to dim 1" if cls.ndim == 1 else ""),
        )
        cin = cls.channels(x)
        for what, n in (("input channels", cin), ("out", p.out)):
            if n % p.groups:
                raise ShapeError(
                    f"{what} ({n}) is not divisible by groups ({p.groups})",
                    expected=f"{what} a multiple of {p.groups}",
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
        return x.with_shape((x.shape[0], p.out, *spatial))

    @classmethod
    def padding(cls, p: _ConvParams) -> tuple[int, ...]:
        return per_dim(0 if isinstance(p.padding, str) else p.padding, cls.ndim)  # "valid" is 0

    @classmethod
    def weights(cls, p: _ConvParams, xs: list[TensorType]) -> dict[str, Shape]:
        w = {"weight": (p.out, cls.channels(xs[0]) // p.groups, *per_dim(p.kernel, cls.ndim))}
        if p.bias:
            w["bias"] = (p.out,)
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
                "out_channels": p.out,
                "kernel_size": torch_arg(p.kernel),
                "stride": torch_arg(p.stride),
                "padding": torch_arg(p.padding),
                "dilation": torch_arg(p.dilation),
                "groups": p.groups,
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
