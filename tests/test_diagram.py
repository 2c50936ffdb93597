"""Diagrams: every spec to every format, safe escaping, depth, size limit, the gallery.

Images need a dot program (Graphviz's ``dot`` or the ``graphviz-pure`` wheel); the image
tests run once per program found and are skipped, saying why, when there is none.
The Mermaid output is checked by a small parser of the flowchart subset archspec writes.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

import archspec
from archspec.backends.diagram import build, render, to_dot, to_mermaid
from archspec.docsgen.gallery import header_comment, write_gallery
from archspec.errors import ArchspecError
from archspec.ir.graph import Counts, Graph, GraphNode, InputNode, LayerNode, Node
from archspec.layers.base import LayerType
from archspec.passes import Analysis, analyze_all
from archspec.shapes import tensor

render_mod = importlib.import_module("archspec.backends.diagram.render")  # the module, not the function
ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent / "diagram_specs"
SPECS = sorted((ROOT / "specs").glob("*.yaml")) + sorted(HERE.glob("*.yaml"))
SVG = "{http://www.w3.org/2000/svg}"


def _programs() -> list[tuple[str, str]]:
    found = []
    dot = shutil.which("dot")
    if dot:
        found.append(("dot", dot))
    folders = [Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))]
    pure = shutil.which("graphviz-pure") or next(
        (str(f / "graphviz-pure") for f in folders if (f / "graphviz-pure").is_file()), None
    )
    if pure:
        found.append(("graphviz-pure", pure))
    return found


PROGRAMS = _programs()
NO_DOT = "no dot program: `pip install graphviz-pure` or `apt-get install graphviz` to test images"
needs_dot = pytest.mark.skipif(not PROGRAMS, reason=NO_DOT)
PROGRAM_PARAMS = [pytest.param(p, id=name) for name, p in PROGRAMS] or [
    pytest.param(None, marks=pytest.mark.skip(reason=NO_DOT), id="no-dot")
]
PDF_PROGRAMS = [pytest.param(p, id=n) for n, p in PROGRAMS if n != "graphviz-pure"] or [
    pytest.param(
        None, marks=pytest.mark.skip(reason="PDF needs Graphviz: `apt-get install graphviz`"), id="no-dot"
    )
]


def analyses(path: Path) -> list[Analysis]:
    return analyze_all(archspec.load(path))


def spec_id(p: Path) -> str:
    return p.stem


# Mermaid: a parser of the flowchart subset archspec writes --------------------------------

ID = r"[A-Za-z_][A-Za-z0-9_]*"
LABEL = r'"([^"\n]*)"'
SHAPES = [(r"\(\[", r"\]\)"), (r"\[\[", r"\]\]"), (r"\(\(", r"\)\)"), (r"\[", r"\]")]
NODE_RE = re.compile(
    rf"^(?P<id>{ID})(?:" + "|".join(rf"{o}{LABEL}{c}" for o, c in SHAPES) + rf")(?::::(?P<cls>{ID}))?$"
)
EDGE_RE = re.compile(rf'^(?P<a>{ID}) (?P<arrow>-->|-\.->)(?:\|"(?P<label>[^"\n]*)"\|)? (?P<b>{ID})$')
SUBGRAPH_RE = re.compile(rf"^subgraph (?P<id>{ID})\[{LABEL}\]$")
CLASSDEF_RE = re.compile(rf"^classDef (?P<name>{ID}) (?P<css>[A-Za-z0-9#:;,. %()-]+)$")
CLASS_RE = re.compile(rf"^class (?P<ids>{ID}(?:,{ID})*) (?P<name>{ID})$")
STYLE_RE = re.compile(rf"^style (?P<id>{ID}) (?P<css>[A-Za-z0-9#:;,. %()-]+)$")
RESERVED = {
    "end",
    "subgraph",
    "graph",
    "flowchart",
    "class",
    "classDef",
    "style",
    "click",
    "direction",
    "default",
}
ALLOWED_TAGS = re.compile(r"</?b>|<br/>")


class MermaidError(Exception):
    pass


@dataclass
class Chart:
    nodes: dict[str, str]
    subgraphs: dict[str, str]
    edges: list[tuple[str, str, str]]


def parse_mermaid(text: str) -> Chart:
    """Check ``text`` against the flowchart grammar; return its nodes, subgraphs and edges."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    i = 0
    if lines[0] == "---":
        end = lines.index("---", 1)
        front = yaml.safe_load("\n".join(lines[1:end]))
        if set(front) - {"title", "config"} or set(front.get("config", {})) - {"flowchart"}:
            raise MermaidError(f"unknown front-matter key in {sorted(front)}")
        title = next(fm for fm in lines[1:end] if fm.startswith("title: "))
        json.loads(title.partition(": ")[2])  # a JSON string is a valid YAML double-quoted scalar
        i = end + 1
    m = re.fullmatch(r"flowchart (TB|TD|BT|RL|LR)", lines[i])
    if not m:
        raise MermaidError(f"expected 'flowchart DIR', got {lines[i]!r}")
    nodes: dict[str, str] = {}
    subgraphs: dict[str, str] = {}
    edges: list[tuple[str, str, str]] = []
    classes_used: list[str] = []
    classdefs: set[str] = set()
    stack: list[str] = []
    for raw in lines[i + 1 :]:
        line = raw.strip()
        if not line or line.startswith("%%"):
            continue
        if raw.rstrip() != raw:
            raise MermaidError(f"trailing space: {raw!r}")
        if line == "end":
            if not stack:
                raise MermaidError("'end' without 'subgraph'")
            stack.pop()
        elif m := re.fullmatch(r"direction (TB|LR)", line):
            if not stack:
                raise MermaidError("'direction' outside a subgraph")
        elif m := SUBGRAPH_RE.match(line):
            _define(m["id"], nodes, subgraphs)
            subgraphs[m["id"]] = _check_label(m.group(2))
            stack.append(m["id"])
        elif m := EDGE_RE.match(line):
            if m["label"] is not None:
                _check_label(m["label"])
            edges.append((m["a"], m["b"], m["arrow"]))
        elif m := CLASSDEF_RE.match(line):
            classdefs.add(m["name"])
        elif m := CLASS_RE.match(line):
            classes_used.append(m["name"])
            for ref in m["ids"].split(","):
                if ref not in nodes and ref not in subgraphs:
                    raise MermaidError(f"class on undefined id {ref}")
        elif m := STYLE_RE.match(line):
            if m["id"] not in nodes and m["id"] not in subgraphs:
                raise MermaidError(f"style on undefined id {m['id']}")
        elif m := NODE_RE.match(line):
            _define(m["id"], nodes, subgraphs)
            nodes[m["id"]] = _check_label(next(g for g in m.groups()[1:] if g is not None))
            if m["cls"]:
                classes_used.append(m["cls"])
        else:
            raise MermaidError(f"not a flowchart statement: {line!r}")
    if stack:
        raise MermaidError(f"unclosed subgraph {stack[-1]}")
    for a, b, _ in edges:
        for end_ in (a, b):
            if end_ not in nodes and end_ not in subgraphs:
                raise MermaidError(f"edge to undefined id {end_}")
    missing = set(classes_used) - classdefs
    if missing:
        raise MermaidError(f"classes used but not defined: {missing}")
    return Chart(nodes, subgraphs, edges)


def _define(ident: str, nodes: dict[str, str], subgraphs: dict[str, str]) -> None:
    if ident in RESERVED:
        raise MermaidError(f"reserved word as id: {ident}")
    if ident in nodes or ident in subgraphs:
        raise MermaidError(f"{ident} defined twice")


def _check_label(label: str) -> str:
    bare = ALLOWED_TAGS.sub("", label)
    if "<" in bare or ">" in bare or "`" in bare:
        raise MermaidError(f"raw markup in label {label!r}")
    if re.search(r"#(?!\w+;)", bare):
        raise MermaidError(f"stray '#' in label {label!r}")
    return label


def test_parser_rejects_bad_charts() -> None:
    good = 'flowchart TB\n  n1["a"]:::x\n  n1 --> n1\n  classDef x fill:#fff\n'
    parse_mermaid(good)
    for bad in [
        'flowchart XX\n  n1["a"]\n',
        'flowchart TB\n  n1["a"b"]\n',
        'flowchart TB\n  n1["<script>"]\n',
        'flowchart TB\n  n1["a"]\n  n1 --> n2\n',
        'flowchart TB\n  subgraph c1["x"]\n  n1["a"]\n',
        'flowchart TB\n  end["a"]\n',
        'flowchart TB\n  n1["a"]:::nope\n',
    ]:
        with pytest.raises(MermaidError):
            parse_mermaid(bad)


# Every spec, every format ---------------------------------------------------------------


@pytest.mark.parametrize("path", SPECS, ids=spec_id)
@pytest.mark.parametrize("depth", [None, 1])
def test_text_formats(path: Path, depth: int | None, tmp_path: Path) -> None:
    a = analyses(path)
    dot = render(a, tmp_path / "d.dot", depth=depth).read_text()
    mmd = render(a, tmp_path / "d.mmd", depth=depth, direction="LR").read_text()
    d = build(a, depth=depth)
    chart = parse_mermaid(mmd)
    assert "\nflowchart LR\n" in mmd
    boxes = list(d.boxes())
    assert len(chart.nodes) == len(boxes) + (1 if d.subtitle else 0) + len(d.notes)
    assert dot.startswith("digraph ") and dot.rstrip().endswith("}")
    for box in boxes:
        assert f'"{box.id}" [' in dot
    assert dot.count(" -> ") == len(d.edges)


@pytest.mark.parametrize("program", PROGRAM_PARAMS)
@pytest.mark.parametrize("path", SPECS, ids=spec_id)
def test_svg_has_every_layer(
    path: Path, program: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCHSPEC_DOT", program)
    a = analyses(path)
    data = render(a, tmp_path / "d.svg", depth="all").read_bytes()
    assert b"Generated by" not in data
    root = ET.fromstring(data)
    titles = {
        t.text for g in root.iter(f"{SVG}g") if g.get("class") == "node" for t in g.findall(f"{SVG}title")
    }
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    multi = len(a) > 1
    for an in a:
        for _, node in an.graph.walk():
            if node.kind == "layer" and not (multi and _inside_call(an, node)):
                key = f"{an.model}/{node.path}" if multi else node.path
                assert key in titles, f"no SVG node for layer {key}"
                assert node.label.split(" ")[0] in texts
    assert len(titles) == len(list(build(a, depth="all").boxes()))


def _inside_call(a: Analysis, node: Node) -> bool:
    """Layers of a called model are drawn in that model's own frame, not in the caller's."""
    first = node.path.split(".")[0]
    top = a.graph.nodes.get(first)
    return top is not None and top.kind == "model"


@pytest.mark.parametrize("program", PROGRAM_PARAMS)
@pytest.mark.parametrize("path", SPECS, ids=spec_id)
def test_png(path: Path, program: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHSPEC_DOT", program)
    out = render(analyses(path), tmp_path / "d.png", depth=1, direction="LR")
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize("program", PDF_PROGRAMS)
@pytest.mark.parametrize("path", SPECS, ids=spec_id)
def test_pdf(path: Path, program: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHSPEC_DOT", program)
    assert render(analyses(path), tmp_path / "d.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("program", PROGRAM_PARAMS)
def test_svg_is_deterministic(program: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHSPEC_DOT", program)
    a = analyses(HERE / "gan.yaml")
    assert render(a, tmp_path / "a.svg").read_bytes() == render(a, tmp_path / "b.svg").read_bytes()


def test_graphviz_pure_has_no_pdf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pure = dict(PROGRAMS).get("graphviz-pure")
    if pure is None:
        pytest.skip("graphviz-pure is not installed")
    monkeypatch.setenv("ARCHSPEC_DOT", pure)
    with pytest.raises(ArchspecError) as e:
        render(analyses(ROOT / "specs" / "mlp.yaml"), tmp_path / "d.pdf")
    assert e.value.code == "missing-dependency" and "apt-get install graphviz" in str(e.value)


# What is drawn ---------------------------------------------------------------------------


def test_collapsed_and_expanded_counts() -> None:
    a = analyses(HERE / "resmlp.yaml")
    full, two, one = build(a), build(a, depth=2), build(a, depth=1)
    top = len(a[0].graph.inputs) + len(list(a[0].graph.body()))
    assert len(list(one.boxes())) == top == 9
    assert not list(one.clusters())
    # expanded: each block's 5 layers, with an entry node per frame (block1, stage, stage.0, stage.1)
    assert len(list(full.boxes())) == top - 2 + 3 * 5 + 4
    assert [c.kind for c in full.clusters()] == ["block", "repeat", "block", "block"]
    # depth 2: the repeat is a frame of two collapsed blocks
    assert [c.kind for c in two.clusters()] == ["block", "repeat"]
    repeat = next(b for b in one.boxes() if b.kind == "repeat")
    assert repeat.title == "residual(width=64) × 2" and repeat.name == "stage"
    assert repeat.params == 2 * 8320


def test_node_contents() -> None:
    d = build(analyses(ROOT / "specs" / "mlp.yaml"))
    fc1 = next(b for b in d.boxes() if b.id == "fc1")
    assert (fc1.title, fc1.shape, fc1.params) == ("Linear → 516", "float32[batch, 516]", 66_564)
    dot = to_dot(d)
    assert "Linear → 516" in dot and "66,564 params" in dot and "float32[batch, 516]" in dot
    assert "333,853 params" in dot
    fc3 = next(b for b in d.boxes() if b.id == "fc3")
    assert fc3.output


def test_skip_connections_are_marked() -> None:
    d = build(analyses(HERE / "resmlp.yaml"))
    skips = [e for e in d.edges if e.kind == "skip"]
    # one identity shortcut per residual block; wide/wide2 -> mix is a plain merge
    assert len(skips) == 3
    assert all(e.dst.endswith(".out") for e in skips)
    assert to_dot(d).count('style=dashed, penwidth=1.4, tooltip="skip connection"') == 3
    assert to_mermaid(d).count('-.->|"skip"|') == 3
    merges = [b for b in d.boxes() if b.kind == "merge"]
    assert {b.name for b in merges} == {"out", "mix"}


def test_frozen_parts_are_marked() -> None:
    d = build(analyses(HERE / "resmlp.yaml"))
    stem = next(b for b in d.boxes() if b.id == "stem")
    assert stem.frozen
    assert not next(b for b in d.boxes() if b.id == "stem_act").frozen
    dot = to_dot(d)
    assert re.search(r'"stem" \[label=<[^\n]*frozen[^\n]*style="filled,rounded,dashed"', dot)
    assert "class n2 frozen" in to_mermaid(d)


def test_multi_model_spec() -> None:
    a = analyses(HERE / "gan.yaml")
    d = build(a)
    assert [c.id for c in d.clusters()] == ["cluster_generator", "cluster_discriminator", "cluster_gan"]
    calls = [e for e in d.edges if e.kind == "call"]
    assert [(e.src, e.cluster) for e in calls] == [
        ("gan/fake", "cluster_generator"),
        ("gan/judge", "cluster_discriminator"),
    ]
    judge = next(b for b in d.boxes() if b.id == "gan/judge")
    assert judge.frozen and judge.kind == "model" and judge.title == "model discriminator"
    dot = to_dot(d)
    assert 'lhead="cluster_generator"' in dot and "compound=true" in dot
    chart = parse_mermaid(to_mermaid(d))
    assert sum(1 for _, b, _ in chart.edges if b in chart.subgraphs) == 2
    # one model alone: its calls are expanded as frames
    alone = build(analyses(HERE / "gan.yaml")[2:])
    assert [c.kind for c in alone.clusters()] == ["call", "call"]
    assert not [e for e in alone.edges if e.kind == "call"]


def test_size_limit_collapses_and_says_so(tmp_path: Path) -> None:
    spec = archspec.load_text(
        "name: huge\ninputs: {x: [batch, 8]}\n"
        "blocks:\n  pair:\n    layers: [{linear: 8}, relu]\n"
        "layers:\n  - {name: tower, pair: {}, repeat: 800}\n  - {name: head, linear: 2}\n"
    )
    a = analyze_all(spec)
    d = build(a)
    assert len(list(d.boxes())) == 3
    assert d.notes and "drawn collapsed (depth 1)" in d.notes[0]
    assert "drawn collapsed" in to_dot(d) and "drawn collapsed" in to_mermaid(d)
    parse_mermaid(render(a, tmp_path / "h.mmd").read_text())
    # over the limit even collapsed: the rest is cut, with a note
    small = build(analyses(ROOT / "specs" / "mlp.yaml"), limit=3)
    assert len(list(small.boxes())) == 3
    assert any("3 more nodes not drawn" in n for n in small.notes)


def test_direction_and_depth_are_checked(tmp_path: Path) -> None:
    a = analyses(ROOT / "specs" / "mlp.yaml")
    assert "rankdir=LR" in render(a, tmp_path / "d.dot", direction="LR").read_text()
    for kwargs in ({"direction": "XY"}, {"depth": 0}):
        with pytest.raises(ArchspecError) as e:
            render(a, tmp_path / "d.dot", **kwargs)  # type: ignore[arg-type]
        assert e.value.code == "unsupported"
    with pytest.raises(ArchspecError) as e:
        render(a, tmp_path / "d.jpeg")
    assert e.value.code == "unsupported" and ".svg" in (e.value.hint or "")
    assert render(a, tmp_path / "noext", fmt="mmd").read_text().startswith("---\n")


# Hostile text ----------------------------------------------------------------------------

HOSTILE = 'q"uote \'s <b>x</b> &amp; back\\slash \\" end\n}{ ]; #quot; `md` -->|x| %% <!-- \x00\x1b\u2028 ]]>'


def hostile_analysis() -> Analysis:
    h = HOSTILE
    t = tensor(3)  # dims are symbols or ints: no text of theirs reaches a diagram

    class Hostile(LayerType):
        name = h

        @classmethod
        def label(cls, p: object) -> str:
            return h

    g = Graph(h, "model", "")
    g.nodes[h] = InputNode(h, h, outs={"out": t})
    g.inputs = [h]
    sub = Graph(h, "block", h + "b", doc=h, args={h: h})
    sub.nodes["input"] = InputNode("input", h + "b.input", outs={"out": t})
    sub.inputs = ["input"]
    sub.nodes[h + "1"] = LayerNode(
        h + "1", f"{h}b.{h}1", inputs=["input"], outs={"out": t}, counts=Counts(5), layer_type=Hostile
    )
    sub.outputs = [h + "1"]
    g.nodes[h + "b"] = GraphNode(
        h + "b", h + "b", None, [h], outs={"out": t}, counts=Counts(5), of=h, graph=sub, args={h: h}
    )
    g.nodes[h + "c"] = LayerNode(
        h + "c", h + "c", None, [h + "b", h], outs={"out": t}, trainable=False, layer_type=Hostile
    )
    g.outputs = [h + "c"]
    spec = SimpleNamespace(name=h, path=h)
    return Analysis(spec, h, g, Counts(5))  # type: ignore[arg-type]


def test_hostile_text_is_escaped(tmp_path: Path) -> None:
    a = [hostile_analysis()]
    for depth in (None, 1):
        d = build(a, depth=depth)
        dot = to_dot(d)
        assert "<b>x</b>" not in dot and "&lt;b&gt;x&lt;/b&gt;" in dot
        assert "\x00" not in dot and "\x1b" not in dot and "\u2028" not in dot
        assert all(line.endswith(("{", "}", ";")) for line in dot.splitlines()), "a newline got through"
        # every quoted DOT string is closed on its line: count unescaped quotes
        for line in dot.splitlines():
            assert len(re.findall(r'(?<!\\)"', line.replace("\\\\", ""))) % 2 == 0, line
        chart = parse_mermaid(to_mermaid(d))
        assert any("#lt;b#gt;x#lt;/b#gt;" in label for label in chart.nodes.values())


@pytest.mark.parametrize("program", PROGRAM_PARAMS)
def test_hostile_text_in_svg(program: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHSPEC_DOT", program)
    root = ET.fromstring(render([hostile_analysis()], tmp_path / "h.svg").read_bytes())
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert any("<b>x</b>" in t for t in texts), "the markup should survive as plain text"
    assert not list(root.iter("b")) and not list(root.iter(f"{SVG}b"))


# The dot program -------------------------------------------------------------------------


def test_no_dot_program_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARCHSPEC_DOT", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(render_mod, "PURE", "no-such-graphviz-pure")
    a = analyses(ROOT / "specs" / "mlp.yaml")
    with pytest.raises(ArchspecError) as e:
        render(a, tmp_path / "d.svg")
    assert e.value.code == "missing-dependency"
    assert "pip install graphviz-pure" in str(e.value) and "apt-get install graphviz" in str(e.value)
    assert not (tmp_path / "d.svg").exists()
    assert render(a, tmp_path / "d.dot").exists() and render(a, tmp_path / "d.mmd").exists()


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "fake-dot"
    path.write_text(f"#!{sys.executable}\nimport sys, time\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_dot_failure_reports_stderr_and_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "ARCHSPEC_DOT", _script(tmp_path, "sys.stderr.write('syntax error in line 3'); sys.exit(1)")
    )
    out = tmp_path / "d.svg"
    out.write_text("old")
    with pytest.raises(ArchspecError) as e:
        render(analyses(ROOT / "specs" / "mlp.yaml"), out)
    assert e.value.code == "render" and "syntax error in line 3" in str(e.value)
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_dot_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHSPEC_DOT", _script(tmp_path, "time.sleep(30)"))
    with pytest.raises(ArchspecError) as e:
        render_mod.run_dot("digraph { a }", "svg", timeout=0.5)
    assert e.value.code == "render" and "0.5 s" in str(e.value)


def test_missing_env_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHSPEC_DOT", str(tmp_path / "nope"))
    with pytest.raises(ArchspecError) as e:
        render_mod.run_dot("digraph { a }", "png")
    assert e.value.code == "missing-dependency"


def test_diagrams_do_not_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; import archspec\n"
        "from archspec.passes import analyze_all\n"
        "from archspec.backends.diagram import render\n"
        "from archspec.docsgen.gallery import write_gallery\n"
        f"spec = archspec.load({str(ROOT / 'specs' / 'mlp.yaml')!r})\n"
        f"render(analyze_all(spec), Path({str(tmp_path / 'm.mmd')!r}))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'graphviz' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


# The gallery -----------------------------------------------------------------------------


def test_header_comment() -> None:
    lines = header_comment(HERE / "resmlp.yaml")
    assert lines[0].startswith("A small ResNet-like MLP") and len(lines) == 2
    assert not any("yaml-language-server" in line for line in lines)


@needs_dot
def test_gallery_is_deterministic(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    for name in ("resmlp.yaml", "gan.yaml"):
        shutil.copy(HERE / name, specs / name)
    shutil.copy(ROOT / "specs" / "mlp.yaml", specs / "mlp.yaml")
    first = write_gallery(specs, tmp_path / "docs" / "gallery.md", tmp_path / "docs" / "gallery")
    assert [p.name for p in first] == ["gan.svg", "mlp.svg", "resmlp.svg", "gallery.md"]
    before = {p: p.read_bytes() for p in first}
    second = write_gallery(specs, tmp_path / "docs" / "gallery.md", tmp_path / "docs" / "gallery")
    assert {p: p.read_bytes() for p in second} == before
    page = (tmp_path / "docs" / "gallery.md").read_text()
    assert "![simple_mlp diagram](gallery/mlp.svg)" in page
    assert "SimpleMLP from seed 001" in page and "yaml-language-server" not in page
    assert "### model discriminator" in page and "Total params: 333,853" in page
    assert str(tmp_path) not in page
    for svg in first[:-1]:
        ET.fromstring(svg.read_bytes())


@needs_dot
def test_committed_gallery_is_current(tmp_path: Path, update_golden: bool) -> None:
    page = ROOT / "docs" / "gallery.md"
    if update_golden:
        write_gallery(ROOT / "specs", page, ROOT / "docs" / "gallery")
    assert page.exists(), "docs/gallery.md is missing: run `archspec docs specs/ -o docs/gallery`"
    fresh = write_gallery(ROOT / "specs", tmp_path / "gallery.md", tmp_path / "gallery")
    assert fresh[-1].read_text() == page.read_text(), (
        "docs/gallery.md is stale: run `archspec docs specs/ -o docs/gallery` (or pytest --update-golden)"
    )
