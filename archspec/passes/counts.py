"""Parameter and buffer counts, in PyTorch's conventions (a static pass: no sizes needed).

Counts come from each layer's named parameter shapes, so a tied weight (``tie:``) or a model
called twice (its modules are shared) is counted once, and buffers (batch-norm running
statistics) are reported apart from parameters. Fills ``weights``, ``buffer_shapes`` and
``counts`` of every node once, when the graph is elaborated.
"""

from __future__ import annotations

from archspec.errors import ArchspecError
from archspec.ir.graph import Counts, Graph, LayerNode, Node
from archspec.layers.base import ShapeError, numel
from archspec.spec import inits


def count(graph: Graph) -> Counts:
    """Fill the counts of every node below ``graph``; return the model's totals."""
    return _Context(graph).graph(graph, trainable=True)


class _Context:
    def __init__(self, root: Graph) -> None:
        self.root = root
        self.models_seen: dict[str, bool] = {}  # model -> trainable where first called
        self.by_path = {n.path: n for _, n in root.walk()}

    def graph(self, graph: Graph, trainable: bool) -> Counts:
        total = Counts()
        for node in graph.body():
            if isinstance(node, LayerNode):
                node.counts = self.layer(node, trainable and node.trainable)
            elif node.kind == "model" and node.type in self.models_seen:
                self._same_trainability(node, trainable and node.trainable)
                self.graph(node.sub, False) if node.sub else None  # fill its nodes, count nothing
                node.counts = Counts()
            else:
                if node.kind == "model":
                    self.models_seen[node.type] = trainable and node.trainable
                assert node.sub is not None
                node.counts = self.graph(node.sub, trainable and node.trainable)
            total += node.counts
        return total

    def _same_trainability(self, node: Node, trainable: bool) -> None:
        """A model called twice shares its weights: it cannot be frozen in one call only."""
        if self.models_seen[node.type] != trainable:
            raise ArchspecError(
                "bad-value",
                f"model '{node.type}' is called twice, once frozen and once trainable",
                loc=node.loc,
                node=node.path,
                hint="both calls share the same weights: give them the same `trainable:`",
            )

    def layer(self, node: LayerNode, trainable: bool) -> Counts:
        try:
            node.weights = node.layer_type.weights(node.settings, node.in_types)
            node.buffer_shapes = node.layer_type.buffers(node.settings, node.in_types)
        except ShapeError as e:
            raise ArchspecError(e.code, e.message, loc=node.loc, node=node.path, hint=e.hint) from None
        _check_init(node)
        c = Counts()
        tied = self.tie(node) if node.tie else None
        for name, shape in node.weights.items():
            if name == tied:
                continue
            if trainable and name not in node.layer_type.frozen:
                c.trainable += numel(shape)
            else:
                c.frozen += numel(shape)
        c.buffers = sum(numel(s) for s in node.buffer_shapes.values())
        return c

    def tie(self, node: LayerNode) -> str:
        """Check a ``tie:`` reference; return the name of the shared parameter."""
        target = self.by_path.get(node.tie or "")
        if not isinstance(target, LayerNode):
            raise ArchspecError(
                "undefined-reference",
                f"tie: '{node.tie}' is not a layer of this model",
                loc=node.loc,
                node=node.path,
                hint="name the layer whose weight is shared, by its path from the model root",
            )
        tied = node.layer_type.tied
        if tied is None or target.layer_type.tied != tied:
            raise ArchspecError(
                "bad-value",
                f"'{node.type}' cannot share a parameter with '{target.type}' ('{target.path}')",
                loc=node.loc,
                node=node.path,
                hint="`tie:` shares the weight of two layers of one kind that can be tied "
                "(linear, embedding, convolutions)",
            )
        if not target.weights and target.layer_type.weights(target.settings, target.in_types):
            raise ArchspecError(
                "undefined-reference",
                f"tie: '{node.tie}' is defined after '{node.path}'",
                loc=node.loc,
                node=node.path,
                hint="tie a layer to one defined before it (the owner of the weight comes first)",
            )
        mine, theirs = node.weights.get(tied), target.weights.get(tied)
        if mine is None or theirs is None or mine != theirs:
            raise ArchspecError(
                "shape-mismatch",
                f"cannot tie the {tied} of '{node.path}' to '{target.path}'",
                loc=node.loc,
                node=node.path,
                expected=f"{tied} of shape {list(theirs) if theirs else 'any'} (as '{target.path}')",
                got=f"{tied} of shape {list(mine) if mine else 'none'}",
                hint="tied layers must be defined before use and have weights of the same shape",
            )
        return tied


def _check_init(node: LayerNode) -> None:
    if node.init is None:
        return
    for param, scheme in node.init_schemes().items():
        why = inits.problem(scheme, node.weights.get(param))
        if why is None:
            continue
        whole = param == "" and "" in node.weights  # a parameter node: init is its tensor's
        if why.in_settings:
            hint: str | None = "the schemes' settings are listed in docs/spec.md (Per-node settings)"
        elif whole:
            hint = None
        else:
            hint = "parameters: " + (", ".join(node.weights) or "none")
        raise ArchspecError(
            "bad-value",
            f"init: {why.message}" if whole else f"init of '{param}': {why.message}",
            loc=node.loc,
            node=node.path,
            hint=hint,
        )
