"""Apply the spec's ``init:`` schemes with torch.nn.init (checked statically before)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from archspec.spec.inits import SCHEMES, split


def apply(root: nn.Module, param: str, scheme: Any) -> None:
    """Initialize the parameter at path ``param`` with ``scheme``."""
    name, settings = split(scheme)
    tensor = root.get_parameter(param)
    with torch.no_grad():
        getattr(nn.init, SCHEMES[name][0])(tensor, **settings)
