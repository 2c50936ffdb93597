"""Costs per node at an analysis' sizes (a sized pass): MACs, other FLOPs, backward FLOPs.

MACs and other FLOPs follow the rules of ``archspec.layers.costs`` (docs/costs.md). The
backward FLOPs of a training step count what ``FlopCounterMode`` counts for it: for every
matrix product of a layer that the gradient reaches, the gradient of each operand that requires
one, at the product's cost. The model's inputs do not require a gradient, a parameter does when
it is trainable (not frozen, not in a `trainable: false` part), and a value computed from
either does; a step function cuts the gradient.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from archspec.ir.graph import Graph, LayerNode
from archspec.layers.costs import backward_macs
from archspec.passes.flow import Call, flow
from archspec.passes.sizing import check_sized, concrete


@dataclass
class Costs:
    """Per node path (layers, and blocks as the sum of their nodes) and in total."""

    macs: dict[str, int] = field(default_factory=dict)
    other: dict[str, int] = field(default_factory=dict)  # other FLOPs (forward, inference)
    backward: dict[str, int] = field(default_factory=dict)  # backward FLOPs of a training step
    total_macs: int = 0
    total_other: int = 0
    total_backward: int = 0


def count_costs(graph: Graph, sizes: Mapping[str, int]) -> Costs:
    """Every node's costs at ``sizes`` (a symbol without a size counts as 1).

    A model called twice computes twice: both calls count.
    """
    costs = Costs()
    costs.total_macs, costs.total_other, costs.total_backward = _fill(graph, sizes, _gradients(graph), costs)
    return costs


Grads = dict[int, tuple[list[bool], dict[str, bool]]]  # id(layer node) -> (inputs, parameters)


def _fill(graph: Graph, sizes: Mapping[str, int], grads: Grads, c: Costs) -> tuple[int, int, int]:
    totals = [0, 0, 0]
    for node in graph.body():
        check_sized(node, sizes)
        if isinstance(node, LayerNode):
            ins = [concrete(x, sizes) for x in node.in_types]
            out = concrete(node.out, sizes)
            layer, p = node.layer_type, node.settings
            backward = 0
            if id(node) in grads:  # the gradient reaches it
                backward = 2 * backward_macs(layer.products(p, ins, out), *grads[id(node)])
            here = (layer.macs(p, ins, out), layer.other_flops(p, ins, out), backward)
        else:
            assert node.sub is not None
            here = _fill(node.sub, sizes, grads, c)
        c.macs[node.path], c.other[node.path], c.backward[node.path] = here
        totals = [t + h for t, h in zip(totals, here, strict=True)]
    return totals[0], totals[1], totals[2]


def _gradients(graph: Graph) -> Grads:
    """For each layer call the gradient reaches: which of its inputs and parameters require one
    (a static property of the graph)."""
    f = flow(graph)
    by_path = {c.node.path: c for c in f.calls}
    calls: list[tuple[list[bool], dict[str, bool], bool]] = []  # inputs, parameters, output
    for call in f.calls:
        ins = [s[0] >= 0 and calls[s[0]][2] for s in call.sources]
        weights = {name: _trainable(call, name, by_path) for name in call.node.weights}
        needs = call.node.layer_type.output_requires_grad(call.node.settings, ins, any(weights.values()))
        calls.append((ins, weights, needs))
    reached = [False] * len(f.calls)
    for i, _ in f.outputs:
        if i >= 0 and calls[i][2]:
            reached[i] = True
    for i in reversed(range(len(f.calls))):
        if reached[i]:
            for (j, _), needs in zip(f.calls[i].sources, calls[i][0], strict=True):
                if j >= 0 and needs:
                    reached[j] = True
    return {id(call.node): calls[i][:2] for i, call in enumerate(f.calls) if reached[i]}


def _trainable(call: Call, name: str, by_path: dict[str, Call]) -> bool:
    """Whether parameter ``name`` of a layer call requires a gradient (a tied one: its owner's)."""
    node = call.node
    if node.tie and name == node.layer_type.tied and node.tie in by_path:
        return _trainable(by_path[node.tie], name, by_path)
    return call.trainable and name in node.weights and name not in node.layer_type.frozen
