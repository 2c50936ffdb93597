"""Analysis passes over the elaborated IR, and ``analyze`` which runs them.

Static passes (unused-node checks, parameter counts) run once per model, right after
elaboration; the resulting graph is then shared and never changed. Sized passes (MACs, sized
shapes) depend on the sizes an analysis is asked for, and keep their results in the
``Analysis`` (``macs_of``, ``shape``), so two analyses of one spec never disturb each other.

| pass | needs | gives |
|---|---|---|
| ``checks.check_used`` | the typed graph | (an error, or nothing) |
| ``counts.count`` | the typed graph | each node's ``weights``, ``buffer_shapes``, ``counts`` |
| ``macs.count_costs`` | counts, sizes | ``Analysis.macs_of(node)``, ``other_flops_of``, ``flops`` |
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from archspec.ir import elaborate_all, model_graph_unchecked
from archspec.ir.graph import Counts, Graph, InputNode, Node
from archspec.passes.checks import check_used
from archspec.passes.counts import count
from archspec.passes.macs import count_costs
from archspec.passes.sizing import check_size_names, check_sized, check_sizes, sized_type
from archspec.shapes import TensorType
from archspec.spec import Spec

__all__ = ["Analysis", "TrainingFlops", "analyze", "analyze_all", "check_spec", "model_graph"]


@dataclass(frozen=True)
class TrainingFlops:
    """FLOPs of one training step, on ``FlopCounterMode``'s convention (matrix products and
    convolutions, 2 FLOPs per MAC): ``forward`` is 2 × MACs; ``backward`` the gradients of the
    products' operands that require one (docs/costs.md). Other FLOPs are not included."""

    forward: int
    backward: int

    @property
    def total(self) -> int:
        return self.forward + self.backward


@dataclass
class Analysis:
    """One model of a spec with every shape and count inferred, at the given sizes."""

    spec: Spec
    model: str
    graph: Graph
    totals: Counts
    sizes: dict[str, int] = field(default_factory=dict)
    symbols: set[str] = field(default_factory=set)  # the inputs' symbolic dims (before sizing)
    node_macs: dict[str, int] = field(default_factory=dict)  # node path -> MACs at these sizes
    macs: int = 0  # multiply-accumulates of matrix products and convolutions (docs/costs.md)
    node_other: dict[str, int] = field(default_factory=dict)  # node path -> other FLOPs
    other_flops: int = 0  # FLOPs of everything else the forward pass computes at inference
    node_backward: dict[str, int] = field(default_factory=dict)  # node path -> backward FLOPs
    flops: TrainingFlops = field(default_factory=lambda: TrainingFlops(0, 0))

    @property
    def name(self) -> str:
        return self.model

    @property
    def total_params(self) -> int:
        return self.totals.params

    @property
    def trainable_params(self) -> int:
        return self.totals.trainable

    @property
    def non_trainable_params(self) -> int:
        return self.totals.frozen

    @property
    def buffers(self) -> int:
        return self.totals.buffers

    def shape(self, t: TensorType) -> TensorType:
        """A type of the graph with this analysis' sizes substituted."""
        return sized_type(t, self.sizes)

    def out(self, node: Node) -> TensorType:
        """A node's (default) output type at this analysis' sizes."""
        return self.shape(node.out)

    def macs_of(self, node: Node) -> int:
        return self.node_macs.get(node.path, 0)

    def other_flops_of(self, node: Node) -> int:
        return self.node_other.get(node.path, 0)

    def backward_flops_of(self, node: Node) -> int:
        """The FLOPs of a training step's backward pass in this node (0 where no gradient reaches)."""
        return self.node_backward.get(node.path, 0)

    @property
    def inputs(self) -> dict[str, TensorType]:
        """What the model is fed, by input (a channels_last input as declared)."""
        return {n: self.shape(_fed(self.graph.nodes[n])) for n in self.graph.inputs}

    @property
    def outputs(self) -> dict[str, TensorType]:
        return {k: self.shape(t) for k, t in self.graph.output_types.items()}

    def node(self, path: str) -> Node:
        for _, n in self.graph.walk():
            if n.path == path:
                return n
        raise KeyError(path)

    def _repr_html_(self) -> str:  # notebooks show the summary table
        from archspec.backends.report import summary_html

        return summary_html(self)


def _fed(node: Node) -> TensorType:
    fed = node.fed if isinstance(node, InputNode) else None
    return fed if fed is not None else node.out


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small objects (the IR)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def model_graph(spec: Spec, model: str) -> tuple[Graph, Counts]:
    """The elaborated graph of one model with its static passes run (computed once per spec)."""
    key = ("checked", model)
    if key not in spec.cache:
        with paused_gc():
            graph = model_graph_unchecked(spec, model)
            check_used(graph)
            spec.cache[key] = (graph, count(graph))
    result: tuple[Graph, Counts] = spec.cache[key]
    return result


def check_spec(spec: Spec) -> None:
    """Elaborate and check every model of the spec (the static node budget first)."""
    with paused_gc():
        elaborate_all(spec)
    for name in spec.models:
        model_graph(spec, name)


def analyze(spec: Spec, model: str | None = None, sizes: Mapping[str, int] | None = None) -> Analysis:
    """Shapes and counts of one model (the first, when the spec has several and none is named)."""
    name = spec.pick(model)[0]
    a = _analyze(spec, name, dict(sizes or {}))
    check_size_names([name], [a.symbols], dict(sizes or {}))
    return a


def analyze_all(
    spec: Spec, model: str | None = None, sizes: Mapping[str, int] | None = None
) -> list[Analysis]:
    """Every model of the spec (or the one named); a size must name a dim of one of them."""
    names = spec.pick(model)
    out = [_analyze(spec, name, dict(sizes or {})) for name in names]
    check_size_names(names, [a.symbols for a in out], dict(sizes or {}))
    return out


def _analyze(spec: Spec, name: str, sizes: dict[str, int]) -> Analysis:
    check_sizes(sizes)
    graph, totals = model_graph(spec, name)
    symbols = {s for n in graph.inputs for s in graph.nodes[n].out.symbols}
    a = Analysis(spec, name, graph, totals, sizes, symbols)
    for n in graph.inputs:
        check_sized(graph.nodes[n], sizes)
    c = count_costs(graph, sizes)
    a.node_macs, a.node_other, a.node_backward = c.macs, c.other, c.backward
    a.macs, a.other_flops = c.total_macs, c.total_other
    a.flops = TrainingFlops(forward=2 * c.total_macs, backward=c.total_backward)
    return a
