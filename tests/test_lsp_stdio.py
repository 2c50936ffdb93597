"""`archspec lsp` driven over stdio as an editor drives it: JSON-RPC with Content-Length framing."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pygls")

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 20.0

MISMATCH = """\
inputs: {x: [batch, 64, 56, 56]}
layers:
  - {name: conv, conv2d: {out: 128, kernel: 3, stride: 2, padding: 1}}
  - {name: bn, batch_norm}
  - {name: out, add: [bn, x]}
"""
FIXED = MISMATCH.replace("stride: 2, padding: 1", "padding: 1").replace("out: 128", "out: 64")


class Client:
    """A minimal LSP client: requests wait for their response; notifications are queued."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "archspec", "lsp", "--stdio"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env=env,
        )
        self.inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            headers: dict[str, str] = {}
            while True:
                line = out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                key, _, value = line.decode("ascii").partition(":")
                headers[key.strip().lower()] = value.strip()
            body = out.read(int(headers["content-length"]))
            self.inbox.put(json.loads(body))

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        stdin = self.proc.stdin
        assert stdin is not None
        stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        stdin.flush()

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self.send({"method": method, "params": params})

    def request(self, method: str, params: dict[str, Any]) -> Any:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        msg = self.wait(lambda m: m.get("id") == self.next_id and "method" not in m)
        assert "error" not in msg, msg
        return msg["result"]

    def wait(self, match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT_S
        skipped = []
        try:
            while True:
                msg = self.inbox.get(timeout=max(deadline - time.monotonic(), 0.01))
                if match(msg):
                    return msg
                skipped.append(msg)
        except queue.Empty:
            raise AssertionError(f"no such message from the server; got {skipped}") from None

    def diagnostics(self, uri: str, version: int) -> list[dict[str, Any]]:
        msg = self.wait(
            lambda m: (
                m.get("method") == "textDocument/publishDiagnostics"
                and m["params"]["uri"] == uri
                and m["params"].get("version") == version
            )
        )
        return msg["params"]["diagnostics"]  # type: ignore[no-any-return]

    def close(self) -> None:
        try:
            self.request("shutdown", {})
            self.notify("exit", {})
            self.proc.wait(timeout=10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                if f is not None:
                    f.close()


@pytest.fixture(scope="module")
def client() -> Any:
    c = Client()
    result = c.request("initialize", {"processId": os.getpid(), "rootUri": ROOT.as_uri(), "capabilities": {}})
    caps = result["capabilities"]
    assert caps["hoverProvider"] and caps["definitionProvider"] and "completionProvider" in caps
    c.notify("initialized", {})
    yield c
    c.close()
    assert c.proc.returncode == 0


def position_of(text: str, needle: str, offset: int = 0) -> dict[str, int]:
    for line, content in enumerate(text.splitlines()):
        if needle in content:
            return {"line": line, "character": content.index(needle) + offset}
    raise AssertionError(needle)


def test_mismatch_reported_then_cleared(client: Client, tmp_path: Path) -> None:
    uri = (tmp_path / "mismatch.yaml").as_uri()
    item = {"uri": uri, "languageId": "yaml", "version": 1, "text": MISMATCH}
    client.notify("textDocument/didOpen", {"textDocument": item})
    diags = client.diagnostics(uri, 1)
    assert [d["code"] for d in diags] == ["shape-mismatch"]
    (d,) = diags
    # line 5 of the file (0-based 4): the `add` key of the entry `out`
    assert d["range"] == {"start": {"line": 4, "character": 16}, "end": {"line": 4, "character": 19}}
    assert d["severity"] == 1 and d["source"] == "archspec"
    assert "dim 1 differs" in d["message"] and "hint: add a projection" in d["message"]

    change = {
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 5, "character": 0}},
        "text": FIXED,
    }
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [change]},
    )
    assert client.diagnostics(uri, 2) == []

    hover = client.request(
        "textDocument/hover", {"textDocument": {"uri": uri}, "position": position_of(FIXED, "conv2d")}
    )
    value = hover["contents"]["value"]
    # conv 3x3, 64 -> 64 channels, bias: 64*64*9 + 64 = 36,928 parameters; 56x56 kept by padding 1
    assert "**conv** · Conv2d" in value
    assert "float32[batch, 64, 56, 56]" in value
    assert "params **36,928**" in value
    assert f"MACs **{64 * 64 * 9 * 56 * 56:,}** (with batch=1)" in value
    assert hover["range"]["start"]["line"] == 2


def test_completion_and_definition(client: Client, tmp_path: Path) -> None:
    text = FIXED + "  - \n"
    uri = (tmp_path / "edit.yaml").as_uri()
    client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}},
    )
    client.diagnostics(uri, 1)  # `- ` with nothing after it is a null entry: an error, reported
    result = client.request(
        "textDocument/completion", {"textDocument": {"uri": uri}, "position": {"line": 5, "character": 4}}
    )
    labels = [i["label"] for i in result["items"]]
    from archspec.layers import registry

    assert set(registry()) <= set(labels)
    assert len(labels) == len(set(labels))  # each layer type once
    assert {"name", "inputs", "repeat"} <= set(labels)

    at = position_of(text, "add: [bn, x]", offset=len("add: [b"))  # on `bn`
    (loc,) = client.request("textDocument/definition", {"textDocument": {"uri": uri}, "position": at})
    assert loc["uri"] == uri
    assert loc["range"]["start"] == position_of(text, "bn, batch_norm", offset=0)
    at = position_of(text, "add: [bn, x]", offset=len("add: [bn, "))  # on `x`: the model input
    (loc,) = client.request("textDocument/definition", {"textDocument": {"uri": uri}, "position": at})
    assert loc["range"]["start"] == {"line": 0, "character": 9}


def test_invalid_yaml_mid_edit(client: Client, tmp_path: Path) -> None:
    uri = (tmp_path / "half.yaml").as_uri()
    text = "inputs: {x: [batch, 16]\nlayers:\n  - {name: a, linear: {out: 8, \n"
    client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}},
    )
    (d,) = client.diagnostics(uri, 1)
    assert d["code"] == "syntax"
    # the server still answers on the broken text
    result = client.request(
        "textDocument/completion", {"textDocument": {"uri": uri}, "position": {"line": 2, "character": 31}}
    )
    assert "bias" in [i["label"] for i in result["items"]]
    assert (
        client.request(
            "textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 2, "character": 8}}
        )
        is None
    )
