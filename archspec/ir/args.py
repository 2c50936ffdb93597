"""Block arguments, checked by a pydantic model generated from the block's `args:`.

``args: {channels: int, stride: 1, project: false}`` declares ``channels`` required (an
``int``), ``stride`` an ``int`` defaulting to 1 and ``project`` a ``bool`` defaulting to false.
Type names are ``int``, ``float``, ``bool`` and ``str``; a default's type is the argument's type
(an ``int`` is accepted where a ``float`` is declared, never a ``bool`` where a number is).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Union

from pydantic import BaseModel, ConfigDict, StrictBool, StrictFloat, StrictInt, StrictStr, create_model

from archspec.errors import ArchspecError, Loc

TYPES: dict[str, Any] = {
    "int": StrictInt,
    "float": Union[StrictInt, StrictFloat],
    "bool": StrictBool,
    "str": StrictStr,
}


def arg_type(declared: Any) -> tuple[Any, Any]:
    """(annotation, default) of one declared argument (``...`` when required)."""
    if isinstance(declared, str) and declared in TYPES:
        return TYPES[declared], ...
    if isinstance(declared, bool):
        return StrictBool, declared
    if isinstance(declared, int):
        return StrictInt, declared
    if isinstance(declared, float):
        return TYPES["float"], declared
    return StrictStr, declared


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


@lru_cache(maxsize=1024)
def _model(block: str, declared: tuple[tuple[str, Any], ...]) -> type[BaseModel]:
    fields: dict[str, Any] = {name: arg_type(d) for name, d in declared}
    return create_model(f"{block}_args", __base__=_Args, **fields)  # type: ignore[no-any-return,call-overload]


def args_model(block: str, declared: dict[str, Any]) -> type[BaseModel]:
    """The pydantic model of a block's arguments (cached per declaration)."""
    return _model(block, tuple(declared.items()))


def required(declared: dict[str, Any]) -> list[str]:
    return [k for k, d in declared.items() if isinstance(d, str) and d in TYPES]


def given_args(block: str, declared: dict[str, Any], value: Any, loc: Loc | None, node: str | None) -> Any:
    """The arguments as written at an instance: a mapping, or the shorthand value of a block with
    one required (or one) argument."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    req = required(declared)
    if len(req) == 1 or len(declared) == 1:
        return {(req or list(declared))[0]: value}
    raise ArchspecError(
        "schema",
        f"block '{block}' takes named arguments",
        loc=loc,
        node=node,
        hint="write `" + block + ": {" + ", ".join(f"{k}: ..." for k in declared) + "}`",
    )
