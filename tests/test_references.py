"""The reference models in tests/references/: published counts, torchvision's exact layouts, and
small forward passes that check the semantics each reference documents.

The frozen layouts (references/torchvision_layouts.py: number of state_dict entries, a SHA-256 of
every ``key:shape:dtype`` line in order, a few readable keys, module-type counts and norm settings)
were taken from torchvision 0.29.1's own models, not from these references, so a rename, a
reordering, a wrong shape or a missing activation fails here.
"""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest
import torch
from references import (
    MODELS,
    convnext,
    count_params,
    efficientnet,
    graph,
    keras_cnn,
    mobilenet,
    resnet,
    seq2seq,
    swin,
    vgg,
    vit,
)
from references._common import StochasticDepth
from references.torchvision_layouts import (
    COUNTED_TYPES,
    TORCHVISION_KEYS,
    TORCHVISION_LAYOUT,
    TORCHVISION_MODULES,
)
from torch import nn
from torch.nn import functional as F


def build_meta(name: str) -> nn.Module:
    with torch.device("meta"):
        return MODELS[name][0]()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_published_parameter_count(name: str) -> None:
    assert count_params(build_meta(name)) == MODELS[name][1]


def test_published_counts_are_the_papers() -> None:
    # the constants themselves, as torchvision's weight metadata / the issue text give them
    published = {
        "resnet18": 11_689_512,
        "resnet50": 25_557_032,
        "vgg16": 138_357_544,
        "vit_b_16": 86_567_656,
        "mobilenet_v2": 3_504_872,
        "mobilenet_v3_large": 5_483_032,
        "efficientnet_b0": 5_288_548,
        "convnext_tiny": 28_589_128,
        "swin_t": 28_288_354,
        "keras_cnn": 3_937_409,
        "gcn": 23_063,
        "gat": 92_373,
        "seq2seq_lstm": seq2seq.seq2seq_params(1000, 1000, 64, 128, 1),
    }
    assert {name: count for name, (_, count) in MODELS.items()} == published


# ---- torchvision layouts ---------------------------------------------------------------------------


def layout_digest(model: nn.Module) -> tuple[int, str]:
    lines = [
        f"{k}:{list(v.shape)}:{str(v.dtype).removeprefix('torch.')}" for k, v in model.state_dict().items()
    ]
    return len(lines), hashlib.sha256("\n".join(lines).encode()).hexdigest()


@pytest.mark.parametrize("name", sorted(TORCHVISION_LAYOUT))
def test_torchvision_layout(name: str) -> None:
    model = build_meta(name)
    state = model.state_dict()
    got_keys = {k: list(state[k].shape) for k in TORCHVISION_KEYS[name] if k in state}
    assert got_keys == TORCHVISION_KEYS[name]
    assert layout_digest(model) == TORCHVISION_LAYOUT[name]


@pytest.mark.parametrize("name", sorted(TORCHVISION_MODULES))
def test_torchvision_module_types_and_norms(name: str) -> None:
    model = build_meta(name)
    counts = Counter(type(m).__name__ for m in model.modules())
    types, norms = TORCHVISION_MODULES[name]
    assert {t: counts[t] for t in COUNTED_TYPES if counts[t]} == types
    got_norms = {
        (type(m).__name__, m.eps, getattr(m, "momentum", None))
        for m in model.modules()
        if isinstance(m, nn.BatchNorm2d | nn.LayerNorm)
    }
    assert got_norms == norms


# ---- small configs run forward on CPU --------------------------------------------------------------

SMALL = {
    "resnet18": (lambda: resnet.resnet18(num_classes=10), (2, 3, 32, 32), (2, 10)),
    "resnet_bottleneck": (
        lambda: resnet.ResNet(resnet.Bottleneck, [1, 1, 1, 1], 10),
        (2, 3, 32, 32),
        (2, 10),
    ),
    "vgg": (lambda: vgg.vgg([8, "M", 16, "M"], num_classes=10, hidden=32), (2, 3, 32, 32), (2, 10)),
    "vit": (lambda: vit.VisionTransformer(32, 8, 2, 4, 32, 64, num_classes=10), (2, 3, 32, 32), (2, 10)),
    "mobilenet_v2": (
        lambda: mobilenet.mobilenet_v2(num_classes=10, width_mult=0.25),
        (2, 3, 32, 32),
        (2, 10),
    ),
    "mobilenet_v3": (lambda: mobilenet.MobileNetV3(mobilenet.V3_LARGE[:5], 64, 10), (2, 3, 32, 32), (2, 10)),
    "efficientnet": (
        lambda: efficientnet.EfficientNet(
            efficientnet.scale_stages(efficientnet.B0, 0.25, 0.5), num_classes=10
        ),
        (2, 3, 40, 56),
        (2, 10),
    ),
    "convnext": (
        lambda: convnext.ConvNeXt(
            [convnext.StageConfig(8, 16, 2), convnext.StageConfig(16, None, 2)], 0.1, 1e-6, 10
        ),
        (2, 3, 32, 32),
        (2, 10),
    ),
    "swin": (lambda: swin.SwinTransformer(4, 16, [2, 2], [1, 2], 4, num_classes=10), (2, 3, 36, 44), (2, 10)),
    "keras_cnn": (keras_cnn.keras_cnn, (2, 64, 64, 3), (2, 1)),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_forward(name: str) -> None:
    build, in_shape, out_shape = SMALL[name]
    torch.manual_seed(0)
    model = build().eval()
    with torch.no_grad():
        y = model(torch.randn(in_shape))
    assert tuple(y.shape) == out_shape
    assert torch.isfinite(y).all()


def test_vit_refuses_other_image_sizes() -> None:
    model = vit.VisionTransformer(32, 8, 1, 2, 16, 32, num_classes=3)
    with pytest.raises(ValueError, match="32x32"):
        model(torch.randn(1, 3, 40, 40))


def test_stochastic_depth_rates_and_modes() -> None:
    def rates(model: nn.Module) -> list[float]:
        return [m.p for m in model.modules() if isinstance(m, StochasticDepth)]

    # linear in the block index: torchvision's schedules
    assert rates(build_meta("efficientnet_b0")) == pytest.approx([0.2 * i / 16 for i in range(16)])
    assert rates(build_meta("convnext_tiny")) == pytest.approx([0.1 * i / 17 for i in range(18)])
    assert rates(build_meta("swin_t")) == pytest.approx([0.2 * i / 11 for i in range(12)])
    x = torch.randn(64, 3, 2, 2) + 5.0
    drop = StochasticDepth(0.5)
    assert torch.equal(drop.eval()(x), x)
    torch.manual_seed(0)
    y = drop.train()(x)
    kept = (y != 0).flatten(1).all(1)
    assert torch.allclose(y[kept], 2 * x[kept]) and (y[~kept] == 0).all()
    assert 10 < int(kept.sum()) < 54
    block = convnext.CNBlock(8, 1.0, 1.0).train()  # drop probability 1: the block is the identity
    z = torch.randn(2, 8, 5, 5)
    assert torch.equal(block(z), z)


def test_swin_relative_position_index_and_shift_mask() -> None:
    index = swin._relative_position_index(7, 7).view(49, 49)
    assert torch.equal(index.diagonal(), torch.full((49,), 6 * 13 + 6))  # zero offset: the table's centre
    assert index[0, 48] == 0 and index[48, 0] == 168 and index[0, 6] == 6 * 13 + 0
    mask = swin._shift_mask(8, 8, 4, 4, 2, 2, torch.zeros(()))
    assert mask.shape == (4, 16, 16)
    assert (mask[0] == 0).all()  # the top-left window lies in one region of the rolled map
    assert set(mask[3].unique().tolist()) == {-100.0, 0.0}
    assert int((mask[3] == 0).sum()) == 4 * 4 * 4  # four regions of four tokens each


def test_keras_cnn_matches_keras_semantics() -> None:
    """Against a channels-last computation with Keras' kernel layouts, converted as documented."""
    torch.manual_seed(0)
    model = keras_cnn.KerasCNN(height=10, width=12, filters=4, hidden=5).eval()
    for p in model.parameters():
        nn.init.normal_(p, std=0.3)
    x = torch.randn(3, 10, 12, 3)
    kernel = model.conv2d.weight.detach().permute(2, 3, 1, 0)  # Keras [kh, kw, in, out]
    conv = sum(x[:, dy : dy + 8, dx : dx + 10, :] @ kernel[dy, dx] for dy in range(3) for dx in range(3))
    conv = torch.relu(conv + model.conv2d.bias)  # [3, 8, 10, 4] channels-last
    pooled = conv.reshape(3, 4, 2, 5, 2, 4).amax(dim=(2, 4))  # 2x2 stride-2 valid pooling
    flat = pooled.reshape(3, -1)  # Keras' Flatten of an NHWC map: (h, w, c) order
    hidden = torch.relu(flat @ model.dense.weight.T + model.dense.bias)
    expected = torch.sigmoid(hidden @ model.dense_1.weight.T + model.dense_1.bias)
    with torch.no_grad():
        assert torch.allclose(model(x), expected, atol=1e-5)
    names = [(k, list(v.shape)) for k, v in keras_cnn.keras_cnn().state_dict().items()]
    assert names == [
        ("conv2d.weight", [32, 3, 3, 3]),
        ("conv2d.bias", [32]),
        ("dense.weight", [128, 30752]),
        ("dense.bias", [128]),
        ("dense_1.weight", [1, 128]),
        ("dense_1.bias", [1]),
    ]


def test_gcn_normalisation_and_forward() -> None:
    path = torch.tensor([[0.0, 1, 0], [1, 0, 1], [0, 1, 0]])  # degrees with self-loops: 2, 3, 2
    a_hat = graph.normalize_adjacency(path)
    expected = torch.tensor([[1 / 2, 6**-0.5, 0], [6**-0.5, 1 / 3, 6**-0.5], [0, 6**-0.5, 1 / 2]])
    assert torch.allclose(a_hat, expected)
    model = graph.gcn(features=5, hidden=4, classes=3).eval()
    assert [(k, list(v.shape)) for k, v in model.state_dict().items()] == [
        ("conv1.bias", [4]),
        ("conv1.lin.weight", [4, 5]),
        ("conv2.bias", [3]),
        ("conv2.lin.weight", [3, 4]),
    ]
    x = torch.randn(3, 5)
    with torch.no_grad():
        out = model(x, a_hat)
        # node 0 and node 2 are not neighbours: after one layer, changing x[2] leaves node 0's hidden state
        first = model.conv1(x, a_hat)
        x2 = x.clone()
        x2[2] += 1.0
        assert torch.equal(model.conv1(x2, a_hat)[0], first[0]) and not torch.equal(
            model.conv1(x2, a_hat)[1], first[1]
        )
    assert out.shape == (3, 3)


def test_gat_attends_only_along_edges() -> None:
    torch.manual_seed(0)
    model = graph.gat(features=6, hidden=3, heads=2, classes=4).eval()
    assert [(k, list(v.shape)) for k, v in model.state_dict().items()] == [
        ("conv1.att_src", [1, 2, 3]),
        ("conv1.att_dst", [1, 2, 3]),
        ("conv1.bias", [6]),
        ("conv1.lin.weight", [6, 6]),
        ("conv2.att_src", [1, 1, 4]),
        ("conv2.att_dst", [1, 1, 4]),
        ("conv2.bias", [4]),
        ("conv2.lin.weight", [4, 6]),
    ]
    adj = torch.zeros(4, 4)
    adj[1, 0] = 1.0  # node 1 receives from node 0; nothing else (self-loops are added)
    x = torch.randn(4, 6)
    with torch.no_grad():
        out = model(x, adj)
        x2 = x.clone()
        x2[0] += 1.0
        out2 = model(x2, adj)
    assert out.shape == (4, 4)
    assert not torch.equal(out[1], out2[1])  # 1 hears 0
    assert torch.equal(out[2:], out2[2:])  # 2 and 3 hear only themselves
    assert count_params(graph.gat()) == (1433 * 64 + 64 + 64 + 64) + (64 * 7 + 7 + 7 + 7)


def test_seq2seq_state_passing() -> None:
    assert count_params(seq2seq.Seq2Seq(50, 60, 8, 16, 2)) == seq2seq.seq2seq_params(50, 60, 8, 16, 2)
    torch.manual_seed(0)
    model = seq2seq.Seq2Seq(20, 30, 8, 16).eval()
    src = torch.randint(0, 20, (2, 7))
    tgt = torch.randint(0, 30, (2, 5))
    with torch.no_grad():
        out = model(src, tgt)
        assert out.shape == (2, 5, 30)
        src2 = src.clone()
        src2[:, 0] = (src2[:, 0] + 1) % 20
        assert not torch.allclose(
            model(src2, tgt)[:, 0], out[:, 0]
        )  # the encoder's state reaches the decoder
        tgt2 = tgt.clone()
        tgt2[:, 3:] = (tgt2[:, 3:] + 1) % 30
        assert torch.equal(model(src, tgt2)[:, :3], out[:, :3])  # step t never sees later targets
    _, (h, c) = model.encoder(model.encoder_embedding(src))
    dec, _ = model.decoder(model.decoder_embedding(tgt), (h, c))
    assert torch.allclose(model.head(dec), out, atol=1e-6)


def test_layer_norm_2d_normalises_channels() -> None:
    norm = convnext.LayerNorm2d(6, eps=1e-6)
    x = torch.randn(2, 6, 3, 4)
    expected = F.layer_norm(x.permute(0, 2, 3, 1), (6,), eps=1e-6).permute(0, 3, 1, 2)
    assert torch.allclose(norm(x), expected)
