"""Recurrent layers: RNN, LSTM and GRU (always batch-first).

Each takes an optional initial state after its sequence (``h0``; ``h0, c0`` for an LSTM) and
gives its final state as named outputs (``h``; ``h`` and ``c``) beside its default output, so
that one layer's state can start another (an encoder's state starts a decoder). States keep
torch's layout, ``[layers * directions, batch, hidden]``, also for these batch-first layers.
"""

from __future__ import annotations

from typing import ClassVar, Literal, Self

from pydantic import Field, PositiveInt, model_validator

from archspec.layers import costs, register_layer
from archspec.layers.base import (
    LayerParams,
    LayerType,
    Shape,
    ShapeError,
    TorchCtor,
    need_float,
    need_int,
    need_rank,
)
from archspec.layers.costs import Product
from archspec.layers.memory import MemCtx, Memory
from archspec.layers.recurrent_memory import recurrent_memory
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
    """Shared rules; subclasses set ``gates`` (weight blocks per cell), ``torch_cls`` and
    ``states`` (the names of the final-state outputs; the initial states are the same names
    with a 0: ``h0``, ``c0``)."""

    family = "recurrent"
    primary = "hidden"
    Params: ClassVar[type[LayerParams]] = RecurrentParams
    gates: ClassVar[int]
    torch_cls: ClassVar[str]
    step: ClassVar[tuple[tuple[int, int], ...] | None]
    states: ClassVar[tuple[str, ...]] = ("h",)
    max_inputs = 2

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
        cls._check_states(p, xs)
        width = p.hidden * (2 if p.bidirectional else 1)
        if p.output == "sequence":
            return x.with_shape((x.shape[0], x.shape[1], width))
        return x.with_shape((x.shape[0], width))

    @classmethod
    def outputs(cls, p: RecurrentParams, xs: list[TensorType]) -> dict[str, TensorType]:
        """``out`` (chosen by ``output``), then the final states ``h`` (and ``c``)."""
        out = cls.infer(p, xs)
        state = cls._state_type(p, xs[0])
        return {"out": out, **{name: state for name in cls.states}}

    @classmethod
    def _state_type(cls, p: RecurrentParams, x: TensorType) -> TensorType:
        """A state: ``[layers * directions, batch, hidden]``, as torch keeps it."""
        return x.with_shape((p.layers * (2 if p.bidirectional else 1), x.shape[0], p.hidden))

    @classmethod
    def _check_states(cls, p: RecurrentParams, xs: list[TensorType]) -> None:
        """The initial states fed after the sequence: all of them or none, each of the state's
        exact type (what a layer of the same hidden size, layers and directions gives)."""
        given = xs[1:]
        names = [f"{s}0" for s in cls.states]
        if given and len(given) != len(names):
            raise ShapeError(
                f"{cls.name} takes its initial state as {len(names)} inputs after the sequence "
                f"({', '.join(names)}), or none; got {len(given)}",
                code="arity",
                expected=f"[sequence, {', '.join(names)}] or [sequence]",
                got=f"{len(xs)} inputs",
                hint=f"pass both final states of another {cls.name}: "
                + f"[x, {', '.join(f'enc.{s}' for s in cls.states)}]",
            )
        want = cls._state_type(p, xs[0])
        for name, s in zip(names if given else [], given, strict=True):
            if (
                s.dtype == want.dtype
                and s.rank == 3
                and all(a == b for a, b in zip(s.shape, want.shape, strict=True))
            ):
                continue
            raise ShapeError(
                f"the initial state {name} does not fit this layer: a state is "
                "[layers * directions, batch, hidden]",
                expected=str(want),
                got=f"{name} {s}",
                hint=_state_hint(p, want, s),
            )

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
        return recurrent_memory(p, c, cls.gates, cls.step)

    @classmethod
    def products(cls, p: RecurrentParams, xs: list[Shape], out: Shape) -> list[Product]:
        """Per layer and direction: the input projection of every step at once, then one
        recurrent product per step (the first one multiplies the initial state: zeros, or the
        ``h0`` input)."""
        batch, seq, fan_in = xs[0]
        first = costs.arg(1) if len(xs) > 1 else costs.CONST
        dirs, rows = 2 if p.bidirectional else 1, cls.gates * p.hidden
        out_: list[Product] = []
        for layer in range(p.layers):
            width, x = (fan_in, costs.arg(0)) if layer == 0 else (p.hidden * dirs, costs.INNER)
            for tag in (f"l{layer}", f"l{layer}_reverse")[:dirs]:
                step = costs.linear(batch, p.hidden, rows)
                out_ += [Product(costs.linear(batch * seq, width, rows), x, f"weight_ih_{tag}")]
                out_ += [Product(step, first, f"weight_hh_{tag}")]
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


def _state_hint(p: RecurrentParams, want: TensorType, got: TensorType) -> str:
    """What to change when a state fed to a recurrent layer does not fit it."""
    if got.rank != 3 or got.dtype != want.dtype:
        return "feed the final state of another recurrent layer (`enc.h`), not a sequence or output"
    (dirs_l, batch, hidden), (g_dirs_l, g_batch, g_hidden) = want.shape, got.shape
    if g_batch != batch and g_dirs_l == batch:
        return (
            "this is batch-first, as a sequence is: feed the final state of another recurrent "
            "layer (`enc.h`), which keeps torch's layout [layers * directions, batch, hidden]"
        )
    if hidden != g_hidden:
        return (
            f"the state has hidden size {g_hidden}, this layer {hidden}: give both layers the same "
            "`hidden`, or map the state to this size with a `linear`"
        )
    if dirs_l != g_dirs_l:
        return (
            f"the state has {g_dirs_l} (layers * directions), this layer {dirs_l} (layers={p.layers}, "
            f"bidirectional={str(p.bidirectional).lower()}): give both the same `layers` and `bidirectional`"
        )
    return f"the state's batch ({g_batch}) must be the sequence's ({batch})"


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
    Inputs: the sequence, then optionally the initial state ``h0``
    ``[layers*dirs, batch, hidden]`` (torch's layout; zeros when not given). Outputs: the
    default (``out``, chosen by ``output``) and the final state ``h`` ``[layers*dirs, batch,
    hidden]``, referred to as ``<name>.h``.
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
        ({"hidden": 5, "layers": 2}, [tensor("batch", "seq", 3), tensor(2, "batch", 5)]),
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
    directions concatenated, ``[batch, hidden*dirs]``.
    ``dropout`` is applied between stacked layers only, so it needs ``layers > 1``.
    Inputs: the sequence, then optionally the initial state as two inputs, ``h0`` and ``c0``,
    each ``[layers*dirs, batch, hidden]`` (torch's layout; zeros when not given). Outputs: the
    default (``out``, chosen by ``output``) and the final hidden and cell states ``h`` and ``c``,
    each ``[layers*dirs, batch, hidden]``, referred to as ``<name>.h`` and ``<name>.c``: an
    encoder's state starts a decoder with ``inputs: [tgt, enc.h, enc.c]``.
    """

    name = "lstm"
    gates = 4
    states = ("h", "c")
    max_inputs = 3
    torch_cls = "recurrent.LSTM"
    examples = [
        ({"hidden": 8}, [tensor("batch", "seq", 5)]),
        ({"hidden": 6, "layers": 2, "bidirectional": True}, [tensor("batch", "seq", 4)]),
        ({"hidden": 4, "output": "last", "bidirectional": True}, [tensor("batch", "seq", 3)]),
        (
            {"hidden": 5, "layers": 3, "bidirectional": True, "output": "hidden", "bias": False},
            [tensor("batch", "seq", 6)],
        ),
        (
            {"hidden": 6, "output": "last"},
            [tensor("batch", "seq", 4), tensor(1, "batch", 6), tensor(1, "batch", 6)],
        ),
        (
            {"hidden": 3, "layers": 2, "bidirectional": True},
            [tensor("batch", "seq", 5), tensor(4, "batch", 3), tensor(4, "batch", 3)],
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
    Inputs: the sequence, then optionally the initial state ``h0``
    ``[layers*dirs, batch, hidden]`` (torch's layout; zeros when not given). Outputs: the
    default (``out``, chosen by ``output``) and the final state ``h`` ``[layers*dirs, batch,
    hidden]``, referred to as ``<name>.h``.
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
        (
            {"hidden": 4, "bidirectional": True, "output": "last"},
            [tensor("batch", "seq", 3), tensor(2, "batch", 4)],
        ),
    ]
    step = ((3, 0), (1, 0), (1, 0), (1, 0), (1, -1))

    @classmethod
    def cell_flops(cls, n: int, bias: bool) -> int:
        return costs.gru_cell(n, bias)
