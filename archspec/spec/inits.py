"""Initializer schemes a spec may name (``init:``), checked statically (no torch here): the
scheme, its settings' names, and their values, so that torch.nn.init never refuses them."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

# scheme -> (torch.nn.init function, allowed settings)
SCHEMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "xavier_uniform": ("xavier_uniform_", ("gain",)),
    "xavier_normal": ("xavier_normal_", ("gain",)),
    "kaiming_uniform": ("kaiming_uniform_", ("a", "mode", "nonlinearity")),
    "kaiming_normal": ("kaiming_normal_", ("a", "mode", "nonlinearity")),
    "normal": ("normal_", ("mean", "std")),
    "trunc_normal": ("trunc_normal_", ("mean", "std", "a", "b")),
    "uniform": ("uniform_", ("a", "b")),
    "constant": ("constant_", ("val",)),
    "orthogonal": ("orthogonal_", ("gain",)),
    "zeros": ("zeros_", ()),
    "ones": ("ones_", ()),
}
# the settings that are words, and the words torch.nn.init takes for them
WORDS: dict[str, tuple[str, ...]] = {
    "mode": ("fan_in", "fan_out"),
    "nonlinearity": ("leaky_relu", "relu", "linear", "sigmoid", "tanh", "selu", "conv1d", "conv2d", "conv3d"),
}
LIMIT = 1e30  # the largest |setting|: a float32 range stays finite (torch refuses a wider one)
NEEDS_2D = frozenset({"xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal"})


def split(scheme: Any) -> tuple[str, dict[str, Any]]:
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


class Problem(NamedTuple):
    """What is wrong with an ``init:`` scheme, and whether it is one of the scheme's settings."""

    message: str
    in_settings: bool = False


def problem(scheme: Any, shape: tuple[int, ...] | None) -> Problem | None:
    """Why ``scheme`` cannot initialize a parameter of ``shape`` (None: it can)."""
    if isinstance(scheme, dict) and len(scheme) != 1:
        return Problem("an initializer is one scheme, e.g. {normal: {std: 0.02}}")
    name, settings = split(scheme)
    if name not in SCHEMES:
        return Problem(f"unknown initializer '{name}'")
    allowed = SCHEMES[name][1]
    bad = sorted(set(settings) - set(allowed))
    if bad:
        return Problem(
            f"'{name}' takes no setting '{bad[0]}' (settings: {', '.join(allowed) or 'none'})", True
        )
    why = _values(name, settings)
    if why:
        return Problem(why, True)
    if shape is None:
        return Problem("the layer has no such parameter")
    if name in NEEDS_2D and len(shape) < 2:
        return Problem(f"'{name}' needs a parameter of at least 2 dimensions")
    return None


def _values(name: str, settings: dict[str, Any]) -> str | None:
    """Why torch.nn.init would refuse these settings (None: it takes them)."""
    for key, value in settings.items():
        if key in WORDS:
            if value not in WORDS[key]:
                return f"'{name}' setting '{key}' must be one of {', '.join(WORDS[key])}, got {value!r}"
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"'{name}' setting '{key}' must be a number, got {value!r}"
        elif not (math.isfinite(value) and abs(value) <= LIMIT):
            return f"'{name}' setting '{key}' must be finite, of magnitude at most {LIMIT:g}, got {value!r}"
    std = settings.get("std", 1.0)
    if name in ("normal", "trunc_normal") and not (std > 0 if name == "trunc_normal" else std >= 0):
        return f"'{name}' needs std {'> 0' if name == 'trunc_normal' else '>= 0'}, got {std!r}"
    low, high = (
        settings.get("a", -2.0 if name == "trunc_normal" else 0.0),
        settings.get("b", 2.0 if name == "trunc_normal" else 1.0),
    )
    if name == "uniform" and not low <= high:
        return f"'uniform' needs a <= b (the range [a, b)), got a={low!r}, b={high!r}"
    if name == "trunc_normal" and not low < high:
        return f"'trunc_normal' needs a < b (the range it is cut to), got a={low!r}, b={high!r}"
    return None
