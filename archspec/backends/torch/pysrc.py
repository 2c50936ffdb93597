"""Standalone, readable PyTorch source for a spec: it imports only torch.

The source realizes the same plan as ``archspec.build``, so a state_dict saved from the
built module loads into it and gives identical outputs. Plain chains become
``nn.Sequential``; each block becomes a class whose differing settings are its arguments.
"""

from __future__ import annotations

import ast
import inspect
import math
from typing import Any

from archspec import __version__
from archspec.backends.torch.blockclasses import BlockClasses, Path
from archspec.backends.torch.copysource import copied_names, family_source
from archspec.backends.torch.ops import fn_source
from archspec.backends.torch.plan import Plan, Sub, layer_inits, plan_model
from archspec.layers.base import TorchCtor
from archspec.passes import Analysis
from archspec.spec.inits import SCHEMES, split
from archspec.spec.names import PENALTY_METHOD, attribute, class_name, ident

INDENT = "    "


def emit(analyses: list[Analysis]) -> str:
    """One Python module with a class for every model in ``analyses`` (and the models they call)."""
    order = _with_called_models(analyses)
    plans = {a.model: plan_model(a) for a in order}
    e = _Emitter(BlockClasses(list(plans.values())), copied_names(list(plans.values())))
    for a in order:
        e.model(a, plans[a.model])
    source = e.render(analyses)
    try:
        ast.parse(source)  # never hand out (or write) source that is not Python
    except SyntaxError as err:
        raise RuntimeError(f"archspec generated invalid Python source: {err}") from None
    return source


class _Emitter:
    def __init__(self, blocks: BlockClasses, reserved: set[str]) -> None:
        self.blocks = blocks
        self.classes: list[str] = []  # class sources, dependencies first
        self.names: set[str] = set(reserved)  # top-level names of the module: copied code, classes
        self.families: dict[str, set[str]] = {}  # module -> the custom classes used from it
        self.models: dict[str, str] = {}  # model name -> class name

    def model(self, a: Analysis, plan: Plan) -> None:
        models = sorted(_called_models(a))
        name = self.fresh(plan.name)
        self.classes.append(self.cls(name, plan, {}, _model_lines(a, plan), models, a.graph.doc))
        self.classes[-1] += _penalty_method(plan)
        self.models[a.model] = name

    def block(self, plan: Plan) -> str:
        """The class of a block plan, emitted on first use."""
        group = self.blocks.of[id(plan)]
        if not group.name:
            group.name = self.fresh(group.base)
            first = group.plans[0]
            self.classes.append(self.cls(group.name, first, group.params, [], [], first.doc))
        return group.name

    def cls(
        self,
        name: str,
        plan: Plan,
        subst: dict[Path, str],
        extra: list[str],
        models: list[str],
        doc: str | None,
    ) -> str:
        args = self.signature(plan, subst, models)
        header = f"class {name}({'nn.Sequential' if _is_chain(plan) and not models else 'nn.Module'}):\n"
        if doc:
            header += f'{INDENT}"""{_doc(doc)}"""\n\n'
        if _is_chain(plan) and not models:
            return header + self.sequential_body(plan, subst, args, extra)
        return header + self.module_body(plan, subst, args, extra, models)

    def signature(self, plan: Plan, subst: dict[Path, str], models: list[str]) -> str:
        if models:
            return "".join(f", {ident(m)}: nn.Module | None = None" for m in models)
        if not subst:
            return ""
        values = self.blocks.values(plan)
        typed: dict[str, str] = {}
        for path, arg in subst.items():
            typed.setdefault(arg, type(values[path]).__name__)
        return ", " + ", ".join(f"{ident(arg)}: {ident(t)}" for arg, t in typed.items())

    def fresh(self, base: str) -> str:
        name = class_name(base, self.names)
        self.names.add(name)
        return name

    def expr(self, s: Sub, path: Path, subst: dict[Path, str], indent: str = INDENT * 2) -> str:
        if s.model is not None:
            return ident(s.model)
        if s.plan is not None and s.plan.kind == "sequential":
            items = [self.expr(c, (*path, i), subst, indent + INDENT) for i, c in enumerate(s.plan.subs)]
            if [c.name for c in s.plan.subs] != [str(i) for i in range(len(items))]:  # named copies
                named = zip(s.plan.subs, items, strict=True)
                items = [f"({attribute(c.name)!r}, {item})" for c, item in named]
                inner = "".join(f"{indent}{INDENT}{item},\n" for item in items)
                return f"nn.Sequential(OrderedDict([\n{inner}{indent}]))"
            flat = "nn.Sequential(" + ", ".join(items) + ")"
            if len(flat) + len(indent) <= 90 or len(items) < 2:
                return flat
            inner = "".join(f"{indent}{INDENT}{item},\n" for item in items)
            return f"nn.Sequential(\n{inner}{indent})"
        if s.plan is not None:
            cls = self.block(s.plan)
            values = self.blocks.args(s.plan)
        else:
            assert s.ctor is not None
            cls, values = self.ctor_name(s.ctor), s.ctor.kwargs
            defaults = _defaults(s.ctor)
            values = {
                k: v
                for k, v in values.items()
                if (*path, k) in subst or k not in defaults or defaults[k] != v
            }
        rendered = ", ".join(
            f"{ident(k)}={ident(subst[(*path, k)]) if (*path, k) in subst else _literal(v)}"
            for k, v in values.items()
        )
        return f"{cls}({rendered})"

    def tensor_lines(self, s: Sub) -> list[str]:
        """The lines that give the module a node's tensor: a parameter, or a buffer."""
        t = s.tensor
        assert t is not None
        shape = _literal(tuple(t.shape))
        if t.fill in SCHEMES:
            kwargs = "".join(f", {ident(k)}={_literal(v)}" for k, v in t.kwargs.items())
            make = f"torch.empty({shape}, dtype=torch.{ident(t.dtype)})"
            fill = [f"nn.init.{ident(SCHEMES[t.fill][0])}({_self_attr(s.name)}{kwargs})"]
        else:
            self.families.setdefault("archspec.torchmods.constants", set()).add(t.fill)
            args = ", ".join(f"{ident(k)}={_literal(v)}" for k, v in t.kwargs.items())
            make = f"{ident(t.fill)}({args}).to(torch.{ident(t.dtype)})"
            fill = []
        if t.buffer:
            persistent = "" if t.persistent else ", persistent=False"
            return [f"self.register_buffer({attribute(s.name)!r}, {make}{persistent})", *fill]
        grad = ", requires_grad=False" if s.frozen else ""
        return [f"self.register_parameter({attribute(s.name)!r}, nn.Parameter({make}{grad}))", *fill]

    def ctor_name(self, c: TorchCtor) -> str:
        module = c.source_module
        if module is None:
            return "nn." + ident(c.cls.removeprefix("nn."))
        self.families.setdefault(module, set()).add(c.class_name)
        return ident(c.class_name)

    def sequential_body(self, plan: Plan, subst: dict[Path, str], args: str, extra: list[str]) -> str:
        items = []
        for s in plan.subs:
            if s.doc:
                items.append(f"{INDENT * 3}# {_comment(s.doc)}")
            items.append(
                f"{INDENT * 3}({attribute(s.name)!r}, {self.expr(s, (s.name,), subst, INDENT * 3)}),"
            )
        lines = [f"{INDENT}def __init__(self{args}) -> None:", f"{INDENT * 2}super().__init__(OrderedDict(["]
        lines += [*items, f"{INDENT * 2}]))"]
        lines += [f"{INDENT * 2}{_self_attr(s.name)}.requires_grad_(False)" for s in plan.subs if s.frozen]
        lines += [f"{INDENT * 2}{line}" for line in extra]
        return "\n".join(lines) + "\n"

    def module_body(
        self, plan: Plan, subst: dict[Path, str], args: str, extra: list[str], models: list[str]
    ) -> str:
        lines = [f"{INDENT}def __init__(self{args}) -> None:", f"{INDENT * 2}super().__init__()"]
        for m in models:
            m = ident(m)
            lines.append(f"{INDENT * 2}{m} = {m} if {m} is not None else {ident(self.models[m])}()")
        for s in plan.subs:
            if s.doc:
                lines.append(f"{INDENT * 2}# {_comment(s.doc)}")
            if s.tensor is not None:
                lines += [f"{INDENT * 2}{line}" for line in self.tensor_lines(s)]
                continue
            if s.name.isdigit():  # a copy of a repeat
                lines.append(
                    f"{INDENT * 2}self.add_module({attribute(s.name)!r}, {self.expr(s, (s.name,), subst)})"
                )
            else:
                lines.append(f"{INDENT * 2}self.{ident(s.name)} = {self.expr(s, (s.name,), subst)}")
            if s.frozen:
                lines.append(f"{INDENT * 2}{_self_attr(s.name)}.requires_grad_(False)")
        lines += [f"{INDENT * 2}{line}" for line in extra]
        var = plan.variables()
        lines += ["", f"{INDENT}def forward(self, {', '.join(ident(var[i]) for i in plan.inputs)}):"]
        for step in plan.steps:
            names = [ident(var[i]) for i in step.inputs]
            if step.attr is not None:
                call = _self_attr(step.attr)
            elif step.module is not None:
                call = f"{_self_attr(step.module)}({', '.join(names)})"
            else:
                assert step.fn is not None
                call = fn_source(step.fn, names, _literal)
            targets = ", ".join(ident(var[f"{step.var}.{o}"]) for o in step.outs)
            lines.append(f"{INDENT * 2}{targets} = {call}")
        lines.append(f"{INDENT * 2}return {', '.join(ident(var[o]) for o in plan.outputs)}")
        return "\n".join(lines) + "\n"

    def render(self, analyses: list[Analysis]) -> str:
        spec = analyses[0].spec
        head = [
            f'"""{_doc(spec.name)}: generated by archspec {__version__} from {_doc(spec.shown_path)}.',
            "",
            "Standalone PyTorch: it imports only torch. Weights saved from `archspec.build`",
            "(its state_dict) load into these classes unchanged.",
            '"""',
            "",
            "from __future__ import annotations",
            "",
        ]
        copied = [family_source(module, used) for module, used in self.families.items()]
        body = "\n".join(copied + self.classes)
        stdlib = ["import math"] if "math." in body else []
        stdlib += ["from collections import OrderedDict"] if "OrderedDict(" in body else []
        head += [*stdlib, *([""] if stdlib else []), "import torch", "from torch import nn", ""]
        parts = ["\n".join(head), *copied, *self.classes]
        names = ", ".join(repr(ident(self.models[a.model])) for a in analyses)
        parts.append(f"__all__ = [{names}]\n")
        return "\n\n".join(p.rstrip("\n") + "\n" for p in parts)


def _model_lines(a: Analysis, plan: Plan) -> list[str]:
    """Init, tie and freeze lines that act on the whole model."""
    lines = []
    inits = layer_inits(a)
    if inits:
        lines.append("with torch.no_grad():")
        for param, scheme in inits:
            name, settings = split(scheme)
            kwargs = "".join(f", {ident(k)}={_literal(v)}" for k, v in settings.items())
            target = f"self.get_parameter({param!r})"
            lines.append(f"{INDENT}nn.init.{ident(SCHEMES[name][0])}({target}{kwargs})")
    for param, source in plan.ties:
        (owner, _, attr), (src, _, src_attr) = param.rpartition("."), source.rpartition(".")
        lines.append(
            f"self.get_submodule({owner!r}).{ident(attr)} = self.get_submodule({src!r}).{ident(src_attr)}"
        )
    return lines


def _penalty_method(plan: Plan) -> str:
    """``regularization_loss()``: the spec's L1/L2 weight penalties (0 when there are none)."""
    lines = [
        "",
        f"{INDENT}def {PENALTY_METHOD}(self) -> torch.Tensor:",
        f"{INDENT * 2}total = torch.zeros(())",
    ]
    for params, l1, l2 in plan.penalties:
        weights = ", ".join(f"self.get_parameter({p!r})" for p in params) + ("," if len(params) == 1 else "")
        lines += [
            f"{INDENT * 2}for w in ({weights}):",
            f"{INDENT * 3}total = total + {_literal(l1)} * w.abs().sum() + {_literal(l2)} * w.pow(2).sum()",
        ]
    lines.append(f"{INDENT * 2}return total")
    return "\n".join(lines) + "\n"


def _self_attr(name: str) -> str:
    """``self.name``, or ``getattr(self, "0")`` for a repeat copy's digits."""
    return f"getattr(self, {attribute(name)!r})" if name.isdigit() else f"self.{ident(name)}"


def _defaults(c: TorchCtor) -> dict[str, Any]:
    """The keyword defaults of the class a layer builds (so the source can leave them out)."""
    from archspec.backends.torch.ops import module_class

    cls = c.impl if c.impl is not None else module_class(c.cls)
    params = inspect.signature(cls.__init__).parameters.values()
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def _is_chain(plan: Plan) -> bool:
    if plan.kind != "graph" or len(plan.inputs) != 1 or len(plan.outputs) != 1:
        return False
    prev = plan.inputs[0]
    for step in plan.steps:
        if step.module is None or step.inputs != [prev] or len(step.outs) != 1:
            return False
        prev = step.var
    return plan.outputs == [prev]


def _called_models(a: Analysis) -> set[str]:
    return {n.type for n in a.graph.body() if n.kind == "model"}


def _with_called_models(analyses: list[Analysis]) -> list[Analysis]:
    """The analyses and those of every model they call, callees first."""
    from archspec.passes import analyze

    out: dict[str, Analysis] = {}

    def visit(a: Analysis) -> None:
        if a.model in out:
            return
        for name in sorted(_called_models(a)):
            visit(analyze(a.spec, name, a.sizes))
        out[a.model] = a

    for a in analyses:
        visit(a)
    return list(out.values())


def _literal(value: Any) -> str:
    """A Python literal for a setting: only None, bools, ints, finite floats, strings, lists, tuples."""
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_literal(v) for v in value)
        return (
            f"({inner},)"
            if isinstance(value, tuple) and len(value) == 1
            else (f"({inner})" if isinstance(value, tuple) else f"[{inner}]")
        )
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    raise ValueError(f"refusing to write a {type(value).__name__} into generated code")


def _printable(text: str) -> str:
    """Free text on one line: whitespace runs become one space, other control characters,
    surrogates and non-printable characters their escapes."""
    one_line = " ".join(text.split())
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii")
        for c in one_line
    )


def _comment(text: str) -> str:
    """Free text as a one-line comment."""
    return _printable(text)


def _doc(text: str) -> str:
    """Free text as the inside of a one-line docstring: backslashes and quotes escaped."""
    return _printable(text).replace("\\", "\\\\").replace('"', '\\"')
