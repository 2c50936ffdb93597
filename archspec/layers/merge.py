"""Layers that merge several inputs: element-wise add and multiply, concatenation."""

from __future__ import annotations

from typing import ClassVar

from archspec import shapes as dims
from archspec.layers import costs, register_layer
from archspec.layers.base import LayerParams, LayerType, Shape, ShapeError, TorchFn, numel
from archspec.layers.memory import Kept, MemCtx, Memory
from archspec.shapes import TensorType, tensor


def _check_inputs(xs: list[TensorType]) -> None:
    """Every input has the first one's dtype and rank."""
    for i, x in enumerate(xs[1:], start=2):
        if x.dtype != xs[0].dtype:
            raise ShapeError(
                "the inputs must have one dtype",
                expected=f"{xs[0].dtype} (as input 1)",
                got=f"{x.dtype} at input {i}",
            )
        if x.rank != xs[0].rank:
            raise ShapeError(
                "the inputs must have the same rank",
                expected=f"{xs[0].rank}-D (as input 1)",
                got=f"{x.rank}-D at input {i}",
                hint="flatten or reshape one input so that the ranks match",
            )


def _first_difference(xs: list[TensorType], skip: int | None = None) -> tuple[int, int] | None:
    """(input number, dim) of the first size that differs from input 1's, ignoring dim ``skip``.

    Symbolic dims compare as text: both paths must build the same expression.
    """
    for i, x in enumerate(xs[1:], start=2):
        for d, (a, b) in enumerate(zip(xs[0].shape, x.shape, strict=True)):
            if d != skip and a != b:
                return i, d
    return None


def _sizes(xs: list[TensorType], i: int, d: int) -> tuple[str, str]:
    """``expected`` and ``got`` texts for a size mismatch in dim ``d`` of input ``i``."""
    return f"{xs[0].shape[d]} in dim {d} (as input 1)", f"{xs[i - 1].shape[d]} in dim {d} at input {i}"


class _Elementwise(LayerType):
    """Inputs of identical shape combined element by element (no broadcasting)."""

    family = "merge"
    min_inputs = 2
    max_inputs = None
    fn: ClassVar[str]  # the operator function, e.g. "operator.add"
    source: ClassVar[str]  # how generated code writes it, e.g. "{0} + {1}"

    @classmethod
    def infer(cls, p: LayerParams, xs: list[TensorType]) -> TensorType:
        _check_inputs(xs)
        found = _first_difference(xs)
        if found is not None:
            i, d = found
            expected, got = _sizes(xs, i, d)
            raise ShapeError(
                f"the inputs must have the same shape (nothing broadcasts); dim {d} differs",
                expected=expected,
                got=got,
                hint=(
                    "add a projection (conv 1x1, or linear) on the skip path"
                    if d in (1, xs[0].rank - 1)  # channels or features
                    else "give both paths the same strides, padding and pooling"
                ),
            )
        return xs[0]

    @classmethod
    def memory(cls, p: LayerParams, c: MemCtx) -> Memory:
        return Memory()  # a sum keeps nothing (a product does: see Multiply)

    @classmethod
    def other_flops(cls, p: LayerParams, xs: list[Shape], out: Shape) -> int:
        return costs.elementwise(numel(out), len(xs) - 1)  # k inputs: k - 1 adds or multiplies

    @classmethod
    def torch_fn(cls, p: LayerParams) -> TorchFn:
        return TorchFn(cls.fn, reduce=True, source=cls.source)


@register_layer
class Add(_Elementwise):
    """Element-wise sum of two or more inputs of identical shape (a residual connection).

    Shapes must match exactly, symbolic dims as the same expression; nothing broadcasts.
    """

    name = "add"
    fn = "operator.add"
    source = "{0} + {1}"
    examples = [
        ({}, [tensor("batch", 3, "h", "w"), tensor("batch", 3, "h", "w")]),
        ({}, [tensor("batch", "seq", 4)] * 3),
    ]


@register_layer
class Multiply(_Elementwise):
    """Element-wise product of two or more inputs of identical shape (gating).

    Shapes must match exactly, symbolic dims as the same expression; nothing broadcasts.
    """

    name = "multiply"
    fn = "operator.mul"
    source = "{0} * {1}"
    examples = [
        ({}, [tensor("batch", 6), tensor("batch", 6)]),
        ({}, [tensor("batch", 2, "seq")] * 3),
    ]

    @classmethod
    def memory(cls, p: LayerParams, c: MemCtx) -> Memory:
        # ((a * b) * c) ...: each product keeps a factor when the other one needs a gradient
        kept: list[Kept] = []
        left, left_grad = Kept("in0"), c.grad(0)
        for i in range(1, len(c.ins)):
            if c.grad(i):
                kept.append(left)
            if left_grad:
                kept.append(Kept(f"in{i}"))
            left, left_grad = Kept(f"product{i}", c.out), left_grad or c.grad(i)
        return Memory(keep=tuple(kept))


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
        ({}, [tensor("batch", 3, "h", "w"), tensor("batch", 5, "h", "w")]),
        ({"dim": -1}, [tensor("batch", "seq", 2), tensor("batch", "seq", 3)] * 2),
        ({"dim": 1}, [tensor("batch", "seq", 4), tensor("batch", "seq", 4)]),
    ]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        _check_inputs(xs)
        rank = xs[0].rank
        if not -rank <= p.dim < rank:
            raise ShapeError(
                f"dim {p.dim} is out of range for {rank}-D inputs",
                expected=f"dim in [{-rank}, {rank - 1}]",
                got=str(p.dim),
            )
        d = p.dim % rank
        found = _first_difference(xs, skip=d)
        if found is not None:
            expected, got = _sizes(xs, *found)
            raise ShapeError(
                f"concat along dim {d} needs the other dims to match; dim {found[1]} differs",
                expected=expected,
                got=got,
                hint="only the joined dim may differ: check `dim`, or resize an input first",
            )
        joined = xs[0].shape[d]
        for x in xs[1:]:
            joined = dims.add(joined, x.shape[d])
        return xs[0].with_shape((*xs[0].shape[:d], joined, *xs[0].shape[d + 1 :]))

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        return Memory()  # only the sizes

    @classmethod
    def torch_fn(cls, p: Params) -> TorchFn:
        return TorchFn("torch.cat", pack=True, kwargs={"dim": p.dim})

    @classmethod
    def label(cls, p: Params) -> str:
        return f"Concat (dim {p.dim})"
