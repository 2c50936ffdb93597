"""EfficientNet-B0 (Tan & Le, 2019, "EfficientNet: Rethinking Model Scaling"), torchvision's layout.

Keys: ``features.0`` (stem: 3x3/2 conv ``.0``, BN ``.1``, SiLU), ``features.1..7`` one
``nn.Sequential`` per stage holding ``MBConv`` blocks, each with its layers in ``.block``:
``block.0`` expand ConvBNSiLU (absent when the expand ratio is 1, which shifts the indices down by
one), depthwise ConvBNSiLU, squeeze-excitation (``fc1``/``fc2``, SiLU inside, sigmoid gate,
squeezed to ``max(1, block_input_channels // 4)``, i.e. a quarter of the block's *input* width, not
of the expanded width), projection ConvBN without activation; then ``features.8`` (1x1 ConvBNSiLU to
1280), average pool, ``classifier.0`` Dropout(0.2), ``classifier.1`` Linear. Batch norm uses
torch's defaults (eps 1e-5, momentum 0.1) for B0-B4 in torchvision, not TensorFlow's 1e-3/0.01.
Stochastic depth (row mode) on the residual branch, its rate rising linearly with the block index
from 0 to ``0.2 * 15/16``; identity in eval mode.
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import torch
from torch import nn

from ._common import Conv2dNormActivation, Factory, SqueezeExcitation, StochasticDepth, make_divisible

EFFICIENTNET_B0_PARAMS = 5_288_548


class Stage(NamedTuple):
    """One row of the paper's Table 1: expand ratio, kernel, first stride, in/out channels, repeats."""

    expand_ratio: float
    kernel: int
    stride: int
    inp: int
    out: int
    layers: int


B0 = [
    Stage(1, 3, 1, 32, 16, 1),
    Stage(6, 3, 2, 16, 24, 2),
    Stage(6, 5, 2, 24, 40, 2),
    Stage(6, 3, 2, 40, 80, 3),
    Stage(6, 5, 1, 80, 112, 3),
    Stage(6, 5, 2, 112, 192, 4),
    Stage(6, 3, 1, 192, 320, 1),
]


def scale_stages(stages: list[Stage], width_mult: float, depth_mult: float) -> list[Stage]:
    """Compound scaling: widths rounded with make_divisible(., 8), repeats rounded up."""
    return [
        s._replace(
            inp=make_divisible(s.inp * width_mult, 8),
            out=make_divisible(s.out * width_mult, 8),
            layers=math.ceil(s.layers * depth_mult),
        )
        for s in stages
    ]


class MBConv(nn.Module):
    """Mobile inverted bottleneck with squeeze-excitation; residual (through stochastic depth) when
    the stride is 1 and the input and output widths agree."""

    def __init__(
        self,
        expand_ratio: float,
        kernel: int,
        stride: int,
        inp: int,
        out: int,
        sd_prob: float,
        norm: Factory,
    ) -> None:
        super().__init__()
        self.use_res_connect = stride == 1 and inp == out
        expanded = make_divisible(inp * expand_ratio, 8)
        layers: list[nn.Module] = []
        if expanded != inp:
            layers.append(Conv2dNormActivation(inp, expanded, kernel_size=1, norm=norm, activation=nn.SiLU))
        layers.append(
            Conv2dNormActivation(
                expanded,
                expanded,
                kernel_size=kernel,
                stride=stride,
                groups=expanded,
                norm=norm,
                activation=nn.SiLU,
            )
        )
        layers.append(SqueezeExcitation(expanded, max(1, inp // 4), activation=nn.SiLU, gate=nn.Sigmoid))
        layers.append(Conv2dNormActivation(expanded, out, kernel_size=1, norm=norm, activation=None))
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(sd_prob)
        self.out_channels = out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        if self.use_res_connect:
            out = self.stochastic_depth(out) + x
        return out


class EfficientNet(nn.Module):
    def __init__(
        self,
        stages: list[Stage],
        dropout: float = 0.2,
        stochastic_depth_prob: float = 0.2,
        num_classes: int = 1000,
        last_channel: int | None = None,
        norm_eps: float = 1e-5,
        norm_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        norm = partial(nn.BatchNorm2d, eps=norm_eps, momentum=norm_momentum)
        layers: list[nn.Module] = [
            Conv2dNormActivation(3, stages[0].inp, kernel_size=3, stride=2, norm=norm, activation=nn.SiLU)
        ]
        total = sum(s.layers for s in stages)
        block_id = 0
        for s in stages:
            blocks: list[nn.Module] = []
            for i in range(s.layers):
                inp = s.inp if i == 0 else s.out
                stride = s.stride if i == 0 else 1
                sd_prob = stochastic_depth_prob * float(block_id) / total
                blocks.append(MBConv(s.expand_ratio, s.kernel, stride, inp, s.out, sd_prob, norm))
                block_id += 1
            layers.append(nn.Sequential(*blocks))
        last_in = stages[-1].out
        last_out = last_channel if last_channel is not None else 4 * last_in
        layers.append(Conv2dNormActivation(last_in, last_out, kernel_size=1, norm=norm, activation=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(last_out, num_classes))

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)


def efficientnet_b0(num_classes: int = 1000) -> EfficientNet:
    """torchvision ``efficientnet_b0``: 5,288,548 parameters at 1000 classes, any input size."""
    return EfficientNet(scale_stages(B0, 1.0, 1.0), dropout=0.2, num_classes=num_classes)
