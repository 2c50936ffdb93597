"""The layer registry. A layer type is registered once, with ``@register_layer``."""

from __future__ import annotations

from typing import TypeVar

from archspec.errors import ArchspecError
from archspec.layers.base import LayerParams, LayerType, ShapeError, TorchCtor, TorchFn

__all__ = [
    "LayerParams",
    "LayerType",
    "ShapeError",
    "TorchCtor",
    "TorchFn",
    "get_layer",
    "register_layer",
    "registry",
]

_REGISTRY: dict[str, type[LayerType]] = {}
_LOADED = False
_BUILTIN = (
    "linear",
    "activation",
    "conv",
    "pool",
    "norm",
    "regularize",
    "shape",
    "merge",
    "embedding",
    "recurrent",
    "attention",
    "position",
    "generative",
    "reservoir",
    "threshold",
    "tensors",
    "rms_norm",
    "rotary",
    "transformer",
    "tensorops",
    "slicing",
    "reductions",
    "hf_conv1d",
    "normalize",
    "relative_position",
    "window_attention",
    "patch_merging",
)

T = TypeVar("T", bound=type[LayerType])


def register_layer(cls: T) -> T:
    """Class decorator: add a layer type to the registry under ``cls.name``."""
    name = cls.name
    if not name.isidentifier() or name != name.lower():
        raise ValueError(f"layer name {name!r} must be a lower-case identifier")
    old = _REGISTRY.get(name)
    if old is not None and _qualname(old) != _qualname(cls):  # re-importing a module is fine
        raise ValueError(f"layer type {name!r} is already registered by {_qualname(old)}")
    _REGISTRY[name] = cls
    return cls


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def registry() -> dict[str, type[LayerType]]:
    """All registered layer types, built-in and from plugins, by spec name."""
    _load()
    return _REGISTRY


def get_layer(name: str) -> type[LayerType] | None:
    return registry().get(name)


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    import importlib

    for module in _BUILTIN:
        try:
            importlib.import_module(f"archspec.layers.{module}")
        except ModuleNotFoundError as e:  # a family not written yet
            if e.name != f"archspec.layers.{module}":
                raise
    _load_plugins()


def _load_plugins() -> None:
    """Layer types from installed packages' ``archspec.layers`` entry points."""
    from importlib.metadata import entry_points

    for ep in entry_points(group="archspec.layers"):
        try:
            ep.load()
        except Exception as e:  # a broken plugin must not take the tool down silently
            raise ArchspecError(
                "plugin",
                f"layer plugin '{ep.name}' ({ep.value}) failed to load: {e}",
                hint="fix or uninstall the plugin package",
            ) from None
