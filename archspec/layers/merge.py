"""Layers that merge several inputs: element-wise add, sub, multiply (mul), div with torch's
broadcasting, and concatenation."""

from __future__ import annotations

from typing import ClassVar

from archspec import shapes as dims
from archspec.layers import costs, register_layer
from archspec.layers.base import LayerParams, LayerType, Shape, ShapeError, TorchFn, numel
from archspec.layers.memory import Kept, MemCtx, Memory
from archspec.shapes import BroadcastError, Dim, TensorType, fmt_shape, tensor


def _check_inputs(xs: list[TensorType], same_rank: bool = True) -> None:
    """Every input has the first one's dtype (and, unless broadcasting, its rank)."""
    for i, x in enumerate(xs[1:], start=2):
        if x.dtype != xs[0].dtype:
            raise ShapeError(
                "the inputs must have one dtype",
                expected=f"{xs[0].dtype} (as input 1)",
                got=f"{x.dtype} at input {i}",
            )
        if same_rank and x.rank != xs[0].rank:
            raise ShapeError(
                "the inputs must have the same rank",
                expected=f"{xs[0].rank}-D (as input 1)",
                got=f"{x.rank}-D at input {i}",
                hint="flatten or reshape one input so that the ranks match",
            )


def _first_difference(xs: list[TensorType], skip: int | None = None) -> tuple[int, int] | None:
    """(input number, dim) of the first size that differs from input 1's, ignoring dim ``skip``.

    Symbolic dims compare by meaning (``h - 4`` equals ``(h - 2) - 2``).
    """
    for i, x in enumerate(xs[1:], start=2):
        for d, (a, b) in enumerate(zip(xs[0].shape, x.shape, strict=True)):
            if d != skip and a != b:
                return i, d
    return None


def _sizes(xs: list[TensorType], i: int, d: int) -> tuple[str, str]:
    """``expected`` and ``got`` texts for a size mismatch in dim ``d`` of input ``i``."""
    return f"{xs[0].shape[d]} in dim {d} (as input 1)", f"{xs[i - 1].shape[d]} in dim {d} at input {i}"


def _hint(d: int, rank: int) -> str:
    if d in (1, rank - 1):  # channels or features
        return "add a projection (conv 1x1, or linear) on the skip path"
    return "give both paths the same strides, padding and pooling"


def _shapes_hint(a: tuple[Dim, ...], b: tuple[Dim, ...]) -> str:
    """What to change on a path when two same-rank shapes differ in channels/features and/or
    in other dims (strides, padding)."""
    rank = len(a)
    feature = 1 if rank >= 4 else rank - 1
    differs = {d for d in range(rank) if a[d] != b[d] and 1 not in (a[d], b[d])}
    parts = []
    if feature in differs:
        parts.append("add a projection (conv 1x1, or linear) on the skip path")
    if differs - {feature, 0}:
        parts.append("give both paths the same strides, padding and pooling")
    return "; and ".join(parts) or _hint(min(differs, default=0), rank)


def broadcast_all(xs: list[TensorType]) -> tuple[Dim, ...]:
    """The shape of ``x1 op x2 op ...`` under torch's broadcasting, or a ShapeError naming both
    shapes (a dim broadcasts only where it is written as 1; symbolic dims compare by meaning)."""
    shape: tuple[Dim, ...] = xs[0].shape
    for i, x in enumerate(xs[1:], start=2):
        try:
            shape = dims.broadcast(shape, x.shape)
        except BroadcastError as e:
            a, b = e.a, e.b
            n = max(len(a), len(b))
            axis = next(  # the last dim that clashes, as torch reports it
                k
                for k in range(-1, -n - 1, -1)
                if -k <= min(len(a), len(b)) and a[k] != b[k] and 1 not in (a[k], b[k])
            )
            raise ShapeError(
                f"shapes {fmt_shape(a)} and {fmt_shape(b)} do not broadcast: "
                f"{a[axis]} against {b[axis]} at dim {axis} (from the right)",
                expected=f"{a[axis]} or 1 at dim {axis} of input {i} (torch's broadcasting)",
                got=f"{fmt_shape(x.shape)} at input {i}",
                hint=(
                    "sizes align from the last dim; a dim stretches only where it is 1: "
                    "`unsqueeze` (or `reshape`) the smaller input to put its 1s where they belong"
                    if len(a) != len(b)
                    else _shapes_hint(a, b)
                ),
            ) from None
    return shape


def _concrete_broadcast(a: Shape, b: Shape) -> Shape:
    n = max(len(a), len(b))
    pa, pb = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    return tuple(max(x, y) if 1 in (x, y) else x for x, y in zip(pa, pb, strict=True))


def partials(xs: list[Shape]) -> list[Shape]:
    """The shapes of ``x1 op x2``, ``(x1 op x2) op x3``, ...: each pairwise step's output."""
    out, acc = [], xs[0]
    for x in xs[1:]:
        acc = _concrete_broadcast(acc, x)
        out.append(acc)
    return out


class ElementwiseParams(LayerParams):
    broadcast: bool = True


class _Elementwise(LayerType):
    """Inputs combined element by element, broadcasting as torch does (``broadcast: false``:
    the shapes must be identical)."""

    family = "merge"
    min_inputs = 2
    max_inputs: ClassVar[int | None] = None
    Params = ElementwiseParams
    fn: ClassVar[str]  # the operator function, e.g. "operator.add"
    source: ClassVar[str]  # how generated code writes it, e.g. "{0} + {1}"

    @classmethod
    def infer(cls, p: ElementwiseParams, xs: list[TensorType]) -> TensorType:
        _check_inputs(xs, same_rank=not p.broadcast)
        if p.broadcast:
            return xs[0].with_shape(broadcast_all(xs))
        found = _first_difference(xs)
        if found is not None:
            i, d = found
            expected, got = _sizes(xs, i, d)
            raise ShapeError(
                f"the inputs must have the same shape (broadcast: false); dim {d} differs",
                expected=expected,
                got=got,
                hint=_hint(d, xs[0].rank),
            )
        return xs[0]

    @classmethod
    def memory(cls, p: ElementwiseParams, c: MemCtx) -> Memory:
        return Memory()  # a sum or difference keeps nothing (a product does: see Multiply)

    @classmethod
    def other_flops(cls, p: ElementwiseParams, xs: list[Shape], out: Shape) -> int:
        return sum(costs.elementwise(numel(s)) for s in partials(xs))  # one op per pairwise output

    @classmethod
    def torch_fn(cls, p: ElementwiseParams) -> TorchFn:
        return TorchFn(cls.fn, reduce=True, source=cls.source)

    @classmethod
    def label(cls, p: ElementwiseParams) -> str:
        return cls.display_name() + ("" if p.broadcast else " (same shapes)")


@register_layer
class Add(_Elementwise):
    """Element-wise sum of two or more inputs (a residual connection), broadcasting as torch does.

    Shapes align from the last dim; a dim stretches only where it is written as 1 (a symbolic
    dim never stands for 1), symbolic dims compare by meaning. ``broadcast: false`` demands
    identical shapes.
    """

    name = "add"
    fn = "operator.add"
    source = "{0} + {1}"
    examples = [
        ({}, [tensor("batch", 3, "h", "w"), tensor("batch", 3, "h", "w")]),
        ({}, [tensor("batch", "seq", 4)] * 3),
        ({}, [tensor("batch", "seq", 4), tensor(1, "seq", 4)]),
        ({"broadcast": False}, [tensor("batch", 5), tensor("batch", 5)]),
    ]


@register_layer
class Sub(_Elementwise):
    """Element-wise difference ``x1 - x2`` of two inputs, broadcasting as torch does."""

    name = "sub"
    max_inputs = 2
    fn = "operator.sub"
    source = "{0} - {1}"
    examples = [
        ({}, [tensor("batch", 6), tensor("batch", 6)]),
        ({}, [tensor("batch", "seq", 4), tensor("batch", "seq", 1)]),
    ]


@register_layer
class Multiply(_Elementwise):
    """Element-wise product of two or more inputs (gating, squeeze-and-excite), broadcasting as
    torch does: [batch, C, h, w] times [batch, C, 1, 1] scales each channel. ``mul`` is the same
    layer under PyTorch's name."""

    name = "multiply"
    fn = "operator.mul"
    source = "{0} * {1}"
    examples = [
        ({}, [tensor("batch", 6), tensor("batch", 6)]),
        ({}, [tensor("batch", 2, "seq")] * 3),
        ({}, [tensor("batch", 3, "h", "w"), tensor("batch", 3, 1, 1)]),
        ({}, [tensor("batch", 1, 4), tensor("batch", 3, 1), tensor(4)]),
    ]

    @classmethod
    def memory(cls, p: ElementwiseParams, c: MemCtx) -> Memory:
        # ((a * b) * c) ...: each product keeps a factor when the other one needs a gradient
        kept: list[Kept] = []
        left, left_grad = Kept("in0"), c.grad(0)
        for i, shape in enumerate(partials(list(c.ins)), start=1):
            if c.grad(i):
                kept.append(left)
            if left_grad:
                kept.append(Kept(f"in{i}"))
            left, left_grad = Kept(f"product{i}", shape), left_grad or c.grad(i)
        return Memory(keep=tuple(kept))


@register_layer
class Mul(Multiply):
    """PyTorch's name for ``multiply`` (``torch.mul``): the same rule, broadcasting as torch does."""

    name = "mul"
    examples = [({}, [tensor("batch", "seq", 4), tensor(4)])]


@register_layer
class Div(_Elementwise):
    """Element-wise quotient ``x1 / x2`` of two inputs (true division), broadcasting as torch does."""

    name = "div"
    max_inputs = 2
    fn = "operator.truediv"
    source = "{0} / {1}"
    examples = [
        ({}, [tensor("batch", 6), tensor("batch", 6)]),
        ({}, [tensor("batch", 3, "h", "w"), tensor("batch", 1, "h", "w")]),
    ]

    @classmethod
    def memory(cls, p: ElementwiseParams, c: MemCtx) -> Memory:
        # torch keeps the divisor for either gradient, and the dividend for the divisor's
        divisor = (Kept("in1"),) if c.grad(0) or c.grad(1) else ()
        return Memory(keep=divisor + ((Kept("in0"),) if c.grad(1) else ()))


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
