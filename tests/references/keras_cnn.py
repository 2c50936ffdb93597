"""Seed 003's Keras CNN, written in torch with Keras' semantics (channels-last input and flatten).

The seed's code is ``Conv2D(32, (3, 3), activation='relu', input_shape=(64, 64, 3))``,
``MaxPooling2D(pool_size=(2, 2))``, ``Dense(128, activation='relu')``, ``Dense(1,
activation='sigmoid')``; it forgot the ``Flatten()`` a classifier needs before the first Dense
(without it Keras would apply the Dense to the last axis of the [31, 31, 32] map). This model adds
it, as Keras would run it:

- input [batch, 64, 64, 3] (NHWC), permuted to NCHW for ``nn.Conv2d`` and back after pooling;
- 3x3 conv, stride 1, ``padding='valid'`` (no padding): [b, 62, 62, 32]; ReLU;
- 2x2 max pool, stride 2 (Keras' default stride is the pool size), floor: [b, 31, 31, 32];
- flatten **in (h, w, c) order**, as Keras flattens channels-last maps: 30,752 features;
- ``dense`` 30,752 -> 128, ReLU; ``dense_1`` 128 -> 1, sigmoid (the output is a probability).

3,937,409 parameters: 896 (conv) + 3,936,384 (dense) + 129 (dense_1). Submodules carry Keras' default
layer names, so the state_dict keys are ``conv2d.weight`` [32, 3, 3, 3], ``conv2d.bias`` [32],
``dense.weight`` [128, 30752], ``dense.bias`` [128], ``dense_1.weight`` [1, 128], ``dense_1.bias``
[1]. Keras stores the same numbers as ``kernel`` arrays: a Conv2D kernel is [kh, kw, in, out]
(torch weight = kernel.permute(3, 2, 0, 1)), a Dense kernel is [in, out] (torch weight =
kernel.T). Initialisation follows Keras: Glorot-uniform kernels, zero biases.
"""

from __future__ import annotations

import torch
from torch import nn

KERAS_CNN_PARAMS = 3_937_409


class KerasCNN(nn.Module):
    def __init__(
        self, height: int = 64, width: int = 64, channels: int = 3, filters: int = 32, hidden: int = 128
    ) -> None:
        super().__init__()
        self.conv2d = nn.Conv2d(channels, filters, kernel_size=3)
        self.max_pooling2d = nn.MaxPool2d(kernel_size=2, stride=2)
        self.flatten = nn.Flatten(1)
        flat = ((height - 2) // 2) * ((width - 2) // 2) * filters
        self.dense = nn.Linear(flat, hidden)
        self.dense_1 = nn.Linear(hidden, 1)
        for m in (self.conv2d, self.dense, self.dense_1):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"expected a channels-last batch [b, h, w, c], got shape {tuple(x.shape)}")
        x = torch.relu(self.conv2d(x.permute(0, 3, 1, 2)))  # NHWC -> NCHW for the conv
        x = self.max_pooling2d(x).permute(0, 2, 3, 1)  # back to NHWC: Keras flattens (h, w, c)
        x = torch.relu(self.dense(self.flatten(x)))
        return torch.sigmoid(self.dense_1(x))


def keras_cnn(height: int = 64, width: int = 64, channels: int = 3) -> KerasCNN:
    """Seed 003's CNN on [batch, 64, 64, 3] with the missing Flatten: 3,937,409 parameters."""
    return KerasCNN(height, width, channels)
