"""The standalone source copies the torch classes a plan uses from their modules (archspec's
own torchmods or a plugin's): only the definitions needed, with what they refer to."""

from __future__ import annotations

import ast
import functools
import importlib
import inspect

from archspec.backends.torch.plan import Plan


def copied_names(plans: list[Plan]) -> set[str]:
    """Every top-level name of the modules whose classes the standalone file may copy, so that
    no generated class takes one of them (a block named `reshape` next to a copied `Reshape`)."""
    modules: set[str] = set()
    todo = list(plans)
    while todo:
        plan = todo.pop()
        for s in plan.subs:
            if s.plan is not None:
                todo.append(s.plan)
            elif s.ctor is not None and s.ctor.source_module is not None:
                modules.add(s.ctor.source_module)
    return {name for module in modules for name in module_defs(module)}


@functools.lru_cache(maxsize=64)
def module_defs(name: str) -> frozenset[str]:
    tree = ast.parse(inspect.getsource(importlib.import_module(name)))
    return frozenset(target for node in tree.body for target in defined(node))


def family_source(name: str, used: set[str]) -> str:
    """The classes ``used`` from a module of custom torch classes, with every top-level
    function, class or constant they refer to (the module's docstring and imports left out)."""
    source = inspect.getsource(importlib.import_module(name))
    lines = source.splitlines()
    defs: dict[str, ast.stmt] = {}
    for node in ast.parse(source).body:
        for target in defined(node):
            defs[target] = node
    needed, todo = set(), [n for n in used if n in defs]
    while todo:
        current = todo.pop()
        if current in needed:
            continue
        needed.add(current)
        refs = {n.id for n in ast.walk(defs[current]) if isinstance(n, ast.Name)}
        todo += [r for r in refs if r in defs and r not in needed]
    keep = []
    for node in dict.fromkeys(defs[n] for n in defs if n in needed):  # in source order
        decorators = getattr(node, "decorator_list", None)
        start = (decorators[0].lineno if decorators else node.lineno) - 1
        keep.append("\n".join(lines[start : node.end_lineno or node.lineno]))
    return f"# --- from {name} ---\n\n" + "\n\n\n".join(keep) + "\n"


def defined(node: ast.stmt) -> list[str]:
    """The top-level names a statement defines (imports and docstrings define none here)."""
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []
