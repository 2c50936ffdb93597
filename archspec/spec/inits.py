"""Initializer schemes a spec may name (``init:``), checked statically (no torch here)."""

from __future__ import annotations

from typing import Any

# scheme -> (torch.nn.init function, allowed settings)
SCHEMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "xavier_uniform": ("xavier_uniform_", ("gain",)),
    "xavier_normal": ("xavier_normal_", ("gain",)),
    "kaiming_uniform": ("kaiming_uniform_", ("a",)),
    "kaiming_normal": ("kaiming_normal_", ("a",)),
    "normal": ("normal_", ("mean", "std")),
    "trunc_normal": ("trunc_normal_", ("mean", "std", "a", "b")),
    "uniform": ("uniform_", ("a", "b")),
    "constant": ("constant_", ("val",)),
    "orthogonal": ("orthogonal_", ("gain",)),
    "zeros": ("zeros_", ()),
    "ones": ("ones_", ()),
}
NEEDS_2D = frozenset({"xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal"})


def split(scheme: Any) -> tuple[str, dict[str, float]]:
    """``"zeros"`` or ``{"normal": {"std": 0.02}}`` -> (name, settings)."""
    if isinstance(scheme, str):
        return scheme, {}
    ((name, settings),) = scheme.items()
    return name, dict(settings or {})


def by_param(init: Any, default: str = "weight") -> dict[str, Any]:
    """A node's ``init:`` as {parameter name: scheme}; one scheme applies to ``default`` (the
    layer's ``weight``, or "" for a ``parameter`` node: the tensor itself)."""
    if isinstance(init, dict) and not (len(init) == 1 and next(iter(init)) in SCHEMES):
        return dict(init)
    return {default: init}


def problem(scheme: Any, shape: tuple[int, ...] | None) -> str | None:
    """Why ``scheme`` cannot initialize a parameter of ``shape`` (None: it can)."""
    if isinstance(scheme, dict) and len(scheme) != 1:
        return "an initializer is one scheme, e.g. {normal: {std: 0.02}}"
    name, settings = split(scheme)
    if name not in SCHEMES:
        return f"unknown initializer '{name}'"
    allowed = SCHEMES[name][1]
    bad = sorted(set(settings) - set(allowed))
    if bad:
        return f"'{name}' takes no setting '{bad[0]}' (settings: {', '.join(allowed) or 'none'})"
    if shape is None:
        return "the layer has no such parameter"
    if name in NEEDS_2D and len(shape) < 2:
        return f"'{name}' needs a parameter of at least 2 dimensions"
    return None
