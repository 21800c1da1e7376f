"""Two toy tasks shaped like the coming wings, for the engine tests.

* GAN-shaped: a generator and a discriminator, two optimisers (Adam), alternating hinge-loss updates
  through a manual step, the generator's gradients accumulated over 2 batches, the discriminator's
  clipped, and an EMA of the generator (DVD-GAN's set-up in miniature).
* Sequence-shaped: ``(B, T, C, H, W)`` inputs through a recurrent model with two outputs and two
  losses (FRVSR's set-up in miniature), on the automatic step.

Both datasets draw noise in ``__getitem__`` (random augmentation) and both models may use dropout, so
exact resume is tested with randomness in data loading and in the model.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from vidlearn.engine import OptimConfig, ScheduleConfig, Trainer, TrainerConfig, seed_everything

LATENT = 4


class RealAndLatent(Dataset):
    """Item ``i``: a real 2-D point (a ring of 4 modes, plus ``noise * U[0, 1)``) and its latent ``z``."""

    def __init__(self, size: int = 32, noise: float = 0.1) -> None:
        generator = torch.Generator().manual_seed(99)
        angles = torch.randint(0, 4, (size,), generator=generator).float() * (torch.pi / 2)
        self.points = torch.stack((angles.cos(), angles.sin()), dim=1) * 2
        self.latents = torch.randn(size, LATENT, generator=generator)
        self.noise = noise

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        point = self.points[index]
        if self.noise:
            point = point + self.noise * torch.rand(2)
        return point, self.latents[index]


def make_gan(seed: int = 0, dropout: float = 0.1) -> dict[str, nn.Module]:
    seed_everything(seed)
    generator = nn.Sequential(nn.Linear(LATENT, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 2))
    discriminator = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    return {"g": generator, "d": discriminator}


class HingeGANStep:
    """D step then G step on every batch, as BigGAN / DVD-GAN alternate them."""

    manual_optimization = True

    def training_step(self, ctx: Any, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        real, z = batch
        g, d = ctx.models["g"], ctx.models["d"]
        with torch.no_grad():
            fake = g(z)
        d_loss = F.relu(1 - d(real)).mean() + F.relu(1 + d(fake)).mean()
        ctx.backward(d_loss, "d")
        ctx.step("d")
        g_loss = -d(g(z)).mean()
        ctx.backward(g_loss, "g")
        ctx.step("g")
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    def evaluate(self, models: dict[str, nn.Module]) -> dict[str, float]:
        z = torch.linspace(-1, 1, 8 * LATENT).reshape(8, LATENT)
        return {"ema_radius": models["g_ema"](z).norm(dim=1).mean().item()}


def build_gan_trainer(work_dir: str, trainer_cls: type[Trainer] = Trainer, *, num_workers: int = 1,
                      batch_size: int = 4, noise: float = 0.1, dropout: float = 0.1,
                      checkpoint_every_steps: int = 1, log_every_steps: int = 1) -> Trainer:
    """2 epochs of 8 batches (batch 4); G accumulates 2 batches, D is clipped; EMA of G."""
    config = TrainerConfig(
        max_epochs=2, seed=5, deterministic=True, checkpoint_every_steps=checkpoint_every_steps,
        keep_checkpoints=2, log_every_steps=log_every_steps, work_dir=work_dir, progress_bar=False,
        device="cpu",
    )  # fmt: skip
    return trainer_cls(
        make_gan(dropout=dropout),
        RealAndLatent(noise=noise),
        step_fn=HingeGANStep(),
        batch_size=batch_size,
        num_workers=num_workers,
        optim={
            "g": OptimConfig(name="adam", lr=0.01, betas=(0.0, 0.999), grad_accum_steps=2),
            "d": OptimConfig(name="adam", lr=0.02, betas=(0.0, 0.999), clip_grad_norm=0.5),
        },
        schedule=ScheduleConfig(name="constant"),
        ema={"g": 0.9},
        config=config,
    )


SEQ_SHAPE = (3, 2, 5, 5)  # T, C, H, W


class NoisySequences(Dataset):
    """Item ``i``: a sequence ``(T, C, H, W)`` (fixed, plus noise) and its target, the frames mirrored."""

    def __init__(self, size: int = 32, noise: float = 0.1) -> None:
        generator = torch.Generator().manual_seed(7)
        self.sequences = torch.rand(size, *SEQ_SHAPE, generator=generator)
        self.noise = noise

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        sequence = self.sequences[index]
        if self.noise:
            sequence = sequence + self.noise * torch.rand(SEQ_SHAPE)
        return sequence, sequence.flip(-1)


class TinyRecurrent(nn.Module):
    """``(B, T, C, H, W) -> (B, T, C, H, W)`` frames and ``(B, T, 1, H, W)`` an auxiliary map, recurrently."""

    def __init__(self, channels: int = 2, width: int = 8, dropout: float = 0.1) -> None:
        super().__init__()
        self.encode = nn.Conv2d(2 * channels, width, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.decode = nn.Conv2d(width, channels, 3, padding=1)
        self.aux = nn.Conv2d(width, 1, 1)

    def forward(self, sequence: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        state = torch.zeros_like(sequence[:, 0])
        frames, aux = [], []
        for t in range(sequence.shape[1]):
            hidden = self.dropout(F.relu(self.encode(torch.cat((sequence[:, t], state), dim=1))))
            state = self.decode(hidden)
            frames.append(state)
            aux.append(self.aux(hidden))
        return torch.stack(frames, dim=1), torch.stack(aux, dim=1)


def make_recurrent(seed: int = 0, dropout: float = 0.1) -> nn.Module:
    seed_everything(seed)
    return TinyRecurrent(dropout=dropout)


def sequence_step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict]:
    """Two losses: the frames against the target, the auxiliary map against the frames' mean."""
    sequence, target = batch
    if sequence.shape[1:] != SEQ_SHAPE or not sequence.is_contiguous():
        raise AssertionError(f"the engine changed the sequence's shape or layout: {tuple(sequence.shape)}")
    frames, aux = model(sequence)
    frame_loss = F.mse_loss(frames, target)
    aux_loss = F.mse_loss(aux, sequence.mean(dim=2, keepdim=True))
    return frame_loss + 0.5 * aux_loss, {"frame_loss": frame_loss.detach(), "aux_loss": aux_loss.detach()}


def build_sequence_trainer(work_dir: str, trainer_cls: type[Trainer] = Trainer, *, num_workers: int = 1,
                           batch_size: int = 4, noise: float = 0.1, dropout: float = 0.1,
                           checkpoint_every_steps: int = 1, log_every_steps: int = 1) -> Trainer:
    """2 epochs of 8 batches (batch 4), AdamW with a cosine schedule and warm-up, clipped gradients."""
    config = TrainerConfig(
        max_epochs=2, seed=11, deterministic=True, checkpoint_every_steps=checkpoint_every_steps,
        keep_checkpoints=2, log_every_steps=log_every_steps, work_dir=work_dir, progress_bar=False,
        device="cpu", clip_grad_norm=1.0,
    )  # fmt: skip
    return trainer_cls(
        make_recurrent(dropout=dropout),
        NoisySequences(noise=noise),
        step_fn=sequence_step,
        batch_size=batch_size,
        num_workers=num_workers,
        optim=OptimConfig(name="adamw", lr=0.01, weight_decay=0.01),
        schedule=ScheduleConfig(name="cosine", warmup_epochs=0.5),
        config=config,
    )


TOYS = {"gan": build_gan_trainer, "sequence": build_sequence_trainer}


def all_weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    """Every model's and EMA copy's tensors, by qualified name."""
    found = {f"{name}.{k}": v.detach().clone() for name, m in trainer.models.items() for k, v in m.state_dict().items()}
    found.update({f"{name}_ema.{k}": v.detach().clone() for name, e in trainer.ema.items()
                  for k, v in e.module.state_dict().items()})
    return found
