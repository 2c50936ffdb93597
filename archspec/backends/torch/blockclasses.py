"""Which block instances share a generated class, and which settings become its arguments.

Instances of one block with the same structure (the same submodules, classes and data flow)
become one class; a setting that differs between them (channels, stride...) becomes an
``__init__`` argument, named after the setting, and settings that always vary together
share one argument. So ResNet-18's eight ``basic`` instances become two classes (with and
without a projection) instead of eight.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass, field
from typing import Any

from archspec.backends.torch.plan import Plan, Sub

Path = tuple[str | int, ...]


@dataclass
class BlockClass:
    """One generated class: its plans (instances) and the arguments lifted out of them."""

    base: str  # the block's name, as a class name
    plans: list[Plan]
    params: dict[Path, str] = field(default_factory=dict)  # setting path -> argument name
    args: dict[int, dict[str, Any]] = field(default_factory=dict)  # id(plan) -> argument values
    name: str = ""  # filled when emitted


class BlockClasses:
    """Groups every block plan under the given model plans into classes."""

    def __init__(self, roots: list[Plan]) -> None:
        self.of: dict[int, BlockClass] = {}  # id(plan) -> its class
        self.by_key: dict[str, BlockClass] = {}  # in dependency order: children first
        for root in roots:
            for plan in _post_order(root):
                if plan is root or plan.kind != "graph":
                    continue
                group = self.by_key.setdefault(self._key(plan), BlockClass(plan.name, []))
                group.plans.append(plan)
                self.of[id(plan)] = group
        for group in self.by_key.values():
            _lift(group, self)

    def args(self, plan: Plan) -> dict[str, Any]:
        return self.of[id(plan)].args.get(id(plan), {})

    def _key(self, plan: Plan) -> str:
        parts = [plan.name, repr(plan.inputs), repr(plan.outputs)]
        parts += [repr((s.var, s.inputs, s.module, s.fn)) for s in plan.steps]
        parts += [self._sub_key(s) for s in plan.subs]
        return "\n".join(parts)

    def _sub_key(self, s: Sub) -> str:
        if s.model is not None:
            return f"model {s.name} {s.model} {s.frozen}"
        if s.plan is not None:
            if s.plan.kind == "sequential":
                return f"seq {s.name} {s.frozen} [" + "; ".join(self._sub_key(c) for c in s.plan.subs) + "]"
            return f"block {s.name} {s.frozen} #{id(self.of[id(s.plan)])}"
        if s.tensor is not None:
            return f"tensor {s.name} {s.frozen} {s.tensor!r}"
        assert s.ctor is not None
        return f"layer {s.name} {s.frozen} {s.ctor.cls} {sorted(s.ctor.kwargs)}"

    def values(self, plan: Plan) -> dict[Path, Any]:
        """Every setting of a plan's submodules, by path (child blocks by their arguments)."""
        out: dict[Path, Any] = {}
        for s in plan.subs:
            self._sub_values(s, (s.name,), out)
        return out

    def _sub_values(self, s: Sub, path: Path, out: dict[Path, Any]) -> None:
        if s.plan is not None and s.plan.kind == "sequential":
            for i, c in enumerate(s.plan.subs):
                self._sub_values(c, (*path, i), out)
        elif s.plan is not None:
            for name, value in self.args(s.plan).items():
                out[(*path, name)] = value
        elif s.ctor is not None:
            for name, value in s.ctor.kwargs.items():
                out[(*path, name)] = value


def _lift(group: BlockClass, classes: BlockClasses) -> None:
    """Make each setting that differs between the group's plans an argument."""
    values = [classes.values(p) for p in group.plans]
    by_vector: dict[tuple[str, ...], str] = {}
    used: set[str] = set()
    for path in values[0]:
        vector = tuple(repr(v[path]) for v in values)
        if len(set(vector)) == 1:
            continue
        if vector not in by_vector:
            by_vector[vector] = _arg_name(path, used)
        group.params[path] = by_vector[vector]
    for plan, vals in zip(group.plans, values, strict=True):
        group.args[id(plan)] = {name: vals[path] for path, name in group.params.items()}


def _arg_name(path: Path, used: set[str]) -> str:
    for candidate in (str(path[-1]), "_".join(str(p) for p in path)):
        name = candidate if candidate.isidentifier() else f"arg_{candidate}"
        if keyword.iskeyword(name) or name in ("self", "torch", "nn"):
            name += "_"
        if name not in used:
            used.add(name)
            return name
    n = 2
    while f"{path[-1]}_{n}" in used:
        n += 1
    used.add(f"{path[-1]}_{n}")
    return f"{path[-1]}_{n}"


def _post_order(plan: Plan) -> list[Plan]:
    out: list[Plan] = []
    for s in plan.subs:
        if s.plan is not None:
            out.extend(_post_order(s.plan))
    out.append(plan)
    return out
