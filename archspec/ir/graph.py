"""The IR: a hierarchy of graphs. A node is an input, a layer, or a sub-graph
(a block instance, a repeat, or a call of another model)."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from archspec.dims import TensorType
from archspec.errors import Loc

if TYPE_CHECKING:
    import networkx as nx

    from archspec.layers.base import LayerParams, LayerType

NodeKind = Literal["input", "layer", "block", "repeat", "model"]


@dataclass
class Counts:
    """Parameter and buffer counts in PyTorch's conventions."""

    trainable: int = 0
    frozen: int = 0
    buffers: int = 0
    macs: int = 0

    @property
    def params(self) -> int:
        return self.trainable + self.frozen

    def __iadd__(self, other: Counts) -> Counts:
        self.trainable += other.trainable
        self.frozen += other.frozen
        self.buffers += other.buffers
        self.macs += other.macs
        return self


@dataclass
class Node:
    name: str  # local name (an identifier, or a repeat index "0", "1", ...)
    path: str  # dotted path from the model root: "layer2.0.conv1"
    kind: NodeKind
    type: str  # layer type, block name or model name ("input" for inputs)
    inputs: list[str] = field(default_factory=list)
    loc: Loc | None = None
    trainable: bool = True
    params: LayerParams | None = None
    layer: builtins.type[LayerType] | None = None
    args: dict[str, Any] = field(default_factory=dict)
    sub: Graph | None = None
    init: Any = None
    tie: str | None = None
    regularizer: Any = None
    doc: str | None = None
    input_type: TensorType | None = None  # for inputs: the declared type
    high: int | None = None  # for integer inputs: ids are in [0, high)
    # filled by the passes
    in_types: list[TensorType] = field(default_factory=list)
    out: TensorType | None = None
    counts: Counts = field(default_factory=Counts)
    weights: dict[str, tuple[int, ...]] = field(default_factory=dict)
    buffer_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        if self.layer is not None and self.params is not None:
            return self.layer.label(self.params)
        return self.type


@dataclass
class Graph:
    """One level of the hierarchy: a model, a block instance, or a repeat."""

    name: str  # model or block name ("" for a repeat container)
    kind: Literal["model", "block", "repeat"]
    prefix: str  # the path of the node that holds this graph ("" for a model)
    nodes: dict[str, Node] = field(default_factory=dict)  # topological order
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    loc: Loc | None = None
    doc: str | None = None
    seed: int | None = None
    args: dict[str, Any] = field(default_factory=dict)

    def body(self) -> Iterator[Node]:
        """Every node that is not an input, in order."""
        return (n for n in self.nodes.values() if n.kind != "input")

    def walk(self, depth: int = 0) -> Iterator[tuple[int, Node]]:
        """Every node below this graph, depth-first, with its depth."""
        for node in self.body():
            yield depth, node
            if node.sub is not None:
                yield from node.sub.walk(depth + 1)

    def layers(self) -> Iterator[Node]:
        """Every layer node below this graph, in order."""
        return (n for _, n in self.walk() if n.kind == "layer")

    def to_networkx(self) -> nx.DiGraph:
        """This level of the graph as a networkx DiGraph (node attributes: kind, type)."""
        import networkx as nx

        g = nx.DiGraph()
        for node in self.nodes.values():
            g.add_node(node.name, kind=node.kind, type=node.type)
            for src in node.inputs:
                g.add_edge(src, node.name)
        return g

    def size(self) -> int:
        return sum(1 for _ in self.walk())
