"""The static node budget: how many nodes a spec expands to, counted before anything is built.

Every model, block instance, repeat copy and model call counts, in every model of the file, so
that no nesting of repeats and calls can make expansion run away with memory or time. The walk
evaluates only what decides the count (``when:``, ``repeat:``, block arguments), memoizes each
block and model by its arguments, and stops as soon as the budget is passed. Entries it cannot
evaluate count as one node: expansion then reports their error, at their location.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from archspec.errors import ArchspecError, Loc
from archspec.spec.loader import PathKey
from archspec.spec.model import ENTRY_KEYS

if TYPE_CHECKING:
    from archspec.ir.expand import Elaborator

MAX_NODES = 200_000
MAX_REPEAT = 100_000


class _Over(Exception):
    def __init__(self, loc: Loc | None) -> None:
        self.loc = loc


class NodeBudget:
    """Counts the nodes of a spec's models without building them."""

    def __init__(self, expander: Elaborator, limit: int = MAX_NODES) -> None:
        self.x = expander
        self.limit = limit
        self.total = 0
        self.memo: dict[tuple[str, str, str], int] = {}

    def check(self, models: list[str]) -> int:
        """The total for ``models``; a located ``limit`` error above the budget."""
        try:
            for name in models:
                self.total += self.model(name, (name,))
                self._over(None)
        except _Over as e:
            raise ArchspecError(
                "limit",
                f"the spec expands to more than {self.limit:,} nodes (every repeat copy, block "
                "instance and model call counts, in every model of the file)",
                loc=e.loc or self.x.src.loc(()),
                hint="use fewer or smaller repeats; a spec this large cannot be checked or built",
            ) from None
        return self.total

    def _over(self, loc: Loc | None, extra: int = 0) -> None:
        if self.total + extra > self.limit:
            raise _Over(loc)

    def model(self, name: str, stack: tuple[str, ...]) -> int:
        key = ("model", name, "")
        if key not in self.memo:
            m = self.x.spec.models[name]
            path = (*self.x.spec.model_path(name), "layers")
            self.memo[key] = len(m.inputs) + self.body(m.layers, path, self.x.spec.scope(name), stack)
        return self.memo[key]

    def block(self, name: str, args: dict[str, Any], stack: tuple[str, ...]) -> int:
        key = ("block", name, repr(sorted(args.items())))
        if key not in self.memo:
            b = self.x.spec.blocks[name]
            scope = {**self.x.spec.vars, **args}
            self.memo[key] = len(b.inputs) + self.body(b.layers, ("blocks", name, "layers"), scope, stack)
        return self.memo[key]

    def body(self, raw_layers: Any, path: PathKey, scope: dict[str, Any], stack: tuple[str, ...]) -> int:
        if not isinstance(raw_layers, list):
            return 1
        n = 0
        for i, raw in enumerate(raw_layers):
            n += self.entry(raw, (*path, i), scope, stack)
            self._over(self.x.src.loc((*path, i)), n)
        return n

    def entry(self, raw: Any, path: PathKey, scope: dict[str, Any], stack: tuple[str, ...]) -> int:
        try:
            key, value, fields = self._read(raw, path, scope)
        except ArchspecError:
            return 1  # expansion reports it
        if fields.get("when") is False:
            return 0
        repeat = fields.get("repeat")
        if repeat is None:
            return self.instance(key, value, path, scope, stack)
        if not isinstance(repeat, int) or isinstance(repeat, bool) or not 0 <= repeat <= MAX_REPEAT:
            return 1  # expansion reports it
        loc = self.x.src.loc(path)
        self._over(loc, repeat)
        if "index" not in json.dumps(value, default=str):  # every copy is alike
            one = self.instance(key, value, path, scope, stack)
            self._over(loc, 2 + repeat * one)
            return 2 + repeat * one
        n = 2  # the repeat and its input
        for index in range(repeat):
            n += self.instance(key, value, path, {**scope, "index": index}, stack)
            self._over(loc, n)
        return n

    def instance(
        self, key: str, value: Any, path: PathKey, scope: dict[str, Any], stack: tuple[str, ...]
    ) -> int:
        kind = self.x._kind(key)
        if kind == "block" and key not in stack:
            try:
                value = self.x._sub(value, scope, (*path, key))
                args = self.x.args_for_count(key, value)
            except ArchspecError:
                return 1
            return 1 + self.block(key, args, (*stack, key))
        if kind == "model" and key not in stack:
            return 1 + self.model(key, (*stack, key))
        return 1

    def _read(self, raw: Any, path: PathKey, scope: dict[str, Any]) -> tuple[str, Any, dict[str, Any]]:
        if isinstance(raw, str):
            key = self.x._sub(raw, scope, path) if raw.startswith("$") else raw
            return str(key), None, {}
        if not isinstance(raw, dict):
            return "", None, {}
        keys = [k for k in raw if k not in ENTRY_KEYS]
        if len(keys) != 1:
            return "", None, {}
        fields = {k: self.x._sub(raw[k], scope, (*path, k)) for k in ("when", "repeat") if k in raw}
        return keys[0], raw[keys[0]], fields
