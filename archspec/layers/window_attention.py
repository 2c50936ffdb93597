"""Swin Transformer's (shifted) window attention (Liu et al., 2021), torchvision's
``ShiftedWindowAttention`` (the attention family)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, NonNegativeInt, PositiveInt

from archspec.layers import costs, register_layer
from archspec.layers.base import LayerType, Shape, ShapeError, TorchCtor, need_float, need_int, need_rank
from archspec.layers.costs import Product
from archspec.layers.memory import Kept, MemCtx, Memory, dropout_kept, keep
from archspec.layers.spatial import SpatialParams, fmt_size, per_dim
from archspec.shapes import TensorType, tensor

Rate = Annotated[float, Field(ge=0.0, lt=1.0)]  # a dropout probability


def padded(size: int, window: int) -> int:
    """A map's length padded up to a multiple of the window."""
    return -(-size // window) * window


def shifts(p: ShiftedWindowAttention.Params, h: int, w: int) -> tuple[int, int]:
    """The shift actually applied at an h x w map: none along a dim where the padded map is no
    larger than the window (torchvision's rule)."""
    (wh, ww), (sh, sw) = per_dim(p.window, 2), per_dim(p.shift, 2)
    return (0 if wh >= padded(h, wh) else sh, 0 if ww >= padded(w, ww) else sw)


@register_layer
class ShiftedWindowAttention(LayerType):
    """Multi-head self-attention within non-overlapping windows of a channels-last map
    ``[batch, h, w, c]`` (output: the same shape), with a learned relative position bias, as
    torchvision's ``ShiftedWindowAttention`` (Swin V1). The map is zero-padded at the bottom and
    right to a multiple of ``window``; with ``shift`` it is first rolled by ``-shift`` (so that
    windows straddle the previous layer's window borders) and tokens that come from different
    regions of the rolled map get -100 added to their scores; the output is rolled back and
    cropped. torchvision drops the shift along a dim where the padded map is no larger than the
    window, and so does this layer. Parameters: ``qkv`` (Linear(c, 3c)), ``proj`` (Linear(c, c)),
    ``relative_position_bias_table`` [(2·wh-1)·(2·ww-1), heads]; buffer
    ``relative_position_index`` [(wh·ww)²], int64, in the state_dict as in torchvision's.
    ``attention_dropout`` acts on the attention weights, ``dropout`` on the output (training only).
    """

    name = "shifted_window_attention"
    family = "attention"
    primary = "heads"

    class Params(SpatialParams):
        ndim: ClassVar[int] = 2
        spatial: ClassVar[tuple[str, ...]] = ("window", "shift")
        torch_names = {
            "num_heads": "heads",
            "window_size": "window",
            "shift_size": "shift",
            "dim": None,
        }
        heads: PositiveInt
        window: PositiveInt | list[PositiveInt] = 7
        shift: NonNegativeInt | list[NonNegativeInt] = 0
        attention_dropout: Rate = 0.0
        dropout: Rate = 0.0

    examples = [
        ({"heads": 2, "window": 4}, [tensor("batch", "h", "w", 8)]),
        ({"heads": 2, "window": 4, "shift": 2}, [tensor("batch", "h", "w", 8)]),
        ({"heads": 3, "window": [3, 5], "shift": [1, 2]}, [tensor("batch", "h", "w", 6)]),
        ({"heads": 1, "window": 4, "shift": 2}, [tensor("batch", 3, 10, 4)]),
        (
            {"heads": 2, "window": 3, "shift": 1, "attention_dropout": 0.1, "dropout": 0.2},
            [tensor("batch", 6, 7, 4)],
        ),
    ]

    @classmethod
    def _dims(cls, p: Params, xs: list[TensorType]) -> int:
        x = xs[0]
        hint = "it takes a channels-last map [batch, h, w, c]: `permute: [0, 2, 3, 1]` a conv's output"
        need_rank(x, (4,), cls.name, hint=hint)
        need_float(x, cls.name)
        c = need_int(x.shape[3], f"the channels (dim 3) of {cls.name}")
        if c % p.heads:
            fits = [h for h in range(1, min(c, 64) + 1) if c % h == 0]
            raise ShapeError(
                f"{c} channels are not divisible by heads={p.heads}",
                expected=f"a multiple of {p.heads}",
                got=str(x),
                hint=f"heads must divide {c}: e.g. {', '.join(map(str, fits[-6:]))}",
                code="bad-value",
            )
        for axis, wnd, sft in zip(("h", "w"), per_dim(p.window, 2), per_dim(p.shift, 2), strict=True):
            if sft >= wnd:
                raise ShapeError(
                    f"the shift along {axis} ({sft}) must be smaller than the window ({wnd})",
                    expected=f"shift < {wnd}",
                    got=f"shift {fmt_size(p.shift, 2)}, window {fmt_size(p.window, 2)}",
                    hint="Swin shifts every other block by half the window: `shift: window // 2`",
                    code="bad-value",
                )
        return c

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        cls._dims(p, xs)
        return xs[0]

    @classmethod
    def weights(cls, p: Params, xs: list[TensorType]) -> dict[str, Shape]:
        c = cls._dims(p, xs)
        wh, ww = per_dim(p.window, 2)
        return {
            "relative_position_bias_table": ((2 * wh - 1) * (2 * ww - 1), p.heads),
            "qkv.weight": (3 * c, c),
            "qkv.bias": (3 * c,),
            "proj.weight": (c, c),
            "proj.bias": (c,),
        }

    @classmethod
    def buffers(cls, p: Params, xs: list[TensorType]) -> dict[str, Shape]:
        wh, ww = per_dim(p.window, 2)
        return {"relative_position_index": ((wh * ww) ** 2,)}

    @classmethod
    def penalized(cls, p: Params, xs: list[TensorType]) -> tuple[str, ...]:
        return ("qkv.weight", "proj.weight")

    @classmethod
    def _sizes(cls, p: Params, x: Shape) -> tuple[int, int, int, int]:
        """(tokens of the padded map, tokens per window, channels, scores)."""
        b, h, w, c = x
        wh, ww = per_dim(p.window, 2)
        tokens, n = b * padded(h, wh) * padded(w, ww), wh * ww
        return tokens, n, c, tokens * n * p.heads

    @classmethod
    def products(cls, p: Params, xs: list[Shape], out: Shape) -> list[Product]:
        tokens, n, c, _ = cls._sizes(p, xs[0])
        inner = costs.INNER
        return [
            Product(costs.linear(tokens, c, 3 * c), costs.arg(0), "qkv.weight"),
            Product(costs.attention(tokens // n, n, n, c), inner, inner),  # q k^T, all windows
            Product(costs.attention(tokens // n, n, n, c), inner, inner),  # weights · v
            Product(costs.linear(tokens, c, c), inner, "proj.weight"),
        ]

    @classmethod
    def other_flops(cls, p: Params, xs: list[Shape], out: Shape) -> int:
        tokens, _, c, scores = cls._sizes(p, xs[0])
        masked = sum(shifts(p, xs[0][1], xs[0][2])) > 0
        biases = costs.bias(4 * tokens * c, True)  # qkv's and proj's
        # q scaled by 1/sqrt(head_dim); per score the position bias, the shift mask, the softmax
        return (
            biases
            + costs.elementwise(tokens * c)
            + costs.elementwise(scores, 2 if masked else 1)
            + costs.softmax(scores)
        )

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        # the windowed map (qkv's input), the scaled queries, k^T and v for the two
        # products, the probabilities (and their dropout), the projection's input, its dropout
        tokens, n, ch, _ = cls._sizes(p, c.ins[0])
        scores = (tokens // n, p.heads, n, n)
        probs = dropout_kept("probs", scores, p.attention_dropout, c)
        # with one head, k^T and v are views of the qkv output; otherwise copies
        one = (Kept("qkv", (tokens, 3 * ch)),)
        kv = one if p.heads == 1 else (Kept("k_t", (tokens, ch)), Kept("v", (tokens, ch)))
        return Memory(
            keep=keep(
                Kept("windows", (tokens, ch)) if c.trains else None,
                Kept("q_scaled", (tokens, ch)),
                *kv,
                Kept("probs", scores, core=True),
                *(Kept(k.of, k.shape, k.dtype, core=True) for k in probs),
                Kept("probs.dropped", scores, core=True) if p.attention_dropout > 0 else None,
                Kept("proj_in", (tokens, ch)) if c.trains else None,
                *dropout_kept("out", (tokens, ch), p.dropout, c),
            )
        )

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        c = cls._dims(p, xs)
        kwargs = {
            "dim": c,
            "window_size": list(per_dim(p.window, 2)),
            "shift_size": list(per_dim(p.shift, 2)),
            "num_heads": p.heads,
        }
        return TorchCtor(
            "swin.ShiftedWindowAttention",
            kwargs | {"attention_dropout": p.attention_dropout, "dropout": p.dropout},
        )

    @classmethod
    def onnx_issue(cls, p: Params, opset: int, xs: list[TensorType]) -> str | None:
        dynamic = [str(d) for d in xs[0].shape[1:3] if not isinstance(d, int)] if xs else []
        if any(per_dim(p.shift, 2)) and dynamic:
            return (
                "whether the windows shift depends on the map's size (no shift where the padded map "
                f"fits in one window), which torch.export fixes at the traced size of {', '.join(dynamic)}; "
                "export with fixed sizes (--dim NAME=N)"
            )
        return None

    @classmethod
    def label(cls, p: Params) -> str:
        shift = any(per_dim(p.shift, 2))
        return f"ShiftedWindowAttention {p.heads}h {fmt_size(p.window, 2)}" + (
            f" shift {fmt_size(p.shift, 2)}" if shift else ""
        )
