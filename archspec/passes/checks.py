"""Whole-graph checks: every node reaches an output."""

from __future__ import annotations

from archspec.errors import ArchspecError
from archspec.ir.graph import Graph, split_ref


def check_used(graph: Graph) -> None:
    """Every node of ``graph`` and of the graphs below it reaches an output."""
    used: set[str] = set()
    stack = [split_ref(r)[0] for r in graph.outputs]
    while stack:
        name = stack.pop()
        if name not in used:
            used.add(name)
            stack.extend(split_ref(r)[0] for r in graph.nodes[name].inputs)
    for node in graph.nodes.values():
        if node.name not in used:
            what = "input" if node.kind == "input" else "node"
            raise ArchspecError(
                "unused-node",
                f"{what} '{node.name}' does not reach any output",
                loc=node.loc,
                node=node.path,
                hint="use it as an input of a later node, list it in `outputs:`, or remove it",
            )
        if node.sub is not None:
            check_used(node.sub)
