"""Shape arithmetic shared by layer rules: PyTorch's formulas, on ints and symbolic dims alike.

Every function is pure and exact: it returns what torch computes for any integer sizes, as an
``int`` when the input is sized and as a :class:`~archspec.shapes.Sym` otherwise. Layer
parameters (kernel, stride, ...) are ints; a value torch would refuse (a stride of 0) raises
ValueError. Whether an output size is positive is the caller's check: these only compute.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .symbolic import Dim, Sym, ceil_div


class BroadcastError(ValueError):
    """Two shapes do not broadcast; ``axis`` counts from the right (-1 is the last)."""

    def __init__(self, a: Sequence[Dim], b: Sequence[Dim], axis: int) -> None:
        self.a, self.b, self.axis = tuple(a), tuple(b), axis
        da, db = self.a[axis], self.b[axis]
        super().__init__(
            f"shapes [{', '.join(map(str, self.a))}] and [{', '.join(map(str, self.b))}] do not "
            f"broadcast: {da} against {db} at axis {axis}"
        )


def _check(name: str, value: int, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{name} must be an int >= {least}, got {value!r}")


def conv_out(size: Dim, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> Dim:
    """Output length of a convolution along one axis (``torch.nn.Conv{1,2,3}d``):
    ``(size + 2*padding - dilation*(kernel - 1) - 1) // stride + 1``."""
    _check("kernel", kernel, 1)
    _check("stride", stride, 1)
    _check("padding", padding, 0)
    _check("dilation", dilation, 1)
    return (size + (2 * padding - dilation * (kernel - 1) - 1)) // stride + 1


def pool_out(
    size: Dim,
    kernel: int,
    stride: int | None = None,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> Dim:
    """Output length of max/avg pooling along one axis (torch's ``pooling_output_shape``).

    ``stride`` defaults to ``kernel``, as in torch. Without ``ceil_mode`` this is
    :func:`conv_out`. With it, ``out = ceil(a / stride) + 1`` where ``a = size + 2*padding -
    dilation*(kernel - 1) - 1``, minus one when the last window would start in the right padding
    (torch: ``(out - 1) * stride >= size + padding``). That condition is ``e >= m`` with
    ``e = (-a) % stride`` and the constant ``m = dilation*(kernel - 1) + 1 - padding``, so the
    result stays an exact expression for symbolic sizes.
    """
    stride = kernel if stride is None else stride
    if not ceil_mode:
        return conv_out(size, kernel, stride, padding, dilation)
    _check("kernel", kernel, 1)
    _check("stride", stride, 1)
    _check("padding", padding, 0)
    _check("dilation", dilation, 1)
    a = size + (2 * padding - dilation * (kernel - 1) - 1)
    m = dilation * (kernel - 1) + 1 - padding
    if m <= 0:
        last_in_padding: Dim = 1
    elif m >= stride:
        last_in_padding = 0
    else:  # [e >= m] for 0 <= e < stride, as a floor
        last_in_padding = ((-a) % stride + stride - m) // stride
    return ceil_div(a, stride) + 1 - last_in_padding


def conv_transpose_out(
    size: Dim, kernel: int, stride: int = 1, padding: int = 0, output_padding: int = 0, dilation: int = 1
) -> Dim:
    """Output length of a transposed convolution along one axis (``torch.nn.ConvTranspose{1,2,3}d``):
    ``(size - 1)*stride - 2*padding + dilation*(kernel - 1) + output_padding + 1``."""
    _check("kernel", kernel, 1)
    _check("stride", stride, 1)
    _check("padding", padding, 0)
    _check("output_padding", output_padding, 0)
    _check("dilation", dilation, 1)
    if output_padding >= max(stride, dilation):
        raise ValueError(
            f"output_padding ({output_padding}) must be smaller than "
            f"stride ({stride}) or dilation ({dilation})"
        )
    return size * stride + (-stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1)


def broadcast(a: Sequence[Dim], b: Sequence[Dim]) -> tuple[Dim, ...]:
    """The shape of ``x op y`` for shapes ``a`` and ``b`` under torch's broadcasting rules.

    Shapes align from the right; the shorter is padded with 1s on the left. At each axis the
    dims must be equal (by meaning, so ``h - 4`` matches ``(h - 2) - 2``), or one of them must
    be the int 1, which stretches to the other. A symbolic dim against an int other than 1, or
    two symbolic dims that differ, is a mismatch (:class:`BroadcastError`): a symbol may not
    silently stand for 1 -- a size-1 axis must be written as 1 to broadcast.
    """
    n = max(len(a), len(b))
    pa = (1,) * (n - len(a)) + tuple(a)
    pb = (1,) * (n - len(b)) + tuple(b)
    out: list[Dim] = []
    for i, (x, y) in enumerate(zip(pa, pb, strict=True)):
        if _is_one(x):
            out.append(y)
        elif _is_one(y) or x == y:
            out.append(x)
        else:
            raise BroadcastError(a, b, i - n)
    return tuple(out)


def _is_one(d: Dim) -> bool:
    return not isinstance(d, Sym) and d == 1


def prod(dims: Iterable[Dim]) -> Dim:
    """The product of dims (1 for none): an int when every factor is."""
    out: Dim = 1
    for d in dims:
        out = out * d
    return out
