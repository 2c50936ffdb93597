"""Multiply-accumulates per node at an analysis' sizes (a sized pass)."""

from __future__ import annotations

from collections.abc import Mapping

from archspec.ir.graph import Graph, LayerNode
from archspec.passes.sizing import check_sized, concrete


def count_macs(graph: Graph, sizes: Mapping[str, int], out: dict[str, int]) -> int:
    """Fill ``out`` (node path -> MACs) for every node below ``graph``; return the total.

    A model called twice computes twice: both calls count.
    """
    total = 0
    for node in graph.body():
        check_sized(node, sizes)
        if isinstance(node, LayerNode):
            ins = [concrete(x, sizes) for x in node.in_types]
            macs = node.layer_type.macs(node.settings, ins, concrete(node.out, sizes))
        else:
            assert node.sub is not None
            macs = count_macs(node.sub, sizes, out)
        out[node.path] = macs
        total += macs
    return total
