"""Completion: what may be typed at a position of a spec, read from the text around it.

The document is often not valid YAML while it is typed, so the context comes from the lines
themselves: the keys of the enclosing block mappings and list items (by indentation), then the
flow brackets of the current line (``- {name: c, conv2d: {out: 8, |``). What is offered comes
from the registry (layer types, each once, and their settings) and from the last version of the
document that parsed (blocks, models, their arguments, node names, vars).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from archspec.layers import registry
from archspec.lsp import units as u
from archspec.lsp.textindex import Pos
from archspec.spec.model import ENTRY_KEYS, BlockSpec, ModelSpec, SpecFile

Kind = Literal["layer", "block", "model", "setting", "field", "node", "var", "section"]
_KEY = re.compile(r"([A-Za-z_$][\w$.-]*)\s*:(\s|$)")
_EXPR = re.compile(r"\$[^,{}\[\]]*$")


@dataclass(frozen=True)
class Item:
    label: str
    kind: Kind
    detail: str = ""
    doc: str = ""


@dataclass
class Context:
    path: list[str]  # enclosing keys and list items ("-"), outermost first
    at: Literal["key", "value"]
    owner: str | None  # the key whose value (a mapping or list) the position is in
    expression: bool  # inside a `$expression`


def context_at(lines: list[str], pos: Pos) -> Context:
    row, col = pos
    line = lines[row].rstrip("\r\n") if row < len(lines) else ""
    prefix = line[:col]
    body = prefix.lstrip(" ")
    indent = len(prefix) - len(body)
    is_dash = body.startswith("- ") or body == "-"
    path = _ancestors(lines, row, indent, is_dash)
    rest = body
    while rest.startswith("- ") or rest == "-":  # `- - x`: nested items
        path.append("-")
        rest = rest[1:].lstrip(" ")
    flow, at, owner = _flow(rest)
    path += flow
    return Context(path, at, owner, bool(_EXPR.search(prefix)))


def _ancestors(lines: list[str], row: int, indent: int, is_dash: bool) -> list[str]:
    out: list[str] = []
    child, child_dash = indent, is_dash
    for r in range(row - 1, -1, -1):
        text = lines[r].rstrip("\r\n")
        body = text.lstrip(" ")
        if not body or body.startswith("#"):
            continue
        ind = len(text) - len(body)
        dash = body.startswith("- ") or body == "-"
        if dash:
            if ind >= child:
                continue
            item = body[1:].lstrip(" ")
            content = ind + (len(body) - len(item))
            m = _KEY.match(item)
            if m and child > content:
                out.append(m.group(1))
            out.append("-")
        else:
            m = _KEY.match(body)
            if not m or not (ind < child or (ind == child and child_dash)):
                continue
            out.append(m.group(1))
        child, child_dash = ind, dash
        if ind == 0 and not dash:
            break
    return out[::-1]


def _flow(rest: str) -> tuple[list[str], Literal["key", "value"], str | None]:
    """The keys of the open flow collections in ``rest``, and what the end of it is."""
    stack: list[tuple[str, str | None]] = []
    key: str | None = None
    at: Literal["key", "value"] = "key"
    i = 0
    while i < len(rest):
        ch = rest[i]
        if ch in "\"'":
            end = rest.find(ch, i + 1)
            i = len(rest) if end < 0 else end + 1
            continue
        m = _KEY.match(rest, i)
        if m and at == "key":
            key, at = m.group(1), "value"
            i = m.end()
            continue
        if ch in "{[":
            stack.append((ch, key))
            key, at = None, ("key" if ch == "{" else "value")
        elif ch in "}]" and stack:
            stack.pop()
            key, at = None, "value"
        elif ch == ",":
            key = None
            at = "key" if stack and stack[-1][0] == "{" else "value"
        elif ch == "#" and (i == 0 or rest[i - 1] == " "):
            break
        i += 1
    keys: list[str] = []
    for n, (_, k) in enumerate(stack):
        if k is not None:
            keys.append(k)
        elif n > 0 and stack[n - 1][0] == "[":
            keys.append("-")  # a mapping or list that is an item of a flow list
    if at == "value" and key is not None:
        return [*keys, key], "value", key
    owner = stack[-1][1] if stack else None
    if stack and stack[-1][0] == "[":
        return keys, "value", owner
    return keys, at, owner


def complete(lines: list[str], pos: Pos, data: Any, graph_names: dict[u.Unit, list[str]]) -> list[Item]:
    """What may be typed at ``pos``; ``data`` is the last parsed version of the document."""
    ctx = context_at(lines, pos)
    unit = _unit(ctx.path)
    if ctx.expression:
        return _vars(data, unit)
    p = [k for k in ctx.path if k]
    at = ctx.at
    if at == "key" and p[-1:] == ["-"] and p[-2:] != ["layers", "-"]:
        at = "value"  # an item of a list that is not `layers:` is a value (`inputs:` in block style)
    if at == "key":
        if p[-2:] == ["layers", "-"]:
            return _types(data) + _fields()
        if len(p) >= 3 and p[-3:-1] == ["layers", "-"] and p[-1] not in ENTRY_KEYS:
            return _settings(data, p[-1])
        if not p:
            return [Item(k, "section") for k in SpecFile.model_fields]
        if p[:1] in (["blocks"], ["models"]) and len(p) == 2:
            model = BlockSpec if p[0] == "blocks" else ModelSpec
            return [Item(k, "section") for k in model.model_fields]
        return []
    last = p[-1] if p else None
    if last == "-" and len(p) >= 2:
        last = p[-2]
    if last in ("inputs", "outputs") and (("layers" in p and len(p) >= 2) or last == "outputs"):
        return _nodes(data, unit, graph_names)
    if (
        len(p) >= 3
        and p[-3:-1] == ["layers", "-"]
        and last in registry()
        and registry()[last].max_inputs != 1
    ):
        return _nodes(data, unit, graph_names)
    if p[-2:] == ["layers", "-"] and ctx.owner is None:  # `- |` in block style
        return _types(data)
    return []


def _unit(path: list[str]) -> u.Unit:
    if len(path) >= 2 and path[0] in ("blocks", "models"):
        return (path[0], path[1])
    return ()


def _types(data: Any) -> list[Item]:
    items = [
        Item(name, "layer", layer.family, (layer.__doc__ or "").strip().split("\n\n")[0])
        for name, layer in sorted(registry().items())
    ]
    for section, kind in (("blocks", "block"), ("models", "model")):
        names = u.at(data, (section,))
        if isinstance(names, dict):
            items += [Item(str(n), kind, kind, _doc(names[n])) for n in names]  # type: ignore[arg-type]
    seen: set[str] = set()
    return [i for i in items if not (i.label in seen or seen.add(i.label))]  # type: ignore[func-returns-value]


def _doc(value: Any) -> str:
    doc = value.get("doc") if isinstance(value, dict) else None
    return doc if isinstance(doc, str) else ""


def _fields() -> list[Item]:
    from archspec.spec.model import EntryFields

    return [Item(k, "field", "entry field", f.description or "") for k, f in EntryFields.model_fields.items()]


def _settings(data: Any, key: str) -> list[Item]:
    layer = registry().get(key)
    if layer is not None:
        out = []
        for name, f in layer.Params.model_fields.items():
            if name == "type":
                continue
            default = "" if f.is_required() else f" = {f.default!r}"
            ann = getattr(f.annotation, "__name__", None) or str(f.annotation).replace("typing.", "")
            out.append(Item(name, "setting", f"{ann}{default}", f.description or ""))
        return out
    args = u.at(data, ("blocks", key, "args"))
    if isinstance(args, dict):
        return [Item(str(k), "setting", f"argument = {v!r}") for k, v in args.items()]
    return []


def _nodes(data: Any, unit: u.Unit, graph_names: dict[u.Unit, list[str]]) -> list[Item]:
    declared = u.at(data, (*unit, "inputs"))
    if unit[:1] == ("blocks",):
        inputs = [n for n in declared if isinstance(n, str)] if isinstance(declared, list) else ["input"]
    else:
        inputs = [str(k) for k in declared] if isinstance(declared, dict) else []
    names = [n for n in (u.entry_name(raw) for raw in u.entries(data, unit)) if n]
    names += graph_names.get(unit, [])
    items = [Item(n, "node", "input") for n in inputs]
    return items + [Item(n, "node", "node") for n in dict.fromkeys(names) if n not in inputs]


def _vars(data: Any, unit: u.Unit) -> list[Item]:
    items = []
    if unit[:1] == ("blocks",):
        args = u.at(data, (*unit, "args"))
        if isinstance(args, dict):
            items += [Item(str(k), "var", f"argument of {unit[1]} = {v!r}") for k, v in args.items()]
    variables = u.at(data, ("vars",))
    if isinstance(variables, dict):
        items += [Item(str(k), "var", f"var = {v!r}") for k, v in variables.items()]
    items.append(Item("index", "var", "the copy's index in a `repeat:` (0, 1, ...)"))
    return items
