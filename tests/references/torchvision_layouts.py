"""torchvision 0.29.1's layouts of the models that tests/references reproduces, frozen as data.

Taken from torchvision's own models (built on the meta device against this torch with its C++
operators stubbed out, in a scratch directory outside the project), not from the references:
the number of state_dict entries and a SHA-256 of every ``key:[shape]:dtype`` line in order, a
few readable keys, the count of modules of each type and the norms' (type, eps, momentum).
"""

from __future__ import annotations

TORCHVISION_LAYOUT = {
    "resnet18": (122, "df7acc3612e51dd8d8ba5bb184f3302044ca91926a675222c9332884bc5015ae"),
    "resnet50": (320, "0bd9dd0074de91334c6ead13c72d3c50c0759ad63bffd149898d4618dc63a369"),
    "vgg16": (32, "e7923b8628f6a8d5d9bc3e1e88119c7cafd43e19da38e9c65e595404204fcaa9"),
    "vit_b_16": (152, "dcd8494cbeca0e71511d5dd19e254fc95070a135f518156ec260449d1ea16a78"),
    "mobilenet_v2": (314, "34a1a8521646c8ecbd518afae4ce2735600163e546fd0f4be75ed1a69596b9f4"),
    "mobilenet_v3_large": (312, "5ca209ddaeee69f596efe53cead005cc8fd6a3f58093cb4c2d4e5fb28aa59ce9"),
    "efficientnet_b0": (360, "f1d9178be2a83f73b8237c28171063bf0d4e77f9d1a57dc2dfe5ae73586365fc"),
    "convnext_tiny": (182, "dc9c054744be804a659034a2880de270d1e6acf72e2fb662b28e6b06804d12b6"),
    "swin_t": (185, "473eb03310a2aa952d33459628c76e2d526d130eb212e00b6d92db56a358f1ef"),
}

# key -> shape at a few positions of each layout (readable when the digest differs)
TORCHVISION_KEYS = {
    "resnet18": {
        "conv1.weight": [64, 3, 7, 7],
        "layer2.0.downsample.0.weight": [128, 64, 1, 1],
        "layer2.0.downsample.1.running_var": [128],
        "layer4.1.bn2.num_batches_tracked": [],
        "fc.weight": [1000, 512],
    },
    "resnet50": {
        "layer1.0.downsample.0.weight": [256, 64, 1, 1],
        "layer3.0.conv2.weight": [256, 256, 3, 3],
        "layer4.2.bn3.bias": [2048],
        "fc.weight": [1000, 2048],
    },
    "vgg16": {
        "features.0.weight": [64, 3, 3, 3],
        "features.28.weight": [512, 512, 3, 3],
        "classifier.0.weight": [4096, 25088],
        "classifier.3.weight": [4096, 4096],
        "classifier.6.bias": [1000],
    },
    "vit_b_16": {
        "class_token": [1, 1, 768],
        "conv_proj.weight": [768, 3, 16, 16],
        "encoder.pos_embedding": [1, 197, 768],
        "encoder.layers.encoder_layer_0.ln_1.weight": [768],
        "encoder.layers.encoder_layer_0.self_attention.in_proj_weight": [2304, 768],
        "encoder.layers.encoder_layer_0.self_attention.out_proj.weight": [768, 768],
        "encoder.layers.encoder_layer_11.mlp.0.weight": [3072, 768],
        "encoder.layers.encoder_layer_11.mlp.3.bias": [768],
        "encoder.ln.bias": [768],
        "heads.head.weight": [1000, 768],
    },
    "mobilenet_v2": {
        "features.0.0.weight": [32, 3, 3, 3],
        "features.1.conv.0.0.weight": [32, 1, 3, 3],
        "features.1.conv.1.weight": [16, 32, 1, 1],
        "features.2.conv.0.0.weight": [96, 16, 1, 1],
        "features.2.conv.3.running_mean": [24],
        "features.18.0.weight": [1280, 320, 1, 1],
        "classifier.1.weight": [1000, 1280],
    },
    "mobilenet_v3_large": {
        "features.1.block.0.0.weight": [16, 1, 3, 3],
        "features.4.block.2.fc1.weight": [24, 72, 1, 1],
        "features.4.block.2.fc2.bias": [72],
        "features.4.block.3.1.weight": [40],
        "features.16.0.weight": [960, 160, 1, 1],
        "classifier.0.weight": [1280, 960],
        "classifier.3.weight": [1000, 1280],
    },
    "efficientnet_b0": {
        "features.1.0.block.0.0.weight": [32, 1, 3, 3],
        "features.1.0.block.1.fc1.weight": [8, 32, 1, 1],
        "features.2.0.block.2.fc1.weight": [4, 96, 1, 1],
        "features.6.3.block.3.0.weight": [192, 1152, 1, 1],
        "features.8.0.weight": [1280, 320, 1, 1],
        "classifier.1.weight": [1000, 1280],
    },
    "convnext_tiny": {
        "features.0.0.bias": [96],
        "features.0.1.weight": [96],
        "features.1.0.layer_scale": [96, 1, 1],
        "features.1.0.block.0.weight": [96, 1, 7, 7],
        "features.1.0.block.2.weight": [96],
        "features.1.0.block.3.weight": [384, 96],
        "features.2.0.weight": [96],
        "features.2.1.weight": [192, 96, 2, 2],
        "features.5.8.block.5.weight": [384, 1536],
        "classifier.0.weight": [768],
        "classifier.2.weight": [1000, 768],
    },
    "swin_t": {
        "features.0.0.weight": [96, 3, 4, 4],
        "features.0.2.weight": [96],
        "features.1.0.attn.relative_position_bias_table": [169, 3],
        "features.1.0.attn.relative_position_index": [2401],
        "features.1.1.attn.qkv.weight": [288, 96],
        "features.2.reduction.weight": [192, 384],
        "features.2.norm.weight": [384],
        "features.7.1.mlp.3.weight": [768, 3072],
        "norm.weight": [768],
        "head.weight": [1000, 768],
    },
}

# module types (by class name) and norm settings, counted on torchvision's models
TORCHVISION_MODULES = {
    "resnet18": (
        {"Conv2d": 20, "BatchNorm2d": 20, "Linear": 1, "ReLU": 9, "MaxPool2d": 1},
        {("BatchNorm2d", 1e-05, 0.1)},
    ),
    "resnet50": (
        {"Conv2d": 53, "BatchNorm2d": 53, "Linear": 1, "ReLU": 17, "MaxPool2d": 1},
        {("BatchNorm2d", 1e-05, 0.1)},
    ),
    "vgg16": ({"Conv2d": 13, "Linear": 3, "ReLU": 15, "Dropout": 2, "MaxPool2d": 5}, set()),
    "vit_b_16": (
        {"Conv2d": 1, "LayerNorm": 25, "Linear": 25, "MultiheadAttention": 12, "GELU": 12, "Dropout": 37},
        {("LayerNorm", 1e-06, None)},
    ),
    "mobilenet_v2": (
        {"Conv2d": 52, "BatchNorm2d": 52, "Linear": 1, "ReLU6": 35, "Dropout": 1},
        {("BatchNorm2d", 1e-05, 0.1)},
    ),
    "mobilenet_v3_large": (
        {
            "Conv2d": 62,
            "BatchNorm2d": 46,
            "Linear": 2,
            "ReLU": 19,
            "Hardswish": 21,
            "Hardsigmoid": 8,
            "Dropout": 1,
        },
        {("BatchNorm2d", 0.001, 0.01)},
    ),
    "efficientnet_b0": (
        {
            "Conv2d": 81,
            "BatchNorm2d": 49,
            "Linear": 1,
            "SiLU": 49,
            "Sigmoid": 16,
            "Dropout": 1,
            "StochasticDepth": 16,
        },
        {("BatchNorm2d", 1e-05, 0.1)},
    ),
    "convnext_tiny": (
        {"Conv2d": 22, "LayerNorm": 18, "LayerNorm2d": 5, "Linear": 37, "GELU": 18, "StochasticDepth": 18},
        {("LayerNorm", 1e-06, None), ("LayerNorm2d", 1e-06, None)},
    ),
    "swin_t": (
        {"Conv2d": 1, "LayerNorm": 29, "Linear": 52, "GELU": 12, "Dropout": 24, "StochasticDepth": 12},
        {("LayerNorm", 1e-05, None)},
    ),
}
COUNTED_TYPES = sorted({t for types, _ in TORCHVISION_MODULES.values() for t in types} | {"Sigmoid", "ReLU6"})
