"""Tests of the procedural scene renderer (vidlearn.synthetic.scene)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from vidlearn.synthetic.scene import (
    SHAPES,
    Background,
    Camera,
    Objects,
    SceneSpec,
    downscale,
    render_scene,
    sample_background,
    sample_tracking_scene,
)

GREY = np.array([0.5, 0.5, 0.5])


def solid(color=GREY) -> Background:
    return Background(np.asarray(color, float), np.zeros((1, 2)), np.zeros((1, 3)), np.zeros(1))


def one_object(shape: str, *, anchor=(0.5, 0.5), radius=0.2, angle=0.0, **motion) -> Objects:
    return Objects.static(
        shape=np.array([SHAPES.index(shape)]),
        color=np.array([[1.0, 0.0, 0.0]]),
        anchor=np.array([anchor]),
        radius=np.array([radius]),
        angle=np.array([angle]),
        **motion,
    )


def foreground(frames: torch.Tensor, color=GREY) -> torch.Tensor:
    """Pixels differing from the solid background colour: bool (T, H, W)."""
    return (frames.float() - torch.tensor(color) * 255).abs().amax(-1) > 8


def test_same_seed_same_bytes_different_seed_different():
    a = render_scene(sample_tracking_scene(5), 6, (48, 64))
    b = render_scene(sample_tracking_scene(5), 6, (48, 64))
    c = render_scene(sample_tracking_scene(6), 6, (48, 64))
    assert a.frames.dtype == torch.uint8 and a.frames.shape == (6, 48, 64, 3)
    assert a.frames.numpy().tobytes() == b.frames.numpy().tobytes()
    assert torch.equal(a.boxes, b.boxes)
    assert not torch.equal(a.frames, c.frames)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("angle", [0.0, 0.4, 2.0])
def test_box_is_tight_around_the_rendered_object(shape, angle):
    spec = SceneSpec(
        background=solid(), objects=one_object(shape, anchor=(0.45, 0.55), radius=0.25, angle=angle)
    )
    out = render_scene(spec, 1, (64, 64))
    mask = foreground(out.frames)[0]
    ys, xs = torch.nonzero(mask, as_tuple=True)
    x1, y1, x2, y2 = out.boxes[0, 0].tolist()
    # Every object pixel (its centre at i + 0.5) lies in the box, and the box hugs the pixels: each edge
    # is within about one pixel of the outermost object pixel.
    assert x1 - 0.5 <= xs.min() + 0.5 and xs.max() + 0.5 <= x2 + 0.5
    assert y1 - 0.5 <= ys.min() + 0.5 and ys.max() + 0.5 <= y2 + 0.5
    assert abs(xs.min().item() - x1) < 1.5 and abs(xs.max().item() + 1 - x2) < 1.5
    assert abs(ys.min().item() - y1) < 1.5 and abs(ys.max().item() + 1 - y2) < 1.5
    assert out.visibility[0, 0] == pytest.approx(1.0, abs=0.05)


def test_boxes_follow_every_object_of_a_tracking_scene():
    spec = sample_tracking_scene(11, num_objects=3, num_frames=10, size=(64, 64))
    out = render_scene(spec, 10, (64, 64))
    assert out.boxes.shape == (10, 3, 4) and out.visibility.shape == (10, 3)
    assert torch.equal(out.ids, torch.arange(3))
    # Each object alone on a solid background, through the whole clip: pixels inside its box.
    for n in range(3):
        keep = np.arange(3) == n
        fields = {
            f.name: getattr(spec.objects, f.name)[keep]
            for f in dataclasses.fields(Objects)
            if f.name != "radius_range"
        }
        alone = SceneSpec(background=solid(), objects=Objects(**fields), camera=spec.camera)
        single = render_scene(alone, 10, (64, 64))
        torch.testing.assert_close(single.boxes[:, 0], out.boxes[:, n])
        mask = foreground(single.frames)
        t, ys, xs = torch.nonzero(mask, as_tuple=True)
        box = single.boxes[t, 0]
        assert bool(((xs + 0.5 >= box[:, 0] - 1.0) & (xs + 0.5 <= box[:, 2] + 1.0)).all())
        assert bool(((ys + 0.5 >= box[:, 1] - 1.0) & (ys + 0.5 <= box[:, 3] + 1.0)).all())


def test_visibility_counts_occlusion_and_the_image_border():
    objects = Objects.static(
        shape=np.array([0, 1, 0]),
        color=np.array([[1.0, 0, 0], [0, 0, 1.0], [0, 1.0, 0]]),
        anchor=np.array([[0.3, 0.3], [0.3, 0.3], [1.0, 0.7]]),  # 1: over 0; 2: centred on the right edge
        radius=np.array([0.1, 0.2, 0.1]),
    )
    out = render_scene(SceneSpec(background=solid(), objects=objects), 1, (64, 64))
    assert out.visibility[0, 0] < 0.02  # hidden under the square drawn after it
    assert out.visibility[0, 1] == pytest.approx(1.0, abs=0.05)
    assert out.visibility[0, 2] == pytest.approx(0.5, abs=0.05)


def test_camera_pan_shifts_the_background():
    rng = np.random.default_rng(0)
    background = sample_background(rng, "noise")
    empty = Objects.static(
        shape=np.zeros(0, int), color=np.zeros((0, 3)), anchor=np.zeros((0, 2)), radius=np.zeros(0)
    )
    spec = SceneSpec(background=background, objects=empty, camera=Camera(velocity=(2 / 64, 0.0)))
    frames = render_scene(spec, 3, (64, 64)).frames.int()
    # The camera moves right 2 px per frame, so the view content moves left 2 px.
    assert (frames[1, :, :-2] - frames[0, :, 2:]).abs().max() <= 1
    assert (frames[1] - frames[0]).abs().float().mean() > 1.0  # and the background is not flat


def test_wrapped_world_brings_an_object_back_on_the_other_side():
    objects = one_object("disc", anchor=(0.95, 0.5), radius=0.1, velocity=np.array([[0.2, 0.0]]))
    frames = render_scene(SceneSpec(background=solid(), objects=objects, wrap=True), 2, (32, 32)).frames
    mask = foreground(frames)
    assert mask[0, :, :3].any() and mask[0, :, -3:].any()  # straddles the seam
    assert mask[1, :, :8].any() and not mask[1, :, -3:].any()  # moved on through the left edge


def test_rotation_spin_zoom_and_oscillation_move_the_object():
    base = {"shape": "triangle", "radius": 0.15}
    spin = render_scene(SceneSpec(solid(), one_object(**base, spin=np.array([0.3]))), 2, (64, 64))
    assert not torch.equal(spin.frames[0], spin.frames[1])
    zoom = render_scene(SceneSpec(solid(), one_object(**base, zoom_rate=np.array([0.2]))), 3, (64, 64))
    areas = foreground(zoom.frames).sum((1, 2))
    assert areas[0] < areas[1] < areas[2]
    assert (zoom.boxes[:, 0, 2] - zoom.boxes[:, 0, 0]).diff().gt(0).all()
    swing = one_object(
        **base,
        oscillation_amplitude=np.array([[0.2, 0.0]]),
        oscillation_period=np.array([4.0]),
    )
    centers = render_scene(SceneSpec(solid(), swing), 4, (64, 64)).centers[:, 0]
    # sin at t = 0, 1, 2, 3 quarter periods: 0, +A, 0, -A (in pixels: A = 0.2 * 64)
    torch.testing.assert_close(centers[:, 0] - 32, torch.tensor([0.0, 12.8, 0.0, -12.8]), atol=1e-3, rtol=0)
    orbit = one_object(**base, orbit_radius=np.array([0.2]), angular_velocity=np.array([np.pi / 2]))
    centers = render_scene(SceneSpec(solid(), orbit), 2, (64, 64)).centers[:, 0]
    # clockwise on screen (y down): from the right of the pivot to below it
    torch.testing.assert_close(centers - 32, torch.tensor([[12.8, 0.0], [0.0, 12.8]]), atol=1e-3, rtol=0)


def test_a_4x_render_downscaled_matches_the_low_resolution_render():
    spec = sample_tracking_scene(2, num_objects=3, size=(32, 32))
    high = render_scene(spec, 4, (128, 128)).frames
    low = render_scene(spec, 4, (32, 32)).frames
    pair = downscale(high, 4)
    assert pair.shape == low.shape
    # Same scene at both scales: only antialiasing at the edges differs.
    assert (pair.float() - low.float()).abs().mean() < 2.0
    with pytest.raises(ValueError, match="factor 3"):
        downscale(high, 3)


def test_bad_input_names_the_value():
    spec = sample_tracking_scene(0)
    with pytest.raises(ValueError, match="num_frames must be >= 1, got 0"):
        render_scene(spec, 0, (32, 32))
    with pytest.raises(ValueError, match=r"\(0, 32\)"):
        render_scene(spec, 1, (0, 32))
    with pytest.raises(ValueError, match=r"Objects\.color has 2 rows"):
        Objects.static(
            shape=np.zeros(1, int), color=np.zeros((2, 3)), anchor=np.zeros((1, 2)), radius=np.ones(1)
        )
    with pytest.raises(ValueError, match="'stripes'"):
        sample_background(np.random.default_rng(0), "stripes")
