"""The order in which a graph's entries are elaborated, and the names of unnamed entries.

Entries are elaborated in spec order when every reference points backwards (the usual case);
a forward reference (``{name: out, add: [a, b]}`` written before ``a`` and ``b``) sorts the
entries topologically, stable in spec order. A cycle is an error that spells it out.
"""

from __future__ import annotations

import re
from typing import Any

from archspec.errors import ArchspecError, Loc
from archspec.ir.graph import split_ref
from archspec.spec.entries import Entry
from archspec.spec.names import name_problem

_SHAPE_READ = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\.\s*(?:shape|channels|features)\b")


def assign_names(entries: list[Entry], taken: list[str], value_loc: Any) -> list[str]:
    """Each entry's node name: its `name:`, or ``<type><n>`` (``linear1``, ``conv2d_2``)."""
    names: list[str] = []
    seen: dict[str, Loc | None] = dict.fromkeys(taken)
    for e in entries:
        name = e.fields.get("name")
        if name is None:
            names.append("")
            continue
        problem = name_problem(name, is_node=True)
        if problem:
            raise ArchspecError(
                "bad-name", f"bad node name {name!r}: {problem}", loc=value_loc((*e.path, "name"))
            )
        if name in seen:
            raise ArchspecError(
                "duplicate-name",
                f"the name '{name}' is used twice in one graph",
                loc=value_loc((*e.path, "name")),
                hint="node names must be unique within a model or block",
            )
        seen[name] = e.loc
        names.append(name)
    counters: dict[str, int] = {}
    for i, e in enumerate(entries):
        if names[i]:
            continue
        base = e.key if e.key[-1:].isalpha() else e.key + "_"
        n = counters.get(base, 0) + 1
        while f"{base}{n}" in seen:
            n += 1
        counters[base] = n
        names[i] = f"{base}{n}"
        seen[names[i]] = e.loc
    return names


def dependencies(entry: Entry, inputs: list[str] | None, prev: str | None) -> set[str]:
    """The names an entry needs first: its inputs (or the previous entry) and every node whose
    shape its settings read (``x.shape[1]``)."""
    deps = {split_ref(r)[0] for r in inputs} if inputs is not None else ({prev} if prev else set())
    deps |= set(_SHAPE_READ.findall(_texts(entry.value)))
    return deps


def _texts(value: Any) -> str:
    if isinstance(value, str):
        return value if value.startswith("$") else ""
    if isinstance(value, list):
        return " ".join(_texts(v) for v in value)
    if isinstance(value, dict):
        return " ".join(_texts(v) for v in value.values())
    return ""


def elaboration_order(
    names: list[str], deps: list[set[str]], known: list[str], locs: list[Any], prefix: str
) -> list[int]:
    """Indices of the entries in an order where each comes after what it needs.

    Names that are neither entries nor ``known`` (inputs) are left for the reference check.
    """
    position = {n: i for i, n in enumerate(names)}
    if all(position.get(d, -1) < i for i, ds in enumerate(deps) for d in ds):
        return list(range(len(names)))
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(known)  # inputs first, as the graph reads
    g.add_nodes_from(range(len(names)))
    for i, ds in enumerate(deps):
        for d in ds:
            if d in known:
                g.add_edge(d, i)
            elif d in position:
                g.add_edge(position[d], i)
    if not nx.is_directed_acyclic_graph(g):
        cycle = [u for u, _ in nx.find_cycle(g)]
        raise ArchspecError(
            "cycle",
            "the graph has a cycle: " + " -> ".join(names[i] for i in [*cycle, cycle[0]]),
            loc=locs[cycle[0]],
            node=f"{prefix}.{names[cycle[0]]}" if prefix else names[cycle[0]],
            hint="inputs must refer to earlier computations; recurrence is a layer (rnn, lstm, gru)",
        )
    order = nx.lexicographical_topological_sort(g, key=lambda n: n if isinstance(n, int) else -1)
    return [i for i in order if isinstance(i, int)]
