"""Hand-written PyTorch equivalents of the benchmarked specs: the code archspec is measured against.

Each class is what a developer would write by hand for the same architecture, in plain
``torch.nn`` (no archspec import). Their ``state_dict`` keys match the module that
``archspec.build`` makes, except where ``KEY_MAPS`` says otherwise (torchvision's ResNet names
the projection shortcut ``downsample.0/1`` where the spec says ``shortcut.conv/bn``), so
``load_state_dict(to_reference(name, built.state_dict()))`` moves the very same weights across.
``bench/models.py`` checks each pair (equal parameter counts, equal outputs on the same weights)
before timing it.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "KEY_MAPS",
    "BertLikeEncoder",
    "LSTMClassifier",
    "ResNet",
    "SimpleMLP",
    "resnet18",
    "resnet50",
    "to_reference",
]


# specs/mlp.yaml ------------------------------------------------------------------------------


class SimpleMLP(nn.Module):
    """Seed 001's SimpleMLP: 128 -> 516 -> 516 -> 1 with ReLU modules (its torchinfo table lists them)."""

    def __init__(self, features: int = 128, hidden: int = 516, outputs: int = 1) -> None:
        super().__init__()
        self.fc1 = nn.Linear(features, hidden)
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Linear(hidden, hidden)
        self.relu2 = nn.ReLU()
        self.fc3 = nn.Linear(hidden, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.fc1(x))
        x = self.relu2(self.fc2(x))
        return self.fc3(x)


# specs/resnet18.yaml, specs/resnet50.yaml: torchvision.models.resnet, written out ------------


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(
        self, block: type[BasicBlock | Bottleneck], layers: list[int], num_classes: int = 1000
    ) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        # torchvision then re-initializes every conv (kaiming_normal_, fan_out); the spec keeps
        # torch's default init, so the reference does too: the same work to construct.

    def _make_layer(
        self, block: type[BasicBlock | Bottleneck], planes: int, blocks: int, stride: int = 1
    ) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def resnet18(num_classes: int = 1000) -> ResNet:
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes)


def resnet50(num_classes: int = 1000) -> ResNet:
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes)


# specs/lstm_classifier.yaml --------------------------------------------------------------------


class LSTMClassifier(nn.Module):
    """LSTM(50) over [batch, 10, 8], the last step's hidden state -> Linear(1) -> sigmoid."""

    def __init__(self, features: int = 8, units: int = 50) -> None:
        super().__init__()
        self.lstm = nn.LSTM(features, units, batch_first=True)
        self.head = nn.Linear(units, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq, _ = self.lstm(x)
        return torch.sigmoid(self.head(seq[:, -1]))


# specs/transformer_encoder.yaml ------------------------------------------------------------------


class BertLikeEncoder(nn.Module):
    """BERT-base as the spec writes it: word + learned position + token-type embeddings, LayerNorm,
    12 post-norm GELU ``nn.TransformerEncoderLayer``s, a tanh pooler of the first ([CLS]) token."""

    def __init__(
        self,
        vocab: int = 30522,
        max_positions: int = 512,
        token_types: int = 2,
        d_model: int = 768,
        heads: int = 12,
        depth: int = 12,
        d_ff: int = 3072,
        eps: float = 1e-12,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, d_model)
        self.position_embeddings = nn.Embedding(max_positions, d_model)
        self.token_type_embeddings = nn.Embedding(token_types, d_model)
        self.embeddings_norm = nn.LayerNorm(d_model, eps=eps)
        self.embeddings_dropout = nn.Dropout(dropout)
        self.encoder = nn.Sequential(
            *[
                nn.TransformerEncoderLayer(
                    d_model, heads, d_ff, dropout, activation="gelu", layer_norm_eps=eps, batch_first=True
                )
                for _ in range(depth)
            ]
        )
        self.pooler = nn.Linear(d_model, d_model)
        for table in (self.word_embeddings, self.position_embeddings, self.token_type_embeddings):
            nn.init.normal_(table.weight, std=0.02)  # BERT's initializer_range, as the spec's `init:`

    def forward(
        self, input_ids: torch.Tensor, token_type_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        positions = self.position_embeddings.weight[: input_ids.size(1)]
        x = self.word_embeddings(input_ids) + positions + self.token_type_embeddings(token_type_ids)
        hidden = self.encoder(self.embeddings_dropout(self.embeddings_norm(x)))
        pooled = torch.tanh(self.pooler(hidden[:, 0]))  # the first ([CLS]) token
        return hidden, pooled


# Moving archspec's weights across ----------------------------------------------------------------

# archspec key fragment -> reference key fragment, per benchmarked model.
KEY_MAPS: dict[str, list[tuple[str, str]]] = {
    "resnet18": [(".shortcut.conv.", ".downsample.0."), (".shortcut.bn.", ".downsample.1.")],
    "resnet50": [(".shortcut.conv.", ".downsample.0."), (".shortcut.bn.", ".downsample.1.")],
}


def to_reference(name: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """archspec's state_dict with its keys renamed to the reference module's."""
    out = {}
    for key, value in state.items():
        for ours, theirs in KEY_MAPS.get(name, []):
            key = key.replace(ours, theirs)
        out[key] = value
    return out
