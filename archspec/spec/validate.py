"""Turning pydantic validation errors into located ArchspecErrors."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from archspec.errors import ArchspecError, did_you_mean
from archspec.spec.loader import PathKey, Source


def validate(
    model: type[BaseModel],
    data: Any,
    src: Source,
    path: PathKey,
    *,
    node: str | None = None,
    what: str = "",
) -> Any:
    """``model.model_validate(data)``, raising the first problem as an ArchspecError."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise from_pydantic(e, model, data, src, path, node=node, what=what) from None


def from_pydantic(
    e: ValidationError,
    model: type[BaseModel],
    data: Any,
    src: Source,
    path: PathKey,
    *,
    node: str | None = None,
    what: str = "",
) -> ArchspecError:
    err = _pick(e, data)
    rel = _data_path(data, err["loc"])
    where = (*path, *rel)
    field = ".".join(str(p) for p in rel) or what or "value"
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _fields_at(model, rel[:-1])
        key = str(rel[-1])
        hint = did_you_mean(key, allowed) if allowed else None
        torch_names: dict[str, str | None] = getattr(model, "torch_names", {})  # the layer says
        if key in torch_names and torch_names[key] is None:
            hint = f"'{key}' is inferred from the input's shape; remove it"
        elif key in torch_names and torch_names[key] in allowed:
            hint = f"archspec writes PyTorch's '{key}' as '{torch_names[key]}'"
        if allowed and not hint:
            hint = "allowed: " + ", ".join(sorted(allowed))
        return ArchspecError(
            "unknown-field",
            f"unknown field '{rel[-1]}'" + (f" in {what}" if what else ""),
            loc=src.loc(where),
            node=node,
            hint=hint,
        )
    if kind == "missing":
        name = err["loc"][-1]
        return ArchspecError(
            "schema",
            f"missing required field '{name}'" + (f" in {what}" if what else ""),
            loc=src.loc(where),
            node=node,
        )
    got = err.get("input")
    hint = None
    if isinstance(got, str) and got.lower() in ("yes", "no", "on", "off", "y", "n"):
        hint = "archspec reads yes/no/on/off as strings (YAML 1.2), not booleans: write true or false"
    msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    shown = _short(got)
    if isinstance(got, float) and got.is_integer() and "integer" in str(err["msg"]):
        hint = "a whole number is needed: write it without a decimal point (in an expression, `//`)"
    if type(got).__name__ == "Sym":  # a symbolic size where a number is needed
        hint = "this setting needs a known number; give the dim it reads a fixed size in `inputs:`"
        shown = f"{got} (a symbolic size)"
    return ArchspecError(
        "schema",
        (
            f"invalid value for '{field}'" + (f" in {what}" if what else "")
            if rel
            else (f"invalid settings for {what}" if what else "invalid value")
        )
        + f": {msg}",
        loc=src.value_loc(where),
        node=node,
        got=shown,
        hint=hint,
    )


def _pick(e: ValidationError, data: Any) -> Any:
    """The most useful error of several (pydantic reports one per union branch): an unknown or
    missing key, else the one that reaches deepest into the data (the branch the value meant)."""
    errors = e.errors(include_url=False)
    for wanted in ("extra_forbidden", "missing"):
        for err in errors:
            if err["type"] == wanted:
                return err
    return max(errors, key=lambda err: len(_data_path(data, err["loc"])))


def _data_path(data: Any, loc: tuple[Any, ...]) -> PathKey:
    """Keep the parts of a pydantic error location that index into the data."""
    out: list[str | int] = []
    cur = data
    for part in loc:
        if (isinstance(cur, dict) and part in cur) or (
            isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)
        ):
            out.append(part)
            cur = cur[part]
        elif isinstance(part, str) and part[:1].isupper():
            continue  # a union branch's class name (InputSpec), not a key
        elif isinstance(cur, dict) and isinstance(part, str) and part not in cur and _is_key(part):
            out.append(part)  # a missing or extra key: point at its parent
            break
    return tuple(out)


def _is_key(part: str) -> bool:
    return not any(c in part for c in "[]()-,") and part not in ("str", "int", "float", "bool")


def _fields_at(model: type[BaseModel], rel: PathKey) -> list[str]:
    cur: Any = model
    for part in rel:
        if isinstance(part, int):
            continue
        fields = getattr(cur, "model_fields", None)
        if not fields or part not in fields:
            return []
        cur = _model_in(fields[part].annotation)
    fields = getattr(cur, "model_fields", None)
    return list(fields) if fields else []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _what_is_invalid(field: str, what: str | None, inside: bool) -> str:
    if inside:
        return f"invalid value for '{field}'" + (f" in {what}" if what else "")
    return f"invalid settings for {what}" if what else "invalid value"


def _short(value: Any) -> str | None:
    if value is None:
        return None
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
