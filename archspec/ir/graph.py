"""The IR: a hierarchy of typed graphs.

A node is an input, a layer, or a sub-graph (a block instance, a repeat, or a call of another
model). Every node has named, typed outputs (``outs``; the first is its default output) and
refers to what feeds it by name: ``conv1`` (the default output) or ``enc.h`` (a named one).
Elaboration (``archspec.ir.expand``) builds the graph with every type inferred; afterwards the
graph is not changed: passes keep their results apart (``archspec.passes``).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from archspec.errors import Loc
from archspec.shapes import TensorType
from archspec.spec.inits import by_param

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

    @property
    def params(self) -> int:
        return self.trainable + self.frozen

    def __iadd__(self, other: Counts) -> Counts:
        self.trainable += other.trainable
        self.frozen += other.frozen
        self.buffers += other.buffers
        return self


def split_ref(ref: str) -> tuple[str, str | None]:
    """``"enc.h"`` -> ``("enc", "h")``; ``"enc"`` -> ``("enc", None)`` (the default output)."""
    node, _, output = ref.partition(".")
    return node, (output or None)


@dataclass(eq=False)
class Node:
    """What every node has. The subclasses add what their kind needs."""

    name: str  # local name (an identifier, or a repeat index "0", "1", ...)
    path: str  # dotted path from the model root: "layer2.0.conv1"
    loc: Loc | None = None
    inputs: list[str] = field(default_factory=list)  # references: "name" or "name.output"
    in_types: list[TensorType] = field(default_factory=list)
    outs: dict[str, TensorType] = field(default_factory=dict)  # the first is the default output
    doc: str | None = None
    trainable: bool = True
    counts: Counts = field(default_factory=Counts)

    kind: NodeKind = "input"

    @property
    def type(self) -> str:
        return "input"

    @property
    def out(self) -> TensorType:
        """The default (first) output's type."""
        return next(iter(self.outs.values()))

    @property
    def label(self) -> str:
        return self.type

    # what only some kinds have: None elsewhere, so that generic walks stay simple
    @property
    def sub(self) -> Graph | None:
        return None

    @property
    def layer(self) -> builtins.type[LayerType] | None:
        return None

    @property
    def params(self) -> LayerParams | None:
        return None


@dataclass(eq=False)
class InputNode(Node):
    """A model's or block's input. ``declared`` is the model's declared type (None in blocks)."""

    declared: TensorType | None = None
    high: int | None = None  # integer inputs: ids are in [0, high)
    # channels_last: the model is fed `fed` ([batch, *spatial, channels]) and its layers see the
    # channels moved to dim 1 (`out`); `permutation` moves them
    fed: TensorType | None = None
    layout: str = "channels_first"
    kind: NodeKind = "input"

    @property
    def permutation(self) -> tuple[int, ...] | None:
        """The dims order that turns what is fed into what the layers see (None: the same)."""
        if self.fed is None or self.fed.shape == self.out.shape:
            return None
        r = self.fed.rank
        return (0, r - 1, *range(1, r - 1))


@dataclass(eq=False)
class LayerNode(Node):
    """One registered layer type with validated settings."""

    layer_type: builtins.type[LayerType] = field(default=None)  # type: ignore[assignment]
    settings: LayerParams = field(default=None)  # type: ignore[assignment]
    init: Any = None
    tie: str | None = None
    regularizer: Any = None
    weights: dict[str, tuple[int, ...]] = field(default_factory=dict)
    buffer_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    kind: NodeKind = "layer"

    @property
    def type(self) -> str:
        return self.layer_type.name

    @property
    def layer(self) -> builtins.type[LayerType]:
        return self.layer_type

    @property
    def params(self) -> LayerParams:
        return self.settings

    @property
    def label(self) -> str:
        return self.layer_type.label(self.settings)

    def init_schemes(self) -> dict[str, Any]:
        """Its ``init:`` by parameter name (one scheme sets the layer's ``weight``, or the tensor
        itself for a node that is a tensor, whose parameter is named "")."""
        return by_param(self.init, "" if "" in self.weights else "weight")


@dataclass(eq=False)
class GraphNode(Node):
    """A block instance, a repeat (``N`` chained copies) or a call of another model."""

    of: str = ""  # the block or model name (the repeated entry's type for a repeat)
    graph: Graph = field(default=None)  # type: ignore[assignment]
    args: dict[str, Any] = field(default_factory=dict)
    kind: NodeKind = "block"

    @property
    def type(self) -> str:
        return self.of

    @property
    def sub(self) -> Graph:
        return self.graph


@dataclass(eq=False)
class Graph:
    """One level of the hierarchy: a model, a block instance, or a repeat."""

    name: str  # model or block name (the repeated type for a repeat)
    kind: Literal["model", "block", "repeat"]
    prefix: str  # the path of the node that holds this graph ("" for a model)
    nodes: dict[str, Node] = field(default_factory=dict)  # topological order
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)  # references, as in `inputs:`
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

    def layers(self) -> Iterator[LayerNode]:
        """Every layer node below this graph, in order."""
        return (n for _, n in self.walk() if isinstance(n, LayerNode))

    def source(self, ref: str) -> Node:
        """The node a reference (``name`` or ``name.output``) points at."""
        return self.nodes[split_ref(ref)[0]]

    def type_of(self, ref: str) -> TensorType:
        """The type of a reference: the node's default output, or the named one."""
        node, output = split_ref(ref)
        outs = self.nodes[node].outs
        return outs[output] if output is not None else next(iter(outs.values()))

    @property
    def output_types(self) -> dict[str, TensorType]:
        """The graph's outputs by name (a named output ``enc.h`` is called ``h``)."""
        out: dict[str, TensorType] = {}
        for ref in self.outputs:
            node, output = split_ref(ref)
            out[output or node] = self.type_of(ref)
        return out

    def to_networkx(self) -> nx.DiGraph:
        """This level of the graph as a networkx DiGraph (node attributes: kind, type)."""
        import networkx as nx

        g = nx.DiGraph()
        for node in self.nodes.values():
            g.add_node(node.name, kind=node.kind, type=node.type)
            for ref in node.inputs:
                g.add_edge(split_ref(ref)[0], node.name)
        return g
