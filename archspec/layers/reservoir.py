"""Reservoir computing: a fixed random recurrent layer (echo state network)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt

from archspec.layers import costs, register_layer
from archspec.layers.base import LayerParams, LayerType, Shape, TorchCtor, need_float, need_int, need_rank
from archspec.layers.costs import Product
from archspec.layers.memory import Kept, MemCtx, Memory
from archspec.shapes import TensorType, tensor


@register_layer
class Reservoir(LayerType):
    """An echo state network reservoir: a recurrent layer whose weights are fixed at random.

    ``h_t = (1 - leak) h_{t-1} + leak * tanh(W_in x_t + W_res h_{t-1})``, from ``h_0 = 0``,
    on ``[batch, seq, features]`` (features known). ``output: sequence`` gives every state,
    ``[batch, seq, size]``; ``output: last`` gives the final one, ``[batch, size]``.

    ``weight_in [size, features]`` is uniform in ``±input_scaling``; ``weight_res
    [size, size]`` is uniform with a ``sparsity`` fraction of its entries zero, scaled so
    that its spectral radius (largest eigenvalue modulus, computed exactly when the
    module is built) is ``spectral_radius``. Both are drawn from a generator seeded with
    ``seed`` (the same seed gives the same weights on every build) and are parameters with
    ``requires_grad=False``: they count as non-trainable. Train a readout after it (e.g.
    a ``linear`` on ``output: last``). Building computes an eigen-decomposition of
    ``weight_res``, which takes seconds for sizes in the thousands.
    """

    name = "reservoir"
    family = "reservoir"
    primary = "size"
    frozen = ("weight_in", "weight_res")

    class Params(LayerParams):
        size: PositiveInt
        spectral_radius: float = Field(0.9, gt=0)
        sparsity: float = Field(0.9, ge=0, lt=1)
        leak: float = Field(1.0, gt=0, le=1)
        input_scaling: float = Field(1.0, gt=0)
        seed: int = Field(0, ge=0, lt=2**63)
        output: Literal["sequence", "last"] = "sequence"

    examples = [
        ({"size": 20}, [tensor("batch", "seq", 3)]),
        (
            {"size": 8, "spectral_radius": 1.2, "sparsity": 0.0, "leak": 0.3, "seed": 7, "output": "last"},
            [tensor("batch", "seq", 5)],
        ),
        ({"size": 16, "input_scaling": 0.5}, [tensor("batch", 10, 2)]),
    ]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        need_float(x, "reservoir")
        need_rank(x, (3,), "reservoir", hint="the input is [batch, seq, features]")
        need_int(x.shape[2], "the input features of reservoir")
        if p.output == "last":
            return x.with_shape((x.shape[0], p.size))
        return x.with_shape((x.shape[0], x.shape[1], p.size))

    @classmethod
    def weights(cls, p: Params, xs: list[TensorType]) -> dict[str, Shape]:
        features = need_int(xs[0].shape[2], "the input features of reservoir")
        return {"weight_in": (p.size, features), "weight_res": (p.size, p.size)}

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        # Frozen weights: recorded only when the input needs a gradient; each step's tanh keeps
        # its result. With leak 1 the last state is that result itself.
        batch, seq = c.ins[0][:2]
        last = Kept("state", (batch, p.size))
        kept = (Kept("states", (batch, p.size), count=seq - 1), last) if seq > 1 else (last,)
        out = last if p.output == "last" and p.leak == 1.0 else None
        return Memory(keep=kept, views={"out": out} if out else {})

    @classmethod
    def products(cls, p: Params, xs: list[Shape], out: Shape) -> list[Product]:
        """``W_in x`` for every step at once, then ``W_res h`` per step (first on the zero state)."""
        batch, seq, features = xs[0]
        step = costs.linear(batch, p.size, p.size)
        return [
            Product(costs.linear(batch * seq, features, p.size), costs.arg(0), "weight_in"),
            Product(step, costs.CONST, "weight_res"),
            Product(step * (seq - 1), costs.INNER, "weight_res"),
        ]

    @classmethod
    def other_flops(cls, p: Params, xs: list[Shape], out: Shape) -> int:
        """Per step: the add and the tanh, and for a leak below 1 its two multiplies and add."""
        batch, seq, _ = xs[0]
        return seq * costs.elementwise(batch * p.size, 2 if p.leak == 1.0 else 5)

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        features = need_int(xs[0].shape[2], "the input features of reservoir")
        return TorchCtor("reservoir.Reservoir", {"in_features": features, **p.model_dump()})

    @classmethod
    def label(cls, p: Params) -> str:
        leak = "" if p.leak == 1.0 else f", leak {p.leak:g}"
        last = " → last" if p.output == "last" else ""
        return f"Reservoir {p.size} (ρ {p.spectral_radius:g}{leak}){last}"
