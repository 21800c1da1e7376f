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
    mot_tracks,
    sample_motion,
    simulated_detections,
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


def test_goturn_examples_crop_a_window_as_they_would_crop_the_whole_frame() -> None:
    frames = torch.from_numpy(np.random.default_rng(3).integers(0, 256, (3, 300, 400, 3), dtype=np.uint8))
    # A box inside, one at the top-left corner (its regions leave the frame) and one at the bottom-right edge.
    boxes = np.array([[100, 120, 130, 180], [0, 0, 20, 30], [370, 250, 400, 300]], dtype=np.float64)
    sequence = BoxSequence("big", frames, boxes)
    examples = GoturnExamples([sequence], input_size=48, shifts_per_pair=3, still_images=True, photometric=False)
    whole = frames.permute(0, 3, 1, 2).float() / 255
    as_tensor = lambda array: torch.as_tensor(np.asarray(array).reshape(1, 4), dtype=torch.float32)  # noqa: E731
    for item, (_, previous_index, current_index, kind) in enumerate(examples.index):
        previous, search, _ = examples[item]
        centre = boxes[previous_index] if kind == 0 else sample_motion(
            boxes[current_index][None], np.random.default_rng([0, 0, item]), (300, 400))
        for crop, index, box in ((previous, previous_index, boxes[previous_index]), (search, current_index, centre)):
            # Equal up to the rounding of sampling coordinates taken relative to the window instead of the frame.
            expected = crop_regions(whole[index:index + 1], search_regions(as_tensor(box)), 48)[0]
            torch.testing.assert_close(crop, expected, atol=1e-4, rtol=0)


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



def test_mot_tracks_turn_each_pedestrian_run_into_a_sequence(tmp_path: Path) -> None:
    import cv2

    folder = tmp_path / "img1"
    folder.mkdir()
    images = np.random.default_rng(0).integers(0, 256, (5, 60, 80, 3), dtype=np.uint8)
    for index, image in enumerate(images, start=1):
        cv2.imwrite(str(folder / f"{index:06d}.png"), image[..., ::-1])
    gt = tmp_path / "gt.txt"
    gt.write_text("\n".join([
        # frame, id, x, y, w, h (1-based), consider, class, visibility
        "1,1,11,21,20,30,1,1,1.0", "2,1,13,21,20,30,1,1,0.9", "3,1,15,21,20,30,1,1,0.2",  # hidden in frame 3
        "4,1,17,21,20,30,1,1,0.8", "5,1,19,21,20,30,1,1,0.8",
        "1,2,41,11,10,20,0,1,1.0", "2,2,41,11,10,20,1,7,1.0",  # not to consider; a static person (class 7)
        "3,3,61,31,10,20,1,1,1.0", "4,3,61,31,10,20,1,1,1.0",
    ]) + "\n")
    tracks = mot_tracks(folder, gt, min_size=4)
    assert [t.name for t in tracks] == ["img1_id1_000001", "img1_id1_000004", "img1_id3_000003"]
    assert [len(t) for t in tracks] == [2, 2, 2]
    np.testing.assert_allclose(tracks[0].boxes, [[10, 20, 30, 50], [12, 20, 32, 50]])
    assert torch.equal(tracks[1].frames, torch.from_numpy(images[3:5]))
    assert tracks[1].frames.untyped_storage().data_ptr() == tracks[2].frames.untyped_storage().data_ptr()  # views
    # Frames scaled to a short side of 30 (40x30): boxes scale alike; the video kept GT frames 2, 3, 4, 5, 6.
    half = mot_tracks(folder, gt, frame_numbers=[2, 3, 4, 5, 6], short_side=30, min_size=4)
    assert [t.name for t in half] == ["img1_id1_000002", "img1_id1_000004", "img1_id3_000003"]
    assert half[0].frames.shape == (1, 30, 40, 3)
    np.testing.assert_allclose(half[0].boxes, [[6, 10, 16, 25]])
    with pytest.raises(ValueError, match=r"img1: 5 frames but 2 frame numbers given"):
        mot_tracks(folder, gt, frame_numbers=[1, 2])
