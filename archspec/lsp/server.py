"""The language server: pygls over stdio, wired to ``collect`` (diagnostics), ``nav`` (hover,
definition) and ``complete``. Positions are converted between the client's units (UTF-16 by
default) and code points by pygls; everything below works in code points."""

from __future__ import annotations

import asyncio
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from lsprotocol import types as t
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import ServerTextPosition, ServerTextRange

from archspec.lsp import units as u
from archspec.lsp.collect import Checked, check_text
from archspec.lsp.complete import Item, complete
from archspec.lsp.nav import Nav
from archspec.lsp.textindex import Span

DEBOUNCE_S = 0.15
log = logging.getLogger("archspec.lsp")

_SPEC_KEYS = re.compile(r'^(layers|models|blocks)\s*:|"(layers|models|blocks)"\s*:', re.MULTILINE)
_KINDS = {
    "layer": t.CompletionItemKind.Class,
    "block": t.CompletionItemKind.Module,
    "model": t.CompletionItemKind.Module,
    "setting": t.CompletionItemKind.Property,
    "field": t.CompletionItemKind.Field,
    "node": t.CompletionItemKind.Reference,
    "var": t.CompletionItemKind.Variable,
    "section": t.CompletionItemKind.Keyword,
}


def looks_like_spec(text: str) -> bool:
    """Only spec files get archspec's diagnostics (an editor may attach the server to any YAML)."""
    return bool(_SPEC_KEYS.search(text))


@dataclass
class State:
    version: int | None
    text: str
    nav: Nav


class ArchspecServer(LanguageServer):
    def __init__(self) -> None:
        from archspec import __version__

        super().__init__("archspec", __version__, text_document_sync_kind=t.TextDocumentSyncKind.Incremental)
        self.states: dict[str, State] = {}
        self.parsed: dict[str, Nav] = {}  # the last version of each document that was YAML
        self.pending: dict[str, int | None] = {}
        self.checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archspec-check")

    def nav(self, uri: str) -> Nav:
        """The checked current version of a document (checked now if it is not yet)."""
        doc = self.workspace.get_text_document(uri)
        state = self.states.get(uri)
        if state is None or state.version != doc.version or state.text != doc.source:
            state = self.store(uri, doc.version, doc.source, check(doc))
        return state.nav

    def store(self, uri: str, version: int | None, text: str, checked: Checked) -> State:
        state = State(version, text, Nav(checked))
        self.states[uri] = state
        if checked.source is not None:
            self.parsed[uri] = state.nav
        return state

    async def publish(self, uri: str) -> None:
        doc = self.workspace.get_text_document(uri)
        version, text = doc.version, doc.source
        state = self.states.get(uri)
        if state is None or state.version != version or state.text != text:
            loop = asyncio.get_running_loop()
            checked = await loop.run_in_executor(self.checker, check, doc)
            if self.workspace.get_text_document(uri).version != version:
                return  # a newer change will publish
            state = self.store(uri, version, text, checked)
        diagnostics = [diagnostic(doc, p.code, p.message, p.span) for p in state.nav.checked.problems]
        self.text_document_publish_diagnostics(
            t.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version)
        )


def check(doc: TextDocument) -> Checked:
    text = doc.source
    if not looks_like_spec(text):
        return Checked(text, [])
    name = to_fs_path(doc.uri) or doc.uri
    return check_text(text, name, "json" if name.lower().endswith(".json") else None)


def to_range(doc: TextDocument, span: Span) -> t.Range:
    server = ServerTextRange(ServerTextPosition(*span.start), ServerTextPosition(*span.end))
    return doc.range_to_client_units(server)


def diagnostic(doc: TextDocument, code: str, message: str, span: Span) -> t.Diagnostic:
    return t.Diagnostic(
        range=to_range(doc, span),
        message=message,
        severity=t.DiagnosticSeverity.Error,
        code=code,
        source="archspec",
    )


def _pos(doc: TextDocument, position: t.Position) -> tuple[int, int]:
    p = doc.position_from_client_units(position)
    return p.line, p.character


server = ArchspecServer()


@server.feature(t.TEXT_DOCUMENT_DID_OPEN)
async def did_open(ls: ArchspecServer, params: t.DidOpenTextDocumentParams) -> None:
    await ls.publish(params.text_document.uri)


@server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
async def did_change(ls: ArchspecServer, params: t.DidChangeTextDocumentParams) -> None:
    uri, version = params.text_document.uri, params.text_document.version
    ls.pending[uri] = version
    await asyncio.sleep(DEBOUNCE_S)  # as the user types: check once they pause
    if ls.pending.get(uri) == version:
        await ls.publish(uri)


@server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: ArchspecServer, params: t.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    for table in (ls.states, ls.parsed, ls.pending):
        table.pop(uri, None)  # type: ignore[attr-defined]
    ls.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


@server.feature(t.TEXT_DOCUMENT_HOVER)
def hover(ls: ArchspecServer, params: t.HoverParams) -> t.Hover | None:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    found = ls.nav(doc.uri).hover(_pos(doc, params.position))
    if found is None:
        return None
    text, span = found
    return t.Hover(t.MarkupContent(t.MarkupKind.Markdown, text), to_range(doc, span))


@server.feature(t.TEXT_DOCUMENT_DEFINITION)
def definition(ls: ArchspecServer, params: t.DefinitionParams) -> list[t.Location] | None:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    spans = ls.nav(doc.uri).definition(_pos(doc, params.position))
    return [t.Location(doc.uri, to_range(doc, s)) for s in spans] or None


@server.feature(
    t.TEXT_DOCUMENT_COMPLETION, t.CompletionOptions(trigger_characters=["$", "[", ",", "{", " ", "-"])
)
def completion(ls: ArchspecServer, params: t.CompletionParams) -> t.CompletionList:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    current = ls.nav(doc.uri)
    nav = current if current.checked.source is not None else ls.parsed.get(doc.uri, current)
    data = nav.checked.source.data if nav.checked.source is not None else {}
    items = complete(list(doc.lines), _pos(doc, params.position), data, graph_names(nav))
    return t.CompletionList(is_incomplete=False, items=[completion_item(i) for i in items])


def completion_item(item: Item) -> t.CompletionItem:
    doc = t.MarkupContent(t.MarkupKind.Markdown, item.doc) if item.doc else None
    return t.CompletionItem(item.label, kind=_KINDS[item.kind], detail=item.detail or None, documentation=doc)


def graph_names(nav: Nav) -> dict[u.Unit, list[str]]:
    """Node names of each unit's graph (automatic ones included) from the last analysis."""
    out: dict[u.Unit, list[str]] = {}
    src = nav.checked.source
    if src is None or nav.checked.spec is None:
        return out
    spec = nav.checked.spec
    for a in nav.analyses:
        unit: u.Unit = () if spec.single else ("models", a.model)
        out[unit] = list(a.graph.nodes)
        for _, n in a.graph.walk():
            if n.kind == "block" and n.sub is not None:
                out.setdefault(("blocks", n.type), list(n.sub.nodes))
    return out


def serve(**kwargs: Any) -> None:
    """Serve over stdin/stdout until the client says exit."""
    server.start_io(**kwargs)
