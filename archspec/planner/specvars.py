"""A spec loaded with some of its ``vars:`` replaced (``archspec plan --var depth=2``): plan a
scaled-down or scaled-up configuration of a shipped architecture without editing the file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from archspec.errors import ArchspecError, did_you_mean
from archspec.spec import Spec

Scalar = int | float | bool | str


def load_with_vars(path: str | Path, overrides: Mapping[str, Scalar]) -> Spec:
    """Load and check the spec at ``path`` with the variables in ``overrides`` replaced (values
    as a spec would write them: ``4096``, ``0.1``, ``"$4 * d_model"``); the variables after
    them are recomputed from the new values."""
    from archspec import passes
    from archspec.spec import from_source
    from archspec.spec.loader import load_path

    src = load_path(path)
    data = src.data
    known = dict(data.get("vars") or {}) if isinstance(data, dict) else {}
    for name in overrides:
        if name not in known:
            raise ArchspecError(
                "bad-value",
                f"'{name}' is not a variable of {src.file}",
                hint=did_you_mean(name, list(known))
                or ("its vars: " + ", ".join(known) if known else "it has none"),
            )
    if overrides and isinstance(data, dict):
        data["vars"] = {**known, **overrides}
    spec = from_source(src)
    passes.check_spec(spec)
    return spec


def parse_vars(items: list[str]) -> dict[str, Scalar]:
    """``NAME=VALUE`` items: integers, floats, true/false, else text (``$expr`` stays text)."""
    out: dict[str, Scalar] = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name.strip().isidentifier():
            raise ArchspecError("bad-value", f"--var expects NAME=VALUE, got {item!r}")
        out[name.strip()] = _scalar(value.strip())
    return out


def _scalar(text: str) -> Scalar:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
