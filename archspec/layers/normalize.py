"""Scaling vectors to unit length (``torch.nn.functional.normalize``): CLIP's embeddings before
their cosine similarities, cosine classifiers, contrastive heads."""

from __future__ import annotations

from pydantic import PositiveFloat

from archspec.layers import costs, register_layer
from archspec.layers.base import LayerParams, LayerType, Shape, ShapeError, TorchFn, need_float, numel
from archspec.layers.memory import Kept, MemCtx, Memory
from archspec.shapes import TensorType, tensor


@register_layer
class Normalize(LayerType):
    """Divide each vector along ``dim`` (the last by default) by its ``p``-norm (2: Euclidean
    length), ``x / max(‖x‖_p, eps)`` (``torch.nn.functional.normalize``): unit vectors whose dot
    products are cosine similarities (CLIP's text and image embeddings). No parameters; the
    shape is kept. ``eps`` (1e-12) only guards a zero vector.
    """

    name = "normalize"
    family = "norm"
    primary = "dim"

    class Params(LayerParams):
        dim: int = -1
        p: PositiveFloat = 2.0
        eps: PositiveFloat = 1e-12

    examples = [
        ({}, [tensor("batch", 6)]),
        ({"dim": 1}, [tensor("batch", 4, "seq")]),
        ({"p": 1.0}, [tensor("batch", "seq", 5)]),
    ]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        need_float(x, cls.name)
        if not -x.rank <= p.dim < x.rank:
            raise ShapeError(
                f"dim {p.dim} is out of range for a {x.rank}-D input",
                expected=f"dim in [{-x.rank}, {x.rank - 1}]",
                got=str(p.dim),
                code="bad-value",
            )
        return x

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        x = c.ins[0]
        d = p.dim % len(x)
        norms = (*x[:d], 1, *x[d + 1 :])  # the norm (kept by its backward), then clamped
        return Memory(keep=(Kept("in0"), Kept("norm", norms), Kept("clamped", norms)))

    @classmethod
    def other_flops(cls, p: Params, xs: list[Shape], out: Shape) -> int:
        return costs.elementwise(numel(out), 3)  # |x|^p, the sum's add, the division

    @classmethod
    def torch_fn(cls, p: Params) -> TorchFn:
        return TorchFn("torch.nn.functional.normalize", kwargs={"p": p.p, "dim": p.dim, "eps": p.eps})

    @classmethod
    def label(cls, p: Params) -> str:
        return "Normalize" + (f" (L{p.p:g})" if p.p != 2 else "") + (f" over {p.dim}" if p.dim != -1 else "")
