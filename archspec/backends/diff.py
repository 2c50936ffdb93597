"""``archspec diff A B``: what changed between two specs, or two models, node by node.

Nodes are matched by path (``layer2.0.conv1``): a path in both is the same node, changed
when its type, settings, output shape, counts or anything inside it differ; a path in one
only was added or removed. Static analysis only: no torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from archspec.errors import ArchspecError
from archspec.ir.graph import GraphNode, Node
from archspec.passes import Analysis
from archspec.pipeline import analyze_all, load
from archspec.shapes import fmt_shape
from archspec.spec import Spec

Status = Literal["same", "changed", "added", "removed"]
TOTALS = ("total_params", "trainable_params", "non_trainable_params", "buffers", "macs")
Source = Spec | str | Path | Analysis | list[Analysis]


@dataclass(frozen=True)
class NodeInfo:
    """What is compared of one side's node."""

    kind: str
    type: str
    what: str  # as the summary table names it: `Conv2d`, `basic ×2`, `block basic`
    settings: dict[str, Any]
    shape: str
    params: int
    trainable: int
    buffers: int
    macs: int


@dataclass
class NodeDiff:
    path: str
    depth: int
    status: Status
    a: NodeInfo | None
    b: NodeInfo | None
    changes: list[str] = field(default_factory=list)  # type, settings, shape, params, macs, inside
    inside: dict[str, int] = field(default_factory=dict)  # descendants: added, removed, changed

    def delta(self, key: str) -> int:
        return int(getattr(self.b, key, 0) if self.b else 0) - int(getattr(self.a, key, 0) if self.a else 0)


@dataclass
class ModelDiff:
    a: Analysis
    b: Analysis
    nodes: list[NodeDiff]

    def totals(self) -> dict[str, tuple[int, int]]:
        return {k: (int(getattr(self.a, k)), int(getattr(self.b, k))) for k in TOTALS}

    def count(self, status: Status) -> int:
        return sum(1 for n in self.nodes if n.status == status)

    def status_of(self) -> dict[str, Status]:
        return {n.path: n.status for n in self.nodes}


@dataclass
class SpecDiff:
    models: list[ModelDiff]
    only_a: list[str] = field(default_factory=list)  # models in A with no partner in B
    only_b: list[str] = field(default_factory=list)


def diff(
    a: Source,
    b: Source,
    *,
    model: str | None = None,
    model_b: str | None = None,
    sizes: Mapping[str, int] | None = None,
) -> SpecDiff:
    """Compare specs ``a`` and ``b`` (paths, YAML text, loaded specs or analyses).

    ``model`` picks one model of each (``model_b``, when given, picks B's instead, so two
    models of one spec can be compared). Otherwise models are paired by name, and a single
    model on each side is paired whatever its name.
    """
    left = _analyses(a, model, sizes)
    right = _analyses(b, model_b or model, sizes)
    pairs, only_a, only_b = _pair(left, right)
    return SpecDiff([diff_models(x, y) for x, y in pairs], only_a, only_b)


def diff_models(a: Analysis, b: Analysis) -> ModelDiff:
    """Node by node, in B's order with A's removed nodes after their predecessor."""
    nodes_a = {n.path: (d, n) for d, n in a.graph.walk()}
    nodes_b = {n.path: (d, n) for d, n in b.graph.walk()}
    out: list[NodeDiff] = []
    for path in _merged_order(list(nodes_a), list(nodes_b)):
        da, na = nodes_a.get(path, (None, None))
        db, nb = nodes_b.get(path, (None, None))
        ia, ib = (_info(a, na) if na else None), (_info(b, nb) if nb else None)
        depth = db if db is not None else da
        assert depth is not None
        if ia is None or ib is None:
            out.append(NodeDiff(path, depth, "added" if ia is None else "removed", ia, ib))
        else:
            changes = _changes(ia, ib)
            out.append(NodeDiff(path, depth, "changed" if changes else "same", ia, ib, changes))
    _roll_up(out)
    return ModelDiff(a, b, out)


def _analyses(src: Source, model: str | None, sizes: Mapping[str, int] | None) -> list[Analysis]:
    if isinstance(src, Analysis):
        return [src]
    if isinstance(src, list):
        picked = [x for x in src if model is None or x.model == model]
        if not picked:
            raise ArchspecError("no-model", f"no model named '{model}' among the analyses")
        return picked
    spec = src if isinstance(src, Spec) else load(src)
    return analyze_all(spec, model, sizes)


def _pair(
    left: list[Analysis], right: list[Analysis]
) -> tuple[list[tuple[Analysis, Analysis]], list[str], list[str]]:
    if len(left) == 1 and len(right) == 1:
        return [(left[0], right[0])], [], []
    by_name = {x.model: x for x in right}
    pairs = [(x, by_name[x.model]) for x in left if x.model in by_name]
    paired = {x.model for x, _ in pairs}
    return (
        pairs,
        [x.model for x in left if x.model not in paired],
        [y.model for y in right if y.model not in paired],
    )


def _merged_order(a: list[str], b: list[str]) -> list[str]:
    out = list(b)
    in_b = set(b)
    for i, path in enumerate(a):
        if path not in in_b:
            out.insert(out.index(a[i - 1]) + 1 if i else 0, path)
    return out


def _info(a: Analysis, n: Node) -> NodeInfo:
    args = n.args if isinstance(n, GraphNode) else {}
    what = {
        "repeat": f"{n.type} ×{args.get('count', 0)}",
        "block": f"block {n.type}",
        "model": f"model {n.type}",
    }
    name = what.get(n.kind, n.layer.display_name() if n.layer else n.type)
    if n.kind == "layer" and n.params is not None:
        settings = n.params.model_dump(mode="json")
    else:
        settings = {k: v for k, v in args.items() if k != "count"}
    shape = fmt_shape(a.out(n).shape)
    c = n.counts
    return NodeInfo(n.kind, n.type, name, settings, shape, c.params, c.trainable, c.buffers, a.macs_of(n))


def _changes(a: NodeInfo, b: NodeInfo) -> list[str]:
    out = []
    if (a.kind, a.what) != (b.kind, b.what):
        out.append("type")
    if a.settings != b.settings:
        out.append("settings")
    if a.shape != b.shape:
        out.append("shape")
    if (a.params, a.buffers, a.trainable) != (b.params, b.buffers, b.trainable):
        out.append("params")
    if a.macs != b.macs:
        out.append("macs")
    return out


def _roll_up(nodes: list[NodeDiff]) -> None:
    """Count the layers added, removed and changed inside each node; a node with any is changed."""
    inside: dict[str, dict[str, int]] = {}
    for n in nodes:
        side = n.b or n.a
        if n.status == "same" or side is None or side.kind != "layer":
            continue
        parts = n.path.split(".")
        for k in range(1, len(parts)):
            counts = inside.setdefault(".".join(parts[:k]), {})
            counts[n.status] = counts.get(n.status, 0) + 1
    for n in nodes:
        n.inside = {
            s: inside[n.path][s] for s in ("added", "removed", "changed") if s in inside.get(n.path, {})
        }
        if n.inside and n.status in ("same", "changed"):
            n.status = "changed"
            n.changes.append("inside")


def setting_changes(n: NodeDiff, limit: int = 3) -> list[str]:
    """``key: old → new`` for the settings that differ (at most ``limit``, then ``…``)."""
    if n.a is None or n.b is None:
        return []
    keys = [k for k in {**n.a.settings, **n.b.settings} if n.a.settings.get(k) != n.b.settings.get(k)]
    shown = [f"{k}: {_value(n.a.settings.get(k))} → {_value(n.b.settings.get(k))}" for k in keys[:limit]]
    return shown + (["…"] if len(keys) > limit else [])


def _value(v: Any) -> str:
    return "-" if v is None else str(v)


def to_json(d: SpecDiff) -> dict[str, Any]:
    """The ``archspec diff --json`` object."""
    return {
        "models": [_model_json(m) for m in d.models],
        "only_in_a": d.only_a,
        "only_in_b": d.only_b,
    }


def _model_json(m: ModelDiff) -> dict[str, Any]:
    return {
        "a": {"spec": m.a.spec.path, "model": m.a.model},
        "b": {"spec": m.b.spec.path, "model": m.b.model},
        "totals": {k: {"a": x, "b": y, "delta": y - x} for k, (x, y) in m.totals().items()},
        "counts": {s: m.count(s) for s in ("added", "removed", "changed", "same")},
        "nodes": [
            {
                "path": n.path,
                "depth": n.depth,
                "status": n.status,
                "changes": n.changes,
                "inside": n.inside,
                "a": _info_json(n.a),
                "b": _info_json(n.b),
            }
            for n in m.nodes
        ],
    }


def _info_json(i: NodeInfo | None) -> dict[str, Any] | None:
    if i is None:
        return None
    return {
        "kind": i.kind,
        "type": i.type,
        "settings": i.settings,
        "output_shape": i.shape,
        "params": i.params,
        "trainable_params": i.trainable,
        "buffers": i.buffers,
        "macs": i.macs,
    }
