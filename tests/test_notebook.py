"""The example notebook runs (nbclient) and shows a summary table and a diagram; the display
objects behave as Jupyter expects."""

from __future__ import annotations

import html

import pytest
from conftest import ROOT

import archspec
from archspec.backends.report import summary_html

NOTEBOOK = ROOT / "docs" / "notebook.ipynb"


def test_example_notebook_shows_a_table_and_diagrams() -> None:
    nbformat = pytest.importorskip("nbformat", reason="the dev extra: pip install -e '.[dev]'")
    nbclient = pytest.importorskip("nbclient", reason="the dev extra: pip install -e '.[dev]'")
    pytest.importorskip("ipykernel", reason="the dev extra: pip install -e '.[dev]'")
    pytest.importorskip("graphviz")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    tables = [o.data["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    svgs = [o.data["image/svg+xml"] for o in outputs if "image/svg+xml" in o.get("data", {})]
    assert len(tables) == 1 and "<table" in tables[0] and "Total params" in tables[0]
    assert "11,689,512" in tables[0]  # resnet18, as torchvision counts it
    assert len(svgs) == 2 and all("<svg" in s for s in svgs)
    assert "layer2: basic" in html.unescape(svgs[0]) and "ConvT2d" in svgs[1]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "flowchart TB" in printed


def test_summary_html_matches_the_text_table_and_escapes() -> None:
    a = archspec.analyze(str(ROOT / "specs" / "mlp.yaml"))
    page = summary_html(a)
    assert page.count("<tr>") == 1 + 5 + 6  # header, five layers, six totals
    assert "Other FLOPs</th>" in page and "2,065 (with batch=1)" in page
    assert "fc1 (Linear)" in page and "66,564" in page and "Total params</th>" in page
    assert "333,853" in page and a._repr_html_() == page
    a.model = "<script>x</script>"  # names are identifiers; the table escapes all the same
    shown = summary_html(a)
    assert "<script>" not in shown and "&lt;script&gt;" in shown


def test_diagram_is_a_graphviz_object_that_displays_as_svg() -> None:
    graphviz = pytest.importorskip("graphviz")
    d = archspec.diagram(ROOT / "specs" / "dcgan.yaml", model="generator", depth=1)
    assert isinstance(d, graphviz.Source)
    assert d.source.startswith('digraph "dcgan"')
    assert "up(channels=512|256|128|…, stride=1|2, padding=0|1) × 4" in html.unescape(d.source)
    bundle = d._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml") and 'text-anchor="middle"' in d.svg()
    assert d.copy().mermaid == d.mermaid and d.mermaid.count("subgraph") == 0  # depth 1: no frames
    everything = archspec.diagram(archspec.analyze(str(ROOT / "specs" / "resnet50.yaml")), depth="all")
    assert everything.source.count("[label=<") > 200
