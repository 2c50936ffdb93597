"""Parameter, buffer and MAC counts, in PyTorch's conventions.

Counts come from each layer's named parameter shapes, so a tied weight (``tie:``) or a
model called twice (its modules are shared) is counted once, and buffers (batch-norm
running statistics) are reported apart from parameters.
"""

from __future__ import annotations

from collections.abc import Mapping

from archspec import expr
from archspec.dims import TensorType
from archspec.errors import ArchspecError
from archspec.ir.graph import Counts, Graph, Node
from archspec.layers.base import ShapeError, numel
from archspec.spec import inits
from archspec.spec.inits import by_param


def count(graph: Graph, sizes: Mapping[str, int]) -> Counts:
    """Fill ``node.counts`` for every node below ``graph``; return the model's totals."""
    ctx = _Context(graph, sizes)
    return ctx.graph(graph, trainable=True)


class _Context:
    def __init__(self, root: Graph, sizes: Mapping[str, int]) -> None:
        self.root = root
        self.sizes = sizes
        self.models_seen: dict[str, bool] = {}  # model -> trainable where first called
        self.by_path = {n.path: n for _, n in root.walk()}
        self.sized = _Defaults(sizes)

    def graph(self, graph: Graph, trainable: bool) -> Counts:
        total = Counts()
        for node in graph.body():
            if node.kind == "layer":
                node.counts = self.layer(node, node.in_types, trainable and node.trainable)
            elif node.kind == "model" and node.type in self.models_seen:
                self._same_trainability(node, trainable and node.trainable)
                node.counts = Counts(macs=self.graph(node.sub, False).macs) if node.sub else Counts()
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

    def layer(self, node: Node, xs: list[TensorType], trainable: bool) -> Counts:
        assert node.layer is not None and node.out is not None
        try:
            node.weights = node.layer.weights(node.params, xs)
            node.buffer_shapes = node.layer.buffers(node.params, xs)
        except ShapeError as e:
            raise ArchspecError(e.code, e.message, loc=node.loc, node=node.path, hint=e.hint) from None
        _check_init(node)
        c = Counts()
        tied = self.tie(node) if node.tie else None
        for name, shape in node.weights.items():
            if name == tied:
                continue
            if trainable and name not in node.layer.frozen:
                c.trainable += numel(shape)
            else:
                c.frozen += numel(shape)
        c.buffers = sum(numel(s) for s in node.buffer_shapes.values())
        c.macs = self.macs(node, xs)
        return c

    def tie(self, node: Node) -> str:
        """Check a ``tie:`` reference; return the name of the shared parameter."""
        target = self.by_path.get(node.tie or "")
        if target is None or target.kind != "layer":
            raise ArchspecError(
                "undefined-reference",
                f"tie: '{node.tie}' is not a layer of this model",
                loc=node.loc,
                node=node.path,
                hint="name the layer whose weight is shared, by its path from the model root",
            )
        if (
            not target.weights
            and target.layer is not None
            and target.layer.weights(target.params, target.in_types)
        ):
            raise ArchspecError(
                "undefined-reference",
                f"tie: '{node.tie}' is defined after '{node.path}'",
                loc=node.loc,
                node=node.path,
                hint="tie a layer to one defined before it (the owner of the weight comes first)",
            )
        mine, theirs = node.weights.get("weight"), target.weights.get("weight")
        if mine is None or theirs is None or mine != theirs:
            raise ArchspecError(
                "shape-mismatch",
                f"cannot tie the weight of '{node.path}' to '{target.path}'",
                loc=node.loc,
                node=node.path,
                expected=f"weight of shape {list(theirs) if theirs else 'any'} (as '{target.path}')",
                got=f"weight of shape {list(mine) if mine else 'none'}",
                hint="tied layers must be defined before use and have weights of the same shape",
            )
        return "weight"

    def macs(self, node: Node, xs: list[TensorType]) -> int:
        assert node.layer is not None and node.out is not None
        try:
            ins = [self.concrete(x) for x in xs]
            return node.layer.macs(node.params, ins, self.concrete(node.out))
        except expr.ExprError:
            return 0

    def concrete(self, t: TensorType) -> tuple[int, ...]:
        """A shape with every symbol sized (unsized symbols count as 1)."""
        return tuple(d if isinstance(d, int) else expr.eval_dim(d, self.sized) for d in t.shape)


def _check_init(node: Node) -> None:
    if node.init is None:
        return
    for param, scheme in by_param(node.init).items():
        why = inits.problem(scheme, node.weights.get(param))
        if why:
            raise ArchspecError(
                "bad-value",
                f"init of '{param}': {why}",
                loc=node.loc,
                node=node.path,
                hint="parameters: " + (", ".join(node.weights) or "none"),
            )


class _Defaults(dict[str, int]):
    def __init__(self, sizes: Mapping[str, int]) -> None:
        super().__init__(sizes)

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> int:
        return 1
