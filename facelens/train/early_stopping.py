"""The training loop the small heads share: shuffled mini-batches, one validation figure per
epoch, the best epoch's weights kept, stop after `patience` epochs without a better one."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def fit_early_stopping(
    model: nn.Module,
    optimiser: torch.optim.Optimizer,
    rows: int,
    batch: int,
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    validation_error: Callable[[], float],
    max_epochs: int,
    patience: int,
    generator: torch.Generator,
    tolerance: float = 0.0,
) -> tuple[float, int]:
    """Train `model` on `rows` training rows (batch_loss: the loss of the rows at these
    indices); returns the best validation error (lower is better; an improvement must beat
    the best by more than `tolerance`) and the epochs run. The best epoch's weights are
    loaded back into `model`."""
    best, best_state, since, epochs = float("inf"), None, 0, 0
    while epochs < max_epochs and since < patience:
        epochs += 1
        model.train()
        for chosen in torch.randperm(rows, generator=generator).split(batch):
            optimiser.zero_grad()
            batch_loss(chosen).backward()
            optimiser.step()
        current = validation_error()
        if current < best - tolerance:
            best, since = current, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            since += 1
    assert best_state is not None
    model.load_state_dict(best_state)
    return best, epochs
