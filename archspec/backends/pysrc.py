"""Standalone, readable PyTorch source for a spec: it imports only torch.

The source realizes the same plan as ``archspec.build``, so a state_dict saved from the
built module loads into it and gives identical outputs. Plain chains become
``nn.Sequential``; each block becomes a class (one per distinct configuration).
"""

from __future__ import annotations

import ast
import importlib
import inspect
from typing import Any

from archspec import __version__
from archspec.backends.plan import Plan, Sub, layer_inits, plan_model
from archspec.backends.torch_ops import fn_source
from archspec.layers.base import TorchCtor
from archspec.passes import Analysis
from archspec.spec.inits import SCHEMES, split

INDENT = "    "


def emit(analyses: list[Analysis]) -> str:
    """One Python module with a class for every model in ``analyses`` (and the models they call)."""
    e = _Emitter()
    for a in analyses:
        e.model(a)
    return e.render(analyses)


class _Emitter:
    def __init__(self) -> None:
        self.classes: list[str] = []  # class sources, dependencies first
        self.by_body: dict[str, str] = {}  # class body (name-less) -> class name
        self.names: set[str] = set()
        self.families: dict[str, None] = {}
        self.models: dict[str, str] = {}  # model name -> class name

    def model(self, a: Analysis) -> str:
        if a.model in self.models:
            return self.models[a.model]
        for sub_model in _called_models(a):
            self.model(_analysis_of(a, sub_model))
        plan = plan_model(a)
        extra = _model_lines(a, plan)
        name = self.cls(plan, extra, models=sorted(_called_models(a)), doc=a.graph.doc, unique=True)
        self.classes[-1] += _penalty_method(plan)
        self.models[a.model] = name
        return name

    def cls(
        self,
        plan: Plan,
        extra: list[str] | None = None,
        models: list[str] | None = None,
        doc: str | None = None,
        unique: bool = False,
    ) -> str:
        init = self.init_lines(plan, models or [])
        init += extra or []
        if _is_chain(plan) and not models:
            base, body = "nn.Sequential", self.sequential_body(plan, init)
        else:
            base, body = "nn.Module", self.module_body(plan, init, models or [])
        key = f"{base}\n{body}"
        if not unique and key in self.by_body:
            return self.by_body[key]
        name = self.fresh(plan.name)
        header = f"class {name}({base}):\n"
        if doc:
            header += f'{INDENT}"""{_doc(doc)}"""\n\n'
        self.classes.append(header + body)
        self.by_body.setdefault(key, name)
        return name

    def fresh(self, base: str) -> str:
        name, n = base, 1
        while name in self.names or name in ("Module", "Sequential"):
            n += 1
            name = f"{base}{n}"
        self.names.add(name)
        return name

    def init_lines(self, plan: Plan, models: list[str]) -> list[str]:
        lines = []
        for m in models:
            cls = self.models[m]
            lines.append(f"{m} = {m} if {m} is not None else {cls}()")
        for s in plan.subs:
            if (plan.kind == "graph" and not _is_chain(plan)) or models:
                lines.append(f"self.{s.name} = {self.expr(s)}")
            if s.frozen:
                lines.append(f"self.{s.name}.requires_grad_(False)")
        return lines

    def expr(self, s: Sub) -> str:
        if s.model is not None:
            return s.model
        if s.plan is not None:
            if s.plan.kind == "sequential":
                return "nn.Sequential(" + ", ".join(self.expr(c) for c in s.plan.subs) + ")"
            return f"{self.cls(s.plan)}()"
        assert s.ctor is not None
        return self.ctor(s.ctor)

    def ctor(self, c: TorchCtor) -> str:
        module = c.source_module
        if module is not None:
            self.families[module] = None
        args = ", ".join(f"{k}={_literal(v)}" for k, v in c.kwargs.items())
        return f"{c.cls if module is None else c.class_name}({args})"

    def sequential_body(self, plan: Plan, init: list[str]) -> str:
        items = [f'{INDENT * 3}("{s.name}", {self.expr(s)}),' for s in plan.subs]
        lines = [f"{INDENT}def __init__(self) -> None:", f"{INDENT * 2}super().__init__(OrderedDict(["]
        lines += items
        lines.append(f"{INDENT * 2}]))")
        lines += [f"{INDENT * 2}{line}" for line in init if line.startswith(("self.", "with", "    "))]
        return "\n".join(lines) + "\n"

    def module_body(self, plan: Plan, init: list[str], models: list[str]) -> str:
        params = "".join(f", {m}: nn.Module | None = None" for m in models)
        lines = [f"{INDENT}def __init__(self{params}) -> None:", f"{INDENT * 2}super().__init__()"]
        lines += [f"{INDENT * 2}{line}" for line in init]
        args = ", ".join(plan.inputs)
        lines += ["", f"{INDENT}def forward(self, {args}):"]
        for step in plan.steps:
            if step.module is not None:
                call = f"self.{step.module}({', '.join(step.inputs)})"
            else:
                assert step.fn is not None
                call = fn_source(step.fn, step.inputs)
            lines.append(f"{INDENT * 2}{step.var} = {call}")
        outs = ", ".join(plan.outputs)
        lines.append(f"{INDENT * 2}return {outs}")
        return "\n".join(lines) + "\n"

    def render(self, analyses: list[Analysis]) -> str:
        spec = analyses[0].spec
        head = [
            f'"""{_doc(spec.name)}: generated by archspec {__version__} from {_doc(spec.path)}.',
            "",
            "Standalone PyTorch: it imports only torch. Weights saved from `archspec.build`",
            "(its state_dict) load into these classes unchanged.",
            '"""',
            "",
            "from __future__ import annotations",
            "",
            "import math",
            "from collections import OrderedDict",
            "",
            "import torch",
            "from torch import nn",
            "",
        ]
        parts = ["\n".join(head)]
        parts += [_family_source(f) for f in self.families]
        parts += self.classes
        names = ", ".join(repr(self.models[a.model]) for a in analyses)
        parts.append(f"__all__ = [{names}]\n")
        return "\n\n".join(p.rstrip("\n") + "\n" for p in parts)


def _model_lines(a: Analysis, plan: Plan) -> list[str]:
    """Init, tie and freeze lines that act on the whole model."""
    lines = []
    inits = layer_inits(a)
    if inits:
        lines.append("with torch.no_grad():")
        for path, param, scheme in inits:
            name, settings = split(scheme)
            kwargs = "".join(f", {k}={v!r}" for k, v in settings.items())
            target = f'self.get_submodule("{path}").{param}'
            lines.append(f"{INDENT}nn.init.{SCHEMES[name][0]}({target}{kwargs})")
    for path, source in plan.ties:
        lines.append(f'self.get_submodule("{path}").weight = self.get_submodule("{source}").weight')
    return lines


def _penalty_method(plan: Plan) -> str:
    """``regularization_loss()``: the spec's L1/L2 weight penalties (0 when there are none)."""
    lines = [
        "",
        f"{INDENT}def regularization_loss(self) -> torch.Tensor:",
        f"{INDENT * 2}total = torch.zeros(())",
    ]
    for path, l1, l2 in plan.penalties:
        lines += [
            f'{INDENT * 2}for name, w in self.get_submodule("{path}").named_parameters():',
            f'{INDENT * 3}if "weight" in name:',
            f"{INDENT * 4}total = total + {l1!r} * w.abs().sum() + {l2!r} * w.pow(2).sum()",
        ]
    lines.append(f"{INDENT * 2}return total")
    return "\n".join(lines) + "\n"


def _is_chain(plan: Plan) -> bool:
    if plan.kind != "graph" or len(plan.inputs) != 1 or len(plan.outputs) != 1:
        return False
    prev = plan.inputs[0]
    for step in plan.steps:
        if step.module is None or step.inputs != [prev]:
            return False
        prev = step.var
    return plan.outputs == [prev]


def _called_models(a: Analysis) -> set[str]:
    return {n.type for n in a.graph.body() if n.kind == "model"}


def _analysis_of(a: Analysis, model: str) -> Analysis:
    from archspec.passes import analyze

    return analyze(a.spec, model, a.sizes)


def _family_source(name: str) -> str:
    """The source of a module of custom torch classes, minus its docstring and imports."""
    module = importlib.import_module(name)
    source = inspect.getsource(module)
    tree = ast.parse(source)
    keep = []
    lines = source.splitlines()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and node is tree.body[0]:
            continue
        decorators = getattr(node, "decorator_list", None)
        start = (decorators[0].lineno if decorators else node.lineno) - 1
        end = node.end_lineno or node.lineno
        keep.append("\n".join(lines[start:end]))
    return f"# --- from {name} ---\n\n" + "\n\n\n".join(keep) + "\n"


def _literal(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_literal(v) for v in value)
        return (
            f"({inner},)"
            if isinstance(value, tuple) and len(value) == 1
            else (f"({inner})" if isinstance(value, tuple) else f"[{inner}]")
        )
    return repr(value)


def _doc(text: str) -> str:
    return " ".join(text.split()).replace('"""', "'''").replace("\\", "\\\\")
