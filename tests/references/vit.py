"""Vision Transformer (Dosovitskiy et al., 2020, "An Image is Worth 16x16 Words"), torchvision's layout.

Follows torchvision's ``VisionTransformer`` (``vit_b_16``: 224x224 input, 16x16 patches, 12 layers,
12 heads, width 768, MLP 3072). Pre-norm encoder blocks: ``x + drop(MHA(ln_1(x)))`` then
``x + mlp(ln_2(x))``; LayerNorm eps 1e-6 everywhere; GELU (exact erf form); the classification head
reads the class token after the final ``encoder.ln``. Keys: ``class_token`` [1, 1, D],
``conv_proj`` (patchify conv, kernel = stride = patch), ``encoder.pos_embedding`` [1, 1 + n, D],
``encoder.layers.encoder_layer_{i}.{ln_1, self_attention, ln_2, mlp.0, mlp.3}``, ``encoder.ln``,
``heads.head``. Attention is ``nn.MultiheadAttention(batch_first=True)``: packed
``in_proj_weight`` [3D, D] / ``in_proj_bias`` and ``out_proj``.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn

from ._common import MLP

VIT_B_16_PARAMS = 86_567_656


class EncoderBlock(nn.Module):
    """Pre-norm transformer block; dropout after attention and inside the MLP (0.0 in vit_b_16)."""

    def __init__(
        self, num_heads: int, hidden_dim: int, mlp_dim: int, dropout: float, attention_dropout: float
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.ln_1 = nn.LayerNorm(hidden_dim, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(
            hidden_dim, num_heads, dropout=attention_dropout, batch_first=True
        )
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = nn.LayerNorm(hidden_dim, eps=1e-6)
        self.mlp = MLP(hidden_dim, mlp_dim, dropout)
        for m in self.mlp.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.normal_(m.bias, std=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.ln_1(x)
        y, _ = self.self_attention(y, y, y, need_weights=False)
        x = x + self.dropout(y)
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    """Adds the learned position embedding (std 0.02 init), dropout, the blocks, a final LayerNorm."""

    def __init__(
        self,
        seq_length: int,
        num_layers: int,
        num_heads: int,
        hidden_dim: int,
        mlp_dim: int,
        dropout: float,
        attention_dropout: float,
    ) -> None:
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, seq_length, hidden_dim).normal_(std=0.02))
        self.dropout = nn.Dropout(dropout)
        blocks: OrderedDict[str, nn.Module] = OrderedDict()
        for i in range(num_layers):
            blocks[f"encoder_layer_{i}"] = EncoderBlock(
                num_heads, hidden_dim, mlp_dim, dropout, attention_dropout
            )
        self.layers = nn.Sequential(blocks)
        self.ln = nn.LayerNorm(hidden_dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln(self.layers(self.dropout(x + self.pos_embedding)))


class VisionTransformer(nn.Module):
    """Patchify conv -> tokens [b, n, D] -> prepend class token -> encoder -> ``heads`` on token 0."""

    def __init__(
        self,
        image_size: int = 224,
        patch_size: int = 16,
        num_layers: int = 12,
        num_heads: int = 12,
        hidden_dim: int = 768,
        mlp_dim: int = 3072,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        num_classes: int = 1000,
        representation_size: int | None = None,
    ) -> None:
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"image size {image_size} is not a multiple of patch size {patch_size}")
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.conv_proj = nn.Conv2d(3, hidden_dim, kernel_size=patch_size, stride=patch_size)
        seq_length = (image_size // patch_size) ** 2 + 1
        self.class_token = nn.Parameter(torch.zeros(1, 1, hidden_dim))
        self.encoder = Encoder(
            seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout
        )
        self.seq_length = seq_length
        heads: OrderedDict[str, nn.Module] = OrderedDict()
        if representation_size is None:
            heads["head"] = nn.Linear(hidden_dim, num_classes)
        else:
            heads["pre_logits"] = nn.Linear(hidden_dim, representation_size)
            heads["act"] = nn.Tanh()
            heads["head"] = nn.Linear(representation_size, num_classes)
        self.heads = nn.Sequential(heads)

        fan_in = 3 * patch_size * patch_size
        nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))
        assert self.conv_proj.bias is not None
        nn.init.zeros_(self.conv_proj.bias)
        if representation_size is not None:
            pre = self.heads.pre_logits
            assert isinstance(pre, nn.Linear)
            nn.init.trunc_normal_(pre.weight, std=math.sqrt(1 / pre.in_features))
            nn.init.zeros_(pre.bias)
        head = self.heads.head
        assert isinstance(head, nn.Linear)
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        if h != self.image_size or w != self.image_size:
            raise ValueError(f"expected {self.image_size}x{self.image_size} images, got {h}x{w}")
        x = self.conv_proj(x)  # [n, D, h/p, w/p]
        x = x.reshape(n, self.hidden_dim, -1).permute(0, 2, 1)  # [n, tokens, D], row-major patches
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1)
        x = self.encoder(x)
        return self.heads(x[:, 0])


def vit_b_16(num_classes: int = 1000, image_size: int = 224) -> VisionTransformer:
    """torchvision ``vit_b_16``: 86,567,656 parameters at 224x224 and 1000 classes."""
    return VisionTransformer(image_size, 16, 12, 12, 768, 3072, num_classes=num_classes)
