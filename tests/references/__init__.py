"""Independent reference implementations (plain PyTorch, no archspec import) of published models.

Each vision module reproduces a torchvision model exactly: the same computation and the same
submodule structure, hence the same ``state_dict`` keys, shapes and order, and the published
parameter count, so ``reference.state_dict()`` loads into a spec-built model with ``strict=True``.
They were written from the papers with torchvision's module names, and checked against
torchvision 0.29.1 itself (equal keys in order, bit-equal outputs after copying weights). The graph
models follow PyTorch Geometric's layout (checked against ``GCNConv``/``GATConv`` of 2.8.1); the
Keras CNN follows Keras' channels-last semantics. See NOTES.md for the architectural facts.

``MODELS`` maps each model name to its builder and its published parameter count.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from . import convnext, efficientnet, graph, keras_cnn, mobilenet, resnet, seq2seq, swin, vgg, vit
from ._common import count_params

MODELS: dict[str, tuple[Callable[[], nn.Module], int]] = {
    "resnet18": (resnet.resnet18, resnet.RESNET18_PARAMS),
    "resnet50": (resnet.resnet50, resnet.RESNET50_PARAMS),
    "vgg16": (vgg.vgg16, vgg.VGG16_PARAMS),
    "vit_b_16": (vit.vit_b_16, vit.VIT_B_16_PARAMS),
    "mobilenet_v2": (mobilenet.mobilenet_v2, mobilenet.MOBILENET_V2_PARAMS),
    "mobilenet_v3_large": (mobilenet.mobilenet_v3_large, mobilenet.MOBILENET_V3_LARGE_PARAMS),
    "efficientnet_b0": (efficientnet.efficientnet_b0, efficientnet.EFFICIENTNET_B0_PARAMS),
    "convnext_tiny": (convnext.convnext_tiny, convnext.CONVNEXT_TINY_PARAMS),
    "swin_t": (swin.swin_t, swin.SWIN_T_PARAMS),
    "keras_cnn": (keras_cnn.keras_cnn, keras_cnn.KERAS_CNN_PARAMS),
    "gcn": (graph.gcn, graph.GCN_CORA_PARAMS),
    "gat": (graph.gat, graph.GAT_CORA_PARAMS),
    "seq2seq_lstm": (seq2seq.seq2seq, seq2seq.SEQ2SEQ_PARAMS),
}

__all__ = ["MODELS", "count_params"]
