"""Embedding tables: integer ids to learned vectors."""

from __future__ import annotations

from pydantic import PositiveInt, ValidationInfo, field_validator

from archspec.layers import register_layer
from archspec.layers.base import LayerParams, LayerType, Shape, ShapeError, TorchCtor
from archspec.layers.memory import Kept, MemCtx, Memory
from archspec.shapes import TensorType, tensor


@register_layer
class Embedding(LayerType):
    """Look up integer ids in a table of ``num`` learned vectors of size ``dim``.

    Takes int64 or int32 ids of any shape and returns float32 with an extra last dim:
    [batch, seq] -> [batch, seq, dim] (``nn.Embedding``; its parameter is ``weight``,
    which ``tie:`` can share with an output ``linear``). The row ``padding_idx``, if
    given, is held at zero and gets no gradient; negative values count from the end.
    """

    name = "embedding"
    family = "embedding"

    tied = "weight"

    class Params(LayerParams):
        torch_names = {"num_embeddings": "num", "embedding_dim": "dim"}
        num: PositiveInt
        dim: PositiveInt
        padding_idx: int | None = None

        @field_validator("padding_idx")
        @classmethod
        def _check(cls, idx: int | None, info: ValidationInfo) -> int | None:
            num = info.data.get("num")  # absent when num itself is invalid
            if idx is not None and num is not None and not -num <= idx < num:
                raise ValueError(f"must be in [-{num}, {num - 1}] (num is {num})")
            return idx

    examples = [
        ({"num": 10, "dim": 4}, [tensor("batch", "seq", dtype="int64")]),
        ({"num": 6, "dim": 3, "padding_idx": 0}, [tensor("batch", dtype="int32")]),
    ]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        if x.dtype not in ("int64", "int32"):
            raise ShapeError(
                "embedding looks up integer ids",
                expected="int64 or int32 ids",
                got=str(x),
                hint="declare the input with dtype int64; float features go to a `linear` instead",
            )
        return tensor(*x.shape, p.dim, dtype="float32")

    @classmethod
    def penalized(cls, p: Params, xs: list[TensorType]) -> tuple[str, ...]:
        return ("weight",)

    @classmethod
    def weights(cls, p: Params, xs: list[TensorType]) -> dict[str, Shape]:
        return {"weight": (p.num, p.dim)}

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        return Memory(keep=(Kept("in0"),))  # the ids, to scatter the weight's gradient

    @classmethod
    def id_range(cls, p: Params) -> int:
        return p.num

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        kwargs = {"num_embeddings": p.num, "embedding_dim": p.dim}
        if p.padding_idx is not None:
            kwargs["padding_idx"] = p.padding_idx
        return TorchCtor("nn.Embedding", kwargs)

    @classmethod
    def label(cls, p: Params) -> str:
        return f"Embedding {p.num} → {p.dim}"
