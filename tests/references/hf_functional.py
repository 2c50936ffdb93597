"""The seven reference models written again from HF_NOTES.md, as plain functions of a state_dict.

Independent of `transformers` (only torch ops; attention as matmul, mask and softmax), so that
tests/test_references_hf.py can check that the notes say everything needed: each function, given
``hf.state_dict()``, the config and the inputs of tests/references/hf.py, returns the reference's
outputs (same names). Read them as the exact op order a spec must reproduce.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

SD = dict[str, Tensor]


def lin(x: Tensor, sd: SD, key: str) -> Tensor:
    """nn.Linear layout: weight [out, in], optional bias [out]."""
    return F.linear(x, sd[key + ".weight"], sd.get(key + ".bias"))


def conv1d_hf(x: Tensor, sd: SD, key: str) -> Tensor:
    """GPT-2's Conv1D layout: weight [in, out] (the transpose of nn.Linear's), bias [out]."""
    return x @ sd[key + ".weight"] + sd[key + ".bias"]


def ln(x: Tensor, sd: SD, key: str, eps: float) -> Tensor:
    return F.layer_norm(x, x.shape[-1:], sd[key + ".weight"], sd[key + ".bias"], eps)


def rms(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    """RMSNorm as Llama and T5 have it: no mean subtraction, no bias, eps inside the root."""
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def heads(x: Tensor, n: int) -> Tensor:  # [b, t, n*d] -> [b, n, t, d]
    b, t, _ = x.shape
    return x.view(b, t, n, -1).transpose(1, 2)


def merge(x: Tensor) -> Tensor:  # [b, n, t, d] -> [b, t, n*d]
    b, n, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, n * d)


def attend(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    scale: float,
    bias: Tensor | None = None,
    causal: bool = False,
    window: int | None = None,
) -> Tensor:
    """softmax(q k^T * scale + bias, masked) v; k and v heads repeated for grouped-query attention
    (kv head j serves query heads j*g .. j*g+g-1, g = q heads / kv heads)."""
    g = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(g, dim=1), v.repeat_interleave(g, dim=1)
    s = q @ k.transpose(-1, -2) * scale
    if bias is not None:
        s = s + bias
    tq, tk = s.shape[-2:]
    i, j = torch.arange(tq)[:, None], torch.arange(tk)[None, :]
    keep = torch.ones(tq, tk, dtype=torch.bool)
    if causal:
        keep &= j <= i
    if window is not None:
        keep &= j > i - window  # the last `window` positions, this one included
    s = s.masked_fill(~keep, float("-inf"))
    return torch.softmax(s, dim=-1) @ v


def gpt2(sd: SD, c: Any, x: dict[str, Tensor]) -> dict[str, Tensor]:
    ids = x["input_ids"]
    p, eps = "transformer.", c.layer_norm_epsilon
    h = sd[p + "wte.weight"][ids] + sd[p + "wpe.weight"][: ids.shape[1]]
    for i in range(c.n_layer):
        b = f"{p}h.{i}."
        qkv = conv1d_hf(ln(h, sd, b + "ln_1", eps), sd, b + "attn.c_attn")
        q, k, v = (heads(z, c.n_head) for z in qkv.split(c.n_embd, dim=-1))
        a = attend(q, k, v, (c.n_embd // c.n_head) ** -0.5, causal=True)
        h = h + conv1d_hf(merge(a), sd, b + "attn.c_proj")
        m = F.gelu(conv1d_hf(ln(h, sd, b + "ln_2", eps), sd, b + "mlp.c_fc"), approximate="tanh")
        h = h + conv1d_hf(m, sd, b + "mlp.c_proj")
    h = ln(h, sd, p + "ln_f", eps)
    return {"logits": h @ sd["lm_head.weight"].T}


def bert(sd: SD, c: Any, x: dict[str, Tensor]) -> dict[str, Tensor]:
    ids, types = x["input_ids"], x["token_type_ids"]
    e, eps, n = "embeddings.", c.layer_norm_eps, c.num_attention_heads
    h = sd[e + "word_embeddings.weight"][ids] + sd[e + "token_type_embeddings.weight"][types]
    h = ln(h + sd[e + "position_embeddings.weight"][: ids.shape[1]], sd, e + "LayerNorm", eps)
    for i in range(c.num_hidden_layers):
        b = f"encoder.layer.{i}."
        q, k, v = (heads(lin(h, sd, b + f"attention.self.{m}"), n) for m in ("query", "key", "value"))
        a = merge(attend(q, k, v, (c.hidden_size // n) ** -0.5))
        h = ln(lin(a, sd, b + "attention.output.dense") + h, sd, b + "attention.output.LayerNorm", eps)
        m = F.gelu(lin(h, sd, b + "intermediate.dense"))  # exact (erf) GELU
        h = ln(lin(m, sd, b + "output.dense") + h, sd, b + "output.LayerNorm", eps)
    return {"last_hidden_state": h, "pooler_output": torch.tanh(lin(h[:, 0], sd, "pooler.dense"))}


def rope_inv_freq(head_dim: int, rope: dict[str, Any]) -> Tensor:
    """1 / theta^(2i/d) for i < d/2; with rope_type "llama3", Llama 3.1's static rescaling."""
    inv = 1.0 / rope["rope_theta"] ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    if rope["rope_type"] == "default":
        return inv
    factor, lo, hi = rope["factor"], rope["low_freq_factor"], rope["high_freq_factor"]
    old = rope["original_max_position_embeddings"]
    wavelen = 2 * math.pi / inv
    smooth = (old / wavelen - lo) / (hi - lo)  # 0 at wavelen = old/lo, 1 at wavelen = old/hi
    mid = (1 - smooth) * inv / factor + smooth * inv
    out = torch.where(wavelen > old / lo, inv / factor, inv)  # long wavelengths slowed by `factor`
    return torch.where((wavelen >= old / hi) & (wavelen <= old / lo), mid, out)


def rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Half-split rotary embedding: pairs (x[i], x[i + d/2]), not adjacent pairs."""
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


def causal_lm(sd: SD, c: Any, x: dict[str, Tensor]) -> dict[str, Tensor]:
    """LlamaForCausalLM and MistralForCausalLM (Mistral adds the sliding window)."""
    ids, eps = x["input_ids"], c.rms_norm_eps
    hd = c.hidden_size // c.num_attention_heads
    freqs = torch.outer(torch.arange(ids.shape[1], dtype=torch.float32), rope_inv_freq(hd, c.rope_parameters))
    cos, sin = torch.cat((freqs, freqs), -1).cos(), torch.cat((freqs, freqs), -1).sin()
    h = sd["model.embed_tokens.weight"][ids]
    for i in range(c.num_hidden_layers):
        b = f"model.layers.{i}."
        a = rms(h, sd[b + "input_layernorm.weight"], eps)
        q = rotate(heads(lin(a, sd, b + "self_attn.q_proj"), c.num_attention_heads), cos, sin)
        k = rotate(heads(lin(a, sd, b + "self_attn.k_proj"), c.num_key_value_heads), cos, sin)
        v = heads(lin(a, sd, b + "self_attn.v_proj"), c.num_key_value_heads)
        a = attend(q, k, v, hd**-0.5, causal=True, window=getattr(c, "sliding_window", None))
        h = h + lin(merge(a), sd, b + "self_attn.o_proj")
        m = rms(h, sd[b + "post_attention_layernorm.weight"], eps)
        h = h + lin(
            F.silu(lin(m, sd, b + "mlp.gate_proj")) * lin(m, sd, b + "mlp.up_proj"), sd, b + "mlp.down_proj"
        )
    h = rms(h, sd["model.norm.weight"], eps)
    return {"logits": lin(h, sd, "lm_head")}


def t5_bucket(rel: Tensor, bidirectional: bool, buckets: int, max_distance: int) -> Tensor:
    """rel = key position - query position -> bucket index (T5's relative position buckets)."""
    base = torch.zeros_like(rel)
    if bidirectional:
        buckets //= 2
        base = (rel > 0).long() * buckets  # keys after the query use the upper half
        n = rel.abs()
    else:
        n = (-rel).clamp(min=0)  # keys after the query (masked anyway) share bucket 0
    exact = buckets // 2
    large = exact + (torch.log(n.float() / exact) / math.log(max_distance / exact) * (buckets - exact)).long()
    return base + torch.where(n < exact, n, large.clamp(max=buckets - 1))


def t5_bias(sd: SD, key: str, tq: int, tk: int, bidirectional: bool, c: Any) -> Tensor:
    rel = torch.arange(tk)[None, :] - torch.arange(tq)[:, None]
    idx = t5_bucket(rel, bidirectional, c.relative_attention_num_buckets, c.relative_attention_max_distance)
    return sd[key][idx].permute(2, 0, 1)[None]  # [1, heads, tq, tk]


def t5(sd: SD, c: Any, x: dict[str, Tensor]) -> dict[str, Tensor]:
    eps, n = c.layer_norm_epsilon, c.num_heads

    def attn(b: str, h: Tensor, kv: Tensor, bias: Tensor | None, causal: bool) -> Tensor:
        q, k, v = (
            heads(lin(h, sd, b + "q"), n),
            heads(lin(kv, sd, b + "k"), n),
            heads(lin(kv, sd, b + "v"), n),
        )
        return lin(merge(attend(q, k, v, 1.0, bias, causal)), sd, b + "o")  # no 1/sqrt(d) scaling

    def self_attn(b: str, h: Tensor, bias: Tensor, causal: bool) -> Tensor:
        y = rms(h, sd[b + "0.layer_norm.weight"], eps)
        return attn(b + "0.SelfAttention.", y, y, bias, causal)

    def ff(b: str, h: Tensor) -> Tensor:
        m = rms(h, sd[b + "layer_norm.weight"], eps)
        return h + lin(F.relu(lin(m, sd, b + "DenseReluDense.wi")), sd, b + "DenseReluDense.wo")

    src, tgt = x["input_ids"], x["decoder_input_ids"]
    h = sd["shared.weight"][src]
    rel = "block.0.layer.0.SelfAttention.relative_attention_bias.weight"
    bias = t5_bias(sd, "encoder." + rel, src.shape[1], src.shape[1], True, c)  # layer 0's, used by all
    for i in range(c.num_layers):
        b = f"encoder.block.{i}.layer."
        h = ff(b + "1.", h + self_attn(b, h, bias, False))
    enc = rms(h, sd["encoder.final_layer_norm.weight"], eps)
    h = sd["shared.weight"][tgt]
    bias = t5_bias(sd, "decoder." + rel, tgt.shape[1], tgt.shape[1], False, c)
    for i in range(c.num_decoder_layers):
        b = f"decoder.block.{i}.layer."
        h = h + self_attn(b, h, bias, True)
        h = h + attn(b + "1.EncDecAttention.", rms(h, sd[b + "1.layer_norm.weight"], eps), enc, None, False)
        h = ff(b + "2.", h)
    h = rms(h, sd["decoder.final_layer_norm.weight"], eps) * c.d_model**-0.5  # tied head: rescale
    return {"logits": h @ sd["lm_head.weight"].T, "encoder_last_hidden_state": enc}


def _block(
    sd: SD,
    b: str,
    h: Tensor,
    kv: Tensor | None,
    n: int,
    act: Any,
    causal: bool,
    eps: float,
    names: tuple[str, ...],
) -> Tensor:
    """Pre-LN block shared by Whisper and CLIP: names = (attn, attn norm, [cross, cross norm,] mlp prefix,
    norm before mlp)."""
    hd = h.shape[-1] // n

    def mha(p: str, y: Tensor, src: Tensor, causal: bool) -> Tensor:
        q, k, v = (
            heads(lin(t, sd, p + m), n) for t, m in ((y, ".q_proj"), (src, ".k_proj"), (src, ".v_proj"))
        )
        return lin(merge(attend(q, k, v, hd**-0.5, causal=causal)), sd, p + ".out_proj")

    y = ln(h, sd, b + names[1], eps)
    h = h + mha(b + names[0], y, y, causal)
    if kv is not None:
        h = h + mha(b + names[2], ln(h, sd, b + names[3], eps), kv, False)
    m = ln(h, sd, b + names[-1], eps)
    return h + lin(act(lin(m, sd, b + names[-2] + "fc1")), sd, b + names[-2] + "fc2")


def whisper(sd: SD, c: Any, x: dict[str, Tensor]) -> dict[str, Tensor]:
    e, d = "model.encoder.", "model.decoder."
    h = F.gelu(F.conv1d(x["input_features"], sd[e + "conv1.weight"], sd[e + "conv1.bias"], padding=1))
    h = F.gelu(F.conv1d(h, sd[e + "conv2.weight"], sd[e + "conv2.bias"], stride=2, padding=1))
    h = h.transpose(1, 2) + sd[e + "embed_positions.weight"]  # all max_source_positions rows
    names = ("self_attn", "self_attn_layer_norm", "", "final_layer_norm")
    for i in range(c.encoder_layers):
        h = _block(sd, f"{e}layers.{i}.", h, None, c.encoder_attention_heads, F.gelu, False, 1e-5, names)
    enc = ln(h, sd, e + "layer_norm", 1e-5)
    ids = x["decoder_input_ids"]
    h = sd[d + "embed_tokens.weight"][ids] + sd[d + "embed_positions.weight"][: ids.shape[1]]
    names = (
        "self_attn",
        "self_attn_layer_norm",
        "encoder_attn",
        "encoder_attn_layer_norm",
        "",
        "final_layer_norm",
    )
    for i in range(c.decoder_layers):
        h = _block(sd, f"{d}layers.{i}.", h, enc, c.decoder_attention_heads, F.gelu, True, 1e-5, names)
    h = ln(h, sd, d + "layer_norm", 1e-5)
    return {"logits": h @ sd["proj_out.weight"].T, "encoder_last_hidden_state": enc}


def clip(sd: SD, c: Any, x: dict[str, Tensor]) -> dict[str, Tensor]:
    def quick_gelu(t: Tensor) -> Tensor:
        return t * torch.sigmoid(1.702 * t)

    names = ("self_attn", "layer_norm1", "mlp.", "layer_norm2")
    tc, vc, t, v = c.text_config, c.vision_config, "text_model.", "vision_model."
    ids = x["input_ids"]
    h = (
        sd[t + "embeddings.token_embedding.weight"][ids]
        + sd[t + "embeddings.position_embedding.weight"][: ids.shape[1]]
    )
    for i in range(tc.num_hidden_layers):
        h = _block(
            sd,
            f"{t}encoder.layers.{i}.",
            h,
            None,
            tc.num_attention_heads,
            quick_gelu,
            True,
            tc.layer_norm_eps,
            names,
        )
    h = ln(h, sd, t + "final_layer_norm", tc.layer_norm_eps)
    text = lin(h[torch.arange(h.shape[0]), ids.argmax(-1)], sd, "text_projection")  # pool at the largest id
    p = F.conv2d(x["pixel_values"], sd[v + "embeddings.patch_embedding.weight"], stride=vc.patch_size)
    p = p.flatten(2).transpose(1, 2)  # [b, patches, width], patches in row-major order
    cls = sd[v + "embeddings.class_embedding"].expand(p.shape[0], 1, -1)
    h = torch.cat((cls, p), dim=1) + sd[v + "embeddings.position_embedding.weight"]
    h = ln(h, sd, v + "pre_layrnorm", vc.layer_norm_eps)
    for i in range(vc.num_hidden_layers):
        h = _block(
            sd,
            f"{v}encoder.layers.{i}.",
            h,
            None,
            vc.num_attention_heads,
            quick_gelu,
            False,
            vc.layer_norm_eps,
            names,
        )
    image = lin(ln(h[:, 0], sd, v + "post_layernorm", vc.layer_norm_eps), sd, "visual_projection")
    text, image = text / text.norm(dim=-1, keepdim=True), image / image.norm(dim=-1, keepdim=True)
    logits_per_text = text @ image.T * sd["logit_scale"].exp()
    return {"logits_per_image": logits_per_text.T, "text_embeds": text, "image_embeds": image}


FUNCTIONAL = {
    "gpt2": gpt2,
    "bert_base": bert,
    "llama3_8b": causal_lm,
    "mistral_7b": causal_lm,
    "t5_small": t5,
    "whisper_tiny": whisper,
    "clip_vit_b_32": clip,
}
