"""DOT text for a drawing: pure Python, no graphviz needed to write it.

Every piece of text from a spec goes into an HTML-like label through ``html.escape``
(after control characters are removed), and every ID is a quoted string of safe
characters, so no name, doc or shape can break the DOT, the labels or the SVG.
"""

from __future__ import annotations

import html

from archspec.backends.diagram.view import Box, Cluster, Drawing, Edge, clip

FONT = "Helvetica"
GREY = "#6c757d"

# fill, border for each kind of box
BOX_COLORS = {
    "input": ("#e7f5ff", "#1c7ed6"),
    "port": ("#ffffff", "#868e96"),
    "layer": ("#ffffff", "#495057"),
    "merge": ("#fff4e6", "#e8590c"),
    "block": ("#f3f0ff", "#7048e8"),
    "repeat": ("#ebfbee", "#2f9e44"),
    "model": ("#fff0f6", "#c2255c"),
    "note": ("#fff9db", "#f08c00"),
}
CLUSTER_COLORS = {
    "model": ("#fcfcfd", "#343a40"),
    "block": ("#f8f7ff", "#9775fa"),
    "repeat": ("#f4fbf5", "#51cf66"),
    "call": ("#fff5f9", "#f06595"),
}
MARK_COLORS = {"added": ("#d3f9d8", "#2b8a3e"), "changed": ("#fff3bf", "#f08c00")}  # diff drawings
FROZEN_FILL = "#e9ecef"
SKIP_COLOR = "#e8590c"
CALL_COLOR = "#c2255c"


def to_dot(d: Drawing) -> str:
    """The DOT source of ``d``."""
    lines = [
        f"digraph {quote(d.name)} {{",
        f"  graph [rankdir={d.direction}, fontname={quote(FONT)}, fontsize=13, labelloc=t, "
        f"labeljust=c, nodesep=0.25, ranksep=0.32, compound=true, label={_title(d)}];",
        f"  node [shape=box, style={quote('rounded,filled')}, fontname={quote(FONT)}, fontsize=11, "
        f"margin={quote('0.12,0.05')}, penwidth=1];",
        f"  edge [color={quote('#495057')}, arrowsize=0.7, fontname={quote(FONT)}, fontsize=9];",
    ]
    for item in d.items:
        _item(item, lines, "  ")
    for e in d.edges:
        lines.append(f"  {quote(e.src)} -> {quote(e.dst)}{_edge_attrs(e)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def quote(text: str) -> str:
    """A DOT quoted string (IDs and plain attribute values)."""
    return '"' + clip(text, 10_000).replace("\\", "\\\\").replace('"', '\\"') + '"'


def esc(text: str) -> str:
    """Text for an HTML-like label."""
    return html.escape(clip(text), quote=True)


def _title(d: Drawing) -> str:
    rows = [f"<B>{esc(d.title)}</B>"]
    if d.subtitle:
        rows.append(f'<FONT POINT-SIZE="10" COLOR="{GREY}">{esc(d.subtitle)}</FONT>')
    rows += [f'<FONT POINT-SIZE="10" COLOR="#c92a2a">note: {esc(n)}</FONT>' for n in d.notes]
    return "<" + "<BR/>".join(rows) + ">"


def _item(item: Box | Cluster, lines: list[str], pad: str) -> None:
    if isinstance(item, Box):
        lines.append(f"{pad}{quote(item.id)} [{_box_attrs(item)}];")
        return
    fill, border = MARK_COLORS.get(item.mark, CLUSTER_COLORS[item.kind])
    style = "rounded,filled,dashed" if item.frozen else "rounded,filled"
    if item.kind == "model":
        title = f'<B>{esc(item.title)}</B><BR ALIGN="LEFT"/>'
        if item.subtitle:
            title += f'<FONT POINT-SIZE="9" COLOR="{GREY}">{esc(item.subtitle)}</FONT><BR ALIGN="LEFT"/>'
    else:  # the title is on the frame's entry node, where no edge crosses it
        title = ""
    lines.append(f"{pad}subgraph {quote(item.id)} {{")
    lines.append(
        f"{pad}  graph [label={f'<{title}>' if title else quote('')}, style={quote(style)}, "
        f"fillcolor={quote(FROZEN_FILL if item.frozen else fill)}, color={quote(border)}, "
        f"fontsize=11, labeljust=l, penwidth={1.6 if item.kind == 'model' or item.mark else 1}];"
    )
    for sub in item.items:
        _item(sub, lines, pad + "  ")
    lines.append(f"{pad}}}")


def _box_attrs(b: Box) -> str:
    fill, border = BOX_COLORS[b.kind]
    if b.kind == "port":
        # a box with an invisible border, not plaintext: its outline tells where its middle is
        return f'label=<{_box_label(b)}>, shape=box, style=solid, color="transparent"'
    style = ["filled"]
    if b.kind in ("input", "layer", "merge", "note"):
        style.append("rounded")
    if b.frozen:
        style.append("dashed")
        fill = FROZEN_FILL
    if b.mark:
        fill, border = MARK_COLORS[b.mark]
    attrs = [
        f"label=<{_box_label(b)}>",
        f"style={quote(','.join(style))}",
        f"fillcolor={quote(fill)}",
        f"color={quote(border)}",
    ]
    if b.kind == "input":
        attrs.append("shape=ellipse")
    if b.kind in ("block", "repeat", "model"):
        attrs.append("peripheries=2")
    if b.output or b.mark:
        attrs.append("penwidth=2.2")
    return ", ".join(attrs)


def box_lines(b: Box) -> list[str]:
    """The plain-text lines of a box: title, shape, then name, counts and marks."""
    if b.kind == "input":
        return [f"{b.name}", b.shape]
    if b.kind == "port":
        return [b.title, b.note]
    meta = [b.name + (" (output)" if b.output else "")]
    if b.params:
        meta.append(f"{b.params:,} params")
    if b.buffers:
        meta.append(f"{b.buffers:,} buffers")
    if b.frozen:
        meta.append("frozen")
    if b.note:
        meta.append(b.note)
    return [b.title, b.shape, " · ".join(m for m in meta if m)]


def _box_label(b: Box) -> str:
    lines = box_lines(b)
    head = f"<B>{esc(lines[0])}</B>"
    if b.kind == "port":
        return head + (f'<BR/><FONT POINT-SIZE="9" COLOR="{GREY}">{esc(lines[1])}</FONT>' if lines[1] else "")
    rows = [head, f'<FONT POINT-SIZE="10">{esc(lines[1])}</FONT>']
    rows += [f'<FONT POINT-SIZE="9" COLOR="{GREY}">{esc(line)}</FONT>' for line in lines[2:] if line]
    return "<BR/>".join(rows)


def _edge_attrs(e: Edge) -> str:
    if e.kind == "skip":
        color = quote(SKIP_COLOR)
        return f" [color={color}, style=dashed, penwidth=1.4, tooltip={quote('skip connection')}]"
    if e.kind == "call":
        return (
            f" [color={quote(CALL_COLOR)}, style=dotted, penwidth=1.3, constraint=false, "
            f"lhead={quote(e.cluster)}, tooltip={quote(e.label)}]"
        )
    return f" [label=<{esc(e.label)}>]" if e.label else ""
