"""Configurations of the Hugging Face references (tests/references/hf.py), as keyword arguments of
the transformers config classes: the published ones (the checkpoint's config.json, written out
here; nothing is downloaded) and the tiny ones tested on the CPU. Plain data: no import."""

from __future__ import annotations

from typing import Any

Config = dict[str, Any]

# openai-community/gpt2 and google-bert/bert-base-uncased, google-t5/t5-small: the library's
# defaults are these checkpoints.
GPT2: Config = {}
GPT2_TINY: Config = dict(
    vocab_size=101, n_positions=32, n_embd=32, n_layer=2, n_head=4, bos_token_id=100, eos_token_id=100
)
BERT: Config = {}
BERT_TINY: Config = dict(
    vocab_size=101,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=32,
    type_vocab_size=2,
)

_LLAMA_8B: Config = dict(
    hidden_size=4096,
    intermediate_size=14336,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=8,
    rms_norm_eps=1e-5,
)
# meta-llama/Meta-Llama-3-8B
LLAMA3_8B: Config = dict(
    _LLAMA_8B,
    vocab_size=128256,
    max_position_embeddings=8192,
    rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
    bos_token_id=128000,
    eos_token_id=128001,
)
# meta-llama/Llama-3.1-8B's rope settings (same weights and count as Llama 3; max positions 131072)
LLAMA31_ROPE: Config = {
    "rope_type": "llama3",
    "rope_theta": 500000.0,
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
}
# the small Llama-family configuration tested end to end (108,864 parameters)
LLAMA_SMALL: Config = dict(
    vocab_size=128,
    hidden_size=64,
    intermediate_size=176,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=128,
    rms_norm_eps=1e-5,
    rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
    bos_token_id=1,
    eos_token_id=2,
)
# mistralai/Mistral-7B-v0.1 (v0.2 and later drop the sliding window; v0.3 has 32768 tokens)
MISTRAL_7B: Config = dict(
    _LLAMA_8B,
    vocab_size=32000,
    max_position_embeddings=32768,
    rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
    sliding_window=4096,
    bos_token_id=1,
    eos_token_id=2,
)
# a window shorter than the test sequences, so that it masks something
MISTRAL_TINY: Config = dict(
    LLAMA_SMALL, rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, sliding_window=4
)

T5_SMALL: Config = {}
# 8 buckets and max distance 16: sequences of 9 and more reach the logarithmic buckets
T5_TINY: Config = dict(
    vocab_size=101,
    d_model=32,
    d_kv=8,
    d_ff=64,
    num_layers=2,
    num_heads=4,
    relative_attention_num_buckets=8,
    relative_attention_max_distance=16,
)

# openai/whisper-tiny
WHISPER_TINY: Config = dict(
    vocab_size=51865,
    num_mel_bins=80,
    d_model=384,
    encoder_layers=4,
    decoder_layers=4,
    encoder_attention_heads=6,
    decoder_attention_heads=6,
    encoder_ffn_dim=1536,
    decoder_ffn_dim=1536,
    max_source_positions=1500,
    max_target_positions=448,
    pad_token_id=50257,
    bos_token_id=50257,
    eos_token_id=50257,
    decoder_start_token_id=50258,
)
WHISPER_TEST: Config = dict(
    vocab_size=101,
    num_mel_bins=8,
    d_model=32,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=4,
    decoder_attention_heads=4,
    encoder_ffn_dim=64,
    decoder_ffn_dim=64,
    max_source_positions=12,
    max_target_positions=16,
    pad_token_id=100,
    bos_token_id=100,
    eos_token_id=100,
    decoder_start_token_id=99,
)

# openai/clip-vit-base-patch32: library defaults apart from the text token ids. eos_token_id=2 is
# what that config.json says; the text model then pools at input_ids.argmax(-1) (the position of
# the largest id, which is the end-of-text token 49407 in real input).
_CLIP_TEXT_IDS: Config = dict(bos_token_id=0, eos_token_id=2, pad_token_id=1)
CLIP_B32: Config = dict(text_config=_CLIP_TEXT_IDS)
CLIP_TINY: Config = dict(
    text_config=dict(
        _CLIP_TEXT_IDS,
        vocab_size=101,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=16,
    ),
    vision_config=dict(
        hidden_size=48,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=32,
        patch_size=8,
    ),
    projection_dim=24,
)
