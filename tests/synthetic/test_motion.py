"""Tests of the motion-class dataset (vidlearn.synthetic.motion): determinism, balance, no single-frame
cue, motion as labelled."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from scipy.stats import ks_2samp
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from vidlearn.synthetic import PRESETS, SyntheticMotionDataset, get_preset, sample_motion_scene
from vidlearn.synthetic.motion import _video_rng
from vidlearn.synthetic.scene import Background, Objects, SceneSpec, object_states, render_scene

SIZE = (32, 32)


def test_same_seed_same_clip_other_seed_or_split_differs():
    a = SyntheticMotionDataset(8, size=SIZE, num_frames=8, seed=3)
    b = SyntheticMotionDataset(8, size=SIZE, num_frames=8, seed=3)
    clip, label, info = a[5]
    assert clip.dtype == torch.uint8 and clip.shape == (8, 32, 32, 3)
    assert info == {"index": 5, "class_name": a.classes[label], "split": "train"}
    assert clip.numpy().tobytes() == b[5][0].numpy().tobytes()
    assert not torch.equal(clip, SyntheticMotionDataset(8, size=SIZE, num_frames=8, seed=4)[5][0])
    assert not torch.equal(
        clip, SyntheticMotionDataset(8, size=SIZE, num_frames=8, seed=3, split="test")[5][0]
    )


def test_labels_are_balanced_and_classes_documented():
    dataset = SyntheticMotionDataset(80, size=SIZE)
    assert dataset.classes == list(PRESETS["motion8"].classes) and len(dataset.classes) == 8
    assert np.bincount(dataset.labels()).tolist() == [10] * 8
    assert [dataset[i][1] for i in range(8)] == list(range(8))
    hard = SyntheticMotionDataset(20, preset="motion10-hard", size=SIZE)
    assert len(hard.classes) == 10 and np.bincount(hard.labels()).tolist() == [2] * 10


def test_transform_and_cache():
    dataset = SyntheticMotionDataset(
        4, size=SIZE, num_frames=4, transform=lambda c: c.float() / 255, cache=True
    )
    first = dataset[1][0]
    assert first.dtype == torch.float32 and first.max() <= 1.0
    assert torch.equal(dataset[1][0], first)


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match="'motion99'"):
        SyntheticMotionDataset(4, preset="motion99")
    with pytest.raises(ValueError, match="'validation'"):
        SyntheticMotionDataset(4, split="validation")
    with pytest.raises(ValueError, match="num_videos must be >= 1, got 0"):
        SyntheticMotionDataset(0)
    with pytest.raises(IndexError, match="index 4"):
        SyntheticMotionDataset(4, size=SIZE)[4]


def _scenes(per_class: int, preset: str = "motion8") -> tuple[list[SceneSpec], np.ndarray]:
    classes = len(PRESETS[preset].classes)
    labels = np.arange(per_class * classes) % classes
    scenes = [
        sample_motion_scene(int(y), _video_rng(1, "train", i), preset=preset, size=SIZE)
        for i, y in enumerate(labels)
    ]
    return scenes, labels


def _frame_features(frame: torch.Tensor) -> np.ndarray:
    """Single-frame features that see colours, layout and object size: an 8x8 thumbnail, a colour
    histogram, the share of pixels far from the frame's median colour (about the object area) and the
    share of edge pixels (about the outline length; the backgrounds are smooth)."""
    x = frame.float() / 255
    thumb = torch.nn.functional.avg_pool2d(x.permute(2, 0, 1)[None], 4).flatten()
    hist = torch.histc(x.flatten(), bins=8, min=0, max=1) / x.numel()
    median = x.reshape(-1, 3).median(0).values
    far = ((x - median).abs().amax(-1) > 0.15).float().mean().view(1)
    grey = x.mean(-1)
    edges = torch.maximum(grey.diff(dim=0)[:, :-1].abs(), grey.diff(dim=1)[:-1].abs())
    edge_share = (edges > 0.08).float().mean().view(1)
    return torch.cat([thumb, hist, far, edge_share]).numpy()


def _probe(features: np.ndarray, labels: np.ndarray) -> float:
    # A linear probe in closed form (ridge regression on one-hot targets): fast and deterministic.
    model = make_pipeline(StandardScaler(), RidgeClassifier(alpha=10.0))
    with threadpool_limits(1):  # BLAS threads only contend on a small problem
        return float(cross_val_score(model, features, labels, cv=4).mean())


def test_a_linear_probe_on_single_frame_features_is_at_chance():
    # Catches appearance leaks (colour, background, layout); pose leaks are tested exactly below.
    scenes, labels = _scenes(per_class=30)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # hundreds of tiny renders: a second thread only adds waiting
    try:
        clips = [render_scene(s, 16, SIZE).frames for s in scenes]
    finally:
        torch.set_num_threads(threads)
    first_frames, last_frames = [c[0] for c in clips], [c[-1] for c in clips]
    chance = 1 / 8
    for frames in (first_frames, last_frames):
        accuracy = _probe(np.stack([_frame_features(f) for f in frames]), labels)
        assert accuracy < chance + 0.08, f"single frames give {accuracy:.2f} top-1 (chance {chance:.2f})"


@pytest.mark.parametrize("frame", [0, 15])
def test_pose_distribution_at_a_given_frame_is_the_same_for_every_class(frame):
    # The strongest possible single-frame leaks: where the objects are and how big they are at a
    # known frame index, compared between the classes that move them in opposite ways.
    scenes, labels = _scenes(per_class=60)
    centers, angles, radii = zip(*(object_states(s.objects, np.array([frame])) for s in scenes))
    first_x = np.array([np.mod(c[0, 0, 0], 1.0) for c in centers])
    first_y = np.array([np.mod(c[0, 0, 1], 1.0) for c in centers])
    log_r = np.log([r[0, 0] for r in radii])
    angle = np.array([np.mod(a[0, 0], 2 * math.pi) for a in angles])
    names = PRESETS["motion8"].classes
    pairs = [
        ("move_left", "move_right", first_x),
        ("move_up", "move_down", first_y),
        ("zoom_in", "zoom_out", log_r),
        ("rotate_clockwise", "rotate_anticlockwise", angle),
        ("move_right", "zoom_in", log_r),
    ]
    for a, b, values in pairs:
        p = ks_2samp(values[labels == names.index(a)], values[labels == names.index(b)]).pvalue
        assert p > 0.001, f"{a} vs {b} differ at frame {frame} (KS p={p:.2g})"


def _object_mask(scene: SceneSpec) -> torch.Tensor:
    """Render the first object alone on a black background: bool (T, H, W)."""
    keep = np.arange(len(scene.objects.shape)) == 0
    fields = {f.name: getattr(scene.objects, f.name) for f in dataclasses.fields(Objects)}
    fields = {k: (v[keep] if isinstance(v, np.ndarray) else v) for k, v in fields.items()}
    fields["color"] = np.ones((1, 3))
    fields["texture_amplitudes"] = np.zeros_like(fields["texture_amplitudes"])
    black = Background(np.zeros(3), np.zeros((1, 2)), np.zeros((1, 3)), np.zeros(1))
    alone = dataclasses.replace(
        scene, background=black, objects=Objects(**fields), camera=type(scene.camera)(), noise_std=0.0
    )
    return render_scene(alone, 16, SIZE).frames.float().mean(-1) > 127


def _circular_centroid(mask: torch.Tensor) -> np.ndarray:
    """Centroid (x, y) in pixels of each frame's mask on the torus: (T, 2)."""
    height, width = mask.shape[1:]
    out = []
    for axis, extent in ((2, width), (1, height)):
        coords = torch.arange(extent, dtype=torch.float32) * 2 * math.pi / extent
        weights = mask.float().sum(3 - axis)  # (T, extent)
        angle = torch.atan2((weights * coords.sin()).sum(1), (weights * coords.cos()).sum(1))
        out.append(torch.remainder(angle, 2 * math.pi).numpy() * extent / (2 * math.pi))
    return np.stack(out, 1)


def _wrapped_steps(track: np.ndarray, extent: float) -> np.ndarray:
    steps = np.diff(track, axis=0)
    return steps - extent * np.round(steps / extent)


@pytest.mark.parametrize("preset", ["motion8", "motion10-hard", "motion4-solid"])
def test_the_rendered_motion_is_the_labelled_one(preset):
    scenes, labels = _scenes(per_class=3, preset=preset)
    names = PRESETS[preset].classes
    for scene, label in zip(scenes, labels):
        name = names[label]
        mask = _object_mask(scene)
        steps = _wrapped_steps(_circular_centroid(mask), 32.0)  # (15, 2) pixels per frame
        dx, dy = steps.sum(0)
        if name.startswith("move_"):
            expected = {"move_right": (1, 0), "move_left": (-1, 0), "move_up": (0, -1), "move_down": (0, 1)}[
                name
            ]
            along = dx * expected[0] + dy * expected[1]
            across = dx * expected[1] + dy * expected[0]
            assert along > 4 and abs(across) < along / 3, f"{name}: moved ({dx:.1f}, {dy:.1f}) px"
        elif name.startswith("rotate_"):
            # Signed area swept by the unwrapped centroid path: > 0 is clockwise on screen (y down).
            path = np.cumsum(steps, 0)
            area = (path[:-1, 0] * path[1:, 1] - path[:-1, 1] * path[1:, 0]).sum()
            sign = 1 if name == "rotate_clockwise" else -1
            assert sign * area > 5, f"{name}: swept area {area:.1f} px^2"
        elif name.startswith("zoom_"):
            growth = np.sign(np.diff(mask.sum((1, 2)).numpy()))
            sign = 1 if name == "zoom_in" else -1
            changes = growth[growth != 0]  # the size wraps once in a while: most changes, not all
            assert len(changes) >= 5 and np.mean(changes == sign) > 0.7, f"{name}: area changes {growth}"
        else:
            axis = 0 if name == "oscillate_horizontal" else 1
            travel = np.abs(steps).sum(0)
            assert travel[axis] > 4 * max(travel[1 - axis], 0.5), f"{name}: travel {travel}"


def test_the_solid_preset_keeps_plain_backgrounds_and_larger_faster_shapes():
    plain = get_preset("motion4")
    solid = get_preset("motion4-solid")
    assert solid.classes == plain.classes and solid.background == "solid" and plain.background is None
    for index in range(8):
        spec = sample_motion_scene(index % 4, np.random.default_rng(index), preset=solid, size=(32, 32))
        assert not spec.background.amplitudes.any()  # one flat colour
        assert ((spec.objects.radius >= 0.2) & (spec.objects.radius <= 0.3)).all()
        speed = np.linalg.norm(spec.objects.velocity, axis=1)
        assert ((speed >= 0.05 - 1e-9) & (speed <= 0.075 + 1e-9)).all()  # 1.25 x motion4's 0.04-0.06
    # the other presets still draw all three kinds of background
    kinds = {_background_kind(sample_motion_scene(0, np.random.default_rng(i), preset="motion4").background)
             for i in range(30)}
    assert kinds == {"noise", "gradient", "solid"}


def _background_kind(background) -> str:
    active = np.abs(background.amplitudes).sum(1) > 0
    return "solid" if not active.any() else ("gradient" if active.sum() == 1 else "noise")
