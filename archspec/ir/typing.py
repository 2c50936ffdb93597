"""Typing a node as it is elaborated: a layer's shape rule applied to its input types, a called
model's declared inputs bound to what the caller gives, and the sanity of every output type."""

from __future__ import annotations

from archspec.errors import ArchspecError
from archspec.ir.graph import Graph, InputNode, LayerNode, Node, split_ref
from archspec.layers.base import ShapeError
from archspec.shapes import TensorType

MAX_NUMEL = 2**62  # torch indexes tensors with int64


def layer_outputs(graph: Graph, node: LayerNode, xs: list[TensorType]) -> dict[str, TensorType]:
    """The output types of a layer node (its shape rule), or a located shape error."""
    try:
        outs = node.layer_type.outputs(node.settings, xs)
    except ShapeError as e:
        raise shape_error(graph, node, xs, e) from None
    for t in outs.values():
        check_size(node, t)
    return outs


def check_size(node: Node, t: TensorType) -> TensorType:
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


def bind(node: InputNode, got: TensorType) -> TensorType:
    """A called model's input: check the caller's type against the declared one."""
    want = node.declared
    if want is None:
        return got
    ok = want.rank == got.rank and want.dtype == got.dtype
    ok = ok and all(
        not isinstance(w, int) or not isinstance(g, int) or w == g
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


def shape_error(graph: Graph, node: Node, xs: list[TensorType], e: ShapeError) -> ArchspecError:
    """A shape rule's complaint, with the node, its location and where each input came from."""
    sources = []
    for ref, x in zip(node.inputs, xs, strict=False):
        src, output = graph.source(ref), split_ref(ref)[1]
        line = f", line {src.loc.line}" if src.loc else ""
        named = f"{src.path}.{output}" if output is not None else src.path
        sources.append(f"{x} (from '{named}'{line})")
    got = e.got
    if got is None and sources:
        got = " and ".join(sources)
    elif sources and got is not None:
        got = f"{got}; input: " + " and ".join(sources)
    hint = e.hint
    if len(node.inputs) == 1:  # a layer fed a parameter by the default chaining
        src = graph.source(node.inputs[0])
        if isinstance(src, LayerNode) and src.type in ("parameter", "buffer"):
            hint = (
                f"its input is the {src.type} node '{src.path}' (an entry without `inputs:` takes the "
                "previous entry's output): name the input this layer should read with `inputs:`"
            )
    return ArchspecError(
        e.code,
        f"({node.type}) {e.message}",
        loc=node.loc,
        node=node.path,
        expected=e.expected,
        got=got,
        hint=hint,
    )
