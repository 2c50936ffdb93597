"""Position encodings added to a ``[batch, seq, d]`` sequence (the attention family)."""

from __future__ import annotations

from typing import Literal

from pydantic import PositiveInt

from archspec.layers import costs, register_layer
from archspec.layers.attention import Rate, sequence_features
from archspec.layers.base import LayerParams, LayerType, Shape, ShapeError, TorchCtor, numel
from archspec.layers.memory import MemCtx, Memory, dropout_kept
from archspec.shapes import Dim, TensorType, tensor


class PositionalParams(LayerParams):
    kind: Literal["sinusoidal", "learned"] = "sinusoidal"
    max_len: PositiveInt | None = None  # default 5000 (sinusoidal) or 512 (learned)
    dropout: Rate = 0.0  # after the addition


def _max_len(p: PositionalParams) -> int:
    return p.max_len or (5000 if p.kind == "sinusoidal" else 512)


@register_layer
class PositionalEncoding(LayerType):
    """Adds a position encoding to a ``[batch, seq, d]`` input (same shape out).

    ``sinusoidal``: the fixed sin/cos table of "Attention Is All You Need", computed on the
    fly (no parameters or buffers); ``learned``: a trained table ``weight [max_len, d]``
    (as GPT-2/BERT). ``max_len`` (default 5000 sinusoidal, 512 learned) bounds the
    sequence length; a known ``seq`` above it is an error.
    """

    name = "positional_encoding"
    family = "attention"
    primary = "kind"
    Params = PositionalParams
    examples = [
        ({}, [tensor("batch", "seq", 16)]),
        ({"kind": "learned", "max_len": 32}, [tensor("batch", "seq", 16)]),
        ({"kind": "sinusoidal", "max_len": 64}, [tensor("batch", "seq", 7)]),
        ({"kind": "learned"}, [tensor("batch", 10, 12)]),
    ]

    @classmethod
    def infer(cls, p: PositionalParams, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        sequence_features(x, cls.name)
        seq: Dim = x.shape[1]
        if isinstance(seq, int) and seq > _max_len(p):
            raise ShapeError(
                f"sequence length {seq} exceeds max_len {_max_len(p)}",
                expected=f"seq <= {_max_len(p)}",
                got=str(x),
                hint=f"raise `max_len` to at least {seq}",
            )
        return x

    @classmethod
    def penalized(cls, p: PositionalParams, xs: list[TensorType]) -> tuple[str, ...]:
        return ("weight",) if p.kind == "learned" else ()

    @classmethod
    def weights(cls, p: PositionalParams, xs: list[TensorType]) -> dict[str, Shape]:
        d = sequence_features(xs[0], cls.name)
        return {"weight": (_max_len(p), d)} if p.kind == "learned" else {}

    @classmethod
    def other_flops(cls, p: PositionalParams, xs: list[Shape], out: Shape) -> int:
        table = costs.sinusoid_table(out[1] * out[2]) if p.kind == "sinusoidal" else 0
        return costs.elementwise(numel(out)) + table

    @classmethod
    def memory(cls, p: PositionalParams, c: MemCtx) -> Memory:
        return Memory(keep=dropout_kept("dropout", c.out, p.dropout, c))  # the sum keeps nothing

    @classmethod
    def torch(cls, p: PositionalParams, xs: list[TensorType]) -> TorchCtor:
        d = sequence_features(xs[0], cls.name)
        name = "Sinusoidal" if p.kind == "sinusoidal" else "Learned"
        return TorchCtor(
            f"attention.{name}PositionalEncoding",
            {"d_model": d, "max_len": _max_len(p), "dropout": p.dropout},
        )

    @classmethod
    def label(cls, p: PositionalParams) -> str:
        return f"PositionalEncoding {p.kind}" + (f" ≤{_max_len(p)}" if p.kind == "learned" else "")
