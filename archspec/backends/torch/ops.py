"""Turning a layer's ``TorchCtor``/``TorchFn`` into torch objects (torch is imported here)."""

from __future__ import annotations

import importlib
import operator
from collections.abc import Callable
from functools import reduce
from typing import Any

import torch
from torch import nn

from archspec.layers.base import TorchCtor, TorchFn, TorchTensor
from archspec.spec.inits import SCHEMES
from archspec.spec.names import ident

# The modules a functional layer's dotted `fn` may start from.
_ROOTS: dict[str, Any] = {"torch": torch, "operator": operator}


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


def function(fn: TorchFn) -> Callable[..., Any]:
    """The callable a functional layer names: a plugin's own, or ``torch.x.y`` / ``operator.x``."""
    if fn.impl is not None:
        return fn.impl  # type: ignore[no-any-return]
    root, *rest = fn.fn.split(".")
    if root not in _ROOTS:
        raise ValueError(f"{fn.fn!r} is not a torch or operator function")
    found = _ROOTS[root]
    for part in rest:
        found = getattr(found, part)
    if not callable(found):
        raise ValueError(f"{fn.fn!r} is not callable")
    return found  # type: ignore[no-any-return]


def call_fn(fn: TorchFn, inputs: list[Any], apply: Callable[..., Any] | None = None) -> Any:
    """Apply a functional layer to its inputs; ``apply(f, args, kwargs)`` makes each call
    (by default calling ``f``; torch_build records it as a node of an fx graph instead)."""
    f = function(fn)
    do = apply or (lambda func, args, kwargs: func(*args, **kwargs))
    if fn.reduce:
        return reduce(lambda a, b: do(f, (a, b), dict(fn.kwargs)), inputs)
    if fn.pack:
        return do(f, (list(inputs),), dict(fn.kwargs))
    return do(f, tuple(inputs), dict(fn.kwargs))


def fn_source(fn: TorchFn, args: list[str], literal: Callable[[Any], str] = repr) -> str:
    """The same call as Python source (``args`` are identifiers), for the standalone module."""
    kwargs = "".join(f", {ident(k)}={literal(v)}" for k, v in fn.kwargs.items())
    if fn.source is not None:
        if fn.reduce:
            out = args[0]
            for a in args[1:]:
                out = fn.source.format(out, a)
            return out
        return fn.source.format(*args)
    name = ".".join(ident(part) for part in fn.fn.split("."))
    if fn.reduce:
        out = args[0]
        for a in args[1:]:
            out = f"{name}({out}, {a}{kwargs})"
        return out
    if fn.pack:
        return f"{name}([{', '.join(args)}]{kwargs})"
    return f"{name}({', '.join(args)}{kwargs})"


def make_tensor(t: TorchTensor) -> torch.Tensor:
    """A node's tensor: filled by an init scheme (``zeros``, ``normal``...; a node's ``init:``
    then applies on top) or made by a constant function."""
    dtype = getattr(torch, t.dtype)
    if t.fill in SCHEMES:
        value = torch.empty(t.shape, dtype=dtype)
        if value.device.type != "meta":
            with torch.no_grad():
                getattr(nn.init, SCHEMES[t.fill][0])(value, **t.kwargs)
        return value
    from archspec.torchmods import constants

    made = getattr(constants, t.fill)(**t.kwargs)
    if not isinstance(made, torch.Tensor):
        raise ValueError(f"constant {t.fill!r} did not make a tensor")
    return made.to(dtype)


def add_tensor(root: nn.Module, name: str, t: TorchTensor, frozen: bool) -> None:
    """Give ``root`` the tensor of a node named ``name``: a parameter, or a buffer."""
    value = make_tensor(t)
    if t.buffer:
        root.register_buffer(name, value, persistent=t.persistent)
    else:
        root.register_parameter(name, nn.Parameter(value, requires_grad=not frozen))
