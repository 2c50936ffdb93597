"""Stage 2: a validated spec becomes typed IR graphs (``elaborate``)."""

from __future__ import annotations

from archspec.ir.budget import NodeBudget
from archspec.ir.expand import Elaborator
from archspec.ir.graph import Graph
from archspec.spec import Spec

__all__ = ["elaborate_all", "model_graph_unchecked"]


def elaborate_all(spec: Spec) -> dict[str, Graph]:
    """Every model's graph; the spec's static node budget is checked before anything is built."""
    key = ("elaborated", "*")
    if key not in spec.cache:
        el = Elaborator(spec)  # one for every model: the node budget is the whole spec's
        NodeBudget(el).check(list(spec.models))
        for name in spec.models:
            spec.cache[("graph", name)] = el.model(name)
        spec.cache[key] = True
    return {name: spec.cache[("graph", name)] for name in spec.models}


def model_graph_unchecked(spec: Spec, model: str) -> Graph:
    """One model's elaborated graph (memoized on the spec; every model is elaborated at once)."""
    if ("graph", model) not in spec.cache:
        elaborate_all(spec)
    graph: Graph = spec.cache[("graph", model)]
    return graph
