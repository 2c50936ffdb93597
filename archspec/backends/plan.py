"""A module plan: what to construct and how ``forward`` flows, derived from the IR.

Both torch backends realize the same plan: ``torch_build`` as live modules with a
torch.fx-generated forward, ``pysrc`` as readable standalone source. No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from archspec.ir.graph import Graph, Node
from archspec.layers.base import TorchCtor, TorchFn
from archspec.passes import Analysis
from archspec.spec.inits import by_param
from archspec.spec.names import class_name


@dataclass
class Sub:
    """A submodule: a layer's module, a nested plan, or another model of the spec."""

    name: str
    ctor: TorchCtor | None = None
    plan: Plan | None = None
    model: str | None = None  # a call of another model: that model's module is shared
    frozen: bool = False
    doc: str | None = None


@dataclass
class Step:
    """One line of ``forward``: ``var = self.<module>(*inputs)`` or ``var = fn(inputs)``."""

    var: str
    inputs: list[str]
    module: str | None = None
    fn: TorchFn | None = None


@dataclass
class Plan:
    name: str  # the class name
    kind: Literal["graph", "sequential"]
    inputs: list[str] = field(default_factory=list)
    subs: list[Sub] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    ties: list[tuple[str, str]] = field(default_factory=list)  # (parameter path, source parameter path)
    # (parameter paths, l1, l2): each `regularizer:` and the parameters its layer says it penalizes
    penalties: list[tuple[tuple[str, ...], float, float]] = field(default_factory=list)
    doc: str | None = None


def plan_model(a: Analysis) -> Plan:
    plan = _graph_plan(a.graph, _class_name(a.model), "")
    plan.doc = a.graph.doc
    plan.ties = [
        (f"{n.path}.{n.layer_type.tied}", f"{n.tie}.{n.layer_type.tied}")
        for n in a.graph.layers()
        if n.tie and n.layer_type.tied
    ]
    plan.penalties = [
        (
            tuple(f"{n.path}.{w}" for w in n.layer_type.penalized(n.settings, n.in_types)),
            n.regularizer.l1,
            n.regularizer.l2,
        )
        for n in a.graph.layers()
        if n.regularizer is not None
    ]
    return plan


def _graph_plan(graph: Graph, name: str, prefix: str) -> Plan:
    if graph.kind == "repeat":
        subs = [_sub(n) for n in graph.body()]
        return Plan(name, "sequential", ["input"], subs, outputs=graph.outputs)
    plan = Plan(name, "graph", list(graph.inputs), outputs=list(graph.outputs))
    for node in graph.body():
        layer = node.layer if node.kind == "layer" else None
        if layer is not None and layer.torch(node.params, node.in_types) is None:
            plan.steps.append(Step(node.name, node.inputs, fn=layer.torch_fn(node.params)))
            continue
        plan.subs.append(_sub(node))
        plan.steps.append(Step(node.name, node.inputs, module=node.name))
    return plan


def _sub(node: Node) -> Sub:
    frozen, doc = not node.trainable, node.doc
    if node.kind == "model":
        return Sub(node.name, model=node.type, frozen=frozen, doc=doc)
    if node.kind == "layer":
        assert node.layer is not None
        return Sub(node.name, ctor=node.layer.torch(node.params, node.in_types), frozen=frozen, doc=doc)
    assert node.sub is not None
    cls = _class_name(node.type) if node.kind == "block" else "Sequential"
    plan = _graph_plan(node.sub, cls, node.path)
    plan.doc = node.sub.doc
    return Sub(node.name, plan=plan, frozen=frozen, doc=doc)


def layer_inits(a: Analysis) -> list[tuple[str, str, Any]]:
    """(module path, parameter name, scheme) for every ``init:`` in the model, in order."""
    out: list[tuple[str, str, Any]] = []
    for node in a.graph.layers():
        if node.init is None:
            continue
        for param, scheme in by_param(node.init).items():
            out.append((node.path, param, scheme))
    return out


def _class_name(name: str) -> str:
    return class_name(name)
