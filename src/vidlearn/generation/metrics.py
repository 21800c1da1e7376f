"""Metrics of generated video whose every choice is explicit: Fréchet distance, FVD, Inception Score.

Published FVD and IS numbers disagree mostly through choices nobody printed next to them: how frames
are resized, which value range the feature network saw, how many frames, how many samples, which
real split (universome/fvd-comparison; StyleGAN-V issues #26, #30). Here each number is computed
under a protocol object (:class:`FVDProtocol`, :class:`ISProtocol`) and returned as a
:class:`MetricResult` that carries the protocol's fields beside the value.

* :func:`frechet_distance`: ``||μ1 - μ2||² + tr(Σ1) + tr(Σ2) - 2 tr((Σ1 Σ2)^½)`` in float64, the
  trace of the matrix square root computed as ``Σ sqrt(eig(Σ1^½ Σ2 Σ1^½))`` (a symmetric PSD
  product, so no complex ``sqrtm`` residue as with ``scipy.linalg.sqrtm``).
* :func:`frechet_video_distance` (Unterthiner et al. 2018): the Fréchet distance between Gaussians
  fitted to I3D features of real and generated clips. The published FVD uses DeepMind's Kinetics-400
  I3D (its 400 logits) on 224x224 frames in [-1, 1]; vidlearn's ``i3d`` with those weights from a
  local file serves (nothing is downloaded; random weights give a number comparable to nothing, and
  the protocol says so).
* :func:`inception_score` (Salimans et al. 2016; for video with a C3D classifier, Saito et al. 2017,
  TGAN, and DVD-GAN on UCF-101): ``exp(E_x KL(p(y|x) || p(y)))`` per split, mean and std over splits.
* :func:`classification_accuracy` and :func:`sample_accuracy`: the share of samples a held-out
  classifier assigns to the class they were generated for (percent), overall and per class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "FVDProtocol",
    "ISProtocol",
    "MetricResult",
    "classification_accuracy",
    "collect_outputs",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_from_features",
    "frechet_video_distance",
    "inception_score",
    "inception_score_of_clips",
    "prepare_clips",
    "sample_accuracy",
]

ArrayLike = np.ndarray | torch.Tensor


def _protocol_values(protocol: Any) -> dict[str, Any]:
    values = asdict(protocol)
    values["weights"] = protocol.weights or "none (random initialisation: not comparable to published numbers)"
    return values


@dataclass(frozen=True)
class FVDProtocol:
    """Every choice behind an FVD number.

    Generated and real clips are ``(B, 3, T, H, W)`` in [-1, 1] (the generation contract); each frame
    is resized to ``resize`` (``resize_mode``, antialiased when shrinking), mapped to ``value_range``,
    normalised by ``mean`` / ``std`` in ``channel_order`` and fed to ``feature_network`` (a vidlearn
    model name) loaded from ``weights`` (the file name; ``None``: random initialisation, comparable to
    nothing). ``feature_layer`` is ``"logits"`` (the network's class scores: the published FVD's 400
    I3D logits) or ``"features"`` (``forward_features``, I3D's 1024-d pooled map). ``clip_length``
    frames per clip, each shown ``repeat_frames`` times in a row to the network (a C3D that needs 16
    frames scoring 8-frame clips: 2), ``num_samples`` clips per side; ``real_split`` names the real data.
    """

    feature_network: str = "i3d"
    weights: str | None = None
    feature_layer: Literal["logits", "features"] = "logits"
    resize: tuple[int, int] | None = (224, 224)
    resize_mode: Literal["bilinear", "bicubic", "nearest", "area"] = "bilinear"
    center_crop: int | None = None
    value_range: tuple[float, float] = (-1.0, 1.0)
    channel_order: Literal["RGB", "BGR"] = "RGB"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    clip_length: int = 16
    repeat_frames: int = 1
    num_samples: int = 2048
    real_split: str = "train"
    notes: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The protocol as plain values (for JSON), with ``weights`` spelled out when random."""
        return _protocol_values(self)


@dataclass(frozen=True)
class ISProtocol:
    """Every choice behind an Inception Score of video.

    Preprocessing as :class:`FVDProtocol` (the defaults are those of vidlearn's C3D Sports-1M weights:
    frames resized to 128x171, centre 112x112 crop, BGR in [0, 255] minus the Sports-1M mean); the
    classifier ``classifier`` (a vidlearn model name) from ``weights`` with ``num_classes`` outputs
    (101 for the UCF-101 C3D of the TGAN / DVD-GAN protocol). ``num_samples`` generated clips are split
    into ``splits`` groups; the score is the mean (and std) over the groups.
    """

    classifier: str = "c3d"
    weights: str | None = None
    num_classes: int = 101
    resize: tuple[int, int] | None = (128, 171)
    resize_mode: Literal["bilinear", "bicubic", "nearest", "area"] = "bilinear"
    center_crop: int | None = 112
    value_range: tuple[float, float] = (0.0, 255.0)
    channel_order: Literal["RGB", "BGR"] = "BGR"
    mean: tuple[float, float, float] = (90.25, 97.66, 101.41)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    clip_length: int = 16
    repeat_frames: int = 1
    num_samples: int = 10_000
    splits: int = 10
    notes: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The protocol as plain values (for JSON), with ``weights`` spelled out when random."""
        return _protocol_values(self)


@dataclass(frozen=True)
class MetricResult:
    """A metric's value with the protocol it was measured under and the sample counts."""

    name: str
    value: float
    protocol: Mapping[str, Any]
    num_fake: int
    num_real: int | None = None
    std: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "std": self.std, "num_fake": self.num_fake,
                "num_real": self.num_real, "protocol": dict(self.protocol), **dict(self.extra)}


# --- Fréchet distance ------------------------------------------------------------------------------

def _float64(array: ArrayLike, name: str) -> torch.Tensor:
    tensor = torch.as_tensor(np.asarray(array) if not isinstance(array, torch.Tensor) else array.detach())
    tensor = tensor.to(device="cpu", dtype=torch.float64)
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} has non-finite values")
    return tensor


def _psd_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric PSD matrix by its eigendecomposition (negative round-off clipped)."""
    values, vectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike) -> float:
    """Fréchet (2-Wasserstein) distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)``, in float64.

    ``mu (D,)``, ``sigma (D, D)`` symmetric PSD. ``tr((Σ1 Σ2)^½) = Σ_i sqrt(λ_i(Σ1^½ Σ2 Σ1^½))``.
    """
    m1, m2 = _float64(mu1, "mu1"), _float64(mu2, "mu2")
    s1, s2 = _float64(sigma1, "sigma1"), _float64(sigma2, "sigma2")
    dim = m1.shape[0]
    if m1.shape != (dim,) or m2.shape != (dim,) or s1.shape != (dim, dim) or s2.shape != (dim, dim):
        raise ValueError(f"shapes must be mu (D,), sigma (D, D) alike; got {tuple(m1.shape)}, {tuple(s1.shape)}, "
                         f"{tuple(m2.shape)}, {tuple(s2.shape)}")
    root1 = _psd_sqrt(s1)
    cross = torch.linalg.eigvalsh(root1 @ s2 @ root1).clamp(min=0).sqrt().sum()
    value = (m1 - m2).square().sum() + torch.trace(s1) + torch.trace(s2) - 2.0 * cross
    return float(value)


def feature_statistics(features: ArrayLike) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(D,)`` and unbiased covariance ``(D, D)`` (as ``np.cov``) of ``features (N, D)``, float64."""
    x = _float64(features, "features")
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"features must be (N, D) with N >= 2, got shape {tuple(x.shape)}")
    mean = x.mean(dim=0)
    centred = x - mean
    return mean, centred.T @ centred / (x.shape[0] - 1)


def frechet_distance_from_features(real: ArrayLike, fake: ArrayLike) -> float:
    """The Fréchet distance between Gaussians fitted to ``real (N, D)`` and ``fake (M, D)``."""
    return frechet_distance(*feature_statistics(real), *feature_statistics(fake))


# --- preprocessing and feature extraction -----------------------------------------------------------

def prepare_clips(clips: torch.Tensor, protocol: FVDProtocol | ISProtocol) -> torch.Tensor:
    """Clips ``(B, 3, T, H, W)`` in [-1, 1] -> the feature network's input under ``protocol``."""
    if clips.ndim != 5 or clips.shape[1] != 3:
        raise ValueError(f"clips must be (B, 3, T, H, W) in [-1, 1], got shape {tuple(clips.shape)}")
    if protocol.repeat_frames < 1:
        raise ValueError(f"repeat_frames must be >= 1, got {protocol.repeat_frames}")
    if clips.shape[2] != protocol.clip_length:
        raise ValueError(f"the protocol's clip_length is {protocol.clip_length} frames, the clips have "
                         f"{clips.shape[2]}")
    batch, channels, frames = clips.shape[:3]
    x = clips.float().clamp(-1.0, 1.0).transpose(1, 2).flatten(0, 1)  # (B*T, 3, H, W)
    if protocol.resize is not None and tuple(x.shape[-2:]) != tuple(protocol.resize):
        shrinking = protocol.resize[0] < x.shape[-2] or protocol.resize[1] < x.shape[-1]
        antialias = shrinking and protocol.resize_mode in ("bilinear", "bicubic")
        corners = False if protocol.resize_mode in ("bilinear", "bicubic") else None
        x = F.interpolate(x, size=protocol.resize, mode=protocol.resize_mode, align_corners=corners,
                          antialias=antialias)
    if protocol.center_crop is not None:
        size = protocol.center_crop
        height, width = x.shape[-2:]
        if size > min(height, width):
            raise ValueError(f"center_crop {size} is larger than the resized frames {height}x{width}")
        top, left = (height - size) // 2, (width - size) // 2
        x = x[..., top : top + size, left : left + size]
    low, high = protocol.value_range
    x = low + (x + 1.0) * ((high - low) / 2.0)
    if protocol.channel_order == "BGR":
        x = x.flip(1)
    mean = torch.tensor(protocol.mean, dtype=x.dtype, device=x.device)[:, None, None]
    std = torch.tensor(protocol.std, dtype=x.dtype, device=x.device)[:, None, None]
    x = (x - mean) / std
    x = x.view(batch, frames, channels, *x.shape[-2:]).transpose(1, 2)
    if protocol.repeat_frames > 1:  # (f0, f0, f1, f1, ...): the clip slowed down, its motion kept
        x = x.repeat_interleave(protocol.repeat_frames, dim=2)
    return x.contiguous()


def _batches(clips: torch.Tensor | Iterable[torch.Tensor], batch_size: int) -> Iterable[torch.Tensor]:
    if isinstance(clips, torch.Tensor):
        yield from clips.split(batch_size)
    else:
        for item in clips:
            yield item[0] if isinstance(item, (tuple, list)) else item


@torch.no_grad()
def collect_outputs(network: nn.Module, clips: torch.Tensor | Iterable[torch.Tensor],
                    protocol: FVDProtocol | ISProtocol, *, output: Literal["logits", "features", "probs"],
                    num_samples: int, batch_size: int = 16, device: torch.device | str | None = None) -> torch.Tensor:
    """The network's ``output`` for the first ``num_samples`` clips: ``(num_samples, D)`` float64 on CPU.

    ``clips`` is a tensor ``(N, 3, T, H, W)`` or an iterable of such batches (or of ``(clips, ...)``
    tuples: a DataLoader), in [-1, 1]. Fewer than ``num_samples`` clips is an error.
    """
    device = torch.device(device) if device is not None else next(network.parameters()).device
    network.eval()
    outputs, count = [], 0
    for batch in _batches(clips, batch_size):
        if count >= num_samples:
            break
        batch = batch[: num_samples - count].to(device)
        x = prepare_clips(batch, protocol)
        if output == "features":
            result = network.forward_features(x)  # type: ignore[operator]
        else:
            result = network(x)
            if output == "probs":
                result = result.float().softmax(dim=1)
        outputs.append(result.double().cpu())
        count += len(batch)
    if count < num_samples:
        raise ValueError(f"the protocol asks for {num_samples} clips, only {count} were given")
    return torch.cat(outputs)


def frechet_video_distance(real: torch.Tensor | Iterable[torch.Tensor], fake: torch.Tensor | Iterable[torch.Tensor],
                           network: nn.Module, protocol: FVDProtocol, *, batch_size: int = 16,
                           device: torch.device | str | None = None) -> MetricResult:
    """FVD between ``protocol.num_samples`` real and generated clips ``(N, 3, T, H, W)`` in [-1, 1]."""
    output = "logits" if protocol.feature_layer == "logits" else "features"
    kwargs = {"output": output, "num_samples": protocol.num_samples, "batch_size": batch_size, "device": device}
    real_features = collect_outputs(network, real, protocol, **kwargs)  # type: ignore[arg-type]
    fake_features = collect_outputs(network, fake, protocol, **kwargs)  # type: ignore[arg-type]
    value = frechet_distance_from_features(real_features, fake_features)
    return MetricResult(name="fvd", value=value, protocol=protocol.as_dict(), num_fake=len(fake_features),
                        num_real=len(real_features))


# --- Inception Score and accuracy ------------------------------------------------------------------

def inception_score(probs: ArrayLike, splits: int = 1) -> tuple[float, float]:
    """``exp(E_x KL(p(y|x) || p(y)))`` per split of ``probs (N, K)``; ``(mean, std)`` over the splits.

    ``p(y)`` is each split's mean prediction; ``0 log 0 = 0``. Uniform predictions give 1; one-hot
    predictions spread evenly over ``K`` classes give ``K``.
    """
    p = _float64(probs, "probs")
    if p.ndim != 2 or p.shape[0] < splits or splits < 1:
        raise ValueError(f"probs must be (N, K) with N >= splits >= 1, got shape {tuple(p.shape)}, splits={splits}")
    if (p < 0).any() or not torch.allclose(p.sum(dim=1), torch.ones(len(p), dtype=p.dtype), atol=1e-6):
        raise ValueError("probs must be probability rows (non-negative, summing to 1): pass softmax outputs")
    scores = []
    for part in torch.tensor_split(p, splits):
        marginal = part.mean(dim=0, keepdim=True)
        kl = torch.xlogy(part, part) - torch.xlogy(part, marginal.expand_as(part))
        scores.append(kl.sum(dim=1).mean().exp())
    values = torch.stack(scores)
    return float(values.mean()), float(values.std(unbiased=False))


def inception_score_of_clips(fake: torch.Tensor | Iterable[torch.Tensor], classifier: nn.Module,
                             protocol: ISProtocol, *, batch_size: int = 16,
                             device: torch.device | str | None = None) -> MetricResult:
    """The Inception Score of ``protocol.num_samples`` generated clips under ``protocol``."""
    probs = collect_outputs(classifier, fake, protocol, output="probs", num_samples=protocol.num_samples,
                            batch_size=batch_size, device=device)
    if probs.shape[1] != protocol.num_classes:
        raise ValueError(f"the classifier has {probs.shape[1]} classes, the protocol says {protocol.num_classes}")
    mean, std = inception_score(probs, protocol.splits)
    return MetricResult(name="inception_score", value=mean, std=std, protocol=protocol.as_dict(),
                        num_fake=len(probs))


def classification_accuracy(scores: ArrayLike, labels: ArrayLike) -> float:
    """Percent of rows of ``scores (N, K)`` (logits or probabilities) whose arg-max is ``labels (N,)``."""
    s, y = torch.as_tensor(scores), torch.as_tensor(labels)
    if s.ndim != 2 or y.shape != (s.shape[0],) or len(y) == 0:
        raise ValueError(f"scores must be (N, K) and labels (N,), N >= 1; got {tuple(s.shape)}, {tuple(y.shape)}")
    return float((s.argmax(dim=1).cpu() == y.cpu()).double().mean() * 100.0)


@torch.no_grad()
def sample_accuracy(generator: nn.Module, classifier: nn.Module, *, num_classes: int, z_dim: int,
                    num_per_class: int, preprocess: Callable[[torch.Tensor], torch.Tensor] | None = None,
                    truncation: float | None = None, batch_size: int = 16, seed: int = 0) -> MetricResult:
    """Percent of ``num_per_class`` samples of every class that ``classifier`` recognises as that class.

    ``generator(z, y)`` gives clips in [-1, 1]; ``preprocess`` maps them to the classifier's input (its
    training normalisation; identity when ``None``). ``z`` comes from a private generator seeded with
    ``seed`` (from :func:`~vidlearn.generation.models.truncated_normal` with ``truncation``), so two
    checkpoints are compared on the same latents. Per-class accuracies are in ``extra["per_class"]``.
    """
    from vidlearn.generation.models.generator import truncated_normal

    if num_per_class < 1 or num_classes < 1:
        raise ValueError(f"num_classes and num_per_class must be >= 1, got {num_classes}, {num_per_class}")
    device = next(generator.parameters()).device
    labels = torch.arange(num_classes).repeat_interleave(num_per_class)
    latents = truncated_normal((len(labels), z_dim), truncation, generator=torch.Generator().manual_seed(seed))
    generator.eval()
    classifier.eval()
    predictions = []
    for z, y in zip(latents.split(batch_size), labels.split(batch_size)):
        clips = generator(z.to(device), y.to(device))
        inputs = preprocess(clips) if preprocess is not None else clips
        predictions.append(classifier(inputs).argmax(dim=1).cpu())
    correct = (torch.cat(predictions) == labels).double().view(num_classes, num_per_class)
    per_class = (correct.mean(dim=1) * 100.0).tolist()
    protocol = {"num_classes": num_classes, "num_per_class": num_per_class, "truncation": truncation, "seed": seed}
    return MetricResult(name="sample_accuracy", value=float(correct.mean() * 100.0), protocol=protocol,
                        num_fake=len(labels), extra={"per_class": per_class})
