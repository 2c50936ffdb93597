"""Building blocks shared by the torchvision-layout references (plain torch, written from the papers).

Their submodule names and the order they are registered in are chosen so that a model built from
them has exactly the ``state_dict`` keys of the torchvision model it mirrors (``0``/``1``/``2`` for
conv/norm/activation, ``fc1``/``fc2`` for squeeze-excitation, ``0``/``3`` for the two linears of a
transformer MLP). Parameter-free modules are kept as modules too, because they take up positions
in ``nn.Sequential`` numbering.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

Factory = Callable[..., nn.Module]


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to the nearest multiple of ``divisor`` (never more than 10% down).

    The rule of the TensorFlow MobileNet code that MobileNetV2/V3 and EfficientNet use to scale widths.
    """
    floor = divisor if min_value is None else min_value
    rounded = max(floor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class Conv2dNormActivation(nn.Sequential):
    """``Conv2d`` (index 0), then an optional norm (1), then an optional activation (next index).

    Padding defaults to ``(kernel - 1) // 2 * dilation`` ("same" for odd kernels at stride 1); the conv
    has a bias only when there is no norm, unless ``bias`` says otherwise.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int | None = None,
        groups: int = 1,
        norm: Factory | None = nn.BatchNorm2d,
        activation: Factory | None = nn.ReLU,
        dilation: int = 1,
        bias: bool | None = None,
    ) -> None:
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        if bias is None:
            bias = norm is None
        layers: list[nn.Module] = [
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride,
                padding,
                dilation=dilation,
                groups=groups,
                bias=bias,
            )
        ]
        if norm is not None:
            layers.append(norm(out_channels))
        if activation is not None:
            layers.append(activation())
        super().__init__(*layers)
        self.out_channels = out_channels


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation (Hu et al., 2018): ``x * gate(fc2(act(fc1(mean_hw(x)))))``.

    ``fc1``/``fc2`` are 1x1 convolutions with bias; the gate is a sigmoid (EfficientNet) or a hard
    sigmoid (MobileNetV3).
    """

    def __init__(
        self,
        channels: int,
        squeeze_channels: int,
        activation: Factory = nn.ReLU,
        gate: Factory = nn.Sigmoid,
    ) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.activation = activation()
        self.scale_activation = gate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.fc2(self.activation(self.fc1(self.avgpool(x))))
        return self.scale_activation(scale) * x


class StochasticDepth(nn.Module):
    """Drop-path (Huang et al., 2016), "row" mode: in training, each sample's residual branch is zeroed
    with probability ``p`` and the survivors are scaled by ``1 / (1 - p)``; in eval it is the identity."""

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"drop probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device)
        mask = mask.bernoulli_(keep)
        if keep > 0.0:
            mask = mask / keep
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Permute(nn.Module):
    """``x.permute(*dims)`` as a module (it holds a position in an ``nn.Sequential``)."""

    def __init__(self, dims: Sequence[int]) -> None:
        super().__init__()
        self.dims = list(dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.permute(x, self.dims)


class MLP(nn.Sequential):
    """Transformer feed-forward: ``Linear(0), GELU(1), Dropout(2), Linear(3), Dropout(4)``."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__(
            nn.Linear(dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, dim),
            nn.Dropout(dropout),
        )


def count_params(model: nn.Module) -> int:
    """Number of parameters (buffers such as batch-norm statistics are not counted)."""
    return sum(p.numel() for p in model.parameters())
