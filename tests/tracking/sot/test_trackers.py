"""Single-object trackers: the common interface, GOTURN's crop geometry, the OpenCV baselines, bad init boxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vidlearn.tracking.detectors import FrameDetections
from vidlearn.tracking.sot.goturn import (
    Goturn,
    crop_regions,
    image_to_region,
    region_to_image,
    search_regions,
)
from vidlearn.tracking.sot.rolo import BoxDetections, DetectorBoxes, FrameFeatures, Rolo, detection_vector
from vidlearn.tracking.sot.trackers import (
    GoturnTracker,
    OpenCVTracker,
    RoloTracker,
    StayTracker,
    check_init_box,
    track_sequence,
)


def moving_square(num_frames: int = 12, step: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A bright 16x16 square moving right by ``step`` px per frame on a dark textured 96x128 frame."""
    rng = np.random.default_rng(0)
    background = (rng.random((96, 128, 3)) * 60).astype(np.uint8)
    frames, boxes = [], []
    for t in range(num_frames):
        frame = background.copy()
        x = 20 + step * t
        frame[40:56, x:x + 16] = (230, 200, 40)
        frames.append(frame)
        boxes.append([x, 40, x + 16, 56])
    return np.stack(frames), np.array(boxes, dtype=np.float64)


def test_search_region_is_twice_the_box_on_its_centre_and_maps_back() -> None:
    boxes = torch.tensor([[10.0, 20.0, 30.0, 60.0]])
    region = search_regions(boxes)
    torch.testing.assert_close(region, torch.tensor([[0.0, 0.0, 40.0, 80.0]]))
    # The box in its own search region: the middle half, [2.5, 7.5] in GOTURN's 0-10 units.
    torch.testing.assert_close(image_to_region(boxes, region), torch.tensor([[2.5, 2.5, 7.5, 7.5]]))
    torch.testing.assert_close(region_to_image(image_to_region(boxes, region), region), boxes)


def test_crops_sample_pixel_centres_and_pad_with_black() -> None:
    frames = torch.arange(8 * 8, dtype=torch.float32).view(1, 1, 8, 8).expand(1, 3, 8, 8).contiguous()
    crop = crop_regions(frames, torch.tensor([[2.0, 2.0, 6.0, 6.0]]), 4)
    torch.testing.assert_close(crop[0, 0], frames[0, 0, 2:6, 2:6])
    outside = crop_regions(frames, torch.tensor([[-8.0, 0.0, 0.0, 8.0]]), 4)
    assert outside.abs().max() == 0


@pytest.mark.parametrize(("box", "message"), [
    ([10, 10, 10, 30], r"x,y,w,h = 10,10,0,20 has zero size"),
    ([10, 10, 30, 5], r"has zero size"),
    ([130, 10, 150, 30], r"x,y,w,h = 130,10,20,20 is outside the 128x96 frame"),
    ([-40, -40, -10, -10], r"is outside the 128x96 frame"),
    ([0, 0, float("nan"), 4], r"4 finite numbers"),
])
def test_a_bad_init_box_is_named(box: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_init_box(box, (96, 128))
    frames, _ = moving_square(2)
    with pytest.raises(ValueError, match=message):
        track_sequence(StayTracker(), frames, np.array(box))


def test_stay_keeps_the_first_box() -> None:
    frames, boxes = moving_square()
    result = track_sequence(StayTracker(), frames, boxes[0])
    assert result.shape == (12, 4)
    np.testing.assert_array_equal(result, np.repeat(boxes[:1], 12, axis=0))


@pytest.mark.parametrize("name", ["csrt", "kcf"])
def test_opencv_trackers_follow_a_moving_square(name: str) -> None:
    frames, boxes = moving_square()
    result = track_sequence(OpenCVTracker(name), frames, boxes[0])
    centre_error = np.linalg.norm((result[:, :2] + result[:, 2:]) / 2 - (boxes[:, :2] + boxes[:, 2:]) / 2, axis=1)
    assert centre_error.max() < 4.0


@pytest.mark.shared_data
def test_nanotrack_runs_through_opencv(shared_data: Path) -> None:
    frames, boxes = moving_square()
    tracker = OpenCVTracker("nanotrack", weights_dir=shared_data / "weights" / "nanotrack_v2_onnx")
    result = track_sequence(tracker, frames, boxes[0])
    assert np.linalg.norm(result[-1, :2] - boxes[-1, :2]) < 8.0


def test_nanotrack_without_weights_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nanotrack_backbone_sim\.onnx"):
        OpenCVTracker("nanotrack", weights_dir=tmp_path)


def test_goturn_tracker_maps_the_network_output_to_the_image() -> None:
    """A network that always answers "the middle half of the region" keeps the box where it is."""
    model = Goturn(backbone="small", input_size=32, fc_dim=8, width=4).eval()
    with torch.no_grad():
        model.head[-1].weight.zero_()
        model.head[-1].bias.copy_(torch.tensor([2.5, 2.5, 7.5, 7.5]))
    frames, boxes = moving_square(4)
    for fast in (False, True):
        result = track_sequence(GoturnTracker(model, fast=fast), frames, boxes[0])
        np.testing.assert_allclose(result, np.repeat(boxes[:1], 4, axis=0), atol=0.1 if fast else 1e-4)


def test_rolo_tracker_reads_the_box_from_the_lstm_over_the_window() -> None:
    frames, boxes = moving_square(5)
    features = FrameFeatures("grid", grid=2)
    model = Rolo(feature_dim=features.dim)
    calls = []

    class Spy(BoxDetections):
        def __call__(self, frame: np.ndarray, index: int) -> tuple[torch.Tensor, torch.Tensor]:
            calls.append(index)
            return super().__call__(frame, index)

    tracker = RoloTracker(model, Spy(features, boxes), sequence_length=3)
    result = track_sequence(tracker, frames, boxes[0])
    assert calls == [0, 1, 2, 3, 4]
    assert result.shape == (5, 4) and np.isfinite(result).all()
    np.testing.assert_array_equal(result[0], boxes[0])
    with torch.no_grad():
        window = torch.stack([features(torch.as_tensor(f).permute(2, 0, 1)[None].float() / 255)[0] for f in frames[2:5]])
        detections = detection_vector(boxes[2:5], (96, 128))
        cx, cy, w, h = model(window[None], detections[None])[0, -1].double().numpy()
    w, h = max(abs(w) * 128, 1.0), max(abs(h) * 96, 1.0)
    np.testing.assert_allclose(result[-1], [cx * 128 - w / 2, cy * 96 - h / 2, cx * 128 + w / 2, cy * 96 + h / 2],
                               rtol=1e-5)


def test_detector_boxes_follow_the_target_among_the_detections() -> None:
    """ROLO fed by a detection network: each frame the detection overlapping the target's last box most."""
    frames, _ = moving_square(4)
    script = [  # per frame: the target (moving right by 4 px), a distractor, and a frame where only it is seen
        ([[22, 40, 38, 56], [80, 10, 96, 26]], [0.6, 0.9]),
        ([[26, 41, 42, 57], [84, 10, 100, 26]], [0.7, 0.95]),
        ([[88, 10, 104, 26]], [0.9]),
        ([[31, 40, 47, 56], [92, 10, 108, 26]], [0.8, 0.9]),
    ]
    seen = []

    def detector(batch: torch.Tensor) -> list[FrameDetections]:
        assert batch.dtype == torch.uint8 and batch.shape == (1, 96, 128, 3)
        boxes, scores = script[len(seen)]
        seen.append(len(seen))
        return [FrameDetections(np.array(boxes, np.float64), np.array(scores), np.ones(len(scores), np.int64))]

    features = FrameFeatures("grid", grid=2)
    source = DetectorBoxes(features, detector)
    with pytest.raises(ValueError, match="call start"):
        source(frames[0], 0)
    source.start(np.array([20.0, 40, 36, 56]))
    vectors = [source(frame, index)[1] for index, frame in enumerate(frames)]
    size = np.array([128, 96])
    for vector, (boxes, scores) in zip(vectors, [script[0], script[1], (None, None), script[3]]):
        if boxes is None:  # the distractor alone does not overlap the target: a missed frame
            torch.testing.assert_close(vector, torch.zeros(6))
            continue
        box = np.array(boxes[0])
        centre, extent = (box[:2] + box[2:]) / 2 / size, (box[2:] - box[:2]) / size
        torch.testing.assert_close(vector, torch.tensor([0, *centre, *extent, scores[0]], dtype=torch.float32))
    # After the missed frame the last detected box (frame 2's) still finds the target in frame 4.
    np.testing.assert_array_equal(source.last, script[3][0][0])
    # RoloTracker starts the source from the init box itself.
    seen.clear()
    tracker = RoloTracker(Rolo(feature_dim=features.dim), DetectorBoxes(features, detector), sequence_length=2)
    result = track_sequence(tracker, frames, np.array([20.0, 40, 36, 56]))
    assert result.shape == (4, 4) and seen == [0, 1, 2, 3]


def test_detection_vector_layout() -> None:
    vector = detection_vector(np.array([[10, 20, 30, 60.], [np.nan] * 4]), (100, 200))
    torch.testing.assert_close(vector, torch.tensor([[0, 0.1, 0.4, 0.1, 0.4, 1.0], [0, 0, 0, 0, 0, 0.0]]))
