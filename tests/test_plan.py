"""``archspec plan`` and ``archspec.plan``: the numbers' conventions, parallelism, checkpointing,
the search for the largest batch, inference, the CLI and its JSON contract, and no torch."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

import archspec
from archspec.errors import ArchspecError
from archspec.passes.memory import memory_graph
from archspec.planner import TrainingPlan, plan
from archspec.planner.specvars import load_with_vars

ROOT = Path(__file__).resolve().parent.parent
GPT2 = ROOT / "tests" / "specs" / "gpt2_torch_layers.yaml"  # torch layers: TP, KV cache
P = 124_439_808  # GPT-2 small's parameters (tied head once)
AT = {"seq": 1024}


def gpt2(**options: object) -> TrainingPlan:
    return plan(GPT2, batch=8, sizes=AT, search=None, **options)  # type: ignore[arg-type]


def test_bytes_per_parameter_of_each_precision_and_optimizer() -> None:
    m = gpt2(dtype="fp32", optimizer="sgd").memory
    assert (m.weights, m.gradients, m.optimizer) == (4 * P, 4 * P, 0)
    m = gpt2(dtype="fp32", optimizer="momentum").memory
    assert m.optimizer == 4 * P
    m = gpt2(dtype="bf16", optimizer="adamw").memory  # mixed: float32 master + 16-bit copy
    assert (m.weights, m.gradients, m.optimizer) == (6 * P, 4 * P, 8 * P)
    m = gpt2(dtype="pure-bf16", optimizer="adam").memory
    assert (m.weights, m.gradients, m.optimizer) == (2 * P, 2 * P, 4 * P)


def test_8bit_adam_counts_blocks_and_keeps_small_tensors_in_float32() -> None:
    a = archspec.analyze(GPT2)
    tensors = [
        n
        for node in a.graph.layers()
        if node.counts.trainable
        for name, shape in node.weights.items()
        if name != (node.layer_type.tied if node.tie else None)
        for n in [math.prod(shape)]
    ]
    want = sum(8 * n if n < 4096 else 2 * n + 8 * -(-n // 256) for n in tensors)
    assert gpt2(optimizer="adam8bit").memory.optimizer == want


def test_zero_stages_and_fsdp_shard_what_they_say() -> None:
    base = gpt2(dtype="bf16", dp=4).memory
    assert base.buckets == base.gradients == 4 * P  # DDP's gradient buckets
    z1 = gpt2(dtype="bf16", dp=4, zero=1).memory
    assert z1.weights == 2 * P and z1.optimizer == -(-(8 * P + 4 * P) // 4) and z1.gradients == 4 * P
    z2 = gpt2(dtype="bf16", dp=4, zero=2).memory
    assert z2.gradients == P and z2.optimizer == z1.optimizer
    f = gpt2(dtype="bf16", dp=4, fsdp=True).memory
    assert f.weights == P and f.gradients == P and f.optimizer == 2 * P
    block = 7_087_872  # one transformer layer; the root holds embeddings, ln_f (head tied)
    root = P - 12 * block
    assert f.gathered == (root + 2 * block) * 2 + block * 4
    assert gpt2(dtype="bf16", dp=4, zero=3).memory.weights == f.weights
    assert f.peak < base.peak


def test_tensor_parallel_splits_attention_and_feed_forward() -> None:
    one, two = gpt2(dtype="bf16"), gpt2(dtype="bf16", tp=2)
    per_layer = 4 * 768 * 768 + 3 * 768 + 2 * 768 * 3072 + 3072  # split weights and biases
    assert two.analysis.total_params - two.memory.weights // 6 == 12 * per_layer // 2
    assert two.memory.activations < one.memory.activations
    assert two.flops_forward == one.flops_forward // 2
    with pytest.raises(ArchspecError) as e:
        gpt2(tp=5)
    assert e.value.code == "bad-value" and e.value.node == "h.0" and "12 heads" in e.value.message


def test_per_layer_activations_follow_korthikanti_with_torchs_extras() -> None:
    """16-bit, CUDA kernels: a GPT layer keeps 34 sbh bytes (Korthikanti et al., Table 2, without
    the attention scores, which fused attention does not keep) + 4 sbh for the dropout mask torch's
    TransformerEncoderLayer adds between the feed-forward layers + statistics, causal mask and
    log-sum-exp; the math path adds the scores: 5 as^2 b, and its scaled q and k (4 sbh)."""
    b, s, h, a = 8, 1024, 768, 12
    sbh = s * b * h
    extras = 4 * (4 * b * s) + 2 * s * s + 4 * b * a * s
    fused = dict(gpt2(dtype="bf16").by_block)["h.3"]
    assert fused == 38 * sbh + extras
    math = dict(gpt2(dtype="bf16", attention="math").by_block)["h.3"]
    assert math == 42 * sbh + 5 * a * s * s * b + 4 * (4 * b * s)


def test_checkpointing_keeps_block_inputs_and_recomputes_one_block() -> None:
    none, blocks = gpt2(dtype="bf16"), gpt2(dtype="bf16", checkpoint="blocks")
    g = memory_graph(blocks.analysis, act_bytes=2)
    inputs = sum(v.nbytes for u in g.units for v in u.ins)
    outside = {k: v for lm in g.layers if lm.unit is None for k, v in lm.kept.items()}
    held = {v.key for u in g.units for v in u.ins}
    assert blocks.memory.activations == inputs + sum(v for k, v in outside.items() if k not in held)
    one_block = dict(none.by_block)["h.11"]
    assert blocks.memory.backward_activations >= one_block > blocks.memory.activations / 2
    assert blocks.memory.peak < none.memory.peak
    assert blocks.flops_recompute == none.flops_forward - 2 * sum(
        blocks.analysis.macs_of(n)
        for _, n in blocks.analysis.graph.walk()
        if n.path in ("wte", "wpe", "ln_f", "lm_head")
    )
    selective = gpt2(dtype="bf16", checkpoint="selective", attention="math")
    math = gpt2(dtype="bf16", attention="math")
    a, s, b = 12, 1024, 8
    assert math.memory.activations - selective.memory.activations == 12 * 5 * a * s * s * b


def test_largest_batch_fits_and_one_more_does_not() -> None:
    p = plan(GPT2, sizes=AT, dtype="bf16", gpu_name="a100-40gb")
    n = p.max_batch
    assert p.search_dim == "batch" and n and n > 1
    assert plan(GPT2, batch=n, sizes=AT, dtype="bf16", gpu_name="a100-40gb", search=None).fits
    assert not plan(GPT2, batch=n + 1, sizes=AT, dtype="bf16", gpu_name="a100-40gb", search=None).fits
    tiny = plan(GPT2, sizes=AT, memory="1GiB", tflops=10)
    assert tiny.max_batch == 0 and not tiny.fits


def test_flops_and_step_time() -> None:
    p = gpt2(dtype="bf16", mfu=0.5)
    assert p.flops_forward == 2 * p.analysis.macs and p.flops_backward == 4 * p.analysis.macs
    assert p.step_time == pytest.approx(6 * p.analysis.macs / (989.4e12 * 0.5))


def test_inference_keeps_a_kv_cache_for_decoders_only() -> None:
    i = gpt2(dtype="bf16", context=2048).inference
    assert i is not None and i.kv_cache == 12 * 2 * 8 * 2048 * 768 * 2 and i.weights == 2 * P
    enc = plan(ROOT / "specs" / "transformer_encoder.yaml", batch=8, sizes={"seq": 128}, search=None)
    assert enc.inference is not None and enc.inference.kv_cache == 0 and enc.inference.activations > 0


def test_named_and_custom_devices() -> None:
    p = gpt2(gpu_name="a100-40gb")
    assert p.config.gpu.memory == 40 * 2**30 and not p.config.gpu_default
    c = gpt2(memory="24GiB", tflops=312)
    assert c.config.gpu.memory == 24 * 2**30 and c.config.tflops == 312
    for bad in ({"gpu_name": "h900"}, {"memory": "24GiB"}, {"dtype": "int3"}, {"optimizer": "lion"}):
        with pytest.raises(ArchspecError):
            gpt2(**bad)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys; from archspec.cli import main; rc = main(sys.argv[1:]); "
        "print('TORCH', 'torch' in sys.modules, file=sys.stderr); sys.exit(rc)"
    )
    return subprocess.run(
        [sys.executable, "-c", code, "plan", *args], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def test_cli_prints_the_breakdown_without_torch() -> None:
    r = cli(
        "tests/specs/gpt2_torch_layers.yaml",
        "--batch",
        "8",
        "--dim",
        "seq=1024",
        "--dtype",
        "bf16",
        "--optimizer",
        "adamw",
    )
    assert r.returncode == 0, r.stderr
    assert "TORCH False" in r.stderr
    for text in (
        "h100-80gb (the default",
        "weights",
        "gradients",
        "optimizer state",
        "h.0 .. h.11",
        "peak of a step",
    ):
        assert text in r.stdout
    assert "fits" in r.stdout and "Largest batch that fits" in r.stdout and "KV cache" in r.stdout


def test_cli_json_contract() -> None:
    r = cli(
        "tests/specs/gpt2_torch_layers.yaml",
        "--batch",
        "8",
        "--dim",
        "seq=1024",
        "--dtype",
        "fp32",
        "--optimizer",
        "sgd",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("weights", "gradients", "optimizer", "activations", "peak"):
        assert isinstance(out["memory"][key], int)
    assert isinstance(out["flops"]["forward"], int) and isinstance(out["flops"]["backward"], int)
    assert isinstance(out["fits"], bool) and isinstance(out["max_batch"], int)
    assert out["memory"]["optimizer"] == 0 and out["memory"]["weights"] == 4 * P
    assert out["device"]["default"] is True
    many = json.loads(cli("specs/gan.yaml", "--batch", "4", "--json").stdout)
    assert [m["name"] for m in many["models"]] == ["generator", "discriminator", "gan"]


def test_cli_errors_are_one_message() -> None:
    for args, text in (
        (("tests/specs/gpt2_torch_layers.yaml", "--gpu", "h900"), "unknown GPU"),
        (("tests/specs/gpt2_torch_layers.yaml", "--dim", "sequence=8"), "'sequence' is not a symbolic dim"),
        (("tests/specs/gpt2_torch_layers.yaml", "--var", "depht=2"), "'depht' is not a variable"),
        (("tests/specs/gpt2_torch_layers.yaml", "--tp", "5"), "tensor parallelism of degree 5"),
    ):
        r = cli(*args)
        assert r.returncode == 1 and text in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)


def test_vars_reconfigure_a_shipped_spec() -> None:
    p = plan(load_with_vars(GPT2, {"depth": 2}), batch=1, sizes={"seq": 8}, search=None)
    assert p.analysis.total_params == P - 10 * 7_087_872


def test_units_look_through_a_block_that_holds_the_repeat() -> None:
    """Hugging Face's layout wraps the decoder layers in a `model` block: the units (what is
    checkpointed and sharded) are its copies, not the whole wrapper."""
    from archspec.planner.fsdp import unit_paths

    assert unit_paths(archspec.analyze(str(ROOT / "specs" / "llama.yaml"))) == [
        "model.layers.0",
        "model.layers.1",
    ]
