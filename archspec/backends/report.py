"""The summary table and the ``--json`` report (no torch on this path)."""

from __future__ import annotations

import html
from typing import Any

from archspec.ir.graph import Graph, GraphNode, Node
from archspec.passes import Analysis
from archspec.shapes import TensorType, dim_json, fmt_shape

RULE = "=" * 86
THIN = "-" * 86


def summary_text(a: Analysis, depth: int | None = None) -> str:
    """A torchinfo-style table: one row per node, blocks indented, then the totals."""
    rows = [
        (_name(d, n), fmt_shape(a.out(n).shape), _count(n)) for d, n in a.graph.walk() if _shown(d, depth)
    ]
    width = max([len(r[0]) for r in rows] + [30])
    shape_w = max([len(r[1]) for r in rows] + [20])
    rule = "=" * max(len(RULE), width + shape_w + 20)

    def line(a_: str, b: str, c: str) -> str:
        return f"{a_:<{width}}  {b:>{shape_w}}  {c:>15}"

    ins = ", ".join(f"{k}: {v}" for k, v in a.inputs.items())
    out = [
        f"Model: {a.model} ({a.spec.shown_path})",
        f"Inputs: {ins}",
        rule,
        line("Layer (type)", "Output Shape", "Param #"),
        rule,
    ]
    out += [line(*r) for r in rows]
    out += [
        rule,
        f"Total params: {a.total_params:,}",
        f"Trainable params: {a.trainable_params:,}",
        f"Non-trainable params: {a.non_trainable_params:,}",
        f"Buffers: {a.buffers:,}",
        f"MACs: {_macs(a)}",
        f"Other FLOPs: {_macs(a, a.other_flops)}",
        rule,
    ]
    return "\n".join(out)


def _shown(depth_of_node: int, depth: int | None) -> bool:
    return depth is None or depth_of_node < depth


def _name(depth: int, n: Node) -> str:
    count = n.args.get("count", 0) if isinstance(n, GraphNode) else 0
    kind = {
        "repeat": f"{n.type} ×{count}",
        "block": f"block {n.type}",
        "model": f"model {n.type}",
    }
    what = kind.get(n.kind, n.layer.display_name() if n.layer else n.type)
    frozen = "" if n.trainable else " [frozen]"
    return f"{'  ' * depth}{n.name} ({what}){frozen}"


def _count(n: Node) -> str:
    p = n.counts.params
    if n.kind != "layer":
        return f"{p:,}" if p else "--"
    return f"{p:,}"


def _macs(a: Analysis, value: int | None = None) -> str:
    """MACs (or another count at the same sizes), saying which symbolic dims count as 1."""
    sym = sorted({s for t in a.inputs.values() for s in t.symbols})
    unit = f"{a.macs if value is None else value:,}"
    return unit + (f" (with {', '.join(f'{s}=1' for s in sym)})" if sym else "")


# HTML (notebooks) ---------------------------------------------------------------------


def summary_html(a: Analysis, depth: int | None = None) -> str:
    """The summary table as HTML (what a notebook shows for an ``Analysis``); all text escaped."""
    e = html.escape
    ins = ", ".join(f"{k}: {v}" for k, v in a.inputs.items())
    head = "".join(f'<th style="text-align:{al}">{t}</th>' for t, al in _HTML_COLUMNS)
    rows = []
    for d, n in a.graph.walk():
        if not _shown(d, depth):
            continue
        name = _name(0, n)
        cells = [
            f'<td style="text-align:left;padding-left:{0.5 + 1.25 * d:g}em">{e(name)}</td>',
            f'<td style="text-align:right"><code>{e(fmt_shape(a.out(n).shape))}</code></td>',
            f'<td style="text-align:right">{e(_count(n))}</td>',
            f'<td style="text-align:right">{a.macs_of(n):,}</td>',
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    totals = [
        ("Total params", f"{a.total_params:,}"),
        ("Trainable params", f"{a.trainable_params:,}"),
        ("Non-trainable params", f"{a.non_trainable_params:,}"),
        ("Buffers", f"{a.buffers:,}"),
        ("MACs", _macs(a)),
        ("Other FLOPs", _macs(a, a.other_flops)),
    ]
    foot = "".join(
        f'<tr><th colspan="2" style="text-align:left">{k}</th><td colspan="2" style="text-align:right">'
        f"{e(v)}</td></tr>"
        for k, v in totals
    )
    return (
        '<table class="archspec-summary">'
        f'<caption style="text-align:left"><b>Model: {e(a.model)}</b> ({e(a.spec.shown_path)})<br/>'
        f"Inputs: {e(ins)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody><tfoot>{foot}</tfoot></table>"
    )


_HTML_COLUMNS = [("Layer (type)", "left"), ("Output Shape", "right"), ("Param #", "right"), ("MACs", "right")]


# JSON ---------------------------------------------------------------------------------


def to_json(analyses: list[Analysis]) -> dict[str, Any]:
    """The ``archspec check --json`` object (see docs/cli.md for the contract)."""
    return {"models": [_model_json(a) for a in analyses]}


def _model_json(a: Analysis) -> dict[str, Any]:
    return {
        "name": a.model,
        "spec": a.spec.shown_path,
        "inputs": {k: _type_json(v) for k, v in a.inputs.items()},
        "outputs": {k: _type_json(v) for k, v in a.outputs.items()},
        "total_params": a.total_params,
        "trainable_params": a.trainable_params,
        "non_trainable_params": a.non_trainable_params,
        "buffers": a.buffers,
        "macs": a.macs,
        "other_flops": a.other_flops,
        "training_flops": {"forward": a.flops.forward, "backward": a.flops.backward},
        "sizes": a.sizes,
        "nodes": _nodes_json(a, a.graph, {}, 0),
    }


def _type_json(t: TensorType) -> dict[str, Any]:
    return {"shape": [dim_json(d) for d in t.shape], "dtype": t.dtype}


def _nodes_json(a: Analysis, graph: Graph, outer: dict[str, str], depth: int) -> list[dict[str, Any]]:
    """Nodes depth-first; ``inputs`` are resolved to the producing node's path."""
    out: list[dict[str, Any]] = []
    resolve = dict(outer)
    for node in graph.nodes.values():
        if node.kind == "input":
            resolve.setdefault(node.name, outer.get(node.name, node.path))
    for node in graph.body():
        ins = [resolve.get(i, i) for i in node.inputs]
        out.append(_node_json(a, node, ins, depth))
        resolve[node.name] = _producer(node, ins)
        if node.sub is not None:
            inner = dict(zip(node.sub.inputs, ins, strict=True))
            out.extend(_nodes_json(a, node.sub, inner, depth + 1))
    return out


def _producer(node: Node, ins: list[str]) -> str:
    """The path of the layer that computes a node's output (inside blocks and repeats)."""
    if node.sub is None:
        return node.path
    inner = dict(zip(node.sub.inputs, ins, strict=True))
    out = node.sub.source(node.sub.outputs[0])
    if out.kind == "input":  # `repeat: 0` passes its input through
        return inner.get(out.name, node.path)
    return _producer(out, [inner.get(i, i) for i in out.inputs])


def _node_json(a: Analysis, node: Node, ins: list[str], depth: int) -> dict[str, Any]:
    out = a.out(node)
    return {
        "name": node.path,
        "type": node.type,
        "kind": node.kind,
        "depth": depth,
        "inputs": ins,
        "output_shape": [dim_json(d) for d in out.shape],
        "dtype": out.dtype,
        "params": node.counts.params,
        "trainable": node.trainable,
        "trainable_params": node.counts.trainable,
        "buffers": node.counts.buffers,
        "macs": a.macs_of(node),
        "other_flops": a.other_flops_of(node),
        "backward_flops": a.backward_flops_of(node),
        "label": node.label,
        "doc": node.doc,
        "line": node.loc.line if node.loc else None,
    }
