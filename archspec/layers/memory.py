"""What a layer holds in memory: the facts the training planner (``archspec plan``) needs.

Each layer type answers ``memory(p, c)`` beside its shape rule: the storages autograd saves for
the backward pass (its inputs, its outputs, masks, statistics, internal tensors), which outputs
are views of an input (no new memory), whether its output carries a gradient, the KV cache it
keeps at inference, and how tensor parallelism splits its weights. Storages are named so that a
static pass can count each one once: ``in0`` is the storage of input 0 (a view of something
upstream: it costs nothing new when another layer saves it too), ``out`` (or another output
name) the storage of an output, any other name a new storage of the given shape.

The rules describe PyTorch's kernels (torch 2.x, checked on CPU against
``torch.autograd.graph.saved_tensors_hooks``: tests/test_plan_measure.py). Where CUDA kernels
save something else, ``c.device`` says which: a dropout mask is a bool on CUDA and the dropout's
scaled noise (activation dtype) on CPU; statistics are float32 on CUDA and the activation dtype
on CPU; attention with dropout uses the fused kernel on CUDA and the math path on CPU.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Shape = tuple[int, ...]
# "act": the activation dtype; "stat": normalization statistics (float32 on CUDA, act on CPU);
# "mask": a dropout mask (bool on CUDA, the act-dtype noise on CPU); the rest are what they say.
Dtype = Literal["act", "stat", "mask", "float32", "int64", "int32", "bool", "uint8"]
Device = Literal["cpu", "cuda"]
Attention = Literal["fused", "math"]


@dataclass(frozen=True)
class Kept:
    """One storage: ``of`` is ``in<i>`` (input i's storage), an output name, or an internal name
    (a new storage of ``shape``; ``count`` storages of that shape, e.g. one per time step).
    ``core``: part of the attention core (scores, probabilities and their dropout), which
    selective recomputation drops and recomputes in backward."""

    of: str
    shape: Shape = ()
    dtype: Dtype = "act"
    count: int = 1
    core: bool = False


@dataclass(frozen=True)
class MemCtx:
    """What a layer's memory rule is told: concrete input and output shapes, which inputs carry a
    gradient, whether any of its own parameters trains, the kernels' device, the attention kernel
    (``fused``: flash/memory-efficient, which keep no score matrix; ``math``: the scores
    materialized, as eager attention code does), the tensor-parallel degree and, for inference,
    the context length of a KV cache."""

    ins: tuple[Shape, ...]
    outs: Mapping[str, Shape]
    grads: tuple[bool, ...] = ()
    trains: bool = True
    device: Device = "cuda"
    tp: int = 1
    context: int = 0
    attention: Attention = "fused"

    @property
    def out(self) -> Shape:
        return next(iter(self.outs.values()))

    @property
    def needs_grad(self) -> bool:
        """Autograd records this layer at all (some input or parameter needs a gradient)."""
        return self.trains or any(self.grads)

    def grad(self, i: int) -> bool:
        return i < len(self.grads) and self.grads[i]


@dataclass(frozen=True)
class Memory:
    """A layer's answer. ``keep``: storages saved for backward (only asked when autograd records
    the layer); ``views``: outputs that share an input's storage (``"in0"``) or an internal one
    (a ``Kept``); ``differentiable``: False when the output never carries a gradient (a step);
    ``cache``: KV-cache storages at inference for ``c.context`` tokens; ``split``: under tensor
    parallelism, the divisor of each weight this layer shards (None: not splittable, replicated)."""

    keep: tuple[Kept, ...] = ()
    views: Mapping[str, str | Kept] = field(default_factory=dict)
    differentiable: bool = True
    cache: tuple[Kept, ...] = ()
    split: Mapping[str, int] | None = None


NOTHING = Memory()


def keep(*items: Kept | None) -> tuple[Kept, ...]:
    """The items that are not None (rules write ``x if cond else None``)."""
    return tuple(i for i in items if i is not None)


def dropout_kept(name: str, shape: Shape, p: float, c: MemCtx, grad: bool = True) -> tuple[Kept, ...]:
    """What ``nn.Dropout(p)`` in training saves for an input of ``shape`` that carries a gradient
    when ``grad``: nothing for p = 0 (the input is returned), a 0-d zero for p = 1, else the mask."""
    if not grad or p == 0:
        return ()
    if p == 1:
        return (Kept(f"{name}.zero", ()),)
    return (Kept(f"{name}.mask", shape, "mask"),)
