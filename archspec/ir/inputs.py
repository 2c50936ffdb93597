"""A model's inputs: declared shapes (ints, symbolic dims, `$expressions` over vars), dtypes,
id ranges and layouts, checked and typed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from archspec.errors import ArchspecError
from archspec.ir.graph import InputNode
from archspec.ir.typing import check_size
from archspec.shapes import TensorType, as_dim
from archspec.spec import expr
from archspec.spec.loader import PathKey, Source
from archspec.spec.model import InputSpec
from archspec.spec.names import dim_problem, name_problem

Substitute = Callable[[Any, PathKey], Any]


def input_node(
    name: str, decl: Any, path: PathKey, prefix: str, src: Source, substitute: Substitute
) -> InputNode:
    """The typed input node of a model's input ``name`` declared as ``decl``."""
    problem = name_problem(name, is_input=True)
    if problem:
        raise ArchspecError("bad-name", f"bad input name '{name}': {problem}", loc=src.loc(path))
    spec = decl if isinstance(decl, InputSpec) else InputSpec(shape=list(decl))
    spec = _dims(spec, path, src, substitute)
    _check(spec, path, src)
    node = InputNode(name, f"{prefix}.{name}" if prefix else name, loc=src.loc(path), high=spec.high)
    node.declared = TensorType(tuple(as_dim(d) for d in spec.shape), spec.dtype)
    node.fed = check_size(node, node.declared)
    node.layout = spec.layout
    node.outs = {"out": channels_first(node, node.fed)}
    return node


def channels_first(node: InputNode, t: TensorType) -> TensorType:
    """What the layers see of an input declared ``layout: channels_last``: channels in dim 1."""
    if node.layout != "channels_last":
        return t
    if t.rank < 3:
        raise ArchspecError(
            "shape-mismatch",
            f"input '{node.name}' is declared channels_last but has {t.rank} dims",
            loc=node.loc,
            node=node.path,
            expected="[batch, *spatial, channels] (3 to 5 dims)",
            got=str(t),
        )
    return t.with_shape((t.shape[0], t.shape[-1], *t.shape[1:-1]))


def _dims(spec: InputSpec, path: PathKey, src: Source, substitute: Substitute) -> InputSpec:
    """Evaluate `$expressions` among the input's dims (``[batch, $features]``)."""
    if not any(expr.is_expression(d) for d in spec.shape):
        return spec
    raw_path = path if isinstance(_raw(src, path), list) else (*path, "shape")
    dims = [substitute(d, (*raw_path, i)) for i, d in enumerate(spec.shape)]
    for i, d in enumerate(dims):
        if not isinstance(d, (int, str)) or isinstance(d, bool):
            raise ArchspecError(
                "schema",
                f"input dimension {spec.shape[i]!r} must be an integer, got {d!r}",
                loc=src.value_loc((*raw_path, i)),
            )
    return spec.model_copy(update={"shape": dims})


def _raw(src: Source, path: PathKey) -> Any:
    cur: Any = src.data
    for part in path:
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, list) and isinstance(part, int):
            cur = cur[part]
        else:
            return None
    return cur


def _check(spec: InputSpec, path: PathKey, src: Source) -> None:
    for i, d in enumerate(spec.shape):
        loc = src.value_loc((*path, i)) or src.value_loc((*path, "shape", i))
        if isinstance(d, int) and d <= 0:
            raise ArchspecError(
                "schema", f"input dimension {d!r} must be a positive integer or a symbolic name", loc=loc
            )
        problem = dim_problem(d) if isinstance(d, str) else None
        if problem:
            raise ArchspecError("bad-name", f"bad symbolic dimension {d!r}: {problem}", loc=loc)
    if spec.high is not None and spec.high <= 0:
        raise ArchspecError(
            "bad-value",
            f"`high` must be a positive integer (ids are drawn from [0, high)), got {spec.high}",
            loc=src.value_loc((*path, "high")),
        )


# Inputs that look channels-last ---------------------------------------------------------

# Layer families whose layers read dim 1 as the channels of a map (and dims 2.. as its positions).
_SPATIAL_FAMILIES = ("conv", "pool")


def looks_channels_last(node: InputNode) -> bool:
    """A channels-first input whose shape reads like [batch, *spatial, channels]: 1 or 3 in the
    last dim (grey or RGB) while dim 1, the channels a convolution would see, is far larger (or
    symbolic: a height)."""
    t = node.fed
    if node.layout == "channels_last" or t is None or t.rank not in (3, 4, 5):
        return False
    last, dim1 = t.shape[-1], t.shape[1]
    if not isinstance(last, int) or last not in (1, 3):
        return False
    return not isinstance(dim1, int) or dim1 >= max(8, 4 * last)


class LayoutWatch:
    """While a model is elaborated: which of its inputs that look channels-last a convolution or
    pooling reads as given, so that a shape error that follows is reported at the input's line
    with the `layout: channels_last` hint, not at the later layer that cannot take the shape."""

    def __init__(self) -> None:
        self._stack: list[list[tuple[InputNode, list[str]]]] = []

    def enter(self, inputs: list[InputNode]) -> None:
        self._stack.append([(n, []) for n in inputs if looks_channels_last(n)])

    def leave(self) -> None:
        self._stack.pop()

    def read(self, family: str, node_type: str, node_path: str, xs: list[TensorType]) -> None:
        """A layer is about to be typed: note it if it reads a suspect input as a map."""
        if not self._stack or family not in _SPATIAL_FAMILIES:
            return
        for inp, readers in self._stack[-1]:
            if not readers and inp.out in xs:  # fed directly, or through shape-keeping layers
                readers.append(f"{node_type} '{node_path}'")

    def explain(self, err: ArchspecError) -> ArchspecError:
        """``err`` at the line of a suspect input that a map layer reads, with the layout hint;
        ``err`` itself when no suspect is read or the error is not about shapes."""
        if err.code != "shape-mismatch" or "layout: channels_last" in (err.hint or "") or not self._stack:
            return err
        for inp, readers in self._stack[-1]:
            if readers:
                return _layout_error(inp, readers[0], err)
        return err


def _layout_error(inp: InputNode, reader: str, err: ArchspecError) -> ArchspecError:
    t = inp.fed
    assert t is not None
    dims = ", ".join(str(d) for d in t.shape)
    first = t.with_shape((t.shape[0], t.shape[-1], *t.shape[1:-1]))
    where = f"line {err.loc.line}" if err.loc else "later"
    return ArchspecError(
        "shape-mismatch",
        f"this input looks channels-last ({t.shape[-1]} in the last dim), but {reader} reads dim 1 "
        f"({t.shape[1]}) as its channels, and node '{err.node}' ({where}) then fails: {err.message}",
        loc=inp.loc,
        node=inp.path,
        expected=f"channels in dim 1, e.g. {first}",
        got=str(t),
        hint=f"declare `{inp.name}: {{shape: [{dims}], layout: channels_last}}` (archspec moves the "
        "channels to dim 1 for the layers), or give the shape channels-first",
    )
