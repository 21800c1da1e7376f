"""A tiny synthetic task for the engine tests: 4 features, 3 classes, an MLP with dropout.

The dataset adds random noise in ``__getitem__`` (a stand-in for random augmentation) so that exact
resume is tested with randomness both in data loading and in the model (dropout).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import Dataset

from vidlearn.engine import OptimConfig, ScheduleConfig, Trainer, TrainerConfig, seed_everything


class NoisyPoints(Dataset):
    """``size`` fixed points with labels; each access adds ``noise * U[0, 1)`` to the features."""

    def __init__(self, size: int = 32, noise: float = 0.1) -> None:
        generator = torch.Generator().manual_seed(1234)
        self.features = torch.randn(size, 4, generator=generator)
        self.labels = torch.randint(0, 3, (size,), generator=generator)
        self.noise = noise

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features[index]
        if self.noise:
            features = features + self.noise * torch.rand(4)
        return features, self.labels[index]


def make_model(dropout: float = 0.2, seed: int = 0) -> nn.Module:
    """The same initial weights for a given seed."""
    seed_everything(seed)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3))


def step_fn(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]):
    """Mean cross-entropy, accuracy (averaged) and the number of samples seen (a counter)."""
    features, labels = batch
    logits = model(features)
    loss = nn.functional.cross_entropy(logits, labels)
    return loss, {"acc": (logits.argmax(1) == labels).float().mean(), "seen": int(labels.numel())}


def flat_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def build_resume_trainer(
    work_dir: str, trainer_cls: type[Trainer] = Trainer, num_workers: int = 1
) -> Trainer:
    """The run of the resume tests: 2 epochs of 8 batches, a checkpoint every 2 steps, deterministic."""
    config = TrainerConfig(
        max_epochs=2,
        seed=3,
        deterministic=True,
        checkpoint_every_steps=2,
        keep_checkpoints=2,
        log_every_steps=1,
        work_dir=work_dir,
        progress_bar=False,
        device="cpu",
    )
    return trainer_cls(
        make_model(),
        NoisyPoints(),
        step_fn=step_fn,
        batch_size=4,
        num_workers=num_workers,
        optim=OptimConfig(lr=0.1),
        schedule=ScheduleConfig(warmup_epochs=0.5),
        config=config,
    )
