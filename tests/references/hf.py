"""Hugging Face `transformers` reference models for the published-model specs (issues 14-16).

Every model is built from a configuration written out in hf_configs.py: nothing is downloaded
and the hub is never contacted. Two sizes per model:

- ``published=True``: the published configuration (``checkpoint`` names it, for documentation only),
  built under ``torch.device("meta")``: shapes and parameter counts, no memory allocated.
- ``published=False`` (default): a tiny configuration with the same structure, on the CPU, float32,
  eval mode, seeded. Every feature the published model uses is exercised (grouped-query attention,
  a sliding window shorter than the test sequence, T5's logarithmic position buckets, ...). After
  the library's own initialisation every parameter gets seeded noise added, so that biases are not
  zero and norm weights not one: the output depends on every parameter.

Comparing a spec built by archspec with its reference, for ``ref = REFERENCES[name]``::

    hf = ref.build()                                  # tiny, eval, float32
    inputs = ref.inputs(hf.config, batch=2, seq=9)    # ordered like the spec's inputs
    expected = ref.output(hf, inputs)                 # one tensor (the first of ref.outputs)
    model.load_state_dict(hf.state_dict(), strict=True)
    got = model(*inputs.values())

How the reference is called (``ref.outputs``): eval mode, ``torch.no_grad()``, ``attention_mask``
left at None (no padding: every position is attended; decoders stay causal), ``use_cache=False``,
``return_dict=True``, and the attention implementation chosen at build time: "sdpa" (default,
calls ``torch.nn.functional.scaled_dot_product_attention``) or "eager" (the same math written out
with matmul and softmax). tests/references/HF_NOTES.md says what each model computes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import transformers as tf
from torch import Tensor, nn

from .hf_configs import (
    BERT,
    BERT_TINY,
    CLIP_B32,
    CLIP_TINY,
    GPT2,
    GPT2_TINY,
    LLAMA3_8B,
    LLAMA_SMALL,
    MISTRAL_7B,
    MISTRAL_TINY,
    T5_SMALL,
    T5_TINY,
    WHISPER_TEST,
    WHISPER_TINY,
    Config,
)

Inputs = dict[str, Tensor]


@dataclass(frozen=True)
class Reference:
    """One published model: how to configure, build, feed and read it."""

    name: str  # the spec's name under specs/
    hf_class: str  # the transformers model class
    checkpoint: str  # hub id of the published configuration (never fetched)
    published_params: int  # parameters() of the published configuration, tied weights once
    published_config: Config  # keyword arguments of the model's config class
    tiny_config: Config
    make_inputs: Callable[[Any, int, int, torch.Generator], Inputs]
    read_outputs: Callable[[nn.Module, Inputs], dict[str, Tensor]]

    def config(self, published: bool = False) -> Any:
        cls = getattr(tf, self.hf_class).config_class
        return cls(**copy.deepcopy(self.published_config if published else self.tiny_config))

    def build(self, published: bool = False, attn_implementation: str = "sdpa", seed: int = 0) -> nn.Module:
        cls = getattr(tf, self.hf_class)
        config = self.config(published)
        # set before building: T5's encoder and decoder copy the config, so a later
        # model.set_attn_implementation() would not reach them
        config._attn_implementation = attn_implementation
        if published:
            with torch.device("meta"):
                model = cls(config)
        else:
            torch.manual_seed(seed)
            model = cls(config)
            perturb(model, seed)
        return model.eval()

    def inputs(self, config: Any, batch: int = 2, seq: int = 9, seed: int = 0) -> Inputs:
        """Example inputs, in the order the spec declares them (see each maker's docstring)."""
        return self.make_inputs(config, batch, seq, torch.Generator().manual_seed(seed))

    def outputs(self, model: nn.Module, inputs: Inputs) -> dict[str, Tensor]:
        """Every output worth comparing, by name; the first is the primary one."""
        model.eval()
        with torch.no_grad():
            return self.read_outputs(model, inputs)

    def output(self, model: nn.Module, inputs: Inputs) -> Tensor:
        return next(iter(self.outputs(model, inputs).values()))


def perturb(model: nn.Module, seed: int, scale: float = 0.02) -> None:
    """Add seeded N(0, scale^2) noise to every parameter (tied ones once, so ties are kept)."""
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * scale)


def count(model: nn.Module) -> int:
    """Parameters as torch counts them: a tied weight once (``parameters()`` deduplicates)."""
    return sum(p.numel() for p in model.parameters())


def _ids(gen: torch.Generator, vocab: int, *shape: int) -> Tensor:
    return torch.randint(0, vocab, shape, generator=gen)


# --- GPT-2 (GPT2LMHeadModel) ---------------------------------------------------------------------


def gpt2_inputs(config: Any, batch: int, seq: int, gen: torch.Generator) -> Inputs:
    """input_ids [batch, seq] (seq <= n_positions); positions are 0..seq-1."""
    return {"input_ids": _ids(gen, config.vocab_size, batch, seq)}


def gpt2_outputs(model: nn.Module, x: Inputs) -> dict[str, Tensor]:
    """logits [batch, seq, vocab]: ``model(input_ids, use_cache=False).logits``."""
    return {"logits": model(**x, use_cache=False).logits}


# --- BERT (BertModel with pooler) ----------------------------------------------------------------


def bert_inputs(config: Any, batch: int, seq: int, gen: torch.Generator) -> Inputs:
    """input_ids [batch, seq], token_type_ids [batch, seq] (random 0/1), in that order."""
    return {
        "input_ids": _ids(gen, config.vocab_size, batch, seq),
        "token_type_ids": _ids(gen, config.type_vocab_size, batch, seq),
    }


def bert_outputs(model: nn.Module, x: Inputs) -> dict[str, Tensor]:
    """last_hidden_state [batch, seq, hidden], then pooler_output [batch, hidden]."""
    out = model(**x)
    return {"last_hidden_state": out.last_hidden_state, "pooler_output": out.pooler_output}


# --- Llama (LlamaForCausalLM) and Mistral (MistralForCausalLM) ----------------------------------


def causal_lm_inputs(config: Any, batch: int, seq: int, gen: torch.Generator) -> Inputs:
    """input_ids [batch, seq]; positions 0..seq-1 (no padding, no cache)."""
    return {"input_ids": _ids(gen, config.vocab_size, batch, seq)}


def causal_lm_outputs(model: nn.Module, x: Inputs) -> dict[str, Tensor]:
    """logits [batch, seq, vocab]: ``model(input_ids, use_cache=False).logits``."""
    return {"logits": model(**x, use_cache=False).logits}


# --- T5 (T5ForConditionalGeneration) -------------------------------------------------------------


def t5_inputs(config: Any, batch: int, seq: int, gen: torch.Generator) -> Inputs:
    """input_ids [batch, seq] (encoder), decoder_input_ids [batch, seq - 2] (a different length)."""
    return {
        "input_ids": _ids(gen, config.vocab_size, batch, seq),
        "decoder_input_ids": _ids(gen, config.vocab_size, batch, max(1, seq - 2)),
    }


def seq2seq_outputs(model: nn.Module, x: Inputs) -> dict[str, Tensor]:
    """logits [batch, tgt, vocab], then the encoder's last hidden state."""
    out = model(**x, use_cache=False)
    return {"logits": out.logits, "encoder_last_hidden_state": out.encoder_last_hidden_state}


# --- Whisper (WhisperForConditionalGeneration) ---------------------------------------------------


def whisper_inputs(config: Any, batch: int, seq: int, gen: torch.Generator) -> Inputs:
    """input_features [batch, mels, 2 * max_source_positions] (exactly: the encoder refuses other
    lengths; 3000 frames for the published model), decoder_input_ids [batch, seq] (seq <=
    max_target_positions)."""
    frames = 2 * config.max_source_positions
    return {
        "input_features": torch.randn(batch, config.num_mel_bins, frames, generator=gen),
        "decoder_input_ids": _ids(gen, config.vocab_size, batch, seq),
    }


# --- CLIP (CLIPModel) ----------------------------------------------------------------------------


def clip_inputs(config: Any, batch: int, seq: int, gen: torch.Generator) -> Inputs:
    """input_ids [batch, seq] (seq <= 77), pixel_values [batch, 3, image_size, image_size]."""
    size = config.vision_config.image_size
    return {
        "input_ids": _ids(gen, config.text_config.vocab_size, batch, seq),
        "pixel_values": torch.randn(batch, config.vision_config.num_channels, size, size, generator=gen),
    }


def clip_outputs(model: nn.Module, x: Inputs) -> dict[str, Tensor]:
    """logits_per_image [images, texts] (depends on both towers, both projections and logit_scale),
    then text_embeds [texts, proj] and image_embeds [images, proj] (both L2-normalised)."""
    out = model(**x)
    return {
        "logits_per_image": out.logits_per_image,
        "text_embeds": out.text_embeds,
        "image_embeds": out.image_embeds,
    }


_ROWS = (  # name, model class, checkpoint, published count, published and tiny configs, inputs, outputs
    (
        "gpt2",
        "GPT2LMHeadModel",
        "openai-community/gpt2",
        124_439_808,
        GPT2,
        GPT2_TINY,
        gpt2_inputs,
        gpt2_outputs,
    ),
    (
        "bert_base",
        "BertModel",
        "google-bert/bert-base-uncased",
        109_482_240,
        BERT,
        BERT_TINY,
        bert_inputs,
        bert_outputs,
    ),
    (
        "llama3_8b",
        "LlamaForCausalLM",
        "meta-llama/Meta-Llama-3-8B",
        8_030_261_248,
        LLAMA3_8B,
        LLAMA_SMALL,
        causal_lm_inputs,
        causal_lm_outputs,
    ),
    (
        "mistral_7b",
        "MistralForCausalLM",
        "mistralai/Mistral-7B-v0.1",
        7_241_732_096,
        MISTRAL_7B,
        MISTRAL_TINY,
        causal_lm_inputs,
        causal_lm_outputs,
    ),
    (
        "t5_small",
        "T5ForConditionalGeneration",
        "google-t5/t5-small",
        60_506_624,
        T5_SMALL,
        T5_TINY,
        t5_inputs,
        seq2seq_outputs,
    ),
    (
        "whisper_tiny",
        "WhisperForConditionalGeneration",
        "openai/whisper-tiny",
        37_760_640,
        WHISPER_TINY,
        WHISPER_TEST,
        whisper_inputs,
        seq2seq_outputs,
    ),
    (
        "clip_vit_b_32",
        "CLIPModel",
        "openai/clip-vit-base-patch32",
        151_277_313,
        CLIP_B32,
        CLIP_TINY,
        clip_inputs,
        clip_outputs,
    ),
)
REFERENCES: dict[str, Reference] = {row[0]: Reference(*row) for row in _ROWS}

# Weights that are one tensor under several state_dict keys: key -> the key it is tied to. Both keys
# are in state_dict() (the same tensor twice); parameters() and the published counts have it once.
TIED: dict[str, dict[str, str]] = {
    "gpt2": {"lm_head.weight": "transformer.wte.weight"},
    "t5_small": {
        k: "shared.weight"
        for k in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight")
    },
    "whisper_tiny": {"proj_out.weight": "model.decoder.embed_tokens.weight"},
}
