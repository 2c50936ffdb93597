"""Rotary position embedding (RoPE; Su et al., 2021) as a node, and its settings, which the
``attention`` layer (transformer.py) takes as its ``rope:`` setting."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import PositiveFloat, PositiveInt, model_validator

from archspec.layers import costs, register_layer
from archspec.layers.base import (
    LayerParams,
    LayerType,
    Shape,
    ShapeError,
    TorchCtor,
    need_float,
    need_int,
    numel,
)
from archspec.layers.memory import Kept, MemCtx, Memory
from archspec.shapes import Dim, TensorType, fmt_shape, tensor


class RopeScaling(LayerParams):
    """Rescaled rotary frequencies for longer contexts.

    ``linear``: every frequency divided by ``factor`` (position interpolation). ``llama3``: Llama
    3.1's rule: wavelengths longer than ``original_max_positions / low_freq_factor`` are slowed by
    ``factor``, shorter than ``original_max_positions / high_freq_factor`` kept, blended between.
    """

    type: Literal["llama3", "linear"]
    factor: PositiveFloat
    low_freq_factor: PositiveFloat = 1.0
    high_freq_factor: PositiveFloat = 4.0
    original_max_positions: PositiveInt = 8192

    @model_validator(mode="after")
    def _ordered(self) -> RopeScaling:
        if self.type == "llama3" and self.high_freq_factor <= self.low_freq_factor:
            raise ValueError("llama3 scaling needs high_freq_factor > low_freq_factor")
        return self


class RopeSettings(LayerParams):
    """Rotary embedding settings: base ``theta``, how many leading features turn (``rotary_dim``,
    default all), the pairing (half-split as Hugging Face's Llama, or ``interleaved`` adjacent
    pairs as Meta's original code and GPT-J), and an optional frequency ``scaling``."""

    torch_names = {"rope_theta": "theta", "base": "theta", "rope_scaling": "scaling"}
    theta: PositiveFloat = 10000.0
    rotary_dim: PositiveInt | None = None
    interleaved: bool = False
    scaling: RopeScaling | None = None


def check_rotary(s: RopeSettings, head_dim: Dim, what: str) -> int:
    """The number of features that turn, checked against the head size: even, at most head_dim."""
    d = need_int(head_dim, f"the head size of {what}'s rotary embedding")
    r = s.rotary_dim or d
    if r % 2 or r > d:
        whose = f"rotary_dim {r}" if s.rotary_dim else f"head_dim {d}"
        raise ShapeError(
            f"rotary embedding turns features in pairs: {whose} "
            + ("is odd" if r % 2 else f"exceeds the head size {d}"),
            expected=f"an even number of rotated features, at most the head size {d}",
            got=whose,
            hint="give an even head_dim, or set `rotary_dim` to an even number ≤ head_dim "
            "(the remaining features pass through unrotated)",
        )
    return r


def rope_kwargs(s: RopeSettings, prefix: str) -> dict[str, Any]:
    """RotaryEmbedding's keyword arguments (``prefix=""``), or the attention module's
    (``prefix="rope_"``; ``rotary_dim`` keeps its name)."""
    kw: dict[str, Any] = {f"{prefix}theta": s.theta}
    if s.rotary_dim is not None:
        kw["rotary_dim"] = s.rotary_dim
    if s.interleaved:
        kw[f"{prefix}interleaved"] = True
    if s.scaling is not None:
        sc = s.scaling
        kw |= {f"{prefix}scaling": sc.type, f"{prefix}factor": sc.factor}
        if sc.type == "llama3":
            kw[f"{prefix}low_freq_factor"] = sc.low_freq_factor
            kw[f"{prefix}high_freq_factor"] = sc.high_freq_factor
            kw[f"{prefix}original_max_positions"] = sc.original_max_positions
    return kw


def rope_flops(rotated: int, table: int) -> int:
    """Rotary embedding: per rotated element two multiplies and an add (``x·cos + turn(x)·sin``;
    the turn only moves and negates), plus the cos/sin table of ``table`` entries (positions ×
    rotated features), an angle multiply and a cos or sin each, as the sinusoidal table."""
    return costs.elementwise(rotated, 3) + costs.sinusoid_table(table)


def rope_kept(angles: Shape) -> tuple[Kept, ...]:
    """What the rotation keeps for the input's gradient: the cos and sin tables (``angles``:
    positions × rotated features; one table serves q and k)."""
    return (Kept("rope.cos", angles), Kept("rope.sin", angles))


def rope_label(s: RopeSettings) -> str:
    parts = [f"θ={s.theta:g}"]
    if s.rotary_dim:
        parts.append(f"{s.rotary_dim} dims")
    if s.interleaved:
        parts.append("interleaved")
    if s.scaling:
        parts.append(f"{s.scaling.type} ×{s.scaling.factor:g}")
    return " ".join(parts)


@register_layer
class Rope(LayerType):
    """Rotary position embedding of ``x [..., seq, head_dim]`` (typically q or k as
    ``[batch, heads, seq, head_dim]``): feature pairs turned by ``position · theta^(-2i/d)``.

    Positions are ``0 .. seq-1``, or a second input of int ids, ``[seq]`` or ``[batch, seq]``.
    Pairs are half-split ``(i, i + d/2)`` as Hugging Face's Llama, or adjacent with
    ``interleaved: true``. ``rotary_dim`` turns only the leading features (GPT-NeoX, Phi); it and
    the head size must be even. ``scaling`` rescales the frequencies: ``{type: llama3, factor: 8,
    low_freq_factor: 1, high_freq_factor: 4, original_max_positions: 8192}`` (Llama 3.1; the last
    three are these defaults) or ``{type: linear, factor: 2}``. No parameters or buffers: the
    angles are computed in float32 for the runtime length.
    """

    name = "rope"
    family = "attention"
    primary = "theta"
    max_inputs = 2
    Params = RopeSettings
    examples = [
        ({}, [tensor("batch", 4, "seq", 8)]),
        ({"theta": 500000.0, "interleaved": True}, [tensor("batch", "seq", 6)]),
        ({"rotary_dim": 4}, [tensor("batch", 2, "seq", 10), tensor("batch", "seq", dtype="int64")]),
        (
            {"scaling": {"type": "llama3", "factor": 8.0, "original_max_positions": 64}},
            [tensor("batch", 2, "seq", 16), tensor("seq", dtype="int64")],
        ),
        ({"scaling": {"type": "linear", "factor": 2.0}}, [tensor("seq", 4)]),
    ]

    @classmethod
    def infer(cls, p: RopeSettings, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        need_float(x, cls.name)
        if x.rank < 2:
            raise ShapeError(
                "rope needs a [..., seq, head_dim] input",
                expected="2-D or more",
                got=str(x),
                hint="split the heads first: [batch, heads, seq, head_dim]",
            )
        check_rotary(p, x.shape[-1], cls.name)
        if len(xs) == 2:
            cls._check_positions(x, xs[1])
        return x

    @classmethod
    def _check_positions(cls, x: TensorType, pos: TensorType) -> None:
        want = [(x.shape[-2],)] + ([(x.shape[0], x.shape[-2])] if x.rank >= 3 else [])
        if pos.dtype not in ("int64", "int32") or not any(
            len(w) == pos.rank and all(not bool(a != b) for a, b in zip(w, pos.shape, strict=True))
            for w in want
        ):
            raise ShapeError(
                "rope's positions are integer ids [seq] or [batch, seq] matching the input",
                expected=" or ".join(f"int64{fmt_shape(w)}" for w in want),
                got=str(pos),
            )

    @classmethod
    def _table(cls, p: RopeSettings, x: Shape, positions: Shape | None) -> Shape:
        """The cos/sin table's shape: [seq, r], or [batch, 1.., seq, r] for per-batch positions."""
        r = p.rotary_dim or x[-1]
        if positions is None or len(positions) == 1:
            return (x[-2], r)
        return (x[0], *(1,) * (len(x) - 3), x[-2], r)

    @classmethod
    def memory(cls, p: RopeSettings, c: MemCtx) -> Memory:
        table = cls._table(p, c.ins[0], c.ins[1] if len(c.ins) > 1 else None)
        return Memory(keep=rope_kept(table) if c.grad(0) else ())

    @classmethod
    def other_flops(cls, p: RopeSettings, xs: list[Shape], out: Shape) -> int:
        x = xs[0]
        table = cls._table(p, x, xs[1] if len(xs) > 1 else None)
        r = p.rotary_dim or x[-1]
        return rope_flops(numel(x) // x[-1] * r, numel(table))

    @classmethod
    def torch(cls, p: RopeSettings, xs: list[TensorType]) -> TorchCtor:
        head_dim = need_int(xs[0].shape[-1], "the head size of rope")
        return TorchCtor("transformer.RotaryEmbedding", {"head_dim": head_dim, **rope_kwargs(p, "")})

    @classmethod
    def label(cls, p: RopeSettings) -> str:
        return f"RoPE {rope_label(p)}"

    @classmethod
    def display_name(cls) -> str:
        return "RoPE"
