"""The plan against measurement, nothing tuned per model (CPU, float32).

For every shipped spec (the big ones in a reduced configuration through their vars), at two
sizes: the activation bytes the plan gives (CPU kernels' rules) equal, within 5%, the bytes of the
distinct storages autograd saves in a real train-mode forward (parameters and buffers excluded);
and after one real optimizer step, the plan's weights, gradients and optimizer state equal what
torch holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from plan_measure import saved_storages, state_bytes  # noqa: E402

import archspec  # noqa: E402
from archspec.planner import plan_all  # noqa: E402
from archspec.planner.specvars import load_with_vars  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# Reduced configurations of the large specs (same architecture, small widths and depths).
REDUCED: dict[str, dict[str, Any]] = {
    "bert_base": {
        "vocab": 101,
        "max_positions": 32,
        "hidden": 32,
        "layers": 2,
        "heads": 4,
        "intermediate": 64,
    },
    "clip_vit_b_32": {
        "vocab": 101,
        "text_positions": 32,  # the test sizes reach seq 20
        "text_width": 32,
        "text_layers": 2,
        "text_heads": 4,
        "text_mlp": 64,
        "image_size": 32,
        "patch": 8,
        "vision_width": 48,
        "vision_layers": 2,
        "vision_heads": 4,
        "vision_mlp": 96,
        "projection": 24,
    },
    "gpt2": {"vocab": 500, "d_model": 64, "heads": 4, "depth": 2, "context": 64},
    "gpt3": {"vocab": 500, "d_model": 96, "heads": 8, "depth": 2, "context": 64},
    "llama3_8b": {"vocab": 128, "hidden": 64, "layers": 2, "heads": 4, "kv_heads": 2, "intermediate": 176},
    "mistral_7b": {
        "vocab": 128,
        "hidden": 64,
        "layers": 2,
        "heads": 4,
        "kv_heads": 2,
        "intermediate": 176,
        "window": 8,
    },
    "t5_small": {
        "vocab": 101,
        "d_model": 32,
        "d_kv": 8,
        "heads": 4,
        "d_ff": 64,
        "layers": 2,
        "buckets": 8,
        "max_distance": 16,
        "output_scale": 32**-0.5,
    },
    "swin_t": {
        "height": 36,  # 9x11 patches: padded windows, shifted
        "width": 44,
        "embed": 8,
        "depth3": 2,
        "heads1": 1,
        "heads2": 2,
        "heads3": 2,
        "heads4": 4,
        "window": 4,
        "classes": 10,
    },
    "transformer_encoder": {"vocab": 500, "d_model": 64, "heads": 4, "depth": 2, "max_positions": 64},
    "whisper_tiny": {
        "vocab": 101,
        "mels": 8,
        "d_model": 32,
        "encoder_layers": 2,
        "decoder_layers": 2,
        "heads": 4,
        "ffn": 64,
        "source_positions": 12,
        "target_positions": 32,  # the test sizes reach seq 20
    },
    "vgg16": {"width": 8, "hidden": 64, "classes": 10},
    "esn": {"units": 60},
}
# Two sizes per spec: every symbolic dim a spec uses gets a value from each.
SIZES = [
    {"batch": 2, "seq": 12, "src_len": 7, "tgt_len": 5, "nodes": 6},
    {"batch": 3, "seq": 20, "src_len": 9, "tgt_len": 11, "nodes": 9},
]
SPECS = sorted((ROOT / "specs").glob("*.yaml"))


def load(path: Path) -> archspec.Spec:
    return load_with_vars(path, REDUCED.get(path.stem, {}))


def sized(a_symbols: set[str], sizes: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in sizes.items() if k in a_symbols}


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_activations_match_saved_tensors(path: Path) -> None:
    spec = load(path)
    for sizes_all in SIZES:
        for name in spec.models:
            symbols = archspec.analyze(spec, name).symbols
            sizes = sized(symbols, sizes_all)
            plan = plan_all(spec, name, sizes=sizes, search=None, kernels="cpu")[0]
            module = archspec.build(spec, name, seed=0).train()
            inputs = archspec.example_inputs(spec, name, sizes, seed=1)
            measured = sum(saved_storages(module, inputs).values())
            planned = plan.memory.activations
            assert abs(planned - measured) <= 0.05 * measured, (name, sizes, planned, measured)


OPTIMIZERS = {
    "sgd": lambda ps: torch.optim.SGD(ps, lr=0.01),
    "momentum": lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=0.001),
}


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_weights_gradients_optimizer_match_a_real_step(path: Path) -> None:
    spec = load(path)
    for name in spec.models:
        sizes = sized(archspec.analyze(spec, name).symbols, SIZES[0])
        for dtype, torch_dtype in (("fp32", torch.float32), ("pure-bf16", torch.bfloat16)):
            module = archspec.build(spec, name, seed=0, dtype=torch_dtype).train()
            inputs = archspec.example_inputs(spec, name, sizes, seed=1)
            inputs = tuple(x.to(torch_dtype) if x.is_floating_point() else x for x in inputs)
            out = module(*inputs)
            outs = [o for o in (out if isinstance(out, tuple) else (out,)) if o.requires_grad]
            if not outs:
                pytest.skip(f"{name}: no gradient reaches the output (a step function)")
            sum(o.float().sum() for o in outs).backward()
            for optimizer, make in OPTIMIZERS.items():
                opt = make([q for q in module.parameters() if q.requires_grad])
                opt.step()
                got = state_bytes(module, opt)
                plan = plan_all(
                    spec, name, sizes=sizes, search=None, kernels="cpu", dtype=dtype, optimizer=optimizer
                )[0]
                m = plan.memory
                assert got == {"weights": m.weights, "gradients": m.gradients, "optimizer": m.optimizer}, (
                    name,
                    optimizer,
                    dtype,
                )
