"""A module plan: what to construct and how ``forward`` flows, derived from the IR.

Both torch backends realize the same plan: ``torch_build`` as live modules with a
torch.fx-generated forward, ``pysrc`` as readable standalone source. No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from archspec.ir.graph import Graph, GraphNode, InputNode, LayerNode, Node
from archspec.layers.base import TorchCtor, TorchFn, TorchTensor, param_path
from archspec.passes import Analysis
from archspec.passes.checks import reaching
from archspec.spec.names import class_name


@dataclass
class Sub:
    """A submodule (a layer's module, a nested plan, another model of the spec) or a tensor the
    module holds (a ``parameter`` node, a constant buffer), named ``name``."""

    name: str
    ctor: TorchCtor | None = None
    plan: Plan | None = None
    model: str | None = None  # a call of another model: that model's module is shared
    tensor: TorchTensor | None = None
    frozen: bool = False
    doc: str | None = None


@dataclass
class Step:
    """One node of ``forward``: ``self.<module>(*inputs)``, ``fn(inputs)`` or ``self.<attr>``.

    ``outs`` are the node's output names, in the order its module returns them (one: the value
    itself; several: a tuple).
    """

    var: str  # the node's name (the attribute of its module or tensor, if it has one)
    inputs: list[str]  # references: "name" or "name.output"
    outs: list[str] = field(default_factory=lambda: ["out"])
    module: str | None = None
    fn: TorchFn | None = None
    attr: str | None = None


@dataclass
class Plan:
    name: str  # the class name
    kind: Literal["graph", "sequential"]
    inputs: list[str] = field(default_factory=list)
    subs: list[Sub] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)  # references
    ties: list[tuple[str, str]] = field(default_factory=list)  # (parameter path, source parameter path)
    # (parameter paths, l1, l2): each `regularizer:` and the parameters its layer says it penalizes
    penalties: list[tuple[tuple[str, ...], float, float]] = field(default_factory=list)
    doc: str | None = None

    def variables(self) -> dict[str, str]:
        """A Python identifier for every reference the forward uses (inputs, ``node``,
        ``node.output``): the node's name where it is one, made unique."""
        taken = set(self.inputs) | {"self"}  # a node may be named `self` (its local is not)
        out = {name: name for name in self.inputs} | {f"{name}.out": name for name in self.inputs}

        def fresh(base: str) -> str:
            name, n = base, 1
            while name in taken:
                n += 1
                name = f"{base}_{n}"
            taken.add(name)
            return name

        for step in self.steps:
            if step.var in self.inputs:  # an input rewritten in place (channels moved first)
                continue
            base = step.var if step.var.isidentifier() else f"x{step.var}"  # repeat copies: 0, 1...
            for i, o in enumerate(step.outs):
                var = fresh(base if i == 0 else f"{base}_{o}")
                out[f"{step.var}.{o}"] = var
                if i == 0:
                    out[step.var] = var
        return out


def plan_model(a: Analysis) -> Plan:
    plan = _graph_plan(a.graph, _class_name(a.model))
    plan.doc = a.graph.doc
    plan.ties = [
        (param_path(n.path, n.layer_type.tied), param_path(n.tie, n.layer_type.tied))
        for n in a.graph.layers()
        if n.tie and n.layer_type.tied is not None
    ]
    plan.penalties = [
        (
            tuple(param_path(n.path, w) for w in n.layer_type.penalized(n.settings, n.in_types)),
            n.regularizer.l1,
            n.regularizer.l2,
        )
        for n in a.graph.layers()
        if n.regularizer is not None
    ]
    return plan


def _graph_plan(graph: Graph, name: str) -> Plan:
    if graph.kind == "repeat" and _chain(graph):
        subs = [_sub(n) for n in graph.body()]
        return Plan(name, "sequential", ["input"], subs, outputs=graph.outputs)
    plan = Plan(name, "graph", list(graph.inputs), outputs=list(graph.outputs))
    for name in graph.inputs:  # channels_last inputs: the channels move to dim 1 first
        node = graph.nodes[name]
        perm = node.permutation if isinstance(node, InputNode) else None
        if perm is not None:
            plan.steps.append(Step(name, [name], fn=TorchFn("torch.permute", kwargs={"dims": perm})))
    run = reaching(graph)  # a layer kept only for a weight others share (`tie:`) is not run
    for node in graph.body():
        outs = list(node.outs)
        if node.name not in run:
            plan.subs.append(_sub(node))
            continue
        if isinstance(node, LayerNode):
            tensor = node.layer_type.tensor(node.settings)
            if tensor is not None:
                plan.subs.append(Sub(node.name, tensor=tensor, frozen=not node.trainable, doc=node.doc))
                plan.steps.append(Step(node.name, [], outs, attr=node.name))
                continue
            if node.layer_type.torch(node.settings, node.in_types) is None:
                fn = node.layer_type.torch_fn(node.settings)
                plan.steps.append(Step(node.name, node.inputs, outs, fn=fn))
                continue
        plan.subs.append(_sub(node))
        plan.steps.append(Step(node.name, node.inputs, outs, module=node.name))
    return plan


def _chain(graph: Graph) -> bool:
    """A repeat whose copies take one input and give one output: an ``nn.Sequential``."""
    return len(graph.inputs) == 1 and all(len(n.inputs) == 1 and len(n.outs) == 1 for n in graph.body())


def _sub(node: Node) -> Sub:
    frozen, doc = not node.trainable, node.doc
    if node.kind == "model":
        return Sub(node.name, model=node.type, frozen=frozen, doc=doc)
    if isinstance(node, LayerNode):
        return Sub(
            node.name, ctor=node.layer_type.torch(node.settings, node.in_types), frozen=frozen, doc=doc
        )
    assert isinstance(node, GraphNode)
    if node.kind == "block":
        cls = _class_name(node.type)
    else:  # a repeat: nn.Sequential, or a class of its own when copies take several inputs
        cls = "Sequential" if _chain(node.graph) else _class_name(f"{node.type}_stack")
    plan = _graph_plan(node.graph, cls)
    plan.doc = node.graph.doc
    return Sub(node.name, plan=plan, frozen=frozen, doc=doc)


def layer_inits(a: Analysis) -> list[tuple[str, Any]]:
    """(parameter path, scheme) for every ``init:`` in the model, in order."""
    out: list[tuple[str, Any]] = []
    for node in a.graph.layers():
        if node.init is None:
            continue
        for param, scheme in node.init_schemes().items():
            out.append((param_path(node.path, param), scheme))
    return out


def _class_name(name: str) -> str:
    return class_name(name)
