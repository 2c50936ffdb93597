"""A minimal LSP client over stdio, as an editor speaks to ``archspec lsp``: JSON-RPC messages
framed by ``Content-Length`` headers. The tests and ``bench/lsp_latency.py`` drive the server
with it; it needs nothing beyond the standard library."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Message = dict[str, Any]


class Client:
    """Requests wait for their response; everything else the server sends is kept in order."""

    def __init__(self, command: Sequence[str] | None = None, cwd: Path | None = None, timeout: float = 20.0):
        self.timeout = timeout
        self.proc = subprocess.Popen(
            list(command or [sys.executable, "-m", "archspec", "lsp", "--stdio"]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=cwd,
            env=dict(os.environ),
        )
        self.inbox: queue.Queue[Message] = queue.Queue()
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
            self.inbox.put(json.loads(out.read(int(headers["content-length"]))))

    def send(self, message: Message) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        stdin = self.proc.stdin
        assert stdin is not None
        stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        stdin.flush()

    def notify(self, method: str, params: Message) -> None:
        self.send({"method": method, "params": params})

    def request(self, method: str, params: Message) -> Any:
        self.next_id += 1
        wanted = self.next_id
        self.send({"id": wanted, "method": method, "params": params})
        msg = self.wait(lambda m: m.get("id") == wanted and "method" not in m)
        if "error" in msg:
            raise RuntimeError(f"{method}: {msg['error']}")
        return msg.get("result")

    def wait(self, match: Callable[[Message], bool]) -> Message:
        """The next message that ``match``es (those before it are dropped)."""
        deadline = time.monotonic() + self.timeout
        skipped: list[Message] = []
        try:
            while True:
                msg = self.inbox.get(timeout=max(deadline - time.monotonic(), 0.01))
                if match(msg):
                    return msg
                skipped.append(msg)
        except queue.Empty:
            raise TimeoutError(f"no such message from the server; got {skipped}") from None

    def diagnostics(self, uri: str, version: int) -> list[Message]:
        """The diagnostics the server publishes for this version of the document."""
        msg = self.wait(
            lambda m: (
                m.get("method") == "textDocument/publishDiagnostics"
                and m["params"]["uri"] == uri
                and m["params"].get("version") == version
            )
        )
        return msg["params"]["diagnostics"]  # type: ignore[no-any-return]

    def initialize(self, root: Path) -> Message:
        result = self.request(
            "initialize", {"processId": os.getpid(), "rootUri": root.as_uri(), "capabilities": {}}
        )
        self.notify("initialized", {})
        return result  # type: ignore[no-any-return]

    def open(self, uri: str, text: str, version: int = 1) -> None:
        item = {"uri": uri, "languageId": "yaml", "version": version, "text": text}
        self.notify("textDocument/didOpen", {"textDocument": item})

    def replace(self, uri: str, text: str, version: int) -> None:
        """Send the whole new text as one change."""
        change = {"text": text}
        self.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]},
        )

    def at(self, uri: str, method: str, line: int, character: int) -> Any:
        position = {"line": line, "character": character}
        return self.request(method, {"textDocument": {"uri": uri}, "position": position})

    def close(self) -> int:
        """Shut the server down as an editor does; its exit status."""
        try:
            self.request("shutdown", {})
            self.notify("exit", {})
            return self.proc.wait(timeout=10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            for f in (self.proc.stdin, self.proc.stdout):
                if f is not None:
                    f.close()
