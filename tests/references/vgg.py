"""VGG (Simonyan & Zisserman, 2014, "Very Deep Convolutional Networks"), torchvision's layout.

``features`` is one flat ``nn.Sequential``: each 3x3 conv (padding 1, bias) is followed by a ReLU
(and by a batch norm in between for the ``_bn`` variants), each ``"M"`` is a 2x2/2 max pool, so the
conv keys are ``features.{0,2,5,7,10,12,14,17,19,21,24,26,28}`` for VGG-16. Then
``AdaptiveAvgPool2d((7, 7))`` (so any input of at least 32x32 works), a flatten, and ``classifier``:
``Linear(512*7*7, 4096)`` (0), ReLU (1), Dropout 0.5 (2), ``Linear(4096, 4096)`` (3), ReLU (4),
Dropout 0.5 (5), ``Linear(4096, classes)`` (6).
"""

from __future__ import annotations

import torch
from torch import nn

VGG16_PARAMS = 138_357_544

Config = list[int | str]
VGG16: Config = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def make_features(cfg: Config, batch_norm: bool = False, in_channels: int = 3) -> nn.Sequential:
    """The convolutional trunk: ints are 3x3 conv widths, ``"M"`` is a 2x2 max pool."""
    layers: list[nn.Module] = []
    channels = in_channels
    for item in cfg:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        assert isinstance(item, int)
        layers.append(nn.Conv2d(channels, item, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(item))
        layers.append(nn.ReLU(inplace=True))
        channels = item
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(
        self,
        features: nn.Sequential,
        num_classes: int = 1000,
        hidden: int = 4096,
        dropout: float = 0.5,
        pool: int = 7,
    ) -> None:
        super().__init__()
        channels = [m.out_channels for m in features if isinstance(m, nn.Conv2d)][-1]
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((pool, pool))
        self.classifier = nn.Sequential(
            nn.Linear(channels * pool * pool, hidden),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)


def vgg(cfg: Config = VGG16, num_classes: int = 1000, hidden: int = 4096, batch_norm: bool = False) -> VGG:
    """A VGG of any trunk ``cfg`` (torchvision's configuration "D" by default)."""
    return VGG(make_features(cfg, batch_norm), num_classes, hidden)


def vgg16(num_classes: int = 1000) -> VGG:
    """torchvision ``vgg16`` (no batch norm): 138,357,544 parameters at 1000 classes."""
    return vgg(VGG16, num_classes)
