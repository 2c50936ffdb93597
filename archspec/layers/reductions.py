"""Reductions over dims (``mean``, ``sum``, ``amax``, ``max`` with its indices), ``clamp`` and
``where`` (select by a mask)."""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from archspec.layers import costs, register_layer
from archspec.layers.base import LayerParams, LayerType, Shape, ShapeError, TorchFn, need_float, numel
from archspec.layers.memory import Kept, MemCtx, Memory
from archspec.layers.merge import broadcast_all
from archspec.layers.tensorops import dim_index
from archspec.shapes import TensorType, tensor


class ReduceParams(LayerParams):
    dim: int | list[int]
    keepdim: bool = False


def _dims(p: ReduceParams, x: TensorType) -> list[int]:
    given = [p.dim] if isinstance(p.dim, int) else p.dim
    out = sorted({dim_index(d, x.rank) for d in given})
    if len(out) != len(given) or not given:
        raise ShapeError("reduce dims are listed once each", got=str(p.dim), code="bad-value")
    return out


def _reduced(p: ReduceParams, x: TensorType) -> TensorType:
    over = _dims(p, x)
    if p.keepdim:
        return x.with_shape(tuple(1 if i in over else s for i, s in enumerate(x.shape)))
    return x.with_shape(tuple(s for i, s in enumerate(x.shape) if i not in over))


def _kwargs(p: ReduceParams) -> dict[str, Any]:
    return {"dim": p.dim if isinstance(p.dim, int) else tuple(p.dim), "keepdim": p.keepdim}


class _Reduce(LayerType):
    family = "tensor"
    primary = "dim"
    Params = ReduceParams
    fn: str

    @classmethod
    def infer(cls, p: ReduceParams, xs: list[TensorType]) -> TensorType:
        return _reduced(p, xs[0])

    @classmethod
    def other_flops(cls, p: ReduceParams, xs: list[Shape], out: Shape) -> int:
        return costs.elementwise(numel(xs[0]))  # one add or comparison per element read

    @classmethod
    def torch_fn(cls, p: ReduceParams) -> TorchFn:
        return TorchFn(cls.fn, kwargs=_kwargs(p))

    @classmethod
    def label(cls, p: ReduceParams) -> str:
        return f"{cls.display_name()} over {p.dim}" + (" (keepdim)" if p.keepdim else "")


@register_layer
class Mean(_Reduce):
    """The mean over ``dim`` (one dim or a list; ``keepdim: true`` keeps them as 1s): ``{mean:
    {dim: [2, 3], keepdim: true}}`` is squeeze-and-excite's pooling, ``mean: 1`` averages tokens."""

    name = "mean"
    fn = "torch.mean"
    examples = [
        ({"dim": 1}, [tensor("batch", "seq", 4)]),
        ({"dim": [2, 3], "keepdim": True}, [tensor("batch", 3, "h", "w")]),
    ]

    @classmethod
    def infer(cls, p: ReduceParams, xs: list[TensorType]) -> TensorType:
        need_float(xs[0], "mean")
        return _reduced(p, xs[0])

    @classmethod
    def memory(cls, p: ReduceParams, c: MemCtx) -> Memory:
        return Memory()

    @classmethod
    def other_flops(cls, p: ReduceParams, xs: list[Shape], out: Shape) -> int:
        return costs.elementwise(numel(xs[0])) + costs.elementwise(numel(out))  # adds, then a division


@register_layer
class Sum(_Reduce):
    """The sum over ``dim`` (one dim or a list), ``keepdim`` as for ``mean``. Integers sum to
    int64, as in torch."""

    name = "sum"
    fn = "torch.sum"
    examples = [
        ({"dim": -1}, [tensor("batch", "seq", 4)]),
        ({"dim": [1, 2], "keepdim": True}, [tensor("batch", 3, "seq")]),
        ({"dim": 1}, [tensor("batch", "seq", dtype="int64")]),
    ]

    @classmethod
    def infer(cls, p: ReduceParams, xs: list[TensorType]) -> TensorType:
        out = _reduced(p, xs[0])
        return out if out.dtype.startswith(("float", "bfloat")) else TensorType(out.shape, "int64")

    @classmethod
    def memory(cls, p: ReduceParams, c: MemCtx) -> Memory:
        return Memory()


@register_layer
class Amax(_Reduce):
    """The maximum over ``dim`` (one dim or a list), values only (``torch.amax``)."""

    name = "amax"
    fn = "torch.amax"
    examples = [
        ({"dim": -1}, [tensor("batch", "seq", 4)]),
        ({"dim": [2, 3], "keepdim": True}, [tensor("batch", 3, "h", "w")]),
    ]

    @classmethod
    def memory(cls, p: ReduceParams, c: MemCtx) -> Memory:
        return Memory(keep=(Kept("in0"), Kept("out")) if c.grad(0) else ())


@register_layer
class Max(LayerType):
    """The maximum over one ``dim`` as ``torch.max(x, dim)``: two outputs, ``values`` (the
    default) and ``indices`` (int64, where each maximum is); ``keepdim`` as for ``mean``. For
    the values over several dims use ``amax``."""

    name = "max"
    family = "tensor"
    primary = "dim"

    class Params(LayerParams):
        dim: int
        keepdim: bool = False

    examples = [
        ({"dim": 1}, [tensor("batch", "seq", 4)]),
        ({"dim": -1, "keepdim": True}, [tensor("batch", 3, "h", "w")]),
    ]

    @classmethod
    def outputs(cls, p: Params, xs: list[TensorType]) -> dict[str, TensorType]:
        values = _reduced(ReduceParams(dim=p.dim, keepdim=p.keepdim), xs[0])
        return {"values": values, "indices": TensorType(values.shape, "int64")}

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        return cls.outputs(p, xs)["values"]

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        return Memory(keep=(Kept("indices", c.out, "int64"),) if c.grad(0) else ())

    @classmethod
    def other_flops(cls, p: Params, xs: list[Shape], out: Shape) -> int:
        return costs.elementwise(numel(xs[0]))

    @classmethod
    def torch_fn(cls, p: Params) -> TorchFn:
        return TorchFn("torch.max", kwargs={"dim": p.dim, "keepdim": p.keepdim})

    @classmethod
    def label(cls, p: Params) -> str:
        return f"Max over {p.dim}" + (" (keepdim)" if p.keepdim else "")


@register_layer
class Clamp(LayerType):
    """Limit values to [``min``, ``max``] (``torch.clamp``; either bound may be left out)."""

    name = "clamp"
    family = "tensor"

    class Params(LayerParams):
        min: float | None = None
        max: float | None = None

        @model_validator(mode="after")
        def _bounded(self) -> Clamp.Params:
            if self.min is None and self.max is None:
                raise ValueError("give `min`, `max` or both")
            if self.min is not None and self.max is not None and self.min > self.max:
                raise ValueError("`min` is above `max`")
            return self

    examples = [
        ({"min": -1.0, "max": 1.0}, [tensor("batch", 6)]),
        ({"min": 0.0}, [tensor("batch", "seq", 3)]),
    ]

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        return Memory(keep=(Kept("in0"),) if c.grad(0) else ())

    @classmethod
    def other_flops(cls, p: Params, xs: list[Shape], out: Shape) -> int:
        return costs.elementwise(numel(out), (p.min is not None) + (p.max is not None))

    @classmethod
    def torch_fn(cls, p: Params) -> TorchFn:
        return TorchFn("torch.clamp", kwargs={"min": p.min, "max": p.max})

    @classmethod
    def label(cls, p: Params) -> str:
        return f"Clamp [{'' if p.min is None else f'{p.min:g}'}, {'' if p.max is None else f'{p.max:g}'}]"


@register_layer
class Where(LayerType):
    """Select element by element (``torch.where``): inputs ``[mask, x, y]`` give ``x`` where the
    bool ``mask`` is true and ``y`` elsewhere; all three broadcast as for ``add``."""

    name = "where"
    family = "tensor"
    min_inputs = max_inputs = 3
    examples = [
        ({}, [tensor("batch", 6, dtype="bool"), tensor("batch", 6), tensor("batch", 6)]),
        ({}, [tensor(1, "seq", "seq", dtype="bool"), tensor("batch", "seq", "seq"), tensor(1)]),
    ]

    @classmethod
    def infer(cls, p: object, xs: list[TensorType]) -> TensorType:
        mask, a, b = xs
        if mask.dtype != "bool":
            raise ShapeError(
                "where's first input is the mask: a bool tensor",
                expected="bool",
                got=str(mask),
                hint="list the inputs as [mask, x, y]",
            )
        if a.dtype != b.dtype:
            raise ShapeError(
                "where's two values need one dtype", expected=a.dtype, got=f"{b.dtype} at input 3"
            )
        return a.with_shape(broadcast_all(xs))

    @classmethod
    def memory(cls, p: object, c: MemCtx) -> Memory:
        return Memory(keep=(Kept("in0"),) if c.grad(1) or c.grad(2) else ())

    @classmethod
    def other_flops(cls, p: object, xs: list[Shape], out: Shape) -> int:
        return costs.elementwise(numel(out))

    @classmethod
    def torch_fn(cls, p: object) -> TorchFn:
        return TorchFn("torch.where")
