"""Detection files in (text, feature columns, deep_sort's .npy) and a tracker run over them."""

import numpy as np
import pytest

from vidlearn.tracking import DeepSort, Sort, create_tracker, read_detections, track_detections
from vidlearn.tracking.formats import MotFormatError


def _rows(num_frames: int = 6) -> np.ndarray:
    """One walker per frame with a 3-d feature: ``(num_frames, 13)``."""
    return np.array([[f, -1, 10 + 4 * f, 20, 30, 60, 0.9, -1, -1, -1, 1.0, 0.5, f] for f in range(1, num_frames + 1)])


def _write(path, array):
    path.write_text("".join(",".join(f"{v:g}" for v in row) + "\n" for row in array))
    return path


def test_features_are_read_from_text_and_npy_in_file_order(tmp_path):
    array = _rows()[::-1]  # frames descending: the runner sorts them, the reader keeps file order
    text = read_detections(_write(tmp_path / "det.txt", array))
    np.save(tmp_path / "det.npy", array)
    npy = read_detections(tmp_path / "det.npy")
    np.testing.assert_array_equal(text.features, array[:, 10:])
    np.testing.assert_array_equal(npy.features, array[:, 10:])
    np.testing.assert_array_equal(text.rows.frames, npy.rows.frames)
    np.testing.assert_allclose(text.rows.boxes, npy.rows.boxes)
    assert read_detections(_write(tmp_path / "plain.txt", array[:, :7])).features is None


def test_track_detections_runs_every_frame_in_order(tmp_path):
    detections = read_detections(_write(tmp_path / "det.txt", _rows()[::-1]))
    rows = track_detections(Sort(), detections)
    assert rows.frames.tolist() == [1, 2, 3, 4, 5, 6] and set(rows.ids.tolist()) == {1}
    np.testing.assert_allclose(rows.boxes[0], [14, 20, 30, 60], atol=1e-9)  # frame 1 is the detection itself
    # A longer sequence: frames past the last detection run empty (SORT drops the track after max_age).
    assert track_detections(Sort(), detections, num_frames=9).num_frames == 6
    with pytest.raises(ValueError, match="detections reach frame 6, past the sequence length 4"):
        track_detections(Sort(), detections, num_frames=4)
    # nwojke/deep_sort: a new track is Tentative even with n_init=1, confirmed at its first match (frame 2).
    with_features = track_detections(DeepSort(n_init=1), detections)
    assert with_features.frames.tolist() == [2, 3, 4, 5, 6] and set(with_features.ids.tolist()) == {1}


def test_create_tracker_and_npy_errors(tmp_path):
    assert isinstance(create_tracker("sort", max_age=2), Sort) and create_tracker("deepsort").max_age == 30
    with pytest.raises(ValueError, match="unknown tracker 'bytetrack'; known: sort, deepsort"):
        create_tracker("bytetrack")
    np.save(tmp_path / "short.npy", np.zeros((3, 6)))
    with pytest.raises(MotFormatError, match=r"short\.npy: expected an array \(N, 10 \+ D\)"):
        read_detections(tmp_path / "short.npy")
    bad = _rows()
    bad[2, 0] = 0
    np.save(tmp_path / "frame0.npy", bad)
    with pytest.raises(MotFormatError, match=r"frame0\.npy: row 2: frame numbers are integers from 1"):
        read_detections(tmp_path / "frame0.npy")
    np.save(tmp_path / "long.npy", _rows())
    with pytest.raises(MotFormatError, match=r"long\.npy: row 5: frame past the sequence length 5"):
        read_detections(tmp_path / "long.npy", num_frames=5)
