"""Batch-first RNN/LSTM/GRU (see ``archspec.layers.recurrent``).

``forward(x, h0=None[, c0=None])`` returns the tensor chosen by ``output``, then the final
state: ``(out, h_n)``, or ``(out, h_n, c_n)`` for the LSTM. States keep torch's layout,
``[layers * directions, batch, hidden]``. They subclass torch's classes, so parameter names
(``weight_ih_l0``...) are torch's own.
"""

from __future__ import annotations

import torch
from torch import nn


def _pick_output(output: str, seq: torch.Tensor, h_n: torch.Tensor, dirs: int) -> torch.Tensor:
    """``sequence``: [B, T, dirs*H]; ``last``: its last step; ``hidden``: last layer's final state."""
    if output == "last":
        return seq[:, -1]
    if output == "hidden":  # h_n is [layers*dirs, B, H]; put the directions side by side
        return h_n[-dirs:].transpose(0, 1).flatten(1)
    return seq


class RNN(nn.RNN):
    """``nn.RNN`` (batch-first) returning the ``output`` choice and the final state."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        output: str = "sequence",
    ) -> None:
        super().__init__(
            input_size=input_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            nonlinearity=nonlinearity,
            bias=bias,
            batch_first=True,
            dropout=dropout,
            bidirectional=bidirectional,
        )
        self.output = output

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, h0: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        seq, h_n = super().forward(x, h0)
        return _pick_output(self.output, seq, h_n, 2 if self.bidirectional else 1), h_n

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, output={self.output!r}"


class LSTM(nn.LSTM):
    """``nn.LSTM`` (batch-first) returning the ``output`` choice and the final state."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        output: str = "sequence",
    ) -> None:
        super().__init__(
            input_size=input_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bias=bias,
            batch_first=True,
            dropout=dropout,
            bidirectional=bidirectional,
        )
        self.output = output

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, h0: torch.Tensor | None = None, c0: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        state = None if h0 is None or c0 is None else (h0, c0)
        seq, (h_n, c_n) = super().forward(x, state)
        return _pick_output(self.output, seq, h_n, 2 if self.bidirectional else 1), h_n, c_n

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, output={self.output!r}"


class GRU(nn.GRU):
    """``nn.GRU`` (batch-first) returning the ``output`` choice and the final state."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        output: str = "sequence",
    ) -> None:
        super().__init__(
            input_size=input_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bias=bias,
            batch_first=True,
            dropout=dropout,
            bidirectional=bidirectional,
        )
        self.output = output

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, h0: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        seq, h_n = super().forward(x, h0)
        return _pick_output(self.output, seq, h_n, 2 if self.bidirectional else 1), h_n

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, output={self.output!r}"
