"""Detectors: the noisy oracle's rates and seeding; torchvision networks from a local weights file."""

import numpy as np
import pytest
import torch

from vidlearn.tracking.boxes import mot_to_xyxy
from vidlearn.tracking.detectors import NoisyOracle, TorchvisionDetector, select_detections
from vidlearn.tracking.formats import MotRows


def _gt(frames: int = 500, objects: int = 8, visibility: float = 1.0) -> MotRows:
    frame = np.repeat(np.arange(1, frames + 1), objects)
    ids = np.tile(np.arange(1, objects + 1), frames)
    boxes = np.stack([ids * 30.0, frame % 50 + 10.0, np.full_like(ids, 20.0), np.full_like(ids, 40.0)], 1)
    count = len(frame)
    return MotRows(frame, ids, boxes.astype(float), np.ones(count), np.ones(count, dtype=np.int64),
                   np.full(count, visibility))


def test_perfect_oracle_returns_the_ground_truth_boxes():
    gt = _gt(20)
    det = NoisyOracle(miss_rate=0, jitter=0, false_positives=0, min_visibility=0).detect(gt, image_size=(240, 320))
    assert len(det) == len(gt) and (det.ids == -1).all()
    np.testing.assert_allclose(det.boxes, gt.boxes)
    assert det.frames.tolist() == gt.frames.tolist()
    assert det.scores.min() >= 0.5 and det.scores.max() <= 1.0


def test_rates_and_seeding():
    gt = _gt()
    oracle = NoisyOracle(miss_rate=0.25, jitter=0.1, false_positives=2.0)
    det = oracle.detect(gt, image_size=(240, 320), seed=3)
    again = oracle.detect(gt, image_size=(240, 320), seed=3)
    other = oracle.detect(gt, image_size=(240, 320), seed=4)
    np.testing.assert_array_equal(det.boxes, again.boxes)
    assert len(other) != len(det) or not np.array_equal(other.boxes, det.boxes)
    # 4000 ground-truth rows, a quarter missed: 3000 +- 3 sigma (27); 500 frames of Poisson(2) false positives.
    true = det.select(det.scores >= 0.5)
    false_count = len(det) - 0.75 * len(gt)
    assert abs(false_count / 500 - 2.0) < 0.25, false_count
    assert np.diff(det.frames).min() >= 0  # sorted by frame
    boxes = mot_to_xyxy(det.boxes)
    assert len(true) > 0 and (boxes[:, 0] > -20).all()
    # The jitter moves centres by about 10 % of the box size: none of the matched boxes is exact.
    assert not np.isin(det.boxes[:, 0], gt.boxes[:, 0]).all()


def test_hidden_objects_are_never_detected_and_bad_rates_are_refused():
    det = NoisyOracle(miss_rate=0, false_positives=0, min_visibility=0.35).detect(_gt(10, visibility=0.3),
                                                                               image_size=(240, 320))
    assert len(det) == 0
    with pytest.raises(ValueError, match=r"miss_rate must be in \[0, 1\], got 1.5"):
        NoisyOracle(miss_rate=1.5)
    with pytest.raises(ValueError, match="false_positives must be >= 0"):
        NoisyOracle(false_positives=-1)


def test_select_detections_filters_class_and_score():
    output = {"boxes": torch.tensor([[0, 0, 10, 20], [5, 5, 15, 25], [1, 1, 2, 2.0]]),
              "scores": torch.tensor([0.9, 0.3, 0.8]), "labels": torch.tensor([1, 1, 3])}
    persons = select_detections(output, [1], 0.5)
    assert persons.boxes.tolist() == [[0, 0, 10, 20]] and persons.classes.tolist() == [1]
    everything = select_detections(output, None, 0.0)
    assert len(everything) == 3 and everything.scores.dtype == np.float64


@pytest.mark.slow
def test_torchvision_detector_from_a_local_file(tmp_path):
    from torchvision.models import detection

    torch.manual_seed(0)
    model = detection.fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None, num_classes=91)
    torch.save(model.state_dict(), tmp_path / "frcnn.pth")
    detector = TorchvisionDetector("fasterrcnn_mobilenet_v3_large_320_fpn", tmp_path / "frcnn.pth", classes=None,
                                   score_threshold=0.0)
    out = detector(torch.randint(0, 255, (2, 120, 160, 3), dtype=torch.uint8))
    assert len(out) == 2 and all(d.boxes.shape[1:] == (4,) and len(d.scores) == len(d) for d in out)
    assert detector.classes is None
    assert TorchvisionDetector("fasterrcnn_mobilenet_v3_large_320_fpn", tmp_path / "frcnn.pth").classes == [1]
    with pytest.raises(ValueError, match=r"frcnn.pth: not ssdlite320_mobilenet_v3_large weights with 91 classes: "
                                         r"missing .* and \d+ more"):
        TorchvisionDetector("ssdlite320_mobilenet_v3_large", tmp_path / "frcnn.pth")
    with pytest.raises(ValueError, match="unknown COCO class 'pedestrian'"):
        TorchvisionDetector("fasterrcnn_mobilenet_v3_large_320_fpn", tmp_path / "frcnn.pth", classes=["pedestrian"])
    with pytest.raises(ValueError, match="unknown detector 'yolo'"):
        TorchvisionDetector("yolo", tmp_path / "frcnn.pth")
