"""MobileNetV2 (Sandler et al., 2018) and MobileNetV3-Large (Howard et al., 2019), torchvision's layouts.

V2 keys: ``features.0`` (stem ConvBNReLU6: ``.0`` conv, ``.1`` BN), ``features.1..17`` inverted
residuals whose layers live in ``.conv`` (``conv.0`` expand ConvBNReLU6 when t != 1, then the
depthwise ConvBNReLU6, then the bare linear 1x1 ``Conv2d`` and its ``BatchNorm2d`` as two separate
indices), ``features.18`` (1x1 ConvBNReLU6 to 1280), ``classifier.1`` (after Dropout 0.2 at ``.0``).

V3 keys: ``features.0`` (stem, hardswish), ``features.1..15`` whose layers live in ``.block``
(expand ConvBNAct when the expanded width differs, depthwise ConvBNAct, optional squeeze-excitation
``fc1``/``fc2``, projection ConvBN with no activation), ``features.16`` (1x1 to 960, hardswish),
``classifier.0`` (960 -> 1280) / hardswish / dropout 0.2 / ``classifier.3``. BatchNorm eps 0.001,
momentum 0.01 in V3 (torch's defaults 1e-5 / 0.1 in V2).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from ._common import Conv2dNormActivation, Factory, SqueezeExcitation, make_divisible

MOBILENET_V2_PARAMS = 3_504_872
MOBILENET_V3_LARGE_PARAMS = 5_483_032


def _init(model: nn.Module) -> None:
    """torchvision's initialisation for both: He-normal (fan-out) convs, N(0, 0.01) linears."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


# MobileNetV2 ---------------------------------------------------------------------------------------


class InvertedResidualV2(nn.Module):
    """Expand 1x1 (ReLU6) -> depthwise 3x3 (ReLU6) -> linear 1x1 projection; residual when the shapes
    agree (stride 1 and equal widths)."""

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = round(inp * expand_ratio)
        self.stride = stride
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden, kernel_size=1, activation=nn.ReLU6))
        layers += [
            Conv2dNormActivation(hidden, hidden, stride=stride, groups=hidden, activation=nn.ReLU6),
            nn.Conv2d(hidden, oup, 1, bias=False),
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return x + out if self.use_res_connect else out


# (expansion t, output channels c, repeats n, first stride s), from the paper's Table 2
V2_SETTING = [
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 3, 2],
    [6, 64, 4, 2],
    [6, 96, 3, 1],
    [6, 160, 3, 2],
    [6, 320, 1, 1],
]


class MobileNetV2(nn.Module):
    def __init__(
        self,
        num_classes: int = 1000,
        width_mult: float = 1.0,
        setting: list[list[int]] | None = None,
        round_nearest: int = 8,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        channels = make_divisible(32 * width_mult, round_nearest)
        self.last_channel = make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features: list[nn.Module] = [Conv2dNormActivation(3, channels, stride=2, activation=nn.ReLU6)]
        for t, c, n, s in setting or V2_SETTING:
            out = make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(InvertedResidualV2(channels, out, s if i == 0 else 1, t))
                channels = out
        features.append(Conv2dNormActivation(channels, self.last_channel, kernel_size=1, activation=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(self.last_channel, num_classes))
        _init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


def mobilenet_v2(num_classes: int = 1000, width_mult: float = 1.0) -> MobileNetV2:
    """torchvision ``mobilenet_v2``: 3,504,872 parameters at width 1.0 and 1000 classes."""
    return MobileNetV2(num_classes, width_mult)


# MobileNetV3 ---------------------------------------------------------------------------------------


class V3Block(NamedTuple):
    """One row of the paper's Table 1: input, kernel, expanded ("exp size"), output, SE, HS, stride."""

    inp: int
    kernel: int
    expanded: int
    out: int
    use_se: bool
    hardswish: bool
    stride: int


V3_LARGE = [
    V3Block(16, 3, 16, 16, False, False, 1),
    V3Block(16, 3, 64, 24, False, False, 2),
    V3Block(24, 3, 72, 24, False, False, 1),
    V3Block(24, 5, 72, 40, True, False, 2),
    V3Block(40, 5, 120, 40, True, False, 1),
    V3Block(40, 5, 120, 40, True, False, 1),
    V3Block(40, 3, 240, 80, False, True, 2),
    V3Block(80, 3, 200, 80, False, True, 1),
    V3Block(80, 3, 184, 80, False, True, 1),
    V3Block(80, 3, 184, 80, False, True, 1),
    V3Block(80, 3, 480, 112, True, True, 1),
    V3Block(112, 3, 672, 112, True, True, 1),
    V3Block(112, 5, 672, 160, True, True, 2),
    V3Block(160, 5, 960, 160, True, True, 1),
    V3Block(160, 5, 960, 160, True, True, 1),
]


class InvertedResidualV3(nn.Module):
    """[expand 1x1] -> depthwise kxk -> [SE: ReLU inside, hardsigmoid gate, squeeze to
    make_divisible(exp // 4, 8)] -> linear 1x1 projection; residual when stride 1 and widths agree."""

    def __init__(self, cnf: V3Block, norm: Factory) -> None:
        super().__init__()
        self.use_res_connect = cnf.stride == 1 and cnf.inp == cnf.out
        act: Factory = nn.Hardswish if cnf.hardswish else nn.ReLU
        layers: list[nn.Module] = []
        if cnf.expanded != cnf.inp:
            layers.append(
                Conv2dNormActivation(cnf.inp, cnf.expanded, kernel_size=1, norm=norm, activation=act)
            )
        layers.append(
            Conv2dNormActivation(
                cnf.expanded,
                cnf.expanded,
                kernel_size=cnf.kernel,
                stride=cnf.stride,
                groups=cnf.expanded,
                norm=norm,
                activation=act,
            )
        )
        if cnf.use_se:
            squeeze = make_divisible(cnf.expanded // 4, 8)
            layers.append(SqueezeExcitation(cnf.expanded, squeeze, activation=nn.ReLU, gate=nn.Hardsigmoid))
        layers.append(Conv2dNormActivation(cnf.expanded, cnf.out, kernel_size=1, norm=norm, activation=None))
        self.block = nn.Sequential(*layers)
        self.out_channels = cnf.out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + out if self.use_res_connect else out


class MobileNetV3(nn.Module):
    def __init__(
        self,
        setting: list[V3Block] | None = None,
        last_channel: int = 1280,
        num_classes: int = 1000,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        setting = setting or V3_LARGE
        norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
        layers: list[nn.Module] = [
            Conv2dNormActivation(3, setting[0].inp, stride=2, norm=norm, activation=nn.Hardswish)
        ]
        layers += [InvertedResidualV3(cnf, norm) for cnf in setting]
        last_in = setting[-1].out
        last_out = 6 * last_in
        layers.append(
            Conv2dNormActivation(last_in, last_out, kernel_size=1, norm=norm, activation=nn.Hardswish)
        )
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(last_out, last_channel),
            nn.Hardswish(),
            nn.Dropout(p=dropout),
            nn.Linear(last_channel, num_classes),
        )
        _init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)


def mobilenet_v3_large(num_classes: int = 1000) -> MobileNetV3:
    """torchvision ``mobilenet_v3_large``: 5,483,032 parameters at 1000 classes."""
    return MobileNetV3(V3_LARGE, 1280, num_classes)
