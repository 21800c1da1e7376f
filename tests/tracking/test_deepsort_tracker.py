import numpy as np
import pytest

from vidlearn.tracking import DeepSort

from ._scenes import linear_scene


def _box(x, y=50.0, w=20.0, h=40.0):
    return np.array([[x, y, x + w, y + h]])


def test_confirmation_after_n_init_and_stable_ids():
    tracker = DeepSort(n_init=3)
    shown = []
    for t in range(10):
        boxes = np.concatenate([_box(10 + 3 * t), _box(300 - 3 * t, y=200)])
        shown.append(sorted(tracker.update(boxes, np.ones(2), np.eye(2, 8)).ids.tolist()))
    assert shown[:2] == [[], []]  # Tentative for the first n_init - 1 frames
    assert shown[2:] == [[1, 2]] * 8


def test_occlusion_shorter_than_max_age_keeps_the_id_through_appearance():
    tracker = DeepSort(max_age=10, n_init=2)
    feature = np.eye(1, 8)
    for t in range(6):
        tracker.update(_box(10 + 3 * t), None, feature)
    for _ in range(8):  # occluded
        tracker.update(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 8)))
    # The object reappears further along its path; the cascade (appearance + gate) gives back id 1.
    out = tracker.update(_box(10 + 3 * 14), None, feature)
    assert out.ids.tolist() == [1]
    # Past max_age the track is gone and the same object gets a new id.
    tracker = DeepSort(max_age=3, n_init=2)
    for t in range(6):
        tracker.update(_box(10 + 3 * t), None, feature)
    for _ in range(5):
        tracker.update(np.zeros((0, 4)), None, np.zeros((0, 8)))
    tracker.update(_box(10 + 3 * 11), None, feature)
    assert tracker.tracks.ids.tolist() == [2]


def test_appearance_keeps_ids_through_a_crossing():
    tracker = DeepSort(n_init=2)
    features = np.eye(2, 8)
    ids_of_a, ids_of_b = set(), set()
    for t in range(30):
        # A moves right, B moves left on the same row; they overlap fully around frame 15.
        boxes = np.concatenate([_box(4.0 * t), _box(116.0 - 4.0 * t)])
        out = tracker.update(boxes, None, features)
        for track_id, box in zip(out.ids.tolist(), out.boxes):
            distance_to = np.abs(box[0] - boxes[:, 0])
            (ids_of_a if distance_to[0] < distance_to[1] else ids_of_b).add(track_id)
    assert ids_of_a == {1} and ids_of_b == {2}


def test_min_confidence_and_nms_filter_detections():
    tracker = DeepSort(n_init=1, min_confidence=0.5, nms_max_overlap=0.5)
    boxes = np.concatenate([_box(0), _box(1), _box(100)])
    tracker.update(boxes, np.array([0.9, 0.8, 0.4]), None)
    # The 0.4 box is below min_confidence; the 0.8 box overlaps the 0.9 box (IoU 0.9) and is suppressed.
    assert len(tracker.tracks) == 1
    np.testing.assert_allclose(tracker.tracks.mean[0, :4], [10.0, 70.0, 0.5, 40.0])


def test_parameters_and_input_are_checked():
    with pytest.raises(ValueError, match="n_init must be an integer >= 1"):
        DeepSort(n_init=0)
    with pytest.raises(ValueError, match=r"max_iou_distance must be in \[0.0, 1.0\]"):
        DeepSort(max_iou_distance=2.0)
    tracker = DeepSort()
    with pytest.raises(ValueError, match=r"boxes\[0\] is not finite"):
        tracker.update(np.array([[0.0, 0.0, np.inf, 1.0]]))
    with pytest.raises(ValueError, match=r"features must have shape \(1, D\)"):
        tracker.update(_box(0), None, np.ones((2, 8)))
    tracker.update(_box(0), None, np.ones((1, 8)))
    tracker.update(_box(0), None, np.ones((1, 8)))
    tracker.update(_box(0), None, np.ones((1, 8)))
    with pytest.raises(ValueError, match="features have 4 dimensions but the galleries hold 8"):
        tracker.update(_box(0), None, np.ones((1, 4)))


@pytest.mark.slow
def test_tracks_equal_nwojke_deep_sort():
    """nwojke/deep_sort's tracker (PyPI ``deepsort`` 0.0.5 packages its tracker, track, cascade and gallery
    code unchanged apart from names) and vidlearn report the same ids and boxes on every frame."""
    reference = pytest.importorskip("deepsort.tracker", reason="deepsort (nwojke/deep_sort code) is not installed")
    import deepsort.linear_assignment as reference_assignment
    from scipy.optimize import linear_sum_assignment

    class Detection:  # nwojke's Detection without its NumPy-1 ``np.float``
        def __init__(self, tlwh, confidence, feature):
            self.tlwh, self.confidence = np.asarray(tlwh, dtype=float), confidence
            self.feature = np.asarray(feature, dtype=np.float32)

        def to_xyah(self):
            ret = self.tlwh.copy()
            ret[:2] += ret[2:] / 2
            ret[2] /= ret[3]
            return ret

    monkeypatch = pytest.MonkeyPatch()
    # The package was written for sklearn's linear_assignment, which returned an (K, 2) array.
    monkeypatch.setattr(reference_assignment, "linear_assignment",
                        lambda cost: np.stack(linear_sum_assignment(cost), axis=1))
    try:
        for seed in range(2):
            ref = reference.DeepSortTracker("cosine", max_iou_distance=0.7, max_age=30, n_init=3, max_dist=0.2,
                                            nn_budget=100)
            ours = DeepSort(min_confidence=0.0)
            distinct = set()
            for t, (boxes, scores, features, _) in enumerate(linear_scene(15, 80, miss_rate=0.15, seed=seed)):
                tlwh = boxes.copy()
                tlwh[:, 2:] -= tlwh[:, :2]
                ref.predict()
                ref.update([Detection(tlwh[i], scores[i], features[i]) for i in range(len(boxes))])
                expected = [(tr.track_id, tr.to_tlwh()) for tr in ref.tracks
                            if tr.is_confirmed() and tr.time_since_update <= 1]
                got = ours.update(boxes, scores, features)
                np.testing.assert_array_equal(got.ids, [e[0] for e in expected], err_msg=f"seed {seed} frame {t}")
                if expected:
                    expected_boxes = np.array([e[1] for e in expected])
                    expected_boxes[:, 2:] += expected_boxes[:, :2]
                    np.testing.assert_allclose(got.boxes, expected_boxes, rtol=0, atol=1e-6)
                distinct.update(got.ids.tolist())
            assert len(distinct) >= 15  # every object tracked (misses make a few extra tracks)
    finally:
        monkeypatch.undo()


def test_byte_updates_a_confirmed_track_with_a_low_score_detection():
    """Under BYTE a detection under min_confidence (dropped by DeepSORT) updates the Confirmed track it
    overlaps; without BYTE the track misses the frame. A lone low-score box starts no track."""
    for byte, expected_since in [(False, [1]), (True, [0])]:
        tracker = DeepSort(n_init=2, min_confidence=0.5, byte=byte, low_threshold=0.1)
        for t in range(4):
            tracker.update(_box(10 + 3 * t), np.array([0.9]), np.eye(1, 8))
        boxes = np.concatenate([_box(22), _box(400, y=300)])
        out = tracker.update(boxes, np.array([0.3, 0.3]), np.eye(2, 8))
        assert tracker.tracks.time_since_update.tolist() == expected_since
        assert tracker.tracks.ids.tolist() == [1]
        assert out.ids.tolist() == [1]
        if byte:
            np.testing.assert_allclose(out.boxes[0], boxes[0], atol=1.0)  # the filter took the low-score box
            assert tracker.metric.gallery_size(1) == 4  # ... but not its appearance (4 high-score frames)


def test_byte_and_cmc_parameters_are_checked():
    with pytest.raises(ValueError, match=r"low_threshold must be below high_threshold, got 0\.9 >= 0\.8"):
        DeepSort(byte=True, low_threshold=0.9, min_confidence=0.8)
    DeepSort(byte=False, low_threshold=0.9, min_confidence=0.8)  # the order matters only with BYTE on
    with pytest.raises(ValueError, match=r"second_iou_threshold must be in \[0, 1\]"):
        DeepSort(second_iou_threshold=-0.1)
    with pytest.raises(ValueError, match="cmc must be None or one of ecc, orb"):
        DeepSort(cmc="homography")
    with pytest.raises(ValueError, match="needs the frame"):
        DeepSort(cmc="ecc").update(_box(0))


def test_camera_motion_keeps_a_static_object_on_its_track():
    """A 60-px camera jump puts the detection far outside the Mahalanobis gate; the known warp moves the
    prediction (mean and covariance) onto it and the id survives."""
    warp = np.array([[1.0, 0.0, -60.0], [0.0, 1.0, 0.0]])
    for compensate, expected in [(False, [[], [1], [1], [1], [2], [2]]), (True, [[], [1], [1], [1], [1], [1]])]:
        tracker = DeepSort(n_init=1, min_confidence=0.0)
        shown = []
        for t in range(6):
            camera = 60.0 if t >= 3 else 0.0
            motion = warp if (compensate and t == 3) else None
            shown.append(tracker.update(_box(200 - camera), None, np.eye(1, 8), camera_motion=motion).ids.tolist())
        # Uncompensated, track 1 coasts (shown at frame 3 where it missed) and track 2 takes the object.
        assert shown == expected


def test_cmc_warps_the_covariance():
    tracker = DeepSort(n_init=1, min_confidence=0.0)
    tracker.update(_box(100), None, None)
    before = tracker.tracks.covariance[0].copy()
    rotation = np.array([[0.0, -2.0, 0.0], [2.0, 0.0, 0.0]])  # 90 degrees and 2x
    tracker._compensate(rotation)
    after = tracker.tracks.covariance[0]
    assert after[0, 0] == pytest.approx(4 * before[1, 1]) and after[1, 1] == pytest.approx(4 * before[0, 0])
    assert after[3, 3] == pytest.approx(4 * before[3, 3]) and after[2, 2] == pytest.approx(before[2, 2])
    np.testing.assert_allclose(tracker.tracks.mean[0, :4], [-140.0, 220.0, 0.5, 80.0])
