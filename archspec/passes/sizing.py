"""Sized views of a symbolic graph: dims evaluated at the sizes of an analysis.

The graph keeps symbolic dims (``batch``, ``seq``); an analysis gives some of them sizes
(``--batch 64``). Shapes are shown with those sizes substituted; MACs and memory need every dim
concrete, and a symbol without a size counts as 1 there (MACs "with batch=1").
"""

from __future__ import annotations

from collections.abc import Mapping

from archspec import expr
from archspec.dims import Dim, TensorType
from archspec.errors import ArchspecError, did_you_mean
from archspec.ir.graph import Node
from archspec.ir.typing import check_size


def sized_dim(d: Dim, sizes: Mapping[str, int]) -> Dim:
    """``d`` with the given sizes substituted (an int once every symbol it uses is sized)."""
    if isinstance(d, int):
        return d
    try:
        return expr.eval_dim(d, sizes)
    except expr.ExprError:
        return d


def sized_type(t: TensorType, sizes: Mapping[str, int]) -> TensorType:
    if not sizes:
        return t
    return t.with_shape(tuple(sized_dim(d, sizes) for d in t.shape))


def concrete(t: TensorType, sizes: Mapping[str, int]) -> tuple[int, ...]:
    """Every dim an int: sized symbols at their size, the others at 1."""
    ones = _Ones(sizes)
    return tuple(d if isinstance(d, int) else expr.eval_dim(d, ones) for d in t.shape)


def check_sized(node: Node, sizes: Mapping[str, int]) -> None:
    """Each output of ``node``, sized, still has positive dims and fits int64 indexing."""
    if sizes:
        for t in node.outs.values():
            check_size(node, sized_type(t, sizes))


def check_sizes(sizes: Mapping[str, int]) -> None:
    for key, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ArchspecError("dim-size", f"size of '{key}' must be a positive integer, got {value!r}")


def check_size_names(models: list[str], symbols: list[set[str]], sizes: Mapping[str, int]) -> None:
    known = set().union(*symbols)
    for key in sizes:
        if key not in known:
            raise ArchspecError(
                "dim-size",
                f"'{key}' is not a symbolic dim of model {', '.join(repr(m) for m in models)}",
                hint=did_you_mean(key, known)
                or ("its symbolic dims: " + ", ".join(sorted(known)) if known else "it has none"),
            )


class _Ones(dict[str, int]):
    def __init__(self, sizes: Mapping[str, int]) -> None:
        super().__init__(sizes)

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> int:
        return 1
