"""`archspec lsp` driven over stdio as an editor drives it: JSON-RPC with Content-Length framing."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("pygls")

from archspec.layers import registry
from archspec.lsp.client import Client

ROOT = Path(__file__).resolve().parents[1]

MISMATCH = """\
inputs: {x: [batch, 64, 56, 56]}
layers:
  - {name: conv, conv2d: {out: 128, kernel: 3, stride: 2, padding: 1}}
  - {name: bn, batch_norm}
  - {name: out, add: [bn, x]}
"""
FIXED = MISMATCH.replace("stride: 2, padding: 1", "padding: 1").replace("out: 128", "out: 64")


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    c = Client([sys.executable, "-m", "archspec", "lsp", "--stdio"], cwd=ROOT)  # -m: ROOT on sys.path
    caps = c.initialize(ROOT)["capabilities"]
    assert caps["hoverProvider"] and caps["definitionProvider"] and "completionProvider" in caps
    yield c
    assert c.close() == 0


def position_of(text: str, needle: str, offset: int = 0) -> tuple[int, int]:
    for line, content in enumerate(text.splitlines()):
        if needle in content:
            return line, content.index(needle) + offset
    raise AssertionError(needle)


def test_mismatch_reported_then_cleared(client: Client, tmp_path: Path) -> None:
    uri = (tmp_path / "mismatch.yaml").as_uri()
    client.open(uri, MISMATCH)
    diags = client.diagnostics(uri, 1)
    assert [d["code"] for d in diags] == ["shape-mismatch"]
    (d,) = diags
    # line 5 of the file (0-based 4): the `add` key of the entry `out`
    assert d["range"] == {"start": {"line": 4, "character": 16}, "end": {"line": 4, "character": 19}}
    assert d["severity"] == 1 and d["source"] == "archspec"
    assert "do not broadcast" in d["message"] and "hint: add a projection" in d["message"]

    client.replace(uri, FIXED, 2)
    assert client.diagnostics(uri, 2) == []

    hover = client.at(uri, "textDocument/hover", *position_of(FIXED, "conv2d"))
    value = hover["contents"]["value"]
    # conv 3x3 from 64 to 64 channels with a bias: 64*64*9 + 64 parameters; padding 1 keeps 56x56
    assert "**conv** · Conv2d" in value
    assert "output `float32[batch, 64, 56, 56]`" in value
    assert f"params **{64 * 64 * 9 + 64:,}**" in value
    assert f"MACs **{64 * 64 * 9 * 56 * 56:,}** (with batch=1)" in value
    assert hover["range"]["start"] == {"line": 2, "character": 4}


def test_completion_and_definition(client: Client, tmp_path: Path) -> None:
    text = FIXED + "  - \n"
    uri = (tmp_path / "edit.yaml").as_uri()
    client.open(uri, text)
    (d,) = client.diagnostics(uri, 1)  # `- ` with nothing after it is a null entry
    assert d["code"] == "schema" and d["range"]["start"]["line"] == 5

    result = client.at(uri, "textDocument/completion", 5, 4)
    labels = [i["label"] for i in result["items"]]
    assert set(registry()) <= set(labels)
    assert len(labels) == len(set(labels))  # each layer type once
    assert {"name", "inputs", "repeat"} <= set(labels)

    (loc,) = client.at(uri, "textDocument/definition", *position_of(text, "add: [bn, x]", len("add: [b")))
    assert loc["uri"] == uri
    line, col = position_of(text, "bn, batch_norm")
    assert loc["range"] == {
        "start": {"line": line, "character": col},
        "end": {"line": line, "character": col + 2},
    }
    (loc,) = client.at(uri, "textDocument/definition", *position_of(text, "add: [bn, x]", len("add: [bn, ")))
    assert loc["range"]["start"] == {"line": 0, "character": 9}  # the model input `x`


def test_ranges_in_utf16_units(client: Client, tmp_path: Path) -> None:
    # two characters outside the BMP before the error: two UTF-16 units each, one code point each
    text = MISMATCH.replace("{name: out,", '{doc: "\U0001f600\U0001f600", name: out,')
    uri = (tmp_path / "emoji.yaml").as_uri()
    client.open(uri, text)
    (d,) = client.diagnostics(uri, 1)
    col = text.splitlines()[4].index("add")
    assert d["range"]["start"] == {"line": 4, "character": col + 2}


def test_invalid_yaml_mid_edit(client: Client, tmp_path: Path) -> None:
    uri = (tmp_path / "half.yaml").as_uri()
    text = "inputs: {x: [batch, 16]\nlayers:\n  - {name: a, linear: {out: 8, \n"
    client.open(uri, text)
    (d,) = client.diagnostics(uri, 1)
    assert d["code"] == "syntax"
    # the server still answers on the broken text
    result = client.at(uri, "textDocument/completion", 2, 31)
    assert "bias" in [i["label"] for i in result["items"]]
    assert client.at(uri, "textDocument/hover", 2, 8) is None
    client.replace(uri, "", 2)
    assert client.diagnostics(uri, 2) == []  # an empty document is not a spec yet
