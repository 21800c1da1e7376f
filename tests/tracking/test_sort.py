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
@pytest.mark.parametrize("path", ["small-frame", "array"])
def test_tracks_equal_abewley_sort_on_mot15_public_detections(shared_data, path):
    """abewley/sort's code (PyPI ``sort-track`` 0.0.8: the same tracker, detections with an extra class
    column) and vidlearn give the same ids and boxes on every frame of the 11 MOT15 sequences, on the
    small-frame path (most MOT15 frames) and with every frame on the array path."""
    reference = pytest.importorskip("sort.tracker", reason="sort-track (abewley/sort code) is not installed")
    folders = sorted((shared_data / "tracking" / "mot" / "MOT15" / "train").iterdir())
    assert len(folders) == 11
    for folder in folders:
        det = read_mot(folder / "det" / "det.txt", "det")
        rows, offsets = det.frame_bounds(det.num_frames)
        boxes = xywh_to_xyxy(rows.boxes)  # abewley/sort's own conversion: x + w, no 1-based shift
        reference.KalmanBoxTracker.count = 0
        ref, ours = reference.SortTracker(), Sort()
        ours.scalar_pairs = Sort.scalar_pairs if path == "small-frame" else -1
        for f in range(det.num_frames):
            b, s = boxes[offsets[f]:offsets[f + 1]], rows.scores[offsets[f]:offsets[f + 1]]
            expected = ref.update(np.concatenate([b, s[:, None], np.zeros((len(b), 1))], axis=1), None)
            got = ours.update(b, s)
            np.testing.assert_array_equal(got.ids, expected[:, 4].astype(int), err_msg=f"{folder.name} frame {f + 1}")
            np.testing.assert_allclose(got.boxes, expected[:, :4], rtol=0, atol=1e-6)


def _random_scene(seed: int, objects: int, frames: int = 150) -> list[np.ndarray]:
    """Boxes drifting at random velocities, 20% missed, false alarms, and (every third seed) boxes of zero
    height, whose aspect ratio is infinite: the degenerate cases where Python and NumPy arithmetic differ
    unless handled."""
    rng = np.random.default_rng(seed)
    position, velocity = rng.uniform(0, 500, (objects, 2)), rng.normal(0, 3, (objects, 2))
    size = rng.uniform(5, 60, (objects, 2))
    out = []
    for _ in range(frames):
        position += velocity + rng.normal(0, 1, position.shape)
        seen = rng.random(objects) > 0.2
        boxes = np.concatenate([position, position + size * rng.uniform(0.8, 1.2, size.shape)], axis=1)[seen]
        if seed % 3 == 0 and len(boxes) and rng.random() < 0.2:
            boxes[0, 3] = boxes[0, 1]
        if rng.random() < 0.3:
            false_alarms = np.tile(rng.uniform(0, 500, (2, 2)), 2) + np.array([0, 0, 20, 40])
            boxes = np.concatenate([boxes, false_alarms])
        out.append(boxes)
    return out


@pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")  # the array path on zero-height boxes
@pytest.mark.parametrize("options", [{}, {"max_age": 3, "min_hits": 1}, {"iou_threshold": 0.0}, {"max_age": 0}])
def test_small_frame_path_equals_the_array_path_bit_for_bit(options):
    """The Python-float path for small frames and the array path give identical outputs, states and
    counters (``array_equal``, NaN in place), frame after frame, on 30 random scenes of 2-11 objects."""
    for seed in range(30):
        small, array = Sort(**options), Sort(**options)
        small.scalar_pairs, array.scalar_pairs = 10**9, -1
        for number, boxes in enumerate(_random_scene(seed, objects=2 + seed % 10)):
            got, expected = small.update(boxes), array.update(boxes)
            where = f"seed {seed} frame {number}"
            np.testing.assert_array_equal(got.ids, expected.ids, err_msg=where)
            np.testing.assert_array_equal(got.boxes, expected.boxes, err_msg=where)
            if number % 50 == 49:  # reading the state turns the lists back into arrays: not every frame
                np.testing.assert_array_equal(small.mean, array.mean, err_msg=where)
                np.testing.assert_array_equal(small.covariance, array.covariance, err_msg=where)
                np.testing.assert_array_equal(small.time_since_update, array.time_since_update, err_msg=where)
                np.testing.assert_array_equal(small.hit_streak, array.hit_streak, err_msg=where)


def test_state_views_follow_the_tracks():
    tracker = Sort(min_hits=1)
    tracker.update(np.concatenate([_box(0), _box(100)]))
    assert tracker.ids.tolist() == [1, 2] and tracker.hits.tolist() == [0, 0]
    assert tracker.mean.shape == (2, 7) and tracker.covariance.shape == (2, 7, 7)
    np.testing.assert_allclose(tracker.mean[0, :4], [10.0, 70.0, 800.0, 0.5])
    np.testing.assert_array_equal(np.diag(tracker.covariance[1]), [10, 10, 10, 10, 1e4, 1e4, 1e4])


def test_byte_continues_a_track_with_a_low_score_detection():
    """BYTE: a detection scoring under high_threshold continues a track (second association); the usual
    alternative, dropping detections under the threshold, loses the frame. Low scores start no track."""
    scores = [0.9, 0.9, 0.9, 0.3, 0.3, 0.9]
    byte = Sort(min_hits=1, max_age=1, byte=True, high_threshold=0.6, low_threshold=0.1)
    thresholded = Sort(min_hits=1, max_age=1)
    shown_byte, shown_thresholded = [], []
    for t, score in enumerate(scores):
        boxes = np.concatenate([_box(10 + 3 * t), _box(400, y=300)])
        s = np.array([score, 0.2])  # the second box: low score, never a track under BYTE
        shown_byte.append(byte.update(boxes, s).ids.tolist())
        shown_thresholded.append(thresholded.update(boxes[s >= 0.6], s[s >= 0.6]).ids.tolist())
    assert shown_byte == [[1]] * 6
    # Thresholded: two frames without the detection outlive max_age=1; the object comes back as track 2.
    assert shown_thresholded == [[1], [1], [1], [], [], []]
    assert thresholded.ids.tolist() == [2]
    assert byte.ids.tolist() == [1]


def test_byte_low_scores_match_only_tracks_seen_last_frame():
    tracker = Sort(min_hits=1, max_age=3, byte=True)
    tracker.update(_box(0), np.array([0.9]))
    tracker.update(np.zeros((0, 4)), np.zeros(0))  # missed: the track is lost for a frame
    tracker.update(_box(0), np.array([0.3]))  # a low score does not revive a lost track (ByteTrack's rule)
    assert tracker.time_since_update.tolist() == [2]


def test_byte_parameters_are_checked():
    with pytest.raises(ValueError, match=r"low_threshold must be below high_threshold, got 0\.7 >= 0\.6"):
        Sort(byte=True, low_threshold=0.7, high_threshold=0.6)
    with pytest.raises(ValueError, match=r"second_iou_threshold must be in \[0, 1\], got 1.5"):
        Sort(byte=True, second_iou_threshold=1.5)
    with pytest.raises(ValueError, match="high_threshold must be a finite number, got nan"):
        Sort(high_threshold=float("nan"))
    with pytest.raises(ValueError, match="byte must be True or False, got 'yes'"):
        Sort(byte="yes")


def test_camera_motion_keeps_a_static_object_on_its_track():
    """The camera jumps 30 px right: a static 20-px-wide object jumps 30 px left in the image, no overlap
    with its prediction. Compensated by the known warp, the track keeps its id."""
    warp = np.array([[1.0, 0.0, -30.0], [0.0, 1.0, 0.0]])
    for compensate, expected in [(False, [[1], [1], [1], [], [2]]), (True, [[1]] * 5)]:
        tracker = Sort(min_hits=1, max_age=1)
        shown = []
        for t in range(5):
            camera = 30.0 if t >= 3 else 0.0
            motion = warp if (compensate and t == 3) else None
            shown.append(tracker.update(_box(100 - camera), camera_motion=motion).ids.tolist())
        assert shown == expected


def test_camera_zoom_scales_the_predicted_box():
    tracker = Sort(min_hits=1)
    for _ in range(3):
        tracker.update(_box(100))
    zoom = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    tracker.update(np.zeros((0, 4)), camera_motion=zoom)
    np.testing.assert_allclose(tracker.mean[0, :4], [220.0, 140.0, 3200.0, 0.5], rtol=0.02)


@pytest.mark.parametrize("method", ["ecc", "orb"])
def test_cmc_from_frames_keeps_the_id_through_a_camera_jump(method):
    from ._camera import view, world_texture

    world = world_texture()
    tracker = Sort(min_hits=1, max_age=1, cmc=method)
    static = np.array([[300.0, 200.0, 320.0, 240.0]])  # world coordinates
    shown = []
    for camera_x in [100, 100, 100, 130, 130]:
        boxes = static - [camera_x, 100, camera_x, 100]
        shown.append(tracker.update(boxes, image=view(world, camera_x, 100)).ids.tolist())
    assert shown == [[1]] * 5
    with pytest.raises(ValueError, match="needs the frame"):
        tracker.update(static)
