"""Training data for single-object trackers: synthetic sequences, GOTURN's motion model and examples, ROLO windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vidlearn.tracking.sot.data import (
    LAMBDA_SCALE,
    LAMBDA_SHIFT,
    BoxSequence,
    GoturnExamples,
    RoloWindows,
    load_frames,
    sample_motion,
    simulated_detections,
    still_image_boxes,
    synthetic_sequence,
    write_otb_sequence,
)
from vidlearn.tracking.sot.goturn import crop_regions, image_to_region, search_regions
from vidlearn.tracking.sot.otb import read_sequence


def test_motion_model_follows_the_papers_laplace_distributions() -> None:
    rng = np.random.default_rng(0)
    boxes = np.tile([[400.0, 400.0, 440.0, 480.0]], (40000, 1))  # 40 x 80 in a large image: no clipping
    moved = sample_motion(boxes, rng, (2000, 2000))
    size, new_size = boxes[:, 2:] - boxes[:, :2], moved[:, 2:] - moved[:, :2]
    shift = ((moved[:, :2] + moved[:, 2:]) / 2 - (boxes[:, :2] + boxes[:, 2:]) / 2) / size
    scale = new_size / size
    # Laplace(0, b): mean absolute deviation b. Shifts b = 1/5 (clipping at +-1 box size removes ~0.7 %).
    assert np.abs(shift).mean() == pytest.approx(1 / LAMBDA_SHIFT, rel=0.03)
    assert np.median(shift) == pytest.approx(0.0, abs=0.01)
    assert np.abs(scale - 1).mean() == pytest.approx(1 / LAMBDA_SCALE, rel=0.03)
    assert scale.min() >= 0.6 - 1e-9 and scale.max() <= 1.4 + 1e-9
    assert np.abs(shift).max() <= 1.0


def test_motion_model_keeps_boxes_inside_the_image() -> None:
    rng = np.random.default_rng(1)
    moved = sample_motion(np.tile([[0.0, 0.0, 30.0, 30.0]], (2000, 1)), rng, (60, 80))
    assert moved[:, :2].min() >= 0 and moved[:, 2].max() <= 80 and moved[:, 3].max() <= 60


def test_synthetic_sequence_is_deterministic_with_boxes_in_the_frame() -> None:
    a = synthetic_sequence(3, num_frames=6, size=(64, 64), num_distractors=1)
    b = synthetic_sequence(3, num_frames=6, size=(64, 64), num_distractors=1)
    assert a.frames.shape == (6, 64, 64, 3) and a.frames.dtype == torch.uint8
    assert torch.equal(a.frames, b.frames) and np.array_equal(a.boxes, b.boxes)
    assert a.boxes.min() >= 0 and a.boxes[:, [0, 2]].max() <= 64
    assert (a.boxes[0, 2:] - a.boxes[0, :2]).min() > 4  # the target starts inside the view


def test_goturn_examples_target_is_the_current_box_in_the_search_region() -> None:
    sequence = synthetic_sequence(5, num_frames=4, size=(64, 64), num_distractors=1)
    examples = GoturnExamples([sequence], input_size=32, shifts_per_pair=2, still_images=True, seed=0)
    assert len(examples) == 3 * (1 + 2) + 4 * 2  # pairs x (real + moved) + frames x moved stills
    previous, search, target = examples[0]  # the real pair: search region on the previous box
    assert previous.shape == search.shape == (3, 32, 32)
    region = search_regions(torch.as_tensor(sequence.boxes[:1], dtype=torch.float32))
    expected = image_to_region(torch.as_tensor(sequence.boxes[1:2], dtype=torch.float32), region)[0]
    torch.testing.assert_close(target, expected)
    frame = sequence.frames[1].permute(2, 0, 1)[None].float() / 255
    torch.testing.assert_close(search, crop_regions(frame, region, 32)[0])
    first = examples[5]
    examples.set_epoch(1)
    assert not torch.equal(first[2], examples[5][2])  # a new epoch draws new motions


def test_rolo_windows_and_simulated_detector() -> None:
    features = [torch.arange(5.0)[:, None].expand(5, 3)]
    detections = [torch.zeros(5, 6)]
    targets = [torch.rand(5, 4)]
    windows = RoloWindows(features, detections, targets, sequence_length=3)
    assert len(windows) == 3
    f, _, t = windows[2]
    assert f[:, 0].tolist() == [2.0, 3.0, 4.0] and torch.equal(t, targets[0][2:5])
    boxes = np.tile([[10.0, 10.0, 30.0, 50.0]], (5000, 1))
    detected = simulated_detections(boxes, np.random.default_rng(0), noise=0.1, miss_rate=0.2)
    missing = np.isnan(detected).any(1)
    assert missing.mean() == pytest.approx(0.2, abs=0.02)
    centre_x = (detected[~missing, 0] + detected[~missing, 2]) / 2
    assert np.std(centre_x - 20) == pytest.approx(0.1 * 20, rel=0.05)


def test_write_and_read_an_otb_sequence(tmp_path: Path) -> None:
    ramp = torch.arange(32).view(1, 1, 32, 1) * 6 + torch.arange(3).view(3, 1, 1, 1) * 20
    frames = ramp.expand(3, 24, 32, 3).to(torch.uint8).contiguous()  # smooth: JPEG keeps it nearly exact
    sequence = BoxSequence("seq", frames, np.array([[1.0, 2.0, 11.0, 12.0]] * 3))
    folder = write_otb_sequence(sequence, tmp_path)
    read = read_sequence(folder)
    assert [p.name for p in read.frames] == ["0001.jpg", "0002.jpg", "0003.jpg"]
    np.testing.assert_allclose(read.boxes, sequence.boxes)
    frames = load_frames(read.frames)
    assert frames.shape == (3, 24, 32, 3)
    assert (frames.float() - sequence.frames.float()).abs().mean() < 3  # RGB order kept, JPEG nearly exact


def test_a_frame_that_does_not_decode_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "0001.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match=r"0001\.jpg: cannot decode"):
        load_frames([bad])


def test_still_image_boxes_cut_random_patches_of_real_frames(tmp_path: Path) -> None:
    import cv2

    folder = tmp_path / "frames"
    folder.mkdir()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 120, 160, 3), dtype=np.uint8)
    for index, image in enumerate(images):
        cv2.imwrite(str(folder / f"{index:04d}.png"), image[..., ::-1])
    boxes = still_image_boxes([folder], frames_per_source=3, boxes_per_frame=40, short_side=60, seed=1)
    assert len(boxes) == 3 * 40
    # Frames 0, 2 and 4 (evenly spaced), each shrunk to a short side of 60 (80x60) by area averaging.
    assert boxes[0].frames.shape == (1, 60, 80, 3) and boxes[40].name == "frames_00002_0"
    expected = torch.from_numpy(images[2]).float().reshape(60, 2, 80, 2, 3).mean(dim=(1, 3)).round()
    assert torch.equal(boxes[40].frames[0].float(), expected)
    xyxy = np.concatenate([b.boxes for b in boxes])
    w, h = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
    assert (xyxy[:, :2] >= 0).all() and (xyxy[:, 2] <= 80).all() and (xyxy[:, 3] <= 60).all()
    assert np.minimum(w, h).min() >= 0.06 * 60 - 1e-9 and np.minimum(w, h).max() <= 0.4 * 60 + 1e-9
    assert (h / w).min() >= 1 / 3 - 1e-9 and (h / w).max() <= 3 + 1e-9 and (h > w).any() and (w > h).any()
    # Each box is a one-frame sequence: GOTURN's still-image examples, the frame its own previous frame.
    examples = GoturnExamples(boxes[:4], input_size=32, shifts_per_pair=2, still_images=True)
    assert len(examples) == 4 * 2 and examples.index[0] == (0, 0, 0, 1)
    with pytest.raises(ValueError, match=r"empty: no image files"):
        (tmp_path / "empty").mkdir()
        still_image_boxes([tmp_path / "empty"])


@pytest.mark.shared_data
def test_still_image_boxes_read_evenly_spaced_frames_of_a_video(shared_data: Path) -> None:
    from vidlearn.video import VideoReader

    clip = shared_data / "clips" / "ucf101_c3d_keras" / "v_Punch_g03_c01.avi"
    if not clip.is_file():
        pytest.skip(f"{clip} is not there")
    boxes = still_image_boxes([clip], frames_per_source=3, boxes_per_frame=1, short_side=120)
    reader = VideoReader(clip)
    last = reader.num_frames - 1
    assert [b.name for b in boxes] == [f"v_Punch_g03_c01_{i:05d}_0" for i in (0, round(last / 2), last)]
    assert torch.equal(boxes[1].frames[0], reader.get_frames([round(last / 2)], size=120)[0])
