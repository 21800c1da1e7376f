import numpy as np
import pytest

from vidlearn.tracking import Sort
from vidlearn.tracking.boxes import xywh_to_xyxy
from vidlearn.tracking.formats import read_mot


def _box(x, y=50.0, w=20.0, h=40.0):
    return np.array([[x, y, x + w, y + h]])


def test_ids_stay_stable_across_linear_motion():
    tracker = Sort(max_age=1, min_hits=3)
    for t in range(20):
        boxes = np.concatenate([_box(10 + 4 * t), _box(300 - 4 * t, y=200)])
        out = tracker.update(boxes, np.ones(2), frame=t + 1)
        assert sorted(out.ids.tolist()) == [1, 2]
    # The filter has learnt the velocity: the output sits on the last detection.
    order = np.argsort(out.ids)
    np.testing.assert_allclose(out.boxes[order], boxes, atol=0.05)


def test_min_hits_output_rule():
    tracker = Sort(max_age=1, min_hits=3)
    shown = []
    for t in range(6):
        boxes = _box(10 + 2 * t) if t != 3 else np.zeros((0, 4))
        shown.append(tracker.update(boxes).ids.tolist())
        if t == 3:
            assert shown[-1] == []
    # Frames 1-3 (frame_count <= min_hits) report at once; after the miss the hit streak restarts, so the track
    # is hidden for the frame it comes back (streak 1) and the next (streak 2).
    assert shown == [[1], [1], [1], [], [], []]
    assert tracker.update(_box(22)).ids.tolist() == [1]


def test_occlusion_up_to_max_age_keeps_the_id():
    for max_age, expected_live, expected_shown in [(3, [1], [1]), (2, [2], [])]:
        tracker = Sort(max_age=max_age, min_hits=1)
        for t in range(5):
            tracker.update(_box(10 + 3 * t))
        for _ in range(3):  # occluded for 3 frames
            assert tracker.update(np.zeros((0, 4))).ids.tolist() == []
        out = tracker.update(_box(10 + 3 * 8))
        # max_age=3: the track coasted through and takes the detection; max_age=2: it was deleted and a new
        # track starts (reported from its second hit on).
        assert tracker.ids.tolist() == expected_live
        assert out.ids.tolist() == expected_shown


def test_low_iou_starts_a_new_track():
    tracker = Sort(max_age=5, min_hits=1, iou_threshold=0.3)
    tracker.update(_box(0))
    out = tracker.update(_box(15))  # IoU with the prediction = 5/35 < 0.3
    assert out.ids.tolist() == []  # the old track missed, the new one has no hit streak yet
    assert tracker.ids.tolist() == [1, 2]
    assert tracker.update(_box(15)).ids.tolist() == [2]


def test_parameters_and_input_are_checked():
    with pytest.raises(ValueError, match="max_age must be an integer >= 0"):
        Sort(max_age=-1)
    with pytest.raises(ValueError, match=r"iou_threshold must be in \[0, 1\]"):
        Sort(iou_threshold=1.5)
    tracker = Sort()
    with pytest.raises(ValueError, match=r"boxes\[0\] is not finite"):
        tracker.update(np.array([[np.nan, 0, 1, 1]]))
    with pytest.raises(ValueError, match="1 boxes but 2 scores"):
        tracker.update(_box(0), np.ones(2))
    tracker.update(_box(0), frame=5)
    with pytest.raises(ValueError, match="frame 5 does not follow the previous frame 5"):
        tracker.update(_box(0), frame=5)


def test_skipped_frames_run_as_empty_frames():
    a, b = Sort(max_age=1, min_hits=1), Sort(max_age=1, min_hits=1)
    a.update(_box(0), frame=1)
    b.update(_box(0))
    b.update(np.zeros((0, 4)))
    b.update(np.zeros((0, 4)))
    a.update(_box(0), frame=4)
    b.update(_box(0))
    # Two empty frames outlived max_age=1: both trackers dropped track 1 and started track 2.
    assert a.frame_count == b.frame_count == 4
    assert a.ids.tolist() == b.ids.tolist() == [2]


@pytest.mark.slow
@pytest.mark.shared_data
def test_tracks_equal_abewley_sort_on_mot15_public_detections(shared_data):
    """abewley/sort's code (PyPI ``sort-track`` 0.0.8: the same tracker, detections with an extra class
    column) and vidlearn give the same ids and boxes on every frame of the 11 MOT15 sequences."""
    reference = pytest.importorskip("sort.tracker", reason="sort-track (abewley/sort code) is not installed")
    folders = sorted((shared_data / "tracking" / "mot" / "MOT15" / "train").iterdir())
    assert len(folders) == 11
    for folder in folders:
        det = read_mot(folder / "det" / "det.txt", "det")
        rows, offsets = det.frame_bounds(det.num_frames)
        boxes = xywh_to_xyxy(rows.boxes)  # abewley/sort's own conversion: x + w, no 1-based shift
        reference.KalmanBoxTracker.count = 0
        ref, ours = reference.SortTracker(), Sort()
        for f in range(det.num_frames):
            b, s = boxes[offsets[f]:offsets[f + 1]], rows.scores[offsets[f]:offsets[f + 1]]
            expected = ref.update(np.concatenate([b, s[:, None], np.zeros((len(b), 1))], axis=1), None)
            got = ours.update(b, s)
            np.testing.assert_array_equal(got.ids, expected[:, 4].astype(int), err_msg=f"{folder.name} frame {f + 1}")
            np.testing.assert_allclose(got.boxes, expected[:, :4], rtol=0, atol=1e-6)
