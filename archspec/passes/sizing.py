"""Sized views of a symbolic graph: dims evaluated at the sizes of an analysis.

The graph keeps symbolic dims (``batch``, ``seq``); an analysis gives some of them sizes
(``--batch 64``). Shapes are shown with those sizes substituted; MACs and memory need every dim
concrete, and a symbol without a size counts as 1 there (MACs "with batch=1").
"""

from __future__ import annotations

from collections.abc import Mapping

from archspec.errors import ArchspecError, did_you_mean
from archspec.ir.graph import Node
from archspec.ir.typing import check_size
from archspec.shapes import Dim, TensorType, subs


def sized_dim(d: Dim, sizes: Mapping[str, int]) -> Dim:
    """``d`` with the given sizes substituted (an int once every symbol it uses is sized)."""
    return d if isinstance(d, int) else subs(d, {s: v for s, v in sizes.items() if s in d.symbols})


def sized_type(t: TensorType, sizes: Mapping[str, int]) -> TensorType:
    if not sizes:
        return t
    return t.with_shape(tuple(sized_dim(d, sizes) for d in t.shape))


def concrete(t: TensorType, sizes: Mapping[str, int], default: int = 1) -> tuple[int, ...]:
    """Every dim an int: sized symbols at their size, the others at ``default``."""
    return tuple(concrete_dim(d, sizes, default) for d in t.shape)


def concrete_dim(d: Dim, sizes: Mapping[str, int], default: int = 1) -> int:
    if isinstance(d, int):
        return d
    return d.evaluate({s: sizes.get(s, default) for s in d.symbols})


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
