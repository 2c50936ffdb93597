"""The activation side of a training step, from the memory pass (``archspec.passes.memory``).

Forward: every storage a recorded layer keeps stays alive until the backward pass has gone
through the *first* layer (in forward order) that keeps it; the model's outputs stay alive (the
caller and the loss hold them). Backward walks the layers in reverse: at layer i the storages
still held are those first kept at or before i; the gradients of the parameters of layers i..
have been allocated; in flight are the gradients of layer i's outputs and inputs and, inside a
composite layer, of its largest intermediate.

Checkpointing per block behaves as ``torch.utils.checkpoint`` (non-reentrant): a block keeps only
its inputs during the forward; its backward first recomputes the block's forward, so that block's
own storages are all held again while its backward runs. Selective recomputation (Megatron-LM's)
drops the attention core (scores, probabilities, their dropout) everywhere and recomputes it one
layer at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archspec.passes.memory import MemoryGraph


@dataclass
class Activations:
    """Bytes per GPU: ``kept`` at the end of the forward (what checkpointing leaves), ``by_unit``
    the same per top-level block, ``peak`` the activation side (held + recomputed + gradients
    in flight) at the moment the backward pass holds the most, counting the parameter gradients
    allocated by then (``grads_at_peak``, not included in ``peak``)."""

    kept: int
    peak: int
    grads_at_peak: int  # parameter-gradient bytes allocated when the peak happens
    by_unit: list[tuple[str, int]] = field(default_factory=list)


def activations(g: MemoryGraph, checkpoint: str, grads_by_layer: list[int]) -> Activations:
    """The activation timeline for ``checkpoint`` (none, blocks or selective); ``grads_by_layer``
    gives the parameter-gradient bytes each layer's backward allocates (to place the peak)."""
    n = len(g.layers)
    unit_of: list[int | None] = [None] * n  # layer index -> its unit's index, when checkpointed
    if checkpoint == "blocks":
        for u, unit in enumerate(g.units):
            for i in range(unit.first, unit.last + 1):
                unit_of[i] = u
    # the first (forward) saver of each storage, over layers that keep it outside checkpoints
    first: dict[str, int] = {}
    size: dict[str, int] = {}
    core_only: dict[str, bool] = {}
    for lm in g.layers:
        for key, nbytes in lm.kept.items():
            size[key] = nbytes
            if unit_of[lm.index] is None:
                first.setdefault(key, lm.index)
            if checkpoint == "selective":
                core_only[key] = core_only.get(key, True) and key in lm.core
    if checkpoint == "selective":
        first = {k: i for k, i in first.items() if not core_only.get(k, False)}
    for unit in g.units if checkpoint == "blocks" else []:
        for v in unit.ins:  # a checkpoint holds its block's inputs
            first[v.key] = min(first.get(v.key, unit.first), unit.first)
            size[v.key] = v.nbytes
    kept = sum(size[k] for k in first)
    held = [0] * (n + 1)
    for key, i in first.items():
        held[i] += size[key]
    for v in g.outputs:  # the caller (or the loss) holds the outputs through the backward
        if v.key not in first:
            held[0] += v.nbytes
    for i in range(1, n):
        held[i] += held[i - 1]
    after = [0] * (n + 1)  # gradient bytes allocated by layers i..n-1
    for i in range(n - 1, -1, -1):
        after[i] = after[i + 1] + grads_by_layer[i]
    pending = _pending(g)
    best, at = 0, 0
    for i, lm in enumerate(g.layers):
        extra = _recomputed(g, i, unit_of, first, checkpoint)
        flight = (
            sum(v.nbytes for v in lm.outs if v.grad) + sum(v.nbytes for v in lm.ins if v.grad) + lm.largest
        )
        total = held[i] + extra + flight + pending[i] + after[i]
        if total > best:
            best, at = total, i
    return Activations(kept, best - after[at], after[at], _by_unit(g, first, size))


def _pending(g: MemoryGraph) -> list[int]:
    """Bytes of gradients waiting at each layer's backward: a tensor read by several layers (a
    residual or skip connection) gets its gradient from its last reader's backward, and keeps it
    until the backward reaches the layer that made it."""
    n = len(g.layers)
    made: dict[str, int] = {v.key: -1 for v in g.inputs}
    last: dict[str, tuple[int, int]] = {}
    for lm in g.layers:
        for v in lm.ins:
            if v.grad:
                last[v.key] = (lm.index, v.nbytes)
        for v in lm.outs:
            made.setdefault(v.key, lm.index)
    delta = [0] * (n + 1)
    for key, (reader, nbytes) in last.items():
        lo, hi = made.get(key, -1) + 1, reader - 1
        if hi >= lo:
            delta[lo] += nbytes
            delta[hi + 1] -= nbytes
    out, run = [0] * n, 0
    for i in range(n):
        run += delta[i]
        out[i] = run
    return out


def _recomputed(
    g: MemoryGraph, i: int, unit_of: list[int | None], first: dict[str, int], checkpoint: str
) -> int:
    """Bytes recomputed and held at layer i's backward beyond the forward's kept storages."""
    lm = g.layers[i]
    if checkpoint == "selective":
        return sum(lm.kept[k] for k in lm.core if first.get(k, i + 1) > i)
    u = unit_of[i]
    if u is None:
        return 0
    unit = g.units[u]
    seen: set[str] = set()
    total = 0
    for j in range(unit.first, i + 1):  # kept inside the unit at or before i, and not held at i
        for key, nbytes in g.layers[j].kept.items():
            if first.get(key, i + 1) > i and key not in seen:
                seen.add(key)
                total += nbytes
    return total


def _by_unit(g: MemoryGraph, first: dict[str, int], size: dict[str, int]) -> list[tuple[str, int]]:
    """Kept bytes attributed to the top-level element (unit, or layer) whose layer keeps it first."""
    owner: dict[int, str] = {}
    for unit in g.units:
        for i in range(unit.first, unit.last + 1):
            owner[i] = unit.path
    totals: dict[str, int] = {}
    for key, i in sorted(first.items(), key=lambda kv: kv[1]):
        name = owner.get(i, g.layers[i].path)
        totals[name] = totals.get(name, 0) + size[key]
    order = {name: k for k, name in enumerate(owner.get(i, lm.path) for i, lm in enumerate(g.layers))}
    return sorted(totals.items(), key=lambda kv: order.get(kv[0], 0))
