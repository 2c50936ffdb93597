"""Recurrent layers: RNN, LSTM and GRU (always batch-first)."""

from __future__ import annotations

from typing import ClassVar, Literal, Self

from pydantic import Field, PositiveInt, model_validator

from archspec.layers import costs, register_layer
from archspec.layers.base import (
    LayerParams,
    LayerType,
    Shape,
    TorchCtor,
    need_float,
    need_int,
    need_rank,
)
from archspec.layers.costs import Product
from archspec.layers.memory import Kept, MemCtx, Memory
from archspec.shapes import TensorType, tensor

Output = Literal["sequence", "last", "hidden"]


class RecurrentParams(LayerParams):
    torch_names = {"hidden_size": "hidden", "num_layers": "layers", "input_size": None}
    hidden: PositiveInt
    layers: PositiveInt = 1
    bidirectional: bool = False
    dropout: float = Field(0.0, ge=0.0, lt=1.0)  # between stacked layers, as in torch
    bias: bool = True
    output: Output = "sequence"

    @model_validator(mode="after")
    def _dropout_needs_layers(self) -> Self:
        if self.dropout > 0 and self.layers == 1:
            raise ValueError(
                "dropout acts only between stacked layers, so it needs layers > 1 "
                "(add a `dropout` layer after this one instead)"
            )
        return self


class _Recurrent(LayerType):
    """Shared rules; subclasses set ``gates`` (weight blocks per cell) and ``torch_cls``."""

    family = "recurrent"
    primary = "hidden"
    Params: ClassVar[type[LayerParams]] = RecurrentParams
    gates: ClassVar[int]
    torch_cls: ClassVar[str]
    step: ClassVar[tuple[tuple[int, int], ...] | None]

    @classmethod
    def penalized(cls, p: RecurrentParams, xs: list[TensorType]) -> tuple[str, ...]:
        return tuple(n for n in cls.weights(p, xs) if n.startswith("weight_"))

    @classmethod
    def _features(cls, x: TensorType) -> int:
        need_rank(
            x,
            (3,),
            cls.name,
            hint="recurrent layers take [batch, seq, features] (batch-first)",
        )
        need_float(x, cls.name)
        return need_int(x.shape[2], f"the input features of {cls.name}")

    @classmethod
    def infer(cls, p: RecurrentParams, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        cls._features(x)
        width = p.hidden * (2 if p.bidirectional else 1)
        if p.output == "sequence":
            return x.with_shape((x.shape[0], x.shape[1], width))
        return x.with_shape((x.shape[0], width))

    @classmethod
    def weights(cls, p: RecurrentParams, xs: list[TensorType]) -> dict[str, Shape]:
        fan_in, dirs = cls._features(xs[0]), 2 if p.bidirectional else 1
        rows = cls.gates * p.hidden
        w: dict[str, Shape] = {}
        for layer in range(p.layers):
            width = fan_in if layer == 0 else p.hidden * dirs
            for suffix in ("", "_reverse")[:dirs]:
                tag = f"l{layer}{suffix}"
                w[f"weight_ih_{tag}"] = (rows, width)
                w[f"weight_hh_{tag}"] = (rows, p.hidden)
                if p.bias:
                    w[f"bias_ih_{tag}"] = (rows,)
                    w[f"bias_hh_{tag}"] = (rows,)
        return w

    @classmethod
    def memory(cls, p: RecurrentParams, c: MemCtx) -> Memory:
        batch, seq, features = c.ins[0]
        fused = cls.step is None
        dirs, h = 2 if p.bidirectional else 1, p.hidden
        kept = [Kept("h0", (p.layers * dirs, batch, h))] + (
            [Kept("c0", (p.layers * dirs, batch, h))] if fused else []
        )
        below = Kept("x", (seq, batch, features))  # the input, time-major (a copy)
        for layer in range(p.layers):
            width = below.shape[-1]
            kept.append(below)
            if dirs == 2 and not fused and layer == 0:  # each direction copies the batch-first input
                kept.append(Kept("x.reverse", (seq, batch, width)))
            outs = []
            for d in range(dirs):
                tag = f"l{layer}.d{d}"
                if fused:
                    outs.append(Kept(f"{tag}.out", (seq, batch, h)))
                    kept += [outs[-1], Kept(f"{tag}.hy", (batch, h)), Kept(f"{tag}.cy", (batch, h))]
                    kept.append(
                        Kept(
                            f"{tag}.workspace", (onednn_workspace(cls.gates, seq, batch, width, h),), "uint8"
                        )
                    )
                    if not p.bias:  # the kernel then gets copies of the weights
                        kept += [
                            Kept(f"{tag}.w_ih", (cls.gates * h, width)),
                            Kept(f"{tag}.w_hh", (cls.gates * h, h)),
                        ]
                else:
                    steps = [
                        (f"{tag}.s{i}", (batch, w * h), seq + extra)
                        for i, (w, extra) in enumerate(cls.step or ())
                    ]
                    kept += [Kept(name, shape, count=n) for name, shape, n in steps if n > 0]
            out = outs[0] if fused and dirs == 1 else Kept(f"l{layer}.out", (seq, batch, h * dirs))
            if p.dropout and layer + 1 < p.layers:
                kept.append(Kept(f"l{layer}.mask", out.shape, "mask"))
                out = Kept(f"l{layer}.dropped", out.shape)
            below = out
        if p.output == "hidden":
            return Memory(
                keep=tuple(kept), views={"out": Kept("h_n", (p.layers * dirs, batch, h))} if dirs == 1 else {}
            )
        return Memory(keep=tuple(kept), views={"out": below})

    @classmethod
    def products(cls, p: RecurrentParams, xs: list[Shape], out: Shape) -> list[Product]:
        """Per layer and direction: the input projection of every step at once, then one
        recurrent product per step (the first one multiplies the zero initial state)."""
        batch, seq, fan_in = xs[0]
        dirs, rows = 2 if p.bidirectional else 1, cls.gates * p.hidden
        out_: list[Product] = []
        for layer in range(p.layers):
            width, x = (fan_in, costs.arg(0)) if layer == 0 else (p.hidden * dirs, costs.INNER)
            for tag in (f"l{layer}", f"l{layer}_reverse")[:dirs]:
                step = costs.linear(batch, p.hidden, rows)
                out_ += [Product(costs.linear(batch * seq, width, rows), x, f"weight_ih_{tag}")]
                out_ += [Product(step, costs.CONST, f"weight_hh_{tag}")]
                out_ += [Product(step * (seq - 1), costs.INNER, f"weight_hh_{tag}")]
        return out_

    @classmethod
    def other_flops(cls, p: RecurrentParams, xs: list[Shape], out: Shape) -> int:
        batch, seq, _ = xs[0]
        steps = seq * p.layers * (2 if p.bidirectional else 1)
        return steps * cls.cell_flops(batch * p.hidden, p.bias)

    @classmethod
    def cell_flops(cls, n: int, bias: bool) -> int:
        """The other FLOPs of one step of one cell over ``n`` hidden units."""
        raise NotImplementedError

    @classmethod
    def torch_kwargs(cls, p: RecurrentParams) -> dict[str, object]:
        return {}

    @classmethod
    def torch(cls, p: RecurrentParams, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor(
            cls.torch_cls,
            {
                "input_size": cls._features(xs[0]),
                "hidden_size": p.hidden,
                "num_layers": p.layers,
                **cls.torch_kwargs(p),
                "bias": p.bias,
                "dropout": p.dropout,
                "bidirectional": p.bidirectional,
                "output": p.output,
            },
        )

    @classmethod
    def label(cls, p: RecurrentParams) -> str:
        text = f"{cls.display_name()} {p.hidden}"
        if p.layers > 1:
            text += f" ×{p.layers}"
        if p.bidirectional:
            text += " bi"
        if not p.bias:
            text += " (no bias)"
        return text if p.output == "sequence" else f"{text} → {p.output}"

    @classmethod
    def display_name(cls) -> str:
        return cls.torch_cls.split(".")[-1]


class RNNParams(RecurrentParams):
    nonlinearity: Literal["tanh", "relu"] = "tanh"


@register_layer
class RNN(_Recurrent):
    """An Elman RNN: ``h_t = act(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh)`` (``torch.nn.RNN``).

    Input ``[batch, seq, features]``. ``output``: ``sequence`` gives every step,
    ``[batch, seq, hidden*dirs]``; ``last`` the last step of that sequence,
    ``[batch, hidden*dirs]`` (for a bidirectional layer the backward half there has seen
    only the last step); ``hidden`` the last layer's final hidden state, both directions
    concatenated, ``[batch, hidden*dirs]`` (usually what a classifier wants).
    ``dropout`` is applied between stacked layers only, so it needs ``layers > 1``.
    ONNX: torch unrolls this layer over time, so an export is fixed to the example
    sequence length (``lstm``/``gru`` keep it dynamic).
    """

    name = "rnn"
    Params = RNNParams
    gates = 1
    torch_cls = "recurrent.RNN"
    examples = [
        ({"hidden": 8}, [tensor("batch", "seq", 5)]),
        (
            {"hidden": 6, "nonlinearity": "relu", "output": "last", "bias": False},
            [tensor("batch", "seq", 4)],
        ),
        (
            {"hidden": 4, "layers": 2, "bidirectional": True, "output": "hidden"},
            [tensor("batch", "seq", 3)],
        ),
    ]
    step = ((1, 0),)

    @classmethod
    def cell_flops(cls, n: int, bias: bool) -> int:
        return costs.rnn_cell(n, bias)

    @classmethod
    def torch_kwargs(cls, p: RecurrentParams) -> dict[str, object]:
        assert isinstance(p, RNNParams)
        return {"nonlinearity": p.nonlinearity}

    @classmethod
    def onnx_issue(cls, p: RecurrentParams, opset: int, xs: list[TensorType]) -> str | None:
        seq = xs[0].shape[1] if xs and xs[0].rank == 3 else 1
        if not isinstance(seq, int):
            return (
                f"torch unrolls an Elman rnn over time, so the sequence dim '{seq}' cannot stay "
                "dynamic; export with a fixed size (--dim seq=N), or use lstm/gru"
            )
        return None

    @classmethod
    def label(cls, p: RecurrentParams) -> str:
        text = super().label(p)
        return f"{text} relu" if isinstance(p, RNNParams) and p.nonlinearity == "relu" else text


@register_layer
class LSTM(_Recurrent):
    """A long short-term memory layer (``torch.nn.LSTM``): 4 gates (input, forget, cell, output).

    Input ``[batch, seq, features]``. ``output``: ``sequence`` gives every step,
    ``[batch, seq, hidden*dirs]``; ``last`` the last step of that sequence,
    ``[batch, hidden*dirs]`` (for a bidirectional layer the backward half there has seen
    only the last step); ``hidden`` the last layer's final hidden state ``h_n``, both
    directions concatenated, ``[batch, hidden*dirs]``. The cell state is not returned.
    ``dropout`` is applied between stacked layers only, so it needs ``layers > 1``.
    """

    name = "lstm"
    gates = 4
    torch_cls = "recurrent.LSTM"
    examples = [
        ({"hidden": 8}, [tensor("batch", "seq", 5)]),
        ({"hidden": 6, "layers": 2, "bidirectional": True}, [tensor("batch", "seq", 4)]),
        ({"hidden": 4, "output": "last", "bidirectional": True}, [tensor("batch", "seq", 3)]),
        (
            {"hidden": 5, "layers": 3, "bidirectional": True, "output": "hidden", "bias": False},
            [tensor("batch", "seq", 6)],
        ),
    ]
    step = None

    @classmethod
    def cell_flops(cls, n: int, bias: bool) -> int:
        return costs.lstm_cell(n, bias)


@register_layer
class GRU(_Recurrent):
    """A gated recurrent unit layer (``torch.nn.GRU``): 3 gates (reset, update, new).

    Input ``[batch, seq, features]``. ``output``: ``sequence`` gives every step,
    ``[batch, seq, hidden*dirs]``; ``last`` the last step of that sequence,
    ``[batch, hidden*dirs]`` (for a bidirectional layer the backward half there has seen
    only the last step); ``hidden`` the last layer's final hidden state, both directions
    concatenated, ``[batch, hidden*dirs]``.
    ``dropout`` is applied between stacked layers only, so it needs ``layers > 1``.
    """

    name = "gru"
    gates = 3
    torch_cls = "recurrent.GRU"
    examples = [
        ({"hidden": 8}, [tensor("batch", "seq", 5)]),
        ({"hidden": 6, "output": "last", "bias": False}, [tensor("batch", "seq", 4)]),
        (
            {"hidden": 4, "layers": 2, "bidirectional": True, "output": "hidden"},
            [tensor("batch", "seq", 3)],
        ),
    ]
    step = ((3, 0), (1, 0), (1, 0), (1, 0), (1, -1))

    @classmethod
    def cell_flops(cls, n: int, bias: bool) -> int:
        return costs.gru_cell(n, bias)


def onednn_workspace(gates: int, seq: int, batch: int, features: int, hidden: int) -> int:
    """Bytes of the workspace oneDNN's float32 RNN keeps for backward, one layer and direction
    (oneDNN ``rnn_utils``: gates, states, cell states and their gradients, each page-aligned)."""

    def ld(dim: int) -> int:  # 64-byte aligned, and not a multiple of 256 (4K aliasing)
        n = -(-dim // 16) * 16
        return n + 16 if n % 256 == 0 else n

    states, wide = 2 * (seq + 1) * batch * 4, max(features, hidden)
    parts = [
        seq * batch * ld(gates * hidden) * 4,  # gates
        seq * batch * ld(hidden) * 4,  # hidden states
        states * ld(wide),  # layer states
        states * hidden,  # cell states
        states * ld(wide),  # gradient of the layer states
        states * ld(wide),  # gradient of the iteration states
        states * hidden,  # gradient of the cell states
    ]
    offset = 0
    for size in parts:
        offset = -(-offset // 4096) * 4096 + size
    return -(-offset // 4096) * 4096
