"""Weight initializers named in specs (``init:``), applied with torch.nn.init."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from archspec.errors import ArchspecError

# scheme -> (nn.init function, allowed settings)
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
NEEDS_2D = {"xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal"}


def split(scheme: Any) -> tuple[str, dict[str, float]]:
    """``"zeros"`` or ``{"normal": {"std": 0.02}}`` -> (name, settings)."""
    if isinstance(scheme, str):
        return scheme, {}
    ((name, settings),) = scheme.items()
    return name, dict(settings or {})


def apply(root: nn.Module, path: str, param: str, scheme: Any) -> None:
    name, settings = split(scheme)
    fn_name, allowed = SCHEMES[name]
    where = f"{path}.{param}"
    try:
        tensor = root.get_submodule(path).get_parameter(param)
    except AttributeError:
        raise ArchspecError("bad-value", f"init: the layer has no parameter '{param}'", node=path) from None
    bad = set(settings) - set(allowed)
    if bad:
        raise ArchspecError(
            "bad-value",
            f"init '{name}' takes no setting {sorted(bad)[0]!r}",
            node=where,
            hint="settings: " + (", ".join(allowed) or "none"),
        )
    if name in NEEDS_2D and tensor.dim() < 2:
        raise ArchspecError(
            "bad-value", f"init '{name}' needs a parameter of at least 2 dimensions", node=where,
            hint="use it on `weight`; biases take zeros, constant, normal or uniform",
        )
    with torch.no_grad():
        getattr(nn.init, fn_name)(tensor, **settings)
