"""Shape inference: every node's output type, symbolic dims preserved."""

from __future__ import annotations

from archspec.dims import TensorType
from archspec.errors import ArchspecError
from archspec.ir.graph import Graph, Node
from archspec.layers.base import ShapeError


def infer_shapes(graph: Graph, given: list[TensorType] | None = None) -> None:
    """Fill ``node.out`` (and the inputs' types) for every node of ``graph``, recursively."""
    for i, name in enumerate(graph.inputs):
        node = graph.nodes[name]
        if given is None:
            node.out = _check_size(node, node.input_type) if node.input_type else None
        elif node.input_type is not None:
            node.out = _bind(node, given[i])
        else:
            node.out = given[i]
    for node in graph.body():
        xs = [graph.nodes[i].out for i in node.inputs]
        types = [x for x in xs if x is not None]
        node.in_types = types
        node.out = _check_size(node, _infer_node(graph, node, types))


def _infer_node(graph: Graph, node: Node, xs: list[TensorType]) -> TensorType:
    if node.kind == "layer":
        assert node.layer is not None
        try:
            return node.layer.infer(node.params, xs)
        except ShapeError as e:
            raise _shape_error(graph, node, xs, e) from None
    assert node.sub is not None
    infer_shapes(node.sub, xs)
    outs = node.sub.outputs
    if len(outs) != 1:
        raise ArchspecError(
            "arity",
            f"'{node.type}' has {len(outs)} outputs; a node used inside a graph must have one",
            loc=node.loc,
            node=node.path,
        )
    out = node.sub.nodes[outs[0]].out
    assert out is not None
    return out


MAX_NUMEL = 2**62  # torch indexes tensors with int64


def _check_size(node: Node, t: TensorType) -> TensorType:
    """Every known dim is positive and a tensor's known elements fit int64 indexing."""
    n = 1
    for i, d in enumerate(t.shape):
        if isinstance(d, int):
            if d <= 0:
                raise ArchspecError(
                    "shape-mismatch",
                    f"({node.type}) the output would have size {d} in dim {i}",
                    loc=node.loc,
                    node=node.path,
                    got=str(t),
                    hint="the input is too small for this layer's settings",
                )
            n *= d
    if n > MAX_NUMEL:
        raise ArchspecError(
            "limit",
            f"({node.type}) the output has {n:.3g} elements, more than a tensor can index (2^62)",
            loc=node.loc,
            node=node.path,
            got=str(t),
        )
    return t


def _bind(node: Node, got: TensorType) -> TensorType:
    """A called model's input: check the caller's type against the declared one."""
    want = node.input_type
    assert want is not None
    ok = want.rank == got.rank and want.dtype == got.dtype
    ok = ok and all(
        isinstance(w, str) or not isinstance(g, int) or w == g
        for w, g in zip(want.shape, got.shape, strict=False)
    )
    if not ok:
        raise ArchspecError(
            "shape-mismatch",
            f"model input '{node.name}' is declared {want} but is given {got}",
            loc=node.loc,
            node=node.path,
            expected=str(want),
            got=str(got),
        )
    return got


def _shape_error(graph: Graph, node: Node, xs: list[TensorType], e: ShapeError) -> ArchspecError:
    sources = []
    for name, x in zip(node.inputs, xs, strict=False):
        src = graph.nodes[name]
        line = f", line {src.loc.line}" if src.loc else ""
        sources.append(f"{x} (from '{src.path}'{line})")
    got = e.got
    if got is None and sources:
        got = " and ".join(sources)
    elif sources and got is not None:
        got = f"{got}; input: " + " and ".join(sources)
    return ArchspecError(
        e.code,
        f"({node.type}) {e.message}",
        loc=node.loc,
        node=node.path,
        expected=e.expected,
        got=got,
        hint=e.hint,
    )
