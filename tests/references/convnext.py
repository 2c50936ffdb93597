"""ConvNeXt-Tiny (Liu et al., 2022, "A ConvNet for the 2020s"), torchvision's layout.

Keys: ``features.0`` stem (``.0`` 4x4/4 conv with bias, ``.1`` LayerNorm2d), stages at
``features.1/3/5/7`` (3, 3, 9, 3 blocks of widths 96, 192, 384, 768), downsamplers at
``features.2/4/6`` (``.0`` LayerNorm2d, ``.1`` 2x2/2 conv with bias), ``classifier.0`` LayerNorm2d,
``classifier.2`` Linear. A block is ``block.0`` depthwise 7x7 conv (padding 3, bias), ``block.1``
permute to NHWC, ``block.2`` LayerNorm over channels, ``block.3`` Linear(C, 4C), ``block.4`` GELU,
``block.5`` Linear(4C, C), ``block.6`` permute back, then ``layer_scale`` (a [C, 1, 1] parameter,
initialised to 1e-6) multiplies the branch, stochastic depth drops it, and the input is added.
All LayerNorms use eps 1e-6.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from ._common import Conv2dNormActivation, Permute, StochasticDepth

CONVNEXT_TINY_PARAMS = 28_589_128


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channel dim of an NCHW map (permute to NHWC, normalise, permute back)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


def _ln2d(channels: int) -> nn.Module:
    return LayerNorm2d(channels, eps=1e-6)


class CNBlock(nn.Module):
    def __init__(self, dim: int, layer_scale: float, sd_prob: float) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]),
            nn.LayerNorm(dim, eps=1e-6),
            nn.Linear(dim, 4 * dim, bias=True),
            nn.GELU(),
            nn.Linear(4 * dim, dim, bias=True),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)
        self.stochastic_depth = StochasticDepth(sd_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stochastic_depth(self.layer_scale * self.block(x)) + x


class StageConfig(NamedTuple):
    """Width of a stage, the width after its downsampler (None: last stage), and its block count."""

    channels: int
    out: int | None
    layers: int


TINY = [
    StageConfig(96, 192, 3),
    StageConfig(192, 384, 3),
    StageConfig(384, 768, 9),
    StageConfig(768, None, 3),
]


class ConvNeXt(nn.Module):
    def __init__(
        self,
        stages: list[StageConfig],
        stochastic_depth_prob: float = 0.0,
        layer_scale: float = 1e-6,
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            Conv2dNormActivation(
                3,
                stages[0].channels,
                kernel_size=4,
                stride=4,
                padding=0,
                norm=_ln2d,
                activation=None,
                bias=True,
            )
        ]
        total = sum(s.layers for s in stages)
        block_id = 0
        for s in stages:
            blocks: list[nn.Module] = []
            for _ in range(s.layers):
                # linear in the block index, reaching stochastic_depth_prob at the very last block
                sd_prob = stochastic_depth_prob * block_id / (total - 1.0)
                blocks.append(CNBlock(s.channels, layer_scale, sd_prob))
                block_id += 1
            layers.append(nn.Sequential(*blocks))
            if s.out is not None:
                layers.append(
                    nn.Sequential(_ln2d(s.channels), nn.Conv2d(s.channels, s.out, kernel_size=2, stride=2))
                )
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        last = stages[-1].out if stages[-1].out is not None else stages[-1].channels
        self.classifier = nn.Sequential(_ln2d(last), nn.Flatten(1), nn.Linear(last, num_classes))

        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(self.features(x)))


def convnext_tiny(num_classes: int = 1000) -> ConvNeXt:
    """torchvision ``convnext_tiny``: 28,589,128 parameters at 1000 classes; stochastic depth 0.1."""
    return ConvNeXt(TINY, stochastic_depth_prob=0.1, num_classes=num_classes)
