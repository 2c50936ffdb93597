"""A model as one flat dataflow of layer calls: blocks, repeats and model calls opened.

Passes that follow values through the hierarchy use it: which tensors require a gradient and
which layers a gradient reaches (training FLOPs), and which layers consume an integer input
(the id range of example inputs). A static view: no sizes needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from archspec.ir.graph import Graph, LayerNode, split_ref

# Where a value comes from: (index of the producing call, its output name), or (-1, input name)
# for an input of the model.
Source = tuple[int, str]


@dataclass(frozen=True)
class Call:
    """One layer, as the model calls it."""

    node: LayerNode
    trainable: bool  # every enclosing node is trainable (the layer's own `trainable:` too)
    sources: tuple[Source, ...]  # what feeds each input


@dataclass(frozen=True)
class Flow:
    calls: list[Call]  # in an order where every call comes after what feeds it
    outputs: list[Source]  # the model's outputs


def flow(graph: Graph) -> Flow:
    """The layer calls of a model, with what feeds each."""
    calls: list[Call] = []

    def visit(g: Graph, env: dict[str, dict[str, Source]], trainable: bool) -> dict[str, dict[str, Source]]:
        for node in g.body():
            sources = tuple(_resolve(env, r) for r in node.inputs)
            on = trainable and node.trainable
            if isinstance(node, LayerNode):
                calls.append(Call(node, on, sources))
                env[node.name] = {k: (len(calls) - 1, k) for k in node.outs}
            else:
                assert node.sub is not None
                inner = {name: {"out": s} for name, s in zip(node.sub.inputs, sources, strict=True)}
                inner = visit(node.sub, inner, on)
                outs = zip(node.outs, node.sub.outputs, strict=True)
                env[node.name] = {k: _resolve(inner, ref) for k, ref in outs}
        return env

    env = visit(graph, {name: {"out": (-1, name)} for name in graph.inputs}, True)
    return Flow(calls, [_resolve(env, ref) for ref in graph.outputs])


def _resolve(env: dict[str, dict[str, Source]], ref: str) -> Source:
    name, output = split_ref(ref)
    outs = env[name]
    return outs[output] if output is not None else next(iter(outs.values()))


def id_high(graph: Graph, name: str) -> int | None:
    """The ids that every layer consuming integer input ``name`` accepts are below this (the
    smallest vocabulary among them), following the ids through layers that pass integers on
    (reshape, select, ...) and into blocks, repeats and model calls; None when none says."""
    f = flow(graph)
    carrying: set[Source] = {(-1, name)}
    highs: list[int] = []
    for i, call in enumerate(f.calls):
        if not carrying.intersection(call.sources):
            continue
        high = call.node.layer_type.id_range(call.node.settings)
        if high is not None:
            highs.append(high)
        for key, t in call.node.outs.items():
            if t.dtype.startswith(("int", "uint")):
                carrying.add((i, key))
    return min(highs) if highs else None
