"""RMSNorm (Zhang & Sennrich, 2019), the normalization of Llama, Mistral and T5."""

from __future__ import annotations

from pydantic import PositiveFloat, PositiveInt

from archspec.layers import costs, register_layer
from archspec.layers.base import (
    LayerParams,
    LayerType,
    Shape,
    ShapeError,
    TorchCtor,
    need_float,
    need_int,
    numel,
)
from archspec.layers.memory import Kept, MemCtx, Memory, keep
from archspec.shapes import TensorType, tensor


def rms_norm_flops(n: int, weight: bool) -> int:
    """RMSNorm over ``n`` elements: the square and the mean's add per element, then the scaling
    by 1/rms (a multiply): 3 per element, + 1 for the weight (no centring, no bias)."""
    return costs.elementwise(n, 3 + int(weight))


def rms_norm_kept(
    tag: str, x: Kept, stats: Shape, shape: Shape, input_grad: bool, trains: bool
) -> tuple[Kept, ...]:
    """What ``nn.RMSNorm`` (torch's composite on CPU) keeps: for the input's gradient the input
    and the reciprocal rms of each normalized slice; for the weight's the normalized input."""
    return keep(
        x if input_grad else None,
        Kept(f"{tag}rstd", stats, "stat") if input_grad else None,
        Kept(f"{tag}normalized", shape) if trains else None,
    )


@register_layer
class RmsNorm(LayerType):
    """Root-mean-square normalization over the last ``dims`` dims (``nn.RMSNorm``):
    ``x / sqrt(mean(x²) + eps) * weight``, no mean subtraction and no bias (Llama, T5, Mistral).

    ``eps`` defaults to torch's (the dtype's machine epsilon; Llama configs give 1e-5 or 1e-6).
    With ``elementwise_affine`` (default) it learns ``weight`` of the normalized shape, starting
    at ones. The normalized dims must be known sizes and cannot include the batch dim.
    """

    name = "rms_norm"
    family = "norm"

    class Params(LayerParams):
        torch_names = {"normalized_shape": None}
        dims: PositiveInt = 1
        eps: PositiveFloat | None = None
        elementwise_affine: bool = True

    examples = [
        ({"eps": 1e-5}, [tensor("batch", "seq", 8)]),
        ({"dims": 2}, [tensor("batch", 3, 4)]),
        ({"eps": 1e-6, "elementwise_affine": False}, [tensor("batch", 5)]),
    ]

    @classmethod
    def normalized(cls, p: Params, x: TensorType) -> tuple[int, ...]:
        if p.dims >= x.rank:
            raise ShapeError(
                f"cannot normalize the last {p.dims} dims of a {x.rank}-D input (the batch dim stays)",
                expected=f"dims ≤ {x.rank - 1}",
                got=f"dims {p.dims} for {x}",
            )
        return tuple(need_int(d, "a dim that rms_norm normalizes") for d in x.shape[-p.dims :])

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        need_float(xs[0], cls.name)
        cls.normalized(p, xs[0])
        return xs[0]

    @classmethod
    def weights(cls, p: Params, xs: list[TensorType]) -> dict[str, Shape]:
        return {"weight": cls.normalized(p, xs[0])} if p.elementwise_affine else {}

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        x = c.ins[0]
        stats = (*x[: -p.dims], *(1,) * p.dims)
        affine = p.elementwise_affine and c.trains
        return Memory(keep=rms_norm_kept("", Kept("in0"), stats, x, c.grad(0), affine))

    @classmethod
    def other_flops(cls, p: Params, xs: list[Shape], out: Shape) -> int:
        return rms_norm_flops(numel(out), p.elementwise_affine)

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor(
            "nn.RMSNorm",
            {
                "normalized_shape": cls.normalized(p, xs[0]),
                "eps": p.eps,
                "elementwise_affine": p.elementwise_affine,
            },
        )

    @classmethod
    def label(cls, p: Params) -> str:
        return "RMSNorm" + (f" (last {p.dims} dims)" if p.dims > 1 else "")

    @classmethod
    def display_name(cls) -> str:
        return "RMSNorm"
