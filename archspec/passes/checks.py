"""Whole-graph checks: every node reaches an output (or holds a weight that others share)."""

from __future__ import annotations

from archspec.errors import ArchspecError
from archspec.ir.graph import Graph, LayerNode, split_ref


def check_used(graph: Graph, owners: frozenset[str] | None = None) -> None:
    """Every node of ``graph`` and of the graphs below it reaches an output, except a layer that
    other layers share the weight of (``tie:``), which may exist for its weight alone, as Hugging
    Face's T5 keeps ``shared`` beside the embeddings and the head tied to it. Such a layer is
    built but never run (``reaching``)."""
    if owners is None:
        owners = frozenset(n.tie for n in graph.layers() if n.tie)
    used = reaching(graph)
    for node in graph.nodes.values():
        if node.name not in used and not (isinstance(node, LayerNode) and node.path in owners):
            what = "input" if node.kind == "input" else "node"
            raise ArchspecError(
                "unused-node",
                f"{what} '{node.name}' does not reach any output",
                loc=node.loc,
                node=node.path,
                hint="use it as an input of a later node, list it in `outputs:`, or remove it",
            )
        if node.sub is not None:
            check_used(node.sub, owners)


def reaching(graph: Graph) -> set[str]:
    """Names of the nodes of ``graph`` that its outputs depend on (inputs included)."""
    used: set[str] = set()
    stack = [split_ref(r)[0] for r in graph.outputs]
    while stack:
        name = stack.pop()
        if name not in used:
            used.add(name)
            stack.extend(split_ref(r)[0] for r in graph.nodes[name].inputs)
    return used
