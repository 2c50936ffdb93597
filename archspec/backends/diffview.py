"""How ``archspec diff`` shows a diff: text (totals side by side, then one row per block, or
deeper), a diagram of B with the changes marked, and the command itself."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from archspec.backends.diagram.view import Box, Cluster, Depth, Drawing, build
from archspec.backends.diff import ModelDiff, NodeDiff, SpecDiff, diff, setting_changes, to_json
from archspec.errors import ArchspecError

MARK = {"same": " ", "changed": "~", "added": "+", "removed": "-"}
LABELS = {
    "total_params": "Total params",
    "trainable_params": "Trainable params",
    "non_trainable_params": "Non-trainable params",
    "buffers": "Buffers",
    "macs": "MACs",
}


def format_text(d: SpecDiff, depth: int = 1) -> str:
    """Every paired model's totals and rows: all nodes above ``depth``, deeper ones when they differ."""
    parts = [_model_text(m, depth) for m in d.models]
    if d.only_a:
        parts.append("only in A: " + ", ".join(f"model {m}" for m in d.only_a))
    if d.only_b:
        parts.append("only in B: " + ", ".join(f"model {m}" for m in d.only_b))
    return "\n\n".join(parts)


def _model_text(m: ModelDiff, depth: int) -> str:
    a, b = m.a, m.b
    head = [f"A: {a.spec.path} (model {a.model})", f"B: {b.spec.path} (model {b.model})", ""]
    totals: list[tuple[str, ...]] = [("", "A", "B", "change")]
    for key, (x, y) in m.totals().items():
        totals.append((LABELS[key], f"{x:,}", f"{y:,}", _delta(x, y)))
    for name in sorted(set(a.outputs) | set(b.outputs)):
        ta, tb = a.outputs.get(name), b.outputs.get(name)
        totals.append(
            (f"Output {name}", str(ta or "-"), str(tb or "-"), "=" if str(ta) == str(tb) else "changed")
        )
    head += _table(totals, ("<", ">", ">", "<"))
    rows: list[tuple[str, ...]] = [
        ("", "Node", "Type", "Params", "Δ params", "Δ MACs", "Output shape", "What changed")
    ]
    rows += [_row(n) for n in m.nodes if n.depth < depth]
    counts = ", ".join(f"{m.count(s)} {s}" for s in ("changed", "added", "removed"))
    shape = f"{len([n for n in m.nodes if n.a])} nodes in A, {len([n for n in m.nodes if n.b])} in B"
    rule = "-" * min(120, max(len(line) for line in _table(rows, _ROW_ALIGN)))
    return "\n".join([*head, "", *_table(rows, _ROW_ALIGN), rule, f"{counts} ({shape}, matched by path)"])


_ROW_ALIGN = ("<", "<", "<", ">", ">", ">", "<", "<")


def _row(n: NodeDiff) -> tuple[str, ...]:
    a, b = n.a, n.b
    if a is None or b is None:
        side = b or a
        assert side is not None
        kind, params, shape = side.what, f"{side.params:,}", side.shape
    else:
        kind = a.what if a.what == b.what else f"{a.what} → {b.what}"
        params = f"{a.params:,}" if a.params == b.params else f"{a.params:,} → {b.params:,}"
        shape = "=" if a.shape == b.shape else f"{a.shape} → {b.shape}"
    name = n.path if not n.depth else "  " * n.depth + n.path.rpartition(".")[2]
    return (
        MARK[n.status],
        name,
        kind,
        params,
        _signed(n.delta("params")),
        _signed(n.delta("macs")),
        shape,
        _what(n),
    )


def _what(n: NodeDiff) -> str:
    if n.status in ("added", "removed"):
        return n.status
    parts = setting_changes(n)
    if n.inside:
        parts.append("layers inside: " + ", ".join(f"{v} {k}" for k, v in n.inside.items()))
    if not parts and n.changes:
        parts.append(", ".join(c for c in n.changes if c != "inside"))
    return "; ".join(parts)


def _signed(v: int) -> str:
    return "" if v == 0 else f"{v:+,}"


def _delta(x: int, y: int) -> str:
    if x == y:
        return "="
    pct = f" ({(y - x) / x:+.1%})" if x else ""
    return f"{y - x:+,}{pct}"


def _table(rows: list[tuple[str, ...]], align: tuple[str, ...]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(f"{cell:{al}{w}}" for cell, al, w in zip(r, align, widths, strict=True)).rstrip()
        for r in rows
    ]


# The diagram -----------------------------------------------------------------------------


def diff_drawing(m: ModelDiff, *, depth: Depth = None, direction: str = "TB") -> Drawing:
    """B's drawing with added nodes green and changed ones amber; removed ones in a note."""
    d = build([m.b], depth=depth, direction=direction)
    by_path = {n.path: n for n in m.nodes}
    items: list[Box | Cluster] = [*d.boxes(), *d.clusters()]
    for item in items:
        n = by_path.get(item.id.removeprefix("cluster_"))
        if n is not None and n.status in ("added", "changed"):
            item.mark = n.status
            if isinstance(item, Box):
                item.note = "; ".join(x for x in (item.note, _was(n)) if x)
    for box in d.boxes():  # a frame's title is on its (first) entry node: say there what it was
        n = by_path.get(box.id.rpartition(".")[0]) if box.kind == "port" else None
        if n is not None and n.status in ("added", "changed") and not box.title.startswith("input "):
            box.note = "; ".join(x for x in (box.note, _was(n)) if x)
    d.title = f"diff {m.a.model} → {m.b.model}"
    (pa, pb), (ma, mb) = m.totals()["total_params"], m.totals()["macs"]
    d.subtitle = f"params {pa:,} → {pb:,} ({_delta(pa, pb)})"
    d.notes.insert(0, f"MACs {ma:,} → {mb:,} ({_delta(ma, mb)})")
    removed = [
        n.path
        for n in m.nodes
        if n.status == "removed"
        and by_path.get(_parent(n.path)) is not None
        and by_path[_parent(n.path)].status != "removed"
    ]
    d.notes.insert(
        0,
        "green: added · amber: changed (was ...) · "
        + (
            f"removed: {', '.join(removed[:6])}{' …' if len(removed) > 6 else ''} ({len(removed)})"
            if removed
            else "nothing removed"
        ),
    )
    return d


def _parent(path: str) -> str:
    return path.rpartition(".")[0]


def _was(n: NodeDiff) -> str:
    if n.status == "added" or n.a is None:
        return "added"
    shape = f", {n.a.shape}" if n.b is not None and n.b.shape != n.a.shape else ""
    return f"was {n.a.what}, {n.a.params:,} params{shape}"


# The command -----------------------------------------------------------------------------


def add_diff_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Register ``archspec diff A B [--model M] [--model-b M] [--json] [--depth N] [--out FILE]``."""
    help_ = "what changed between two specs or two models, block by block"
    c: argparse.ArgumentParser = subparsers.add_parser("diff", help=help_, description=help_)
    c.add_argument("a", help="the spec before (A)")
    c.add_argument("b", help="the spec after (B)")
    c.add_argument("--model", default=None, help="compare this model of each spec")
    c.add_argument("--model-b", default=None, help="B's model, when it differs from --model")
    c.add_argument("--json", action="store_true", help="print the diff as JSON")
    c.add_argument("--depth", type=int, default=1, help="rows this many levels deep (default 1: blocks)")
    c.add_argument("--batch", type=int, default=None, help="size of the symbolic dim `batch`")
    c.add_argument(
        "-o", "--out", default=None, help="also draw B with the changes marked (.svg .png .mmd ...)"
    )
    c.set_defaults(func=run_diff)
    return c


def run_diff(args: argparse.Namespace) -> int:
    from archspec.backends.diagram.render import write_drawing

    if args.depth < 1:
        raise ArchspecError("bad-value", f"--depth must be at least 1, got {args.depth}")
    if args.batch is not None and args.batch <= 0:
        raise ArchspecError("dim-size", f"--batch must be a positive integer, got {args.batch}")
    sizes = {"batch": args.batch} if args.batch is not None else None
    d = diff(Path(args.a), Path(args.b), model=args.model, model_b=args.model_b, sizes=sizes)
    if args.out:
        if len(d.models) != 1:
            raise ArchspecError(
                "unsupported",
                f"--out draws one pair of models, and {len(d.models)} are paired",
                hint="pick one with --model",
            )
        out = write_drawing(diff_drawing(d.models[0]), Path(args.out))
        if not args.json:
            print(f"wrote {out}")
    print(json.dumps(to_json(d), indent=2) if args.json else format_text(d, args.depth))
    return 0
