"""Turning a layer's ``TorchCtor``/``TorchFn`` into torch objects (torch is imported here)."""

from __future__ import annotations

import importlib
import operator
from collections.abc import Callable
from functools import reduce
from typing import Any

import torch
from torch import nn

from archspec.layers.base import TorchCtor, TorchFn

# The functions a functional layer may name, with how the standalone source writes them.
FUNCTIONS: dict[str, tuple[Callable[..., Any], str]] = {
    "add": (operator.add, "{0} + {1}"),
    "mul": (operator.mul, "{0} * {1}"),
    "cat": (torch.cat, "torch.cat"),
    "stack": (torch.stack, "torch.stack"),
    "matmul": (torch.matmul, "torch.matmul"),
}


def module_class(cls: str) -> type[nn.Module]:
    """``nn.Linear`` -> torch.nn.Linear; ``<family>.<Class>`` -> archspec.torchmods.<family>.<Class>.

    The names come from archspec's layer registry, never from a spec file.
    """
    prefix, _, name = cls.partition(".")
    if prefix == "nn":
        found = getattr(nn, name, None)
    else:
        found = getattr(importlib.import_module(f"archspec.torchmods.{prefix}"), name, None)
    if not (isinstance(found, type) and issubclass(found, nn.Module)):
        raise ValueError(f"{cls!r} is not a torch module class")
    return found


def make_module(ctor: TorchCtor) -> nn.Module:
    cls = ctor.impl if ctor.impl is not None else module_class(ctor.cls)
    return cls(**ctor.kwargs)  # type: ignore[no-any-return]


def call_fn(fn: TorchFn, inputs: list[Any], apply: Callable[..., Any] | None = None) -> Any:
    """Apply a functional layer to its inputs; ``apply(f, args, kwargs)`` makes each call
    (by default calling ``f``; torch_build records it as a node of an fx graph instead)."""
    f = FUNCTIONS[fn.fn][0]
    do = apply or (lambda func, args, kwargs: func(*args, **kwargs))
    if fn.reduce:
        return reduce(lambda a, b: do(f, (a, b), dict(fn.kwargs)), inputs)
    return do(f, (list(inputs),), dict(fn.kwargs))


def fn_source(fn: TorchFn, args: list[str]) -> str:
    """The same call as Python source, for the standalone module."""
    template = FUNCTIONS[fn.fn][1]
    kwargs = "".join(f", {k}={v!r}" for k, v in fn.kwargs.items())
    if fn.reduce:
        if "{0}" in template:
            out = args[0]
            for a in args[1:]:
                out = template.format(out, a)
            return out
        out = args[0]
        for a in args[1:]:
            out = f"{template}({out}, {a}{kwargs})"
        return out
    return f"{template}([{', '.join(args)}]{kwargs})"
