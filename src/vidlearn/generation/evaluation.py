"""Score a generator with a recipe's metric protocols: FVD, Inception Score and sample accuracy.

:func:`evaluate_generator` runs the metrics a :class:`~vidlearn.generation.recipe.GenerationEvaluateConfig`
enables and returns a dict keyed by metric, each entry a :meth:`MetricResult.as_dict` (value, sample
counts and every protocol choice: network, weights file, resize, value range, clip length, sample
count, real split). :func:`load_scorer` builds the network a metric uses from a weights file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from vidlearn.generation.metrics import (
    FVDProtocol,
    ISProtocol,
    frechet_video_distance,
    inception_score_of_clips,
    prepare_clips,
    sample_accuracy,
)
from vidlearn.generation.models import truncated_normal
from vidlearn.generation.recipe import GenerationEvaluateConfig, ScorerConfig
from vidlearn.generation.sampling import real_contexts
from vidlearn.models import create, load_weights

__all__ = ["RANDOM_NOTE", "evaluate_generator", "generated_batches", "load_scorer", "scorer_protocol",
           "variance_preserving_init"]


def load_scorer(cfg: ScorerConfig, *, num_classes: int | None = None) -> tuple[nn.Module, list[str] | None]:
    """The network ``cfg`` names, in eval mode, and its class names when its file carries them.

    A ``.safetensors`` file with vidlearn metadata (what ``vidlearn train`` and the generation demo
    write) rebuilds its own model and options; otherwise ``cfg.name`` is built with ``cfg.num_classes``
    (else ``num_classes``) and ``cfg.kwargs`` and the weights are loaded strictly; without weights it is a
    random network, the same every time (:func:`variance_preserving_init` drawn with seed 0), whose
    numbers compare with numbers of the same protocol only (the protocol says so).
    """
    if cfg.weights and Path(cfg.weights).suffix.lower() == ".safetensors":
        from vidlearn.recognition.checkpoints import trained_model_metadata

        try:
            meta = trained_model_metadata(cfg.weights)
        except ValueError:
            meta = {}
        if meta.get("model"):
            model = create(meta["model"], num_classes=meta["num_classes"], **meta.get("kwargs", {}))
            load_weights(model, cfg.weights)
            return model.eval(), list(meta.get("classes") or []) or None
    classes = cfg.num_classes or num_classes
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = create(cfg.name, **({"num_classes": classes} if classes else {}), **cfg.kwargs)
        if not cfg.weights:
            variance_preserving_init(model)
    if cfg.weights:
        load_weights(model, cfg.weights)
    return model.eval(), None


#: What a protocol without a weights file says about its network.
RANDOM_NOTE = ("random weights: Kaiming-normal (fan-in, ReLU) initialisation drawn with seed 0; comparable "
               "only with numbers of the same protocol")


def variance_preserving_init(model: nn.Module) -> None:
    """Kaiming-normal (fan-in, ReLU) conv / linear weights and zero biases: random features that keep their scale.

    PyTorch's default initialisation shrinks the variance about threefold per layer, so after I3D's
    dozens of layers a random network's features are ~1e-6 and every Fréchet distance ~1e-11; with a
    variance-preserving initialisation a random network is a usable (if weak) feature extractor.
    """
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def scorer_protocol(cfg: ScorerConfig, *, kind: str, clip_length: int, num_samples: int, real_split: str,
                    splits: int = 10, num_classes: int = 0) -> FVDProtocol | ISProtocol:
    """The :class:`FVDProtocol` (``kind="fvd"`` or ``"accuracy"``) or :class:`ISProtocol` (``"inception"``) of ``cfg``."""
    common = dict(weights=cfg.weights, resize=tuple(cfg.resize) if cfg.resize else None, center_crop=cfg.center_crop,
                  value_range=tuple(cfg.value_range), channel_order=cfg.channel_order, mean=tuple(cfg.mean),
                  std=tuple(cfg.std), clip_length=clip_length, repeat_frames=cfg.repeat_frames, num_samples=num_samples)
    if not cfg.weights:
        common["notes"] = RANDOM_NOTE
    if kind == "inception":
        return ISProtocol(classifier=cfg.name, num_classes=num_classes, splits=splits, **common)  # type: ignore[arg-type]
    return FVDProtocol(feature_network=cfg.name, feature_layer=cfg.feature_layer, real_split=real_split,  # type: ignore[arg-type]
                       **common)


def generated_batches(generator: nn.Module, *, num_samples: int, batch_size: int, truncation: float | None,
                      seed: int, real: Dataset | None = None) -> Iterator[torch.Tensor]:
    """``num_samples`` clips of ``generator`` in batches ``(<=batch_size, 3, T, R, R)``, classes cycling
    ``0, 1, ..., K-1`` (uniform), ``z`` from a private generator seeded with ``seed``.

    DVD-GAN-FP (``generator.context_frames > 0``) continues the real clips ``real`` in order (cycling),
    with their classes: the future-prediction protocol.
    """
    device = next(generator.parameters()).device
    rng = torch.Generator().manual_seed(seed)
    num_classes = generator.num_classes  # type: ignore[attr-defined]
    labels = torch.arange(num_samples) % num_classes
    latents = truncated_normal((num_samples, generator.z_dim), truncation, generator=rng)  # type: ignore[attr-defined]
    contexts: list[torch.Tensor | None] = [None] * num_samples
    given = getattr(generator, "context_frames", 0)
    if given:
        if real is None:
            raise ValueError("DVD-GAN-FP continues real clips: give the real data whose first frames it continues")
        context, labels = real_contexts(real, num_samples, given)
        contexts = list(context.split(batch_size))
    with torch.no_grad():
        for z, y, c in zip(latents.split(batch_size), labels.split(batch_size), contexts):
            yield generator(z.to(device), y.to(device), context=None if c is None else c.to(device))


def evaluate_generator(generator: nn.Module, cfg: GenerationEvaluateConfig, *, real: Dataset | None,
                       real_split: str, num_workers: int = 0, log: Any = None) -> dict[str, Any]:
    """The enabled metrics of ``cfg`` for ``generator`` (a :class:`DVDGANGenerator` in eval mode).

    ``real`` is the real data FVD compares with (items ``(clip in [-1, 1], class, ...)``), named
    ``real_split`` in the protocol. A classifier whose file names its classes must name the generator's.
    """
    generator.eval()
    frames, num_classes = generator.num_frames, generator.num_classes  # type: ignore[attr-defined]
    results: dict[str, Any] = {}

    def fake() -> Iterator[torch.Tensor]:
        return generated_batches(generator, num_samples=cfg.num_samples, batch_size=cfg.batch_size,
                                 truncation=cfg.truncation, seed=cfg.seed, real=real)

    if cfg.fvd.enabled:
        if real is None:
            raise ValueError("FVD needs real clips: the recipe's data section names none")
        network, _ = load_scorer(cfg.fvd)
        protocol = scorer_protocol(cfg.fvd, kind="fvd", clip_length=frames, num_samples=cfg.num_samples,
                                   real_split=real_split)
        loader = DataLoader(real, batch_size=cfg.batch_size, shuffle=False, num_workers=num_workers)
        result = frechet_video_distance(loader, fake(), network, protocol, batch_size=cfg.batch_size)  # type: ignore[arg-type]
        results["fvd"] = {**result.as_dict(), "truncation": cfg.truncation, "seed": cfg.seed}
        if log:
            log(f"FVD {result.value:.2f} ({result.num_real} real, {result.num_fake} generated)")
    if cfg.inception.enabled:
        classifier, _ = load_scorer(cfg.inception)  # the protocol checks its class count on its outputs
        protocol = scorer_protocol(cfg.inception, kind="inception", clip_length=frames, num_samples=cfg.num_samples,
                                   real_split=real_split, splits=cfg.is_splits,
                                   num_classes=cfg.inception.num_classes or num_classes)
        result = inception_score_of_clips(fake(), classifier, protocol, batch_size=cfg.batch_size)  # type: ignore[arg-type]
        results["inception_score"] = {**result.as_dict(), "truncation": cfg.truncation, "seed": cfg.seed}
        if log:
            log(f"IS {result.value:.3f} ± {result.std:.3f} ({result.num_fake} generated)")
    if cfg.accuracy.enabled:
        if getattr(generator, "context_frames", 0):
            raise ValueError("sample accuracy judges class-conditional samples drawn from noise; a DVD-GAN-FP "
                             "generator continues real clips, whose class their first frames already show: "
                             "disable evaluate.accuracy for it")
        classifier, names = load_scorer(cfg.accuracy, num_classes=num_classes)
        own = list(getattr(generator, "classes", None) or [])
        if names and own and names != own:
            raise ValueError(f"{cfg.accuracy.weights}: the classifier's classes {names} are not the generator's {own}")
        protocol = scorer_protocol(cfg.accuracy, kind="accuracy", clip_length=frames, num_samples=cfg.num_samples,
                                   real_split=real_split)
        per_class = max(1, cfg.num_samples // num_classes)
        result = sample_accuracy(generator, classifier, num_classes=num_classes, z_dim=generator.z_dim,  # type: ignore[arg-type]
                                 num_per_class=per_class, preprocess=lambda clips: prepare_clips(clips, protocol),
                                 truncation=cfg.truncation, batch_size=cfg.batch_size, seed=cfg.seed)
        entry = result.as_dict()
        entry["protocol"] = {**protocol.as_dict(), **entry["protocol"], "chance": 100.0 / num_classes}
        entry["protocol"].pop("real_split", None)
        entry["protocol"].pop("feature_layer", None)
        results["sample_accuracy"] = entry
        if log:
            log(f"sample accuracy {result.value:.1f}% (chance {100.0 / num_classes:.1f}%, {result.num_fake} samples)")
    return results
