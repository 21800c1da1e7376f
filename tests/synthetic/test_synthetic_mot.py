"""Synthetic tracking sequences: look-alike scenes, box ground truth, MOTChallenge folders."""

import numpy as np
import pytest
import torch

from vidlearn.synthetic.mot import (
    MotSceneConfig,
    render_mot_sequence,
    sample_mot_scene,
    write_mot_sequence,
    write_synthetic_mot,
)
from vidlearn.tracking import read_mot, read_seqinfo
from vidlearn.tracking.boxes import xyxy_to_mot
from vidlearn.tracking.detectors import NoisyOracle

SMALL = MotSceneConfig(num_objects=4, num_frames=6, size=(64, 96))


def test_look_alike_scene_has_one_shape_two_colours_and_untracked_pillars():
    spec, tracked = sample_mot_scene(3, MotSceneConfig(num_objects=6, num_occluders=2))
    assert tracked.tolist() == [True] * 6 + [False] * 2
    objects = spec.objects
    assert len(set(objects.shape[:6].tolist())) == 1
    # Two base colours (+-0.03 each): every object is within 0.06 per channel of object 0 or object 1.
    near = [np.abs(objects.color[:6] - objects.color[k]).max(1) <= 0.06 for k in (0, 1)]
    assert (near[0] | near[1]).all()
    # Each tracked object has its own texture; the pillars are flat and drawn last (in front).
    assert np.abs(objects.texture_amplitudes[:6]).max(axis=(1, 2)).min() > 0
    assert np.abs(objects.texture_amplitudes[6:]).max() == 0
    assert spec.camera.shake != (0.0, 0.0)


def test_ground_truth_rows_follow_the_rendered_boxes():
    sequence = render_mot_sequence(7, SMALL)
    again = render_mot_sequence(7, SMALL)
    assert torch.equal(sequence.frames, again.frames) and sequence.frames.shape == (6, 64, 96, 3)
    gt = sequence.gt
    assert set(gt.ids.tolist()) <= {1, 2, 3, 4} and gt.classes.tolist() == [1] * len(gt)
    # Every row: the rendered box of that object in that frame, as 1-based x, y, w, h.
    expected = xyxy_to_mot(sequence.boxes[gt.frames - 1, gt.ids - 1])
    np.testing.assert_allclose(gt.boxes, expected)
    visibility = sequence.visibility[gt.frames - 1, gt.ids - 1]
    assert (visibility > 0).all()
    np.testing.assert_array_equal(gt.scores, (visibility >= 0.25).astype(float))
    # Rows missing from the ground truth are the objects not seen at all in that frame.
    seen = (sequence.visibility > 0).sum()
    inside = len(gt)
    assert inside <= seen


def test_written_folder_reads_back(tmp_path):
    sequence = render_mot_sequence(1, SMALL, name="SYN-A")
    detections = NoisyOracle(miss_rate=0.0, false_positives=0.0, jitter=0.0, min_visibility=0.0).detect(
        sequence.gt, image_size=SMALL.size)
    folder = write_mot_sequence(tmp_path, sequence, detections=detections)
    info = read_seqinfo(folder / "seqinfo.ini")
    assert (info.name, info.seq_length, info.im_width, info.im_height, info.im_dir) == ("SYN-A", 6, 96, 64, "img1")
    assert sorted(p.name for p in (folder / "img1").iterdir()) == [f"{i:06d}.jpg" for i in range(1, 7)]
    gt = read_mot(folder / "gt" / "gt.txt", "gt", 6)
    assert len(gt) == len(sequence.gt)
    np.testing.assert_allclose(gt.boxes, np.round(sequence.gt.boxes[np.lexsort((sequence.gt.ids, sequence.gt.frames))], 3),
                               atol=1e-3)
    det = read_mot(folder / "det" / "det.txt", "det", 6)
    assert len(det) == len(gt)  # a perfect oracle detects every row
    video = write_mot_sequence(tmp_path / "v", sequence, video=True)
    assert read_seqinfo(video / "seqinfo.ini").im_dir == "SYN-A.mp4" and (video / "SYN-A.mp4").is_file()


def test_synthetic_set_is_written_once(tmp_path):
    folders = write_synthetic_mot(tmp_path, num_sequences=2, config=SMALL, seed=4)
    assert [f.name for f in folders] == ["SYN-0004", "SYN-0005"]
    stamp = (folders[0] / "gt" / "gt.txt").stat().st_mtime_ns
    assert write_synthetic_mot(tmp_path, num_sequences=2, config=SMALL, seed=4) == folders
    assert (folders[0] / "gt" / "gt.txt").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="num_sequences must be >= 1"):
        write_synthetic_mot(tmp_path, num_sequences=0)
