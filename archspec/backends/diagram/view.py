"""The drawing model shared by the DOT and Mermaid writers.

``build`` turns analyses into boxes, clusters and edges at a chosen depth: blocks,
repeats and calls of other models are clusters when expanded and single boxes when
collapsed. Edges that skip over nodes are found here, so both writers draw them alike.
No graphviz, no torch.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import networkx as nx

from archspec.backends.diagram.depth import AUTO_NODES as AUTO_NODES  # re-exported
from archspec.backends.diagram.depth import MAX_DRAWN as MAX_DRAWN
from archspec.backends.diagram.depth import Depth, expand, resolve_depth
from archspec.backends.diagram.depth import count_drawn as count_drawn
from archspec.errors import ArchspecError
from archspec.ir.graph import Graph, Node, split_ref
from archspec.passes import Analysis

DIRECTIONS = ("TB", "LR")
MAX_TEXT = 90

BoxKind = Literal["input", "port", "layer", "merge", "block", "repeat", "model", "note"]
ClusterKind = Literal["model", "block", "repeat", "call"]
EdgeKind = Literal["flow", "skip", "call"]


@dataclass
class Box:
    """One drawn node: its type and settings, its name, its output shape and counts."""

    id: str
    kind: BoxKind
    title: str
    name: str = ""
    shape: str = ""
    params: int = 0
    buffers: int = 0
    frozen: bool = False
    output: bool = False
    note: str = ""
    mark: str = ""  # "added" or "changed" in a diff drawing


@dataclass
class Cluster:
    """An expanded block, repeat or model, drawn as a frame around its nodes."""

    id: str
    kind: ClusterKind
    title: str
    subtitle: str = ""
    frozen: bool = False
    items: list[Box | Cluster] = field(default_factory=list)
    mark: str = ""  # "added" or "changed" in a diff drawing


@dataclass
class Edge:
    src: str
    dst: str
    kind: EdgeKind = "flow"
    label: str = ""
    cluster: str = ""  # for call edges: the cluster of the called model


@dataclass
class Drawing:
    name: str
    title: str
    subtitle: str
    direction: str
    items: list[Box | Cluster] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def boxes(self) -> Iterator[Box]:
        return _boxes(self.items)

    def clusters(self) -> Iterator[Cluster]:
        return _clusters(self.items)


def _boxes(items: list[Box | Cluster]) -> Iterator[Box]:
    for item in items:
        if isinstance(item, Box):
            yield item
        else:
            yield from _boxes(item.items)


def _clusters(items: list[Box | Cluster]) -> Iterator[Cluster]:
    for item in items:
        if isinstance(item, Cluster):
            yield item
            yield from _clusters(item.items)


def build(
    analyses: list[Analysis], *, depth: Depth = None, direction: str = "TB", limit: int = MAX_DRAWN
) -> Drawing:
    """The drawing of one or more models of a spec, expanded to ``depth`` (see ``Depth``)."""
    if not analyses:
        raise ArchspecError("render", "there is no model to draw")
    if direction not in DIRECTIONS:
        raise ArchspecError(
            "unsupported", f"unknown diagram direction {direction!r}", hint="use TB (top to bottom) or LR"
        )
    drawn = {a.model for a in analyses} if len(analyses) > 1 else set()
    levels, notes = resolve_depth(analyses, depth, drawn, limit)
    first = analyses[0]
    title = (
        first.spec.name
        if len(analyses) > 1 or first.model == first.spec.name
        else (f"{first.spec.name} · {first.model}")
    )
    subtitle = "" if len(analyses) > 1 else _totals(first)
    d = Drawing(_ident(first.spec.name) or "model", title, subtitle, direction, notes=notes)
    b = _Builder(d, levels, drawn, limit)
    for a in analyses:
        b.model(a, multi=len(analyses) > 1)
    if b.skipped:
        d.notes.append(f"{b.skipped:,} more nodes not drawn (over the limit of {limit:,})")
    b.finish()
    mark_skips(d.edges)
    return d


class _Builder:
    def __init__(self, d: Drawing, depth: int | None, drawn: set[str], limit: int) -> None:
        self.d, self.depth, self.drawn, self.limit = d, depth, drawn, limit
        self.ids: set[str] = set()
        self.n = 0
        self.skipped = 0
        self.model_clusters: dict[str, str] = {}
        self.calls: list[tuple[str, str]] = []  # (box id, called model)

    def model(self, a: Analysis, multi: bool) -> None:
        self.a = a  # shapes are drawn at its sizes
        into = self.d.items
        root = a.model if multi else ""
        if multi:
            frame = Cluster(self._id("cluster_" + a.model), "model", f"model {a.model}", _totals(a))
            self.model_clusters[a.model] = frame.id
            into.append(frame)
            into = frame.items
        prod = self.graph(a.graph, root, 0, into, {}, True)
        for out in a.graph.outputs:
            self._mark_output(prod.get(split_ref(out)[0]))

    def graph(
        self,
        g: Graph,
        root: str,
        level: int,
        into: list[Box | Cluster],
        ports: dict[str, str | None],
        on: bool,
    ) -> dict[str, str | None]:
        """Draw ``g``'s nodes into ``into``; return the drawn producer of each node name."""
        prod = dict(ports)
        for node in g.nodes.values():
            if node.kind == "input":
                if node.name not in prod:
                    prod[node.name] = self._add(into, self._input(node, root))
                continue
            srcs = [prod.get(split_ref(i)[0]) for i in node.inputs]
            live = on and node.trainable
            if node.sub is not None and expand(node, level, self.depth, self.drawn):
                frame = self._frame(node, root, live)
                into.append(frame)
                inner = self._ports(node, node.sub, frame, root, srcs)
                got = self.graph(node.sub, root, level + 1, frame.items, inner, live)
                prod[node.name] = got.get(split_ref(node.sub.outputs[0])[0]) if node.sub.outputs else None
                continue
            box = self._box(node, root, live, len(node.inputs))
            prod[node.name] = self._add(into, box)
            if prod[node.name] is None:
                continue
            for ref, src in zip(node.inputs, srcs, strict=True):
                if src is not None:  # a named output (`enc.h`) labels its edge
                    self.d.edges.append(Edge(src, box.id, label=split_ref(ref)[1] or ""))
            if node.kind == "model" and node.type in self.drawn:
                self.calls.append((box.id, node.type))
        return prod

    def _ports(
        self, node: Node, sub: Graph, frame: Cluster, root: str, srcs: list[str | None]
    ) -> dict[str, str | None]:
        """A frame's entry nodes, one per input of the sub-graph: the first carries the title."""
        ports: dict[str, str | None] = {}
        for i, (inp, src) in enumerate(zip(sub.inputs, srcs, strict=True)):
            title = frame.title if i == 0 else f"input {inp}"
            sub_line = frame.subtitle if i == 0 else ""
            box = Box(self._id(_key(root, f"{node.path}.{inp}")), "port", title, note=sub_line)
            box.frozen = frame.frozen
            ports[inp] = self._add(frame.items, box)
            if src is not None and ports[inp] is not None:
                self.d.edges.append(Edge(src, box.id))
        return ports

    def finish(self) -> None:
        for box_id, model in self.calls:
            if model in self.model_clusters:
                first = next(_boxes(self._cluster(self.model_clusters[model]).items), None)
                if first is not None:
                    self.d.edges.append(Edge(box_id, first.id, "call", "calls", self.model_clusters[model]))

    def _cluster(self, cid: str) -> Cluster:
        return next(c for c in self.d.clusters() if c.id == cid)

    def _add(self, into: list[Box | Cluster], box: Box) -> str | None:
        if self.n >= self.limit:
            self.skipped += 1
            return None
        self.n += 1
        into.append(box)
        return box.id

    def _mark_output(self, box_id: str | None) -> None:
        for box in self.d.boxes():
            if box.id == box_id:
                box.output = True

    def _id(self, text: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_.:/-]", "_", text)[:120] or "_"
        out, i = base, 1
        while out in self.ids:
            i += 1
            out = f"{base}~{i}"
        self.ids.add(out)
        return out

    def _input(self, node: Node, root: str) -> Box:
        return Box(
            self._id(_key(root, node.path)), "input", "input", clip(node.name), clip(str(self.a.out(node)))
        )

    def _box(self, node: Node, root: str, live: bool, fan_in: int) -> Box:
        c = node.counts
        frozen = not live or (c.frozen > 0 and c.trainable == 0)
        note = f"{c.frozen:,} frozen" if c.frozen and c.trainable else ""
        if node.kind == "layer":
            kind: BoxKind = "merge" if fan_in > 1 else "layer"
            title = node.label
        elif node.kind == "repeat":
            kind, title = "repeat", _repeat_title(node)
        elif node.kind == "block":
            kind, title = "block", node.type + _args(node)
        else:
            kind, title = "model", f"model {node.type}"
            note = "" if node.type in self.drawn else "model call"
            if c.params == 0 and node.sub is not None and any(n.weights for n in node.sub.layers()):
                note = "shares the weights of an earlier call"
        if node.doc:
            note = f"{note} · {node.doc}" if note else node.doc
        return Box(
            self._id(_key(root, node.path)),
            kind,
            clip(title),
            clip(_local(node)),
            clip(str(self.a.out(node))),
            c.params,
            c.buffers,
            frozen,
            note=note,
        )

    def _frame(self, node: Node, root: str, live: bool) -> Cluster:
        c = node.counts
        if node.kind == "repeat":
            kind: ClusterKind = "repeat"
            title = f"{_local(node)}: {_repeat_title(node)}"
        elif node.kind == "block":
            kind, title = "block", f"{_local(node)}: {node.type}{_args(node)}"
        else:
            kind, title = "call", f"{_local(node)}: model {node.type}"
        sub = f"{c.params:,} params" if c.params else ""
        if (c.frozen and not c.trainable) or not live:
            sub = (sub + " · " if sub else "") + "frozen"
        return Cluster(self._id("cluster_" + _key(root, node.path)), kind, clip(title), sub, not live)


def mark_skips(edges: list[Edge]) -> None:
    """An edge into a merge is a skip when its source also reaches the merge another way."""
    g: nx.DiGraph = nx.DiGraph()
    flows = [e for e in edges if e.kind == "flow"]
    g.add_edges_from((e.src, e.dst) for e in flows)
    for e in flows:
        if g.in_degree(e.dst) < 2 or not g.has_edge(e.src, e.dst):
            continue
        g.remove_edge(e.src, e.dst)
        if nx.has_path(g, e.src, e.dst):
            e.kind = "skip"
        g.add_edge(e.src, e.dst)


def _key(root: str, path: str) -> str:
    return f"{root}/{path}" if root else path


def _repeat_title(node: Node) -> str:
    """``basic(channels=64, stride=2|1) × 2``: settings that differ between copies list their values."""
    n = getattr(node, "args", {}).get("count", 0)
    copies = list(node.sub.body()) if node.sub is not None else []
    if not copies:
        return f"{node.type} × {n}"
    if copies[0].kind == "block":
        return f"{node.type}{_args(*copies)} × {n}"
    labels = list(dict.fromkeys(c.label for c in copies))
    return f"{labels[0]} × {n}" if len(labels) == 1 else f"{node.type} (varied) × {n}"


def _args(*nodes: Node) -> str:
    """Block arguments as ``(k=v, ...)``; across several copies, ``k=v1|v2`` where they differ."""
    if not nodes or nodes[0].kind != "block" or not getattr(nodes[0], "args", None):
        return ""
    parts = []
    for k in getattr(nodes[0], "args", {}):
        values = list(dict.fromkeys(str(getattr(c, "args", {}).get(k)) for c in nodes))
        shown = values if len(values) <= 3 else [*values[:3], "…"]
        parts.append(f"{k}={'|'.join(shown)}")
    return f"({', '.join(parts)})"


def _local(node: Node) -> str:
    """The node's name; for a copy in a repeat, the repeat's name and its index."""
    parts = node.path.split(".")
    if len(parts) > 1 and parts[-1].isdigit():
        return ".".join(parts[-2:])
    return node.name


def _totals(a: Analysis) -> str:
    parts = [f"{a.total_params:,} params"]
    if a.non_trainable_params:
        parts.append(f"{a.trainable_params:,} trainable, {a.non_trainable_params:,} frozen")
    if a.buffers:
        parts.append(f"{a.buffers:,} buffers")
    return " · ".join(parts)


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """One line of plain text: control characters become spaces; long text is cut with '…'."""
    flat = "".join(" " if _control(ch) else ch for ch in str(text))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _control(ch: str) -> bool:
    o = ord(ch)
    return o < 32 or 0x7F <= o < 0xA0 or 0xD800 <= o < 0xE000 or o in (0x2028, 0x2029, 0xFFFE, 0xFFFF)


def _ident(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)[:80]
