"""Trained weights into a spec's model (``archspec.build(spec, weights=...)``, ``archspec compile
--weights``, ``export_onnx(..., module=...)``).

The weights (a safetensors file, a torch checkpoint read with ``torch.load(weights_only=True)``:
a state_dict or a dict holding one under ``state_dict`` or ``model``, a mapping of names to
tensors, or a module's state_dict) are checked against the model's layout: every state_dict key
and shape of the model built on ``device="meta"``, which allocates nothing. That check runs
before any real weight is allocated, reading only the file's header (safetensors) or mapping it
(torch's zip format), and reports every missing, unexpected and wrong-shaped key in one
``weights`` error. Parameters tied in the model (GPT-2's ``lm_head.weight`` is
``transformer.wte.weight``) need one of their keys; ``num_batches_tracked`` may be absent. Values
are converted to the model's dtype and device as they are copied in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archspec.errors import ArchspecError
from archspec.spec import Spec

OPTIONAL = ("num_batches_tracked",)  # unused in eval mode; older checkpoints and exporters drop it
SHOWN = 10  # keys listed per kind of mismatch
WRAPPERS = ("state_dict", "model")  # checkpoint dicts that hold the state_dict under a key
_ZIP = b"PK\x03\x04"  # torch.save's (zip) format
_ST_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64"}
_ST_DTYPES |= {"I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool"}

Weights = str | Path | Mapping[str, torch.Tensor] | nn.Module


@dataclass(frozen=True)
class Entry:
    shape: tuple[int, ...]
    dtype: str  # torch's name without the prefix: float32, int64, ...


@dataclass
class Layout:
    """A model's state_dict: each key's shape and dtype, and the keys of tied tensors."""

    model: str
    entries: dict[str, Entry]
    tied: dict[str, tuple[str, ...]]  # key -> every key of the same tensor, in state_dict order

    @classmethod
    def of(cls, module: nn.Module, model: str) -> Layout:
        state = module.state_dict(keep_vars=True)
        groups: dict[int, list[str]] = {}
        for k, v in state.items():
            groups.setdefault(id(v), []).append(k)
        tied = {k: tuple(g) for g in groups.values() if len(g) > 1 for k in g}
        return cls(model, {k: _entry(v) for k, v in state.items()}, tied)


@dataclass
class Checkpoint:
    """Weights whose keys, shapes and dtypes are known; a tensor is read only when asked for."""

    label: str  # how messages name it: "the weights in 'ckpt.pt'"
    entries: dict[str, Entry]
    read: Callable[[str], torch.Tensor]


@dataclass
class Checked:
    """Weights that fit a model's layout, ready to be copied into it."""

    layout: Layout
    checkpoint: Checkpoint

    @property
    def label(self) -> str:
        return self.checkpoint.label

    def state(self) -> dict[str, torch.Tensor]:
        """Every state_dict entry the weights give (a tied tensor under each of its keys)."""
        ckpt, out = self.checkpoint, {}
        for key in self.layout.entries:
            group = self.layout.tied.get(key, (key,))
            if key != group[0]:
                continue
            present = [k for k in group if k in ckpt.entries]
            if not present:
                continue
            value = ckpt.read(present[0])
            for other in present[1:]:
                if not torch.equal(value, ckpt.read(other)):
                    raise ArchspecError(
                        "weights",
                        f"'{present[0]}' and '{other}' are one tensor in model '{self.layout.model}', "
                        f"but {ckpt.label} gives them different values",
                        hint="give one of the tied keys, or the same value under both",
                    )
            out.update(dict.fromkeys(group, value))
        return out

    def load_into(self, module: nn.Module) -> None:
        """Copy the weights into ``module`` (converted to its dtype and device); on a module
        built on ``device="meta"`` there is nothing to copy into, and nothing is read."""
        if any(t.is_meta for t in module.state_dict().values()):
            return
        with torch.no_grad():
            result = module.load_state_dict(self.state(), strict=False)
        left = [k for k in result.missing_keys if not k.endswith(OPTIONAL)]
        assert not left and not result.unexpected_keys, (left, result.unexpected_keys)


def checked(spec: Spec, model: str, weights: Weights | Checked, dtype: torch.dtype | None = None) -> Checked:
    """``weights`` checked against model ``model`` of ``spec`` (built on meta in ``dtype``);
    raise one ``weights`` error listing every missing, unexpected and wrong-shaped key."""
    if isinstance(weights, Checked) and weights.layout.model == model:
        return weights
    from archspec.backends.torch.builder import build

    ckpt = weights.checkpoint if isinstance(weights, Checked) else open_weights(weights)
    layout = Layout.of(build(spec, model, device="meta", dtype=dtype), model)
    check(layout, ckpt)
    return Checked(layout, ckpt)


def open_weights(source: Weights) -> Checkpoint:
    """A checkpoint's keys, shapes and dtypes, its tensors read on demand."""
    if isinstance(source, nn.Module):
        return _from_mapping(source.state_dict(), "the given module's weights")
    if isinstance(source, Mapping):
        return _from_mapping(_state_of(source, "the given weights"), "the given weights")
    if isinstance(source, (str, Path)):
        return _open_file(Path(source))
    raise ArchspecError(
        "weights",
        f"weights must be a file, a mapping of names to tensors or a module, not {type(source).__name__}",
    )


def check(layout: Layout, ckpt: Checkpoint) -> None:
    """Raise one ``weights`` error if ``ckpt`` does not fit ``layout``."""
    missing, wrong_shape, wrong_dtype = [], [], []
    for key, want in layout.entries.items():
        group = layout.tied.get(key, (key,))
        if key != group[0]:
            continue
        present = [k for k in group if k in ckpt.entries]
        if not present and not key.endswith(OPTIONAL):
            missing.append(key + (f" (tied to {', '.join(group[1:])})" if len(group) > 1 else ""))
        for k in present:
            got = ckpt.entries[k]
            if got.shape != want.shape:
                wrong_shape.append(f"{k}: {list(got.shape)} in the weights, the model has {list(want.shape)}")
            elif _kind(got.dtype) != _kind(want.dtype):
                wrong_dtype.append(f"{k}: {got.dtype} in the weights, the model has {want.dtype}")
    unexpected = [k for k in ckpt.entries if k not in layout.entries]
    kinds = [
        ("missing", missing),
        ("unexpected", unexpected),
        ("wrong shape", wrong_shape),
        ("wrong dtype", wrong_dtype),
    ]
    if not any(keys for _, keys in kinds):
        return
    counts = ", ".join(f"{len(keys)} {name}" for name, keys in kinds if keys)
    lines = [
        f"{ckpt.label} do not fit model '{layout.model}' ({len(layout.entries)} state_dict entries, "
        f"{len(ckpt.entries)} in the weights): {counts}"
    ]
    for name, keys in kinds:
        if keys:
            lines.append(f"  {name} ({len(keys)}):")
            lines += [f"    {k}" for k in keys[:SHOWN]]
            if len(keys) > SHOWN:
                lines.append(f"    ... and {len(keys) - SHOWN} more")
    raise ArchspecError("weights", "\n".join(lines), hint=_hint(missing, unexpected))


def _hint(missing: list[str], unexpected: list[str]) -> str:
    wanted = {k.split(" ")[0] for k in missing}
    for extra, have, side in ((unexpected, wanted, "weights'"), (wanted, set(unexpected), "model's")):
        prefixes: dict[str, int] = {}
        for key in extra:
            for i, c in enumerate(key):
                if c == "." and key[i + 1 :] in have:
                    prefixes[key[: i + 1]] = prefixes.get(key[: i + 1], 0) + 1
        if prefixes:
            prefix, n = max(prefixes.items(), key=lambda kv: kv[1])
            if 2 * n >= len(have):
                return f"the {side} keys start with '{prefix}' where the others do not: add or strip it"
    return (
        "the weights must have the model's state_dict keys and shapes; "
        "archspec.build(spec, device='meta').state_dict() lists them"
    )


def _entry(t: torch.Tensor) -> Entry:
    return Entry(tuple(t.shape), str(t.dtype).removeprefix("torch."))


def _kind(dtype: str) -> str:
    if dtype == "bool":
        return "bool"
    if dtype.startswith("complex"):
        return "complex"
    return "float" if "float" in dtype else "int"


def _from_mapping(state: Mapping[str, Any], label: str) -> Checkpoint:
    bad = [f"'{k}' ({type(v).__name__})" for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ArchspecError(
            "weights",
            f"{label} hold {len(bad)} entries that are not tensors: {', '.join(bad[:SHOWN])}"
            + (f" and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""),
            hint="pass a state_dict (names to tensors), or a dict holding one under 'state_dict' or 'model'",
        )
    return Checkpoint(label, {str(k): _entry(v) for k, v in state.items()}, lambda k: state[k])


def _state_of(obj: Any, label: str) -> Mapping[str, Any]:
    """The state_dict in a loaded checkpoint: the mapping itself, or one under a wrapper key."""
    if not isinstance(obj, Mapping):
        raise ArchspecError(
            "weights",
            f"{label} hold a {type(obj).__name__}, not a state_dict",
            hint="save model.state_dict(), or a dict holding it under 'state_dict' or 'model'",
        )
    if not all(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in WRAPPERS:
            if isinstance(obj.get(key), Mapping):
                return obj[key]  # type: ignore[no-any-return]
    return obj


def _open_file(path: Path) -> Checkpoint:
    label = f"the weights in '{path}'"
    if not path.is_file():
        raise ArchspecError("weights", f"no weights file at '{path}'")
    with path.open("rb") as f:
        head = f.read(9)
    if head[:4] != _ZIP and head[8:9] == b"{":  # 8 bytes of header length, then its JSON
        return _open_safetensors(path, label)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=head[:4] == _ZIP)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ArchspecError(
            "weights",
            f"cannot read '{path}' as a safetensors file or a torch checkpoint: {first[:300]}",
            hint="archspec reads torch checkpoints with torch.load(weights_only=True), which loads "
            "tensors and plain containers only; save model.state_dict() (or a safetensors file)",
        ) from e
    return _from_mapping(_state_of(obj, label), label)


def _open_safetensors(path: Path, label: str) -> Checkpoint:
    try:
        from safetensors import safe_open
    except ImportError:
        raise ArchspecError(
            "missing-dependency",
            f"'{path}' is a safetensors file, and the 'safetensors' package is not installed",
            hint="pip install 'archspec[torch]'",
        ) from None
    try:
        handle = safe_open(str(path), framework="pt", device="cpu")
        entries = {}
        for key in handle.keys():  # noqa: SIM118 (a safetensors handle, not a dict)
            part = handle.get_slice(key)
            dtype = part.get_dtype()
            entries[key] = Entry(tuple(part.get_shape()), _ST_DTYPES.get(dtype, dtype.lower()))
    except Exception as e:
        raise ArchspecError("weights", f"cannot read '{path}' as a safetensors file: {e}") from e
    return Checkpoint(label, entries, handle.get_tensor)
