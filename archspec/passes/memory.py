"""Activation memory from the graph (a sized pass; no torch).

Walks one model's layers in forward order and asks each layer type what it keeps for backward
(``LayerType.memory``, see ``archspec.layers.memory``). Every tensor is a *storage*: a layer's
output is a new storage unless the layer says it is a view of an input, so a tensor that several
layers keep (a ReLU's output, kept by the ReLU and by the next linear layer) is counted once, and
a view keeps its whole storage alive, as in torch. A layer is recorded by autograd only when one
of its inputs carries a gradient or one of its parameters trains (frozen layers on data keep
nothing). The result lists, per layer node, the storages it keeps; ``archspec.planner`` turns it
into a timeline of the training step (what is freed when, checkpointing, recomputation).

Checkpoint units are the spec's blocks: each block instance and each copy of a repeated entry at
the top of the model (``h.0``, ``layer2.1``...), the unit of ``archspec.shard`` too. A top block
that holds a repeat at any depth (Hugging Face layouts' ``model`` or ``transformer``) is looked
into: its repeats' copies and its other blocks are the units (``transformer.h.0``,
``model.layers.3``, ``model.encoder.layers.1``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from archspec.errors import ArchspecError
from archspec.ir.graph import Graph, LayerNode, split_ref
from archspec.layers.base import ShapeError
from archspec.layers.memory import Attention, Device, Kept, MemCtx, Memory
from archspec.passes import Analysis
from archspec.passes.sizing import concrete

_FIXED = {
    "float32": 4,
    "int64": 8,
    "int32": 4,
    "bool": 1,
    "uint8": 1,
    "float64": 8,
    "float16": 2,
    "bfloat16": 2,
}


@dataclass(frozen=True)
class Val:
    """A tensor flowing in the graph: its storage (key and size) and whether it carries a gradient."""

    key: str
    nbytes: int
    grad: bool


@dataclass
class LayerMem:
    """One layer node: the storages it keeps (key -> bytes), the attention-core ones among them,
    its output and input sizes (for gradients in flight), its KV cache and trainable params."""

    path: str
    index: int
    unit: str | None
    kept: dict[str, int] = field(default_factory=dict)
    core: set[str] = field(default_factory=set)
    internal: int = 0  # bytes of the new storages among ``kept`` (an inference workspace bound)
    largest: int = 0  # bytes of the largest of them (its gradient is in flight in backward)
    ins: list[Val] = field(default_factory=list)
    outs: list[Val] = field(default_factory=list)
    cache: int = 0
    recorded: bool = False
    trainable: int = 0  # trainable parameters held here, per tensor-parallel rank
    removed: int = 0  # parameters of this layer that a tensor-parallel rank does not hold


@dataclass
class Unit:
    """A checkpoint/FSDP unit: a block instance or a copy of a repeated entry."""

    path: str
    first: int  # index of its first and last layer node
    last: int
    ins: list[Val]
    params: int  # parameters in it (counted once), per tensor-parallel rank


@dataclass
class MemoryGraph:
    """The pass' result: layers in forward order, units, the model's inputs and outputs."""

    layers: list[LayerMem]
    units: list[Unit]
    inputs: list[Val]
    outputs: list[Val]
    split_params: int  # parameters that tensor parallelism divides (counted once, whole)
    split_removed: int  # of those, how many a rank does not hold


def memory_graph(
    a: Analysis,
    *,
    act_bytes: int = 4,
    device: Device = "cuda",
    tp: int = 1,
    context: int = 0,
    input_grad: bool = False,
    attention: Attention = "fused",
) -> MemoryGraph:
    """Run the pass on analysis ``a`` (its sizes; symbols without a size count as 1).
    ``act_bytes``: bytes of a float activation; ``device``: whose kernels' rules; ``tp``: the
    tensor-parallel degree; ``context``: KV-cache tokens; ``input_grad``: float inputs carry a
    gradient (as for a model fed by another one; data does not); ``attention``: the attention
    kernel's rules (``fused`` or ``math``)."""
    w = _Walker(a, act_bytes, device, tp, context, attention)
    env = {}
    for name in a.graph.inputs:
        node = a.graph.nodes[name]
        size = w.nbytes(concrete(node.out, a.sizes), node.out.dtype)
        grad = input_grad and node.out.dtype.startswith(("float", "bfloat"))
        env[name] = {"out": Val(f"input:{name}", size, grad)}
    outs = w.graph(a.graph, env, True, None, top=True)
    ins = [env[n]["out"] for n in a.graph.inputs]
    return MemoryGraph(w.layers, w.units, ins, outs, w.split_params, w.split_removed)


class _Walker:
    def __init__(
        self, a: Analysis, act_bytes: int, device: Device, tp: int, context: int, attention: Attention
    ) -> None:
        self.a, self.act, self.device, self.tp, self.context = a, act_bytes, device, tp, context
        self.attention = attention
        self.layers: list[LayerMem] = []
        self.units: list[Unit] = []
        self.split_params = self.split_removed = 0

    def nbytes_of(self, dtype: str) -> int:
        if dtype == "act":
            return self.act
        if dtype == "stat":
            return 4 if self.device == "cuda" else self.act
        if dtype == "mask":
            return 1 if self.device == "cuda" else self.act
        return _FIXED.get(dtype, 4)

    def nbytes(self, shape: tuple[int, ...], dtype: str) -> int:
        n = 1
        for d in shape:
            n *= d
        kind = "act" if dtype.startswith(("float", "bfloat")) else dtype
        return n * self.nbytes_of(kind)

    def graph(
        self, g: Graph, env: dict[str, dict[str, Val]], trainable: bool, unit: str | None, top: bool = False
    ) -> list[Val]:
        """Walk ``g`` (its inputs bound in ``env``); return its outputs. At the top of the model,
        each block instance and each copy of a repeated entry starts a unit."""
        local = dict(env)
        for node in g.body():
            ins = [_first(_resolve(local, r)) for r in node.inputs]
            # a top block that holds a repeat, at any depth (HF's `model`, `transformer`), is a
            # wrapper: its repeats' copies and its other blocks are the units (`model.layers.0`)
            wrapper = unit is None and top and node.kind == "block" and _holds_repeat(node.sub)
            starts = (
                unit is None
                and top
                and not wrapper
                and node.kind != "repeat"
                and (g.kind == "repeat" or node.kind != "layer")
            )
            first, here = len(self.layers), node.path if starts else unit
            if isinstance(node, LayerNode):
                local[node.name] = self.layer(node, ins, trainable, here)
            else:
                assert node.sub is not None
                sub_env = {name: {"out": v} for name, v in zip(node.sub.inputs, ins, strict=True)}
                nested = top and unit is None and (node.kind == "repeat" or wrapper)
                vals = self.graph(node.sub, sub_env, trainable and node.trainable, here, top=nested)
                local[node.name] = dict(zip(node.outs, vals, strict=True))
            if starts and len(self.layers) > first:
                params = node.counts.params - sum(lm.removed for lm in self.layers[first:])
                self.units.append(Unit(node.path, first, len(self.layers) - 1, ins, params))
        return [_first(_resolve(local, r)) for r in g.outputs]

    def layer(self, node: LayerNode, ins: list[Val], trainable: bool, unit: str | None) -> dict[str, Val]:
        sizes = self.a.sizes
        outs_shape = {k: concrete(t, sizes) for k, t in node.outs.items()}
        trains = trainable and any(n not in node.layer_type.frozen for n in node.weights)
        c = MemCtx(
            tuple(concrete(t, sizes) for t in node.in_types),
            outs_shape,
            tuple(v.grad for v in ins),
            trains,
            self.device,
            self.tp,
            self.context,
            self.attention,
        )
        try:
            m = node.layer_type.memory(node.settings, c)
        except ShapeError as e:
            raise ArchspecError(e.code, e.message, loc=node.loc, node=node.path, hint=e.hint) from None
        removed = self._split(node, m)
        lm = LayerMem(node.path, len(self.layers), unit, ins=ins, recorded=c.needs_grad)
        lm.trainable = node.counts.trainable - (removed if trains else 0)
        lm.removed = removed
        grad = c.needs_grad and m.differentiable
        outs: dict[str, Val] = {}
        for name, shape in outs_shape.items():
            dtype = node.outs[name].dtype
            carries = grad and dtype.startswith(("float", "bfloat"))
            view = m.views.get(name)
            if isinstance(view, str):
                src = ins[int(view.removeprefix("in"))]
                outs[name] = Val(src.key, src.nbytes, carries)
            elif isinstance(view, Kept):
                outs[name] = Val(f"{node.path}#{view.of}", self._kept_bytes(view), carries)
            else:
                outs[name] = Val(f"{node.path}:{name}", self.nbytes(shape, dtype), carries)
        lm.outs = list(outs.values())
        if c.needs_grad:
            self._keep(lm, m, ins, outs)
        lm.cache = sum(self._kept_bytes(k) for k in m.cache)
        self.layers.append(lm)
        return outs

    def _keep(self, lm: LayerMem, m: Memory, ins: list[Val], outs: Mapping[str, Val]) -> None:
        for k in m.keep:
            if k.of.startswith("in") and k.of[2:].isdigit():
                v = ins[int(k.of[2:])]
                key, size = v.key, v.nbytes
            elif k.of in outs:
                key, size = outs[k.of].key, outs[k.of].nbytes
            else:
                key, size = f"{lm.path}#{k.of}", self._kept_bytes(k)
                if key not in lm.kept:
                    lm.internal += size
                    if k.dtype == "act":  # an intermediate activation, whose gradient backward makes
                        lm.largest = max(lm.largest, size // max(k.count, 1))
            lm.kept[key] = size
            if k.core:
                lm.core.add(key)

    def _kept_bytes(self, k: Kept) -> int:
        n = k.count
        for d in k.shape:
            n *= d
        return n * self.nbytes_of(k.dtype)

    def _split(self, node: LayerNode, m: Memory) -> int:
        """Count the parameters tensor parallelism divides (a model's weights once); return how
        many of this layer's a rank does not hold."""
        if self.tp == 1 or m.split is None or node.counts.params == 0:
            return 0
        removed = 0
        for name, shape in node.weights.items():
            div = m.split.get(name)
            if div and name != (node.layer_type.tied if node.tie else None):
                n = 1
                for d in shape:
                    n *= d
                self.split_params += n
                removed += n - n // div
        self.split_removed += removed
        return removed


def _holds_repeat(g: Graph | None) -> bool:
    """``g`` has a repeat, directly or in a block of it."""
    return g is not None and any(
        n.kind == "repeat" or (n.kind == "block" and _holds_repeat(n.sub)) for n in g.body()
    )


def _resolve(local: Mapping[str, dict[str, Val]], ref: str) -> dict[str, Val]:
    name, output = split_ref(ref)
    outs = local[name]
    return {"out": outs[output]} if output is not None else outs


def _first(outs: dict[str, Val] | Val) -> Val:
    return outs if isinstance(outs, Val) else next(iter(outs.values()))
