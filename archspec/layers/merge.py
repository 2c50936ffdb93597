"""Layers that merge several inputs: element-wise add and multiply, concatenation."""

from __future__ import annotations

from typing import ClassVar

from archspec import dims
from archspec.dims import TensorType
from archspec.layers import register_layer
from archspec.layers.base import LayerParams, LayerType, Shape, ShapeError, TorchFn, numel


def _check_dtypes(name: str, xs: list[TensorType]) -> None:
    for i, x in enumerate(xs[1:], start=2):
        if x.dtype != xs[0].dtype:
            raise ShapeError(
                f"{name} needs inputs of one dtype",
                expected=f"{xs[0].dtype} (as input 1)",
                got=f"{x.dtype} at input {i}",
            )


def _check_ranks(name: str, xs: list[TensorType]) -> None:
    for i, x in enumerate(xs[1:], start=2):
        if x.rank != xs[0].rank:
            raise ShapeError(
                f"{name} needs inputs of the same rank",
                expected=f"{xs[0].rank}-D (as input 1)",
                got=f"{x.rank}-D at input {i}",
                hint="flatten or reshape one input so that the ranks match",
            )


class _Elementwise(LayerType):
    """Inputs of identical shape combined element by element (no broadcasting)."""

    family = "merge"
    min_inputs = 2
    max_inputs = None
    fn: ClassVar[str]

    @classmethod
    def infer(cls, p: LayerParams, xs: list[TensorType]) -> TensorType:
        _check_dtypes(cls.name, xs)
        _check_ranks(cls.name, xs)
        for i, x in enumerate(xs[1:], start=2):
            # Symbolic dims must match as text: both paths must build the same expression.
            diff = next(
                (d for d, (a, b) in enumerate(zip(xs[0].shape, x.shape, strict=True)) if a != b), None
            )
            if diff is not None:
                raise ShapeError(
                    f"{cls.name} needs inputs of the same shape (no broadcasting); dim {diff} differs",
                    expected=f"{xs[0]} (as input 1)",
                    got=f"{x} at input {i}",
                    hint=(
                        "add a projection (conv 1x1, or linear) on the skip path"
                        if diff == 1 or diff == x.rank - 1
                        else "give both paths the same strides, padding and pooling"
                    ),
                )
        return xs[0]

    @classmethod
    def torch_fn(cls, p: LayerParams) -> TorchFn:
        return TorchFn(cls.fn, reduce=True)


@register_layer
class Add(_Elementwise):
    """Element-wise sum of two or more inputs of identical shape (a residual connection).

    Shapes must match exactly, symbolic dims as the same expression; nothing broadcasts.
    """

    name = "add"
    fn = "add"
    examples = [
        ({}, [TensorType(("batch", 3, "h", "w")), TensorType(("batch", 3, "h", "w"))]),
        ({}, [TensorType(("batch", "seq", 4))] * 3),
    ]


@register_layer
class Multiply(_Elementwise):
    """Element-wise product of two or more inputs of identical shape (gating).

    Shapes must match exactly, symbolic dims as the same expression; nothing broadcasts.
    """

    name = "multiply"
    fn = "mul"
    examples = [
        ({}, [TensorType(("batch", 6)), TensorType(("batch", 6))]),
        ({}, [TensorType(("batch", 2, "seq"))] * 3),
    ]

    @classmethod
    def macs(cls, p: LayerParams, xs: list[Shape], out: Shape) -> int:
        return numel(out) * (len(xs) - 1)


@register_layer
class Concat(LayerType):
    """Join two or more inputs along ``dim`` (default 1, the channels or features).

    All other dims must match; the joined dim is the sum of the inputs' sizes.
    """

    name = "concat"
    family = "merge"
    primary = "dim"
    min_inputs = 2
    max_inputs = None

    class Params(LayerParams):
        dim: int = 1

    examples = [
        ({}, [TensorType(("batch", 3, "h", "w")), TensorType(("batch", 5, "h", "w"))]),
        ({"dim": -1}, [TensorType(("batch", "seq", 2)), TensorType(("batch", "seq", 3))] * 2),
        ({"dim": 1}, [TensorType(("batch", "seq", 4)), TensorType(("batch", "seq", 4))]),
    ]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        _check_dtypes(cls.name, xs)
        _check_ranks(cls.name, xs)
        rank = xs[0].rank
        if not -rank <= p.dim < rank:
            raise ShapeError(
                f"dim {p.dim} is out of range for {rank}-D inputs",
                expected=f"dim in [{-rank}, {rank - 1}]",
                got=str(p.dim),
            )
        d = p.dim % rank
        for i, x in enumerate(xs[1:], start=2):
            pairs = enumerate(zip(xs[0].shape, x.shape, strict=True))
            diff = next((j for j, (a, b) in pairs if a != b and j != d), None)
            if diff is not None:
                raise ShapeError(
                    f"concat along dim {d} needs the other dims to match; dim {diff} differs",
                    expected=f"{xs[0]} (as input 1) apart from dim {d}",
                    got=f"{x} at input {i}",
                    hint=f"resize one input first, or concatenate along dim {diff}",
                )
        joined = xs[0].shape[d]
        for x in xs[1:]:
            joined = dims.add(joined, x.shape[d])
        return xs[0].with_shape((*xs[0].shape[:d], joined, *xs[0].shape[d + 1 :]))

    @classmethod
    def torch_fn(cls, p: Params) -> TorchFn:
        return TorchFn("cat", kwargs={"dim": p.dim})

    @classmethod
    def label(cls, p: Params) -> str:
        return f"Concat (dim {p.dim})"
