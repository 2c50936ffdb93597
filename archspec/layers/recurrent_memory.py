"""What autograd keeps for the recurrent layers (their `memory` rule, for the training planner)."""

from __future__ import annotations

from typing import Any

from archspec.layers.memory import Kept, MemCtx, Memory


def recurrent_memory(p: Any, c: MemCtx, gates: int, step: tuple[tuple[int, int], ...] | None) -> Memory:
    """What autograd keeps for a recurrent layer: torch's fused (oneDNN) kernel when it has no
    per-step rule (``step`` None: LSTM, GRU), else the per-step tensors of torch's own loop."""
    batch, seq, features = c.ins[0]
    fused = step is None
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
                    Kept(f"{tag}.workspace", (onednn_workspace(gates, seq, batch, width, h),), "uint8")
                )
                if not p.bias:  # the kernel then gets copies of the weights
                    kept += [
                        Kept(f"{tag}.w_ih", (gates * h, width)),
                        Kept(f"{tag}.w_hh", (gates * h, h)),
                    ]
            else:
                steps = [
                    (f"{tag}.s{i}", (batch, w * h), seq + extra) for i, (w, extra) in enumerate(step or ())
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
