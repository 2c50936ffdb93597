"""Loading and validating spec files: ``load`` returns a ``Spec``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from archspec.errors import ArchspecError, Loc, did_you_mean
from archspec.spec import expr
from archspec.spec.loader import PathKey, Source, load_path
from archspec.spec.loader import load_text as parse_text
from archspec.spec.model import BlockSpec, ModelSpec, SpecFile
from archspec.spec.names import MAX_NAME, name_problem
from archspec.spec.validate import validate

__all__ = ["Spec", "read", "read_text"]

DEFAULT_MODEL = "model"


@dataclass
class Spec:
    """A validated spec: its models and blocks, its variables, and its source map."""

    name: str
    source: Source
    file: SpecFile
    vars: dict[str, Any]
    blocks: dict[str, BlockSpec]
    models: dict[str, ModelSpec]
    single: bool  # the model is written at the top level, not under `models:`
    # what later stages derive from this spec, computed once (elaborated graphs): never changed
    cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def path(self) -> str:
        return self.source.file

    @property
    def shown_path(self) -> str:
        """The path as artifacts show it: as given when relative, the file name alone when
        absolute (an artifact never carries the machine's directories)."""
        return PurePath(self.path).name if PurePath(self.path).is_absolute() else self.path

    def model_path(self, model: str) -> PathKey:
        return () if self.single else ("models", model)

    def model_names(self) -> list[str]:
        return list(self.models)

    def scope(self, model: str) -> dict[str, Any]:
        """The variables a model's layers see: the file's `vars`, then the model's own."""
        key = ("scope", model)
        if key not in self.cache:
            own = self.models[model].vars
            self.cache[key] = eval_vars(own, self.source, (*self.model_path(model), "vars"), dict(self.vars))
        scope: dict[str, Any] = self.cache[key]
        return scope

    def pick(self, model: str | None) -> list[str]:
        """The models to act on: the one named, or all of them."""
        if model is None:
            return self.model_names()
        if model not in self.models:
            raise ArchspecError(
                "no-model",
                f"no model named '{model}' in {self.path}",
                hint=did_you_mean(model, self.model_names()) or "models: " + ", ".join(self.model_names()),
            )
        return [model]


def read(path: str | Path) -> Spec:
    """The spec file at ``path``, validated section by section (its models are not elaborated:
    ``archspec.load`` does that too)."""
    if not isinstance(path, (str, Path)):
        raise ArchspecError("file-not-found", f"a spec path is a str or Path, not {type(path).__name__}")
    if isinstance(path, str) and ("\n" in path or path.lstrip().startswith("{")):
        raise ArchspecError(
            "file-not-found",
            "archspec.load takes a file path; this looks like spec text",
            hint="use archspec.load_text(text) for spec text",
        )
    return from_source(load_path(path))


def read_text(text: str, *, name: str = "<string>", fmt: str | None = None) -> Spec:
    """Spec text (YAML, or JSON when ``fmt="json"`` or the text starts with ``{``), validated
    section by section. ``name`` is the file name errors report; the text is never a path."""
    if not isinstance(text, str):
        raise ArchspecError("syntax", f"spec text is a str, not {type(text).__name__}")
    return from_source(parse_text(text, name, fmt))


def from_source(src: Source) -> Spec:
    data = src.data
    if not isinstance(data, dict):
        raise ArchspecError(
            "schema",
            "a spec must be a mapping with `inputs` and `layers` (or `models`)",
            loc=src.loc(()) or Loc(src.file, 1, 1),
        )
    f: SpecFile = validate(SpecFile, data, src, (), what="the spec")
    single = f.models is None
    if single:
        if f.inputs is None or f.layers is None:
            missing = "inputs" if f.inputs is None else "layers"
            raise ArchspecError(
                "schema",
                f"missing required field '{missing}'",
                loc=src.loc(()) or Loc(src.file, 1, 1),
                hint="a spec has `inputs:` and `layers:`, or several models under `models:`",
            )
        model = ModelSpec(inputs=f.inputs, layers=f.layers, outputs=f.outputs, seed=f.seed, doc=f.doc)
        models = {DEFAULT_MODEL if f.name is None else _ident(f.name): model}
    else:
        for key in ("inputs", "layers", "outputs"):
            if getattr(f, key) is not None:
                raise ArchspecError(
                    "schema",
                    f"top-level '{key}' cannot be used together with `models:`",
                    loc=src.loc((key,)),
                    hint="move it into one of the models",
                )
        models = dict(f.models or {})
    _check_names(src, f, models)
    name = f.name or Path(src.file).stem
    return Spec(name, src, f, eval_vars(f.vars, src, ("vars",)), dict(f.blocks), models, single)


def _ident(name: str) -> str:
    """The model name a spec's `name:` gives: ASCII letters, digits and '_', starting with a letter."""
    clean = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in name)[: MAX_NAME - 6]
    clean = clean if clean[:1].isalpha() else "model_" + clean
    return clean if name_problem(clean) is None else "model_" + clean


def _check_names(src: Source, f: SpecFile, models: dict[str, ModelSpec]) -> None:
    from archspec.layers import registry

    layers = registry()
    for section, names in (("blocks", f.blocks), ("models", f.models or {})):
        for name in names:
            problem = name_problem(name)
            if problem:
                raise ArchspecError(
                    "bad-name", f"bad {section[:-1]} name '{name}': {problem}", loc=src.loc((section, name))
                )
            if name in layers:
                raise ArchspecError(
                    "duplicate-name",
                    f"{section[:-1]} '{name}' has the name of a built-in layer type",
                    loc=src.loc((section, name)),
                    hint="rename it",
                )
    for name, block in f.blocks.items():
        if name in models:
            raise ArchspecError(
                "duplicate-name", f"'{name}' names both a block and a model", loc=src.loc(("blocks", name))
            )
        _check_block_inputs(src, name, block)


def _check_block_inputs(src: Source, name: str, block: BlockSpec) -> None:
    seen: set[str] = set()
    for i, inp in enumerate(block.inputs):
        loc = src.value_loc(("blocks", name, "inputs", i))
        problem = name_problem(inp, is_input=True)
        if problem:
            raise ArchspecError("bad-name", f"bad input name {inp!r} of block '{name}': {problem}", loc=loc)
        if inp in seen:
            raise ArchspecError("duplicate-name", f"block '{name}' lists the input '{inp}' twice", loc=loc)
        seen.add(inp)
    if not block.inputs:
        raise ArchspecError(
            "schema", f"block '{name}' has no inputs", loc=src.loc(("blocks", name, "inputs"))
        )


def eval_vars(
    values: dict[str, Any], src: Source, path: PathKey, scope: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Variables in order (after those of ``scope``); a `$expression` may use the ones before it."""
    scope = dict(scope or {})
    for key, value in values.items():
        if not key.isidentifier():
            raise ArchspecError(
                "bad-name", f"variable name '{key}' is not an identifier", loc=src.loc((*path, key))
            )
        try:
            scope[key] = expr.substitute(value, scope)
        except expr.ExprError as e:
            raise ArchspecError(
                "expression",
                f"variable '{key}': {e}",
                loc=src.value_loc((*path, key)),
                hint="a variable may use only the variables defined before it",
            ) from None
    return scope
