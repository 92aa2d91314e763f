"""Recurrent heads shared by the models: LSTM + FC(7) (paper 2.1, 2.3, 2.4)."""
from __future__ import annotations

import torch
from torch import nn

from ..constants import LSTM_INIT_UNIFORM_BOUND, N_CLASSES


def init_lstm_uniform(lstm: nn.LSTM, bound: float = LSTM_INIT_UNIFORM_BOUND) -> None:
    """Paper 2.1: LSTM weights ~ U(-0.01, 0.01), biases 0."""
    for name, parameter in lstm.named_parameters():
        if name.startswith("weight"):
            nn.init.uniform_(parameter, -bound, bound)
        else:
            nn.init.zeros_(parameter)


class LSTMClassifier(nn.Module):
    """One-layer LSTM over a sequence of feature vectors, then FC(7) on the last hidden state.

    Variable-length batches are packed with `lengths` so that padding never enters the state.
    """

    def __init__(self, input_dim: int, hidden: int, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_dim, hidden, num_layers=1, batch_first=True)
        self.fc = nn.Linear(hidden, n_classes)
        init_lstm_uniform(self.lstm)

    def forward(self, sequence: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if lengths is None:
            _, (hidden, _) = self.lstm(sequence)
        else:
            packed = nn.utils.rnn.pack_padded_sequence(
                sequence, lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            _, (hidden, _) = self.lstm(packed)
        return self.fc(hidden[-1])


class AudioLSTM(nn.Module):
    """Paper 2.3: one-layer LSTM(512) on the 34-dim short-term feature sequences."""

    def __init__(self, input_dim: int, hidden: int) -> None:
        super().__init__()
        self.head = LSTMClassifier(input_dim, hidden)

    def forward(self, sequence: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(sequence, lengths)
