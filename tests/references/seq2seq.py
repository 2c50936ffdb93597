"""An LSTM encoder-decoder (Sutskever et al., 2014, "Sequence to Sequence Learning with Neural
Networks"), small and configurable, trained with teacher forcing.

``encoder_embedding`` embeds the source tokens, ``encoder`` (an ``nn.LSTM``, batch-first) reads
them, and its final ``(h, c)`` (each [layers, batch, hidden]) is the initial state of ``decoder``
(an ``nn.LSTM`` of the same hidden size and layer count), which reads the embedded target tokens
(``decoder_embedding``); ``head`` maps every decoder output to target-vocabulary logits. Keys:
``encoder_embedding.weight``, ``encoder.weight_ih_l0``/``weight_hh_l0``/``bias_ih_l0``/
``bias_hh_l0`` (gates stacked i, f, g, o: [4H, .]), the same for ``decoder``, ``head.weight``/
``head.bias``. The paper also reverses the source sentence; that is data preparation, not here.
"""

from __future__ import annotations

import torch
from torch import nn

SEQ2SEQ_PARAMS = 455_656  # the default config below


def lstm_params(input_size: int, hidden: int, layers: int = 1) -> int:
    """An ``nn.LSTM``'s count: per layer 4H(in + H) weights and two 4H biases (torch keeps both)."""
    total = 0
    for i in range(layers):
        fan_in = input_size if i == 0 else hidden
        total += 4 * hidden * (fan_in + hidden) + 8 * hidden
    return total


def seq2seq_params(src_vocab: int, tgt_vocab: int, embed: int, hidden: int, layers: int = 1) -> int:
    """The count of ``Seq2Seq(src_vocab, tgt_vocab, embed, hidden, layers)``, from the formula."""
    embeddings = (src_vocab + tgt_vocab) * embed
    return embeddings + 2 * lstm_params(embed, hidden, layers) + hidden * tgt_vocab + tgt_vocab


class Seq2Seq(nn.Module):
    def __init__(
        self,
        src_vocab: int = 1000,
        tgt_vocab: int = 1000,
        embed: int = 64,
        hidden: int = 128,
        layers: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.encoder_embedding = nn.Embedding(src_vocab, embed)
        self.encoder = nn.LSTM(
            embed, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0
        )
        self.decoder_embedding = nn.Embedding(tgt_vocab, embed)
        self.decoder = nn.LSTM(
            embed, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0
        )
        self.head = nn.Linear(hidden, tgt_vocab)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """``src`` [b, s] and ``tgt`` [b, t] token ids -> logits [b, t, tgt_vocab]."""
        _, state = self.encoder(self.encoder_embedding(src))
        out, _ = self.decoder(self.decoder_embedding(tgt), state)
        return self.head(out)


def seq2seq(
    src_vocab: int = 1000, tgt_vocab: int = 1000, embed: int = 64, hidden: int = 128, layers: int = 1
) -> Seq2Seq:
    """The default config has 455,656 parameters (vocabularies 1000, embeddings 64, one layer of 128)."""
    return Seq2Seq(src_vocab, tgt_vocab, embed, hidden, layers)
