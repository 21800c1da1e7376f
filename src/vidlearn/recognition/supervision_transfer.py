"""2D -> 3D supervision transfer: pretraining a 3D network against a frozen 2D one (Diba et al. 2017).

Diba et al., "Temporal 3D ConvNets: New Architecture and Transfer Learning for Video Classification",
2017, Sec. 4. A 2D network trained on images (DenseNet-121 on ImageNet in the paper) stays frozen; the
3D network (T3D) learns, without class labels, to tell whether a frame and a clip come from the same
video. Each batch of ``B`` clips from ``B`` videos gives ``B`` matching pairs (a clip and its own frame
at ``frame_index``, the middle one by default) and ``B`` non-matching pairs (frame ``i`` with clip
``i + 1`` of another video)::

    clips (B, 3, T, H, W) -> net3d.forward_features -> f3d (B, D3)           [trained]
    frames (B, 3, H, W) = clips[:, :, frame_index] -> frozen net2d -> f2d (B, D2)  [no gradient]
    pairs: [f2d_i, f3d_i] (label 1) and [f2d_i, f3d_(i+1 mod B)] (label 0) -> (2B, D2 + D3)
      -> PairClassifier: FC 512 - ReLU - FC 128 - ReLU - FC 1 -> logits (2B,) -> binary cross-entropy

Choices the paper leaves open, fixed here: the head's widths (512, 128); negatives by shifting the
batch by one video (pairs whose ``video_ids`` match are dropped, so a batch may hold two clips of one
video); the 2D features are DenseNet's globally average-pooled last map (``features`` -> ReLU -> pool,
1024 values for DenseNet-121). Frames are passed to the 2D network as they are in the clip: give the
3D network's input the 2D network's normalisation (ImageNet mean and std for torchvision's DenseNet).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader, Dataset

from vidlearn.engine import History, OptimConfig, ScheduleConfig, Trainer, TrainerConfig

__all__ = [
    "PairClassifier",
    "SupervisionTransferResult",
    "SupervisionTransferStep",
    "densenet121_2d",
    "freeze",
    "pair_loss",
    "run_supervision_transfer",
    "supervision_transfer_step",
]

# torchvision's published DenseNet files name layers "norm.1"; its modules are "norm1"
_OLD_DENSENET_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)


class PairClassifier(nn.Module):
    """``(N, D2 + D3)`` concatenated frame and clip features -> ``(N,)`` logit that they match."""

    def __init__(self, in_features: int, hidden: tuple[int, ...] = (512, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for width in hidden:
            layers += [nn.Linear(in_features, width), nn.ReLU()]
            in_features = width
        layers.append(nn.Linear(in_features, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        return self.layers(pairs).squeeze(1)


def densenet121_2d(weights: str | Path | None = None) -> nn.Module:
    """torchvision's DenseNet-121, frozen, optionally loaded strictly from a local ``weights`` file.

    The file may be torchvision's published ``densenet121-a639ec97.pth`` (its old ``norm.1`` key names
    are mapped) or any state dict of the model; nothing is downloaded.
    """
    net = torchvision.models.densenet121(weights=None)
    if weights is not None:
        from vidlearn.models.weights import CheckpointLoadError, read_checkpoint

        state = {_OLD_DENSENET_KEY.sub(r"\1\2", key): value for key, value in read_checkpoint(weights).items()}
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as error:  # torch names every missing and unexpected key
            raise CheckpointLoadError(f"{weights}: not a torchvision DenseNet-121 state dict: {error}") from None
    return freeze(net)


def freeze(net: nn.Module) -> nn.Module:
    """Stop ``net`` learning: no parameter takes a gradient, BatchNorm keeps its statistics (eval mode)."""
    net.requires_grad_(False)
    return net.eval()


def _features_2d(net2d: nn.Module, frames: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W) -> (B, D2)`` without gradient: DenseNet's pooled features, else ``net2d(frames)``."""
    with torch.no_grad():
        if isinstance(net2d, torchvision.models.DenseNet):
            maps = nn.functional.relu(net2d.features(frames))
            return maps.mean(dim=(2, 3))
        features = net2d(frames)
    if features.dim() != 2:
        raise ValueError(f"the 2D network must return (B, D) features, got {tuple(features.shape)}")
    return features


def _pairs(net3d: nn.Module, net2d: nn.Module, clips: torch.Tensor, video_ids: torch.Tensor | None,
           frame_index: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenated pair features ``(P, D2 + D3)`` and their labels ``(P,)`` (1 = same video)."""
    if clips.dim() != 5:
        raise ValueError(f"expected clips (B, C, T, H, W), got {tuple(clips.shape)}")
    batch, frames = clips.shape[0], clips.shape[2]
    if batch < 2:
        raise ValueError(f"supervision transfer needs at least 2 clips per batch for negatives, got {batch}")
    index = frames // 2 if frame_index is None else frame_index
    if not -frames <= index < frames:
        raise ValueError(f"frame_index {frame_index} out of range for clips of {frames} frames")
    features_2d = _features_2d(net2d, clips[:, :, index])
    features_3d = net3d.forward_features(clips)
    shifted = torch.roll(torch.arange(batch, device=clips.device), -1)
    keep = torch.ones(batch, dtype=torch.bool, device=clips.device)
    if video_ids is not None:
        video_ids = torch.as_tensor(video_ids, device=clips.device)
        if video_ids.shape != (batch,):
            raise ValueError(f"video_ids must be ({batch},), got {tuple(video_ids.shape)}")
        keep = video_ids != video_ids[shifted]
    positives = torch.cat((features_2d, features_3d), dim=1)
    negatives = torch.cat((features_2d, features_3d[shifted]), dim=1)[keep]
    labels = torch.cat((torch.ones(batch), torch.zeros(negatives.shape[0]))).to(clips.device)
    return torch.cat((positives, negatives)), labels


def pair_loss(net3d: nn.Module, net2d: nn.Module, head: nn.Module, clips: torch.Tensor, *,
              video_ids: torch.Tensor | None = None, frame_index: int | None = None) -> torch.Tensor:
    """Binary cross-entropy of ``head`` telling matching from non-matching (frame, clip) pairs."""
    pairs, labels = _pairs(net3d, net2d, clips, video_ids, frame_index)
    return nn.functional.binary_cross_entropy_with_logits(head(pairs), labels)


def supervision_transfer_step(net3d: nn.Module, net2d: nn.Module, head: nn.Module, clips: torch.Tensor, *,
                              optimizer: torch.optim.Optimizer, video_ids: torch.Tensor | None = None,
                              frame_index: int | None = None) -> float:
    """One optimisation step of ``net3d`` and ``head`` on a batch of clips; returns the pair loss.

    ``net2d`` must be frozen (:func:`freeze`): a trainable 2D network is an error, since the transfer
    would otherwise drift the teacher.
    """
    if any(p.requires_grad for p in net2d.parameters()) or net2d.training:
        raise ValueError("the 2D network must be frozen (vidlearn.recognition.supervision_transfer.freeze)")
    optimizer.zero_grad()
    loss = pair_loss(net3d, net2d, head, clips, video_ids=video_ids, frame_index=frame_index)
    loss.backward()
    optimizer.step()
    return loss.item()


@dataclass
class SupervisionTransferResult:
    """The trained pair head, the loss of every step and the engine's history of the run."""

    head: nn.Module
    losses: list[float] = field(default_factory=list)
    history: History | None = None


def _split(batch: object) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(batch, torch.Tensor):
        return batch, None
    if isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], torch.Tensor):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    raise ValueError(f"a batch must be clips or (clips, video_ids, ...), got {type(batch).__name__}")


class SupervisionTransferStep:
    """The engine step: the pair loss of the trained ``net3d`` and ``head`` against the frozen ``net2d``."""

    def __init__(self, net2d: nn.Module, frame_index: int | None = None) -> None:
        self.net2d = net2d
        self.frame_index = frame_index
        self.losses: list[torch.Tensor] = []

    def on_train_start(self, trainer: Trainer) -> None:
        if any(p.requires_grad for p in self.net2d.parameters()) or self.net2d.training:
            raise ValueError("the 2D network must be frozen (vidlearn.recognition.supervision_transfer.freeze)")
        self.net2d.to(trainer.device)

    def training_step(self, models: dict[str, nn.Module], batch: object) -> torch.Tensor:
        clips, video_ids = _split(batch)
        loss = pair_loss(models["net3d"], self.net2d, models["head"], clips, video_ids=video_ids,
                         frame_index=self.frame_index)
        self.losses.append(loss.detach())
        return loss


def _first_clips(train_data: Dataset | DataLoader) -> torch.Tensor:
    """Two copies of the first clip ``(2, C, T, H, W)``, to size the pair head."""
    dataset = train_data.dataset if isinstance(train_data, DataLoader) else train_data
    clips, _ = _split(dataset[0] if isinstance(dataset[0], (tuple, list)) else (dataset[0],))
    return torch.stack((clips, clips))


def run_supervision_transfer(
    net3d: nn.Module,
    net2d: nn.Module,
    train_data: Dataset | DataLoader,
    *,
    config: TrainerConfig,
    optim: OptimConfig | None = None,
    schedule: ScheduleConfig | None = None,
    head: nn.Module | None = None,
    frame_index: int | None = None,
    batch_size: int | None = None,
    num_workers: int = 0,
    resume: str | None = None,
) -> SupervisionTransferResult:
    """Train ``net3d`` (and the pair head) against the frozen ``net2d`` with the engine's :class:`Trainer`.

    An item of ``train_data`` is a clip ``(C, T, H, W)`` or ``(clip, video_id, ...)``; ``config`` sets
    the run (``max_epochs`` or ``max_steps``, ``work_dir``, AMP, checkpoints, resume, DDP under
    ``torchrun``); ``optim`` defaults to Adam at 1e-3 with a constant rate. Without a ``head`` one is
    built from the first clip's feature sizes. ``net2d`` is frozen here (:func:`freeze`) and never
    updated; one optimiser updates ``net3d`` and the head together.
    """
    freeze(net2d)
    if head is None:
        clips = _first_clips(train_data)
        net3d.eval()  # sizing the head must not move the 3D network's BatchNorm statistics
        with torch.no_grad():
            pairs, _ = _pairs(net3d, net2d, clips, None, frame_index)
        net3d.train()
        head = PairClassifier(pairs.shape[1])
    step = SupervisionTransferStep(net2d, frame_index)
    trainer = Trainer(
        {"net3d": net3d, "head": head},
        train_data,
        step_fn=step,
        optim=optim or OptimConfig(name="adam", lr=1e-3, momentum=0.0),
        schedule=schedule or ScheduleConfig(name="constant"),
        config=config,
        optimizer_models={"transfer": ["net3d", "head"]},
        batch_size=batch_size,
        num_workers=num_workers,
    )
    history = trainer.fit(resume=resume)
    return SupervisionTransferResult(head=head, losses=[float(loss) for loss in step.losses], history=history)
