"""Analysis passes over the IR, and ``analyze`` which runs them in order."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from archspec.dims import TensorType
from archspec.errors import ArchspecError, did_you_mean
from archspec.ir.build import Expander
from archspec.ir.graph import Counts, Graph, Node
from archspec.passes.counts import count
from archspec.passes.shapes import infer_shapes
from archspec.spec import Spec

__all__ = ["Analysis", "analyze", "analyze_all"]


@dataclass
class Analysis:
    """One model of a spec with every shape and count inferred."""

    spec: Spec
    model: str
    graph: Graph
    totals: Counts
    sizes: dict[str, int] = field(default_factory=dict)
    symbols: set[str] = field(default_factory=set)  # the inputs' symbolic dims (before sizing)

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

    @property
    def macs(self) -> int:
        return self.totals.macs

    @property
    def inputs(self) -> dict[str, TensorType]:
        return {n: self._type(self.graph.nodes[n]) for n in self.graph.inputs}

    @property
    def outputs(self) -> dict[str, TensorType]:
        return {n: self._type(self.graph.nodes[n]) for n in self.graph.outputs}

    def nodes(self) -> list[tuple[int, Node]]:
        """Every node below the model with its depth, in order."""
        return list(self.graph.walk())

    def node(self, path: str) -> Node:
        for _, n in self.graph.walk():
            if n.path == path:
                return n
        raise KeyError(path)

    @staticmethod
    def _type(node: Node) -> TensorType:
        assert node.out is not None
        return node.out

    def _repr_html_(self) -> str:  # notebooks show the summary table
        from archspec.report import summary_html

        return summary_html(self)


def analyze(spec: Spec | str, model: str | None = None, sizes: Mapping[str, int] | None = None) -> Analysis:
    """Shapes and counts of one model (the first, when the spec has several and none is named)."""
    from archspec.spec import load

    s = load(spec) if isinstance(spec, str) else spec
    name = s.pick(model)[0]
    a = _analyze(s, name, dict(sizes or {}))
    _check_size_names([name], [a.symbols], dict(sizes or {}))
    return a


def analyze_all(
    spec: Spec, model: str | None = None, sizes: Mapping[str, int] | None = None
) -> list[Analysis]:
    """Every model of the spec (or the one named); a size must name a dim of one of them."""
    names = spec.pick(model)
    out = [_analyze(spec, name, dict(sizes or {})) for name in names]
    _check_size_names(names, [a.symbols for a in out], dict(sizes or {}))
    return out


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


def _analyze(spec: Spec, name: str, sizes: dict[str, int]) -> Analysis:
    with paused_gc():
        return _run_passes(spec, name, sizes)


def _run_passes(spec: Spec, name: str, sizes: dict[str, int]) -> Analysis:
    graph = spec.expanded.pop(name, None) or Expander(spec).model(name)  # load() expanded it once
    symbols: set[str] = set()
    for inp in graph.inputs:
        node = graph.nodes[inp]
        assert node.input_type is not None
        symbols |= {d for d in node.input_type.shape if isinstance(d, str)}
        node.input_type = node.input_type.with_shape(
            tuple(sizes.get(d, d) if isinstance(d, str) else d for d in node.input_type.shape)
        )
    _check_sizes(graph, sizes)
    infer_shapes(graph)
    totals = count(graph, sizes)
    return Analysis(spec, name, graph, totals, sizes, symbols)


def _check_size_names(models: list[str], symbols: list[set[str]], sizes: dict[str, int]) -> None:
    known = set().union(*symbols)
    for key in sizes:
        if key not in known:
            raise ArchspecError(
                "dim-size",
                f"'{key}' is not a symbolic dim of model {', '.join(repr(m) for m in models)}",
                hint=did_you_mean(key, known)
                or ("its symbolic dims: " + ", ".join(sorted(known)) if known else "it has none"),
            )


def _check_sizes(graph: Graph, sizes: dict[str, int]) -> None:
    for key, value in sizes.items():
        if not isinstance(value, int) or value <= 0:
            raise ArchspecError("dim-size", f"size of '{key}' must be a positive integer, got {value!r}")
