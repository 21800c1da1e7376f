"""Training and scoring DeepSORT's re-identification network on identity crops.

Datasets return ``(crop float (3, H, W) in [0, 1], label int)`` with labels ``0..num_classes-1``:

* :class:`Market1501Crops`: a folder of Market-1501 images named ``PID_cCsS_FRAME_NN.jpg`` (``0002_c1s1_000451_03
  .jpg``: person 2, camera 1); person ids ``-1`` (junk) and ``0`` (distractors) are left out unless asked for.
* :class:`SyntheticReIDCrops`: objects of :func:`vidlearn.synthetic.scene.sample_tracking_scene` scenes,
  rendered and cut out with :func:`~vidlearn.tracking.models.reid.crop_boxes` (one identity per object of
  each scene: same shape families, different colours and textures; frames where the object is less than
  ``min_visibility`` visible are skipped).

:func:`train_reid` trains with :class:`vidlearn.engine.Trainer` (automatic step: cross-entropy on the
cosine-softmax logits, Adam at 1e-3 as cosine_metric_learning); :func:`embed_crops` and :func:`rank1_map`
score retrieval (Market-1501's protocol: a gallery image of the query's person from the query's camera is
not counted).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from .models.reid import CROP_SIZE, crop_boxes

__all__ = [
    "Market1501Crops",
    "MotSequenceCrops",
    "SyntheticReIDCrops",
    "embed_crops",
    "evaluate_retrieval",
    "rank1_map",
    "reid_step",
    "train_reid",
]

_MARKET_NAME = re.compile(r"^(-?\d+)_c(\d+)")


class Market1501Crops(Dataset):
    """Person crops of a Market-1501 folder (``bounding_box_train``, ``query``, ...), resized to ``size``.

    Args:
        root: the folder of ``.jpg`` files.
        size: output ``(height, width)``.
        keep_junk: keep person ids ``-1`` and ``0`` (as Market's gallery does for evaluation).

    Attributes ``person_ids int64 (N,)``, ``cameras int64 (N,)`` (the file names' numbers) and ``num_classes``.
    """

    def __init__(self, root: str | os.PathLike, *, size: Sequence[int] = CROP_SIZE, keep_junk: bool = False) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"Market-1501 folder {self.root} does not exist")
        files, person_ids, cameras = [], [], []
        for path in sorted(self.root.glob("*.jpg")):
            match = _MARKET_NAME.match(path.name)
            if match is None:
                raise ValueError(f"{path}: not a Market-1501 name PID_cCAMERA_..., e.g. 0002_c1s1_000451_03.jpg")
            person = int(match.group(1))
            if person <= 0 and not keep_junk:
                continue
            files.append(path)
            person_ids.append(person)
            cameras.append(int(match.group(2)))
        if not files:
            raise ValueError(f"no Market-1501 images (PID_cCAMERA_....jpg) in {self.root}")
        self.files = files
        self.person_ids = np.array(person_ids, dtype=np.int64)
        self.cameras = np.array(cameras, dtype=np.int64)
        unique, self.labels = np.unique(self.person_ids, return_inverse=True)
        self.num_classes = len(unique)
        self.size = tuple(int(s) for s in size)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        from torchvision.io import ImageReadMode, read_image

        try:
            image = read_image(str(self.files[index]), mode=ImageReadMode.RGB)
        except RuntimeError as error:
            raise ValueError(f"{self.files[index]}: cannot decode: {error}") from error
        crop = F.interpolate(image[None].float().div_(255.0), size=self.size, mode="bilinear", antialias=True,
                             align_corners=False)[0]
        return crop.clamp_(0.0, 1.0), int(self.labels[index])


class SyntheticReIDCrops(Dataset):
    """Identity crops cut from rendered synthetic tracking scenes, held in memory.

    Args:
        num_scenes: scenes (seeds ``seed .. seed + num_scenes - 1``); identities ``num_scenes * objects``.
        objects_per_scene: objects per scene.
        frames_per_scene: frames rendered per scene (crops per identity, at most).
        size: crop ``(height, width)``.
        frame_size: rendered frame ``(height, width)``.
        min_visibility: skip crops of objects less visible than this (occluded or leaving the view).
        seed: first scene seed.
        scene: ``"tracking"`` (:func:`~vidlearn.synthetic.scene.sample_tracking_scene`: shapes and colours
            vary) or ``"look_alike"`` (:func:`~vidlearn.synthetic.mot.sample_mot_scene`: one shape and two
            colours per scene, identities differ in texture; the objects of the tracking demo).
        keep_aspect: widen boxes to the crop's aspect ratio first (deep_sort's way for people); ``False``
            stretches each box to the crop, which suits the square synthetic objects (no background).

    Attributes ``crops float (N, 3, H, W)``, ``labels int64 (N,)``, ``scene_frames int64 (N,)`` (the frame
    each crop comes from) and ``num_classes``; an identity never seen is not counted (labels stay dense).
    """

    def __init__(self, num_scenes: int, *, objects_per_scene: int = 6, frames_per_scene: int = 8,
                 size: Sequence[int] = CROP_SIZE, frame_size: Sequence[int] = (128, 128),
                 min_visibility: float = 0.5, seed: int = 0, scene: str = "tracking", keep_aspect: bool = True) -> None:
        from vidlearn.synthetic.mot import MotSceneConfig, render_mot_sequence
        from vidlearn.synthetic.scene import render_scene, sample_tracking_scene

        if num_scenes < 1 or objects_per_scene < 1 or frames_per_scene < 1:
            raise ValueError("num_scenes, objects_per_scene and frames_per_scene must be >= 1, got "
                             f"{num_scenes}, {objects_per_scene}, {frames_per_scene}")
        if scene not in ("tracking", "look_alike"):
            raise ValueError(f"scene must be 'tracking' or 'look_alike', got {scene!r}")
        crops, identities, frames_of = [], [], []
        frame_size = (int(frame_size[0]), int(frame_size[1]))
        for index in range(num_scenes):
            if scene == "tracking":
                spec = sample_tracking_scene(seed + index, num_objects=objects_per_scene,
                                             num_frames=frames_per_scene, size=frame_size)
                rendered = render_scene(spec, frames_per_scene, frame_size)
                frames, boxes, visibility = rendered.frames, rendered.boxes, rendered.visibility
            else:
                config = MotSceneConfig(num_objects=objects_per_scene, num_frames=frames_per_scene, size=frame_size)
                sequence = render_mot_sequence(seed + index, config)
                frames, boxes = sequence.frames, torch.from_numpy(sequence.boxes).float()
                visibility = torch.from_numpy(sequence.visibility)
            visible = visibility >= min_visibility  # (T, N)
            frame_index, obj = visible.nonzero(as_tuple=True)
            crops.append(crop_boxes(frames, boxes[frame_index, obj], frame_index, size=size, keep_aspect=keep_aspect))
            identities.append(index * objects_per_scene + obj)
            frames_of.append(frame_index)
        self.crops = torch.cat(crops)
        unique, labels = torch.unique(torch.cat(identities), return_inverse=True)
        self.labels = labels.long()
        self.scene_frames = torch.cat(frames_of).long()
        self.num_classes = len(unique)
        if len(self.crops) == 0:
            raise ValueError(f"no object is {min_visibility:.0%} visible in {num_scenes} scenes")

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.crops[index], int(self.labels[index])


class MotSequenceCrops(Dataset):
    """Identity crops of MOTChallenge-format sequences whose frames are available (``img1/`` or a video).

    Every ground-truth row that is considered (flag 1), a pedestrian (class 1, or no class as in MOT15) and
    at least ``min_visibility`` visible (rows without visibility count as visible) gives one crop; frames are
    read in chunks and each chunk's boxes cut in one :func:`~vidlearn.tracking.models.reid.crop_boxes` call.
    Identities are ``(sequence, id)`` pairs, labelled densely. Crops are held as ``uint8`` (a MOT17 sequence
    has tens of thousands) and returned as float in [0, 1].

    Args:
        sequences: sequence folders (``seqinfo.ini``, ``gt/gt.txt``, frames).
        size: crop ``(height, width)``.
        min_visibility: skip more occluded rows.
        frame_step: use every ``frame_step``-th frame (neighbouring frames add little).

    Attributes ``crops uint8 (N, 3, H, W)``, ``labels int64 (N,)``, ``scene_frames int64 (N,)`` (frame numbers),
    ``groups int64 (N,)`` (sequence index) and ``num_classes``.
    """

    def __init__(self, sequences: Sequence[str | os.PathLike], *, size: Sequence[int] = CROP_SIZE,
                 min_visibility: float = 0.5, frame_step: int = 1) -> None:
        from .formats import read_mot
        from .pipeline import open_sequence

        if frame_step < 1:
            raise ValueError(f"frame_step must be >= 1, got {frame_step}")
        crops, identities, frames_of, groups = [], [], [], []
        for group, folder in enumerate(sequences):
            sequence = open_sequence(folder)
            gt_path = Path(folder) / "gt" / "gt.txt"
            if not gt_path.is_file():
                raise FileNotFoundError(f"{folder}: no ground truth {gt_path}")
            if not sequence.has_frames:
                raise FileNotFoundError(f"{folder}: no frames ({sequence.image_dir or 'img1/'} is missing)")
            gt = read_mot(gt_path, "gt", sequence.num_frames or None)
            keep = ((gt.scores != 0) & np.isin(gt.classes, (1, -1))
                    & ((gt.visibility < 0) | (gt.visibility >= min_visibility)) & ((gt.frames - 1) % frame_step == 0))
            gt = gt.select(keep)
            for first, frames in sequence.frame_chunks(32):
                here = np.flatnonzero((gt.frames >= first) & (gt.frames < first + len(frames)))
                if not len(here):
                    continue
                rows = gt.select(here)
                cut = crop_boxes(frames, torch.from_numpy(rows.boxes_xyxy), torch.from_numpy(rows.frames - first),
                                 size=size)
                crops.append(cut.mul_(255.0).round_().to(torch.uint8))
                identities.append(rows.ids + group * 1_000_000)
                frames_of.append(rows.frames)
                groups.append(np.full(len(rows), group))
        if not crops:
            raise ValueError(f"no usable ground-truth box in {len(sequences)} sequence(s)")
        self.crops = torch.cat(crops)
        unique, labels = np.unique(np.concatenate(identities), return_inverse=True)
        self.labels = torch.from_numpy(labels.astype(np.int64))
        self.scene_frames = torch.from_numpy(np.concatenate(frames_of).astype(np.int64))
        self.groups = torch.from_numpy(np.concatenate(groups).astype(np.int64))
        self.num_classes = len(unique)

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.crops[index].float().div_(255.0), int(self.labels[index])


def evaluate_retrieval(model: nn.Module, dataset: Dataset) -> dict[str, float]:
    """Rank-1 and mAP of ``model``'s features on ``dataset`` split in time: the query is every identity's
    crops from the first half of its scene's (or sequence's) frames, the gallery the crops from the rest.

    ``dataset`` has ``crops``, ``labels`` and ``scene_frames`` (and ``groups`` when it spans several
    sequences of different lengths).
    """
    frames = dataset.scene_frames.numpy()
    groups = getattr(dataset, "groups", torch.zeros(len(frames), dtype=torch.long)).numpy()
    middle = np.zeros(len(frames))
    for group in np.unique(groups):
        inside = groups == group
        middle[inside] = (frames[inside].min() + frames[inside].max()) / 2
    query = frames <= middle
    crops = dataset.crops
    if crops.dtype == torch.uint8:
        crops = crops.float().div_(255.0)
    features = embed_crops(model, crops)
    labels = dataset.labels.numpy()
    return rank1_map(features[torch.from_numpy(query)], labels[query], features[torch.from_numpy(~query)],
                     labels[~query])


def reid_step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict[str, Any]]:
    """The engine's automatic step: cross-entropy of the cosine-softmax logits; accuracy as a metric."""
    crops, labels = batch
    logits = model(crops)
    loss = F.cross_entropy(logits, labels)
    return loss, {"acc": (logits.argmax(1) == labels).float().mean().detach()}


def train_reid(
    model: nn.Module, dataset: Dataset, *, epochs: int = 30, max_steps: int | None = None, batch_size: int = 64,
    lr: float = 1e-3, weight_decay: float = 0.0, work_dir: str | os.PathLike = "runs/reid", device: str = "auto",
    num_workers: int = 0, seed: int = 0, progress: bool = False, resume: str | None = None,
    callbacks: Sequence[Any] = (),
) -> Any:
    """Train ``model`` (e.g. ``vidlearn.models.create("deepsort_reid", num_classes=dataset.num_classes)``).

    Adam at ``lr`` (cosine_metric_learning's 1e-3), ``epochs`` epochs or ``max_steps`` steps, checkpoints in
    ``work_dir`` (``resume="auto"`` continues); the learning rate stays constant, as in the reference.
    ``callbacks`` are engine callbacks (``on_step_end`` sees each step's ``loss`` and ``acc``). Returns the
    engine's ``History`` (per-epoch ``train_loss``, ``train_acc``).
    """
    from vidlearn.engine import OptimConfig, ScheduleConfig, Trainer, TrainerConfig

    num_classes = getattr(dataset, "num_classes", None)
    head = getattr(getattr(model, "classifier", None), "weight", None)
    if num_classes is not None and head is not None and head.shape[0] < num_classes:
        raise ValueError(f"the model's classifier has {head.shape[0]} outputs but the dataset has {num_classes} "
                         f"identities; create it with num_classes={num_classes}")
    trainer = Trainer(
        model, dataset, step_fn=reid_step, batch_size=batch_size, num_workers=num_workers, drop_last=True,
        optim=OptimConfig(name="adam", lr=lr, weight_decay=weight_decay), schedule=ScheduleConfig(name="constant"),
        callbacks=callbacks,
        config=TrainerConfig(max_epochs=epochs, max_steps=max_steps, work_dir=str(work_dir), seed=seed,
                             device=device, progress_bar=progress, log_every_steps=1),
    )
    return trainer.fit(resume=resume)


@torch.no_grad()
def embed_crops(model: nn.Module, crops: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """``(N, 3, H, W)`` crops -> ``(N, D)`` unit-length features with ``model.embed`` in eval mode (CPU out)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        parts = [model.embed(crops[i:i + batch_size].to(device)).cpu() for i in range(0, len(crops), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(parts) if parts else torch.zeros(0, 0)


def rank1_map(
    query_features: torch.Tensor, query_ids: np.ndarray, gallery_features: torch.Tensor, gallery_ids: np.ndarray,
    query_cameras: np.ndarray | None = None, gallery_cameras: np.ndarray | None = None,
) -> dict[str, float]:
    """Rank-1 accuracy and mean average precision of cosine retrieval (fractions, not percent).

    With cameras, gallery entries of the query's person seen by the query's camera are ignored (Market-1501's
    protocol). A query with no true match left in the gallery is skipped, as the protocol does.
    """
    distance = 1.0 - query_features.double() @ gallery_features.double().T  # (Q, G) cosine distance
    query_ids, gallery_ids = np.asarray(query_ids), np.asarray(gallery_ids)
    order = torch.argsort(distance, dim=1, stable=True).numpy()
    same = gallery_ids[order] == query_ids[:, None]  # (Q, G) in ranked order
    valid = np.ones_like(same)
    if query_cameras is not None and gallery_cameras is not None:
        valid = ~(same & (np.asarray(gallery_cameras)[order] == np.asarray(query_cameras)[:, None]))
    hits = same & valid
    counted = hits.any(axis=1)
    if not counted.any():
        raise ValueError("no query has a true match in the gallery")
    hits, valid = hits[counted], valid[counted]
    first_valid = np.argmax(valid, axis=1)
    rank1 = hits[np.arange(len(hits)), first_valid]
    # Precision at each true match = matches so far / valid entries so far; AP is its mean over the matches.
    precision = np.cumsum(hits, axis=1) / np.maximum(np.cumsum(valid, axis=1), 1)
    average_precision = (precision * hits).sum(axis=1) / hits.sum(axis=1)
    return {"rank1": float(rank1.mean()), "mAP": float(average_precision.mean()), "queries": int(counted.sum())}
