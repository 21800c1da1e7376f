"""The judge: a classifier trained on real clips that says which class a generated clip shows.

Class-conditional samples are "recognised as their class" when a network that never saw a generated
clip, trained only on real ones, assigns them the class they were generated for (the accuracy
protocol of :func:`vidlearn.generation.metrics.sample_accuracy`). On the built-in motion data the
class lives only in the motion, so the judge must be spatio-temporal: vidlearn's C3D (Tran et al.
2015), CPU-sized (a quarter of the widths, batch norm, fc 256), trained with the engine.

C3D needs 16 frames; DVD-GAN's CPU models make 8, so every frame is shown twice (``repeat_frames``
of the protocol), and frames below 32x32 are upsampled to 32x32, alike for the real clips it learns
from and the samples it judges.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from vidlearn.generation.metrics import FVDProtocol, classification_accuracy, prepare_clips
from vidlearn.generation.recipe import ScorerConfig

__all__ = ["JUDGE_MIN_SIZE", "JUDGE_MODEL", "judge_accuracy", "judge_kwargs", "judge_scorer", "judge_size", "train_judge"]

JUDGE_MODEL = "c3d"
C3D_FRAMES = 16


#: The judge's frame side: clips smaller than this are upsampled to it (bilinear). At 16x16 the
#: motion of the CPU-sized clips (under a pixel per frame) left the C3D at chance after epochs; at
#: 32x32 it learns in the first epoch, as in the recognition demo.
JUDGE_MIN_SIZE = 32


def judge_size(resolution: int) -> int:
    """The side of the frames the judge sees for clips of ``resolution``."""
    return max(resolution, JUDGE_MIN_SIZE)


def judge_kwargs(resolution: int) -> dict[str, Any]:
    """The CPU-sized C3D's options for clips of ``resolution`` (16 frames at :func:`judge_size`)."""
    return {"width_multiplier": 0.25, "fc_dim": 256, "clip_len": C3D_FRAMES, "crop_size": judge_size(resolution),
            "dropout": 0.0, "norm_layer": "batch", "fc_init": "kaiming"}


def judge_scorer(num_frames: int, weights: str | None = None, *, resolution: int = JUDGE_MIN_SIZE) -> ScorerConfig:
    """The accuracy protocol's scorer: the judge on clips in [-1, 1] resized to :func:`judge_size`, frames repeated to 16."""
    if C3D_FRAMES % num_frames:
        raise ValueError(f"the C3D judge needs {C3D_FRAMES} frames: clips of {num_frames} frames cannot be "
                         "repeated to that length")
    size = judge_size(resolution)
    return ScorerConfig(enabled=True, name=JUDGE_MODEL, weights=weights,
                        resize=None if size == resolution else (size, size), repeat_frames=C3D_FRAMES // num_frames)


class _JudgeInputs(Dataset):
    """Real items ``(clip in [-1, 1], class, info)`` prepared as the judge sees them."""

    def __init__(self, clips: Dataset, protocol: FVDProtocol) -> None:
        self.clips, self.protocol = clips, protocol

    def __len__(self) -> int:
        return len(self.clips)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        clip, label, info = self.clips[index][:3]
        return prepare_clips(clip[None], self.protocol)[0], label, info


def _protocol(num_frames: int, resolution: int) -> FVDProtocol:
    scorer = judge_scorer(num_frames, resolution=resolution)
    return FVDProtocol(feature_network=scorer.name, resize=scorer.resize, clip_length=num_frames,  # type: ignore[arg-type]
                       repeat_frames=scorer.repeat_frames)


@torch.no_grad()
def judge_accuracy(model: nn.Module, clips: Dataset, *, num_frames: int, resolution: int,
                   batch_size: int = 32) -> float:
    """Percent of the real ``clips`` (items ``(clip in [-1, 1], class, ...)``) the judge classifies right."""
    model.eval()
    scores, labels = [], []
    for batch in DataLoader(_JudgeInputs(clips, _protocol(num_frames, resolution)), batch_size=batch_size):
        scores.append(model(batch[0]))
        labels.append(batch[1])
    return classification_accuracy(torch.cat(scores), torch.cat(labels))


def train_judge(train_clips: Dataset, *, classes: list[str], num_frames: int, resolution: int, work_dir: str | Path,
                epochs: int = 6, batch_size: int = 32, lr: float = 2e-3, seed: int = 0,
                num_workers: int = 0) -> tuple[nn.Module, Path]:
    """Train the C3D judge on real clips through the engine; returns it (eval mode) and ``judge.safetensors``.

    The file carries the model's name, options and class names, so :func:`~vidlearn.generation.evaluation.load_scorer`
    (``evaluate.accuracy.weights``) rebuilds it.
    """
    from vidlearn.engine import OptimConfig, ScheduleConfig, Trainer, TrainerConfig
    from vidlearn.engine.seeding import seed_everything
    from vidlearn.models import create, save_weights
    from vidlearn.recognition.steps import ClassificationStep

    work_dir = Path(work_dir)
    seed_everything(seed)
    kwargs = judge_kwargs(resolution)
    model = create(JUDGE_MODEL, num_classes=len(classes), **kwargs)
    config = TrainerConfig(max_epochs=epochs, seed=seed, device="cpu", work_dir=str(work_dir), progress_bar=False,
                           eval_every_epochs=0, log_every_steps=50, keep_checkpoints=1)
    trainer = Trainer(model, _JudgeInputs(train_clips, _protocol(num_frames, resolution)), step_fn=ClassificationStep(),
                      optim=OptimConfig(name="adamw", lr=lr, weight_decay=1e-4),
                      schedule=ScheduleConfig(name="cosine", warmup_epochs=0.5), config=config,
                      batch_size=min(batch_size, len(train_clips)), num_workers=num_workers,  # type: ignore[arg-type]
                      drop_last=True)
    if trainer.fit(resume=None).interrupted:  # SIGTERM: a half-trained judge would judge wrongly
        raise KeyboardInterrupt
    path = save_weights(model, work_dir / "judge.safetensors",
                        metadata={"model": JUDGE_MODEL, "kwargs": kwargs, "num_classes": len(classes),
                                  "classes": list(classes), "input": f"{num_frames} frames repeated to "
                                  f"{C3D_FRAMES}, {resolution}x{resolution} resized to {judge_size(resolution)}, "
                                  "[-1, 1]"})
    return model.eval(), path
