"""Tests of write_motion_dataset: real video files, list files, idempotence."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest

from vidlearn.synthetic import PRESETS, SyntheticMotionDataset, write_motion_dataset

ARGS = {"num_train": 8, "num_test": 4, "num_frames": 8, "size": (32, 32), "seed": 2}


def _decode(path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("motion")
    return write_motion_dataset(root, **ARGS)


def test_lists_parse_and_videos_decode_to_the_rendered_clips(written):
    classes = written["classes"].read_text().splitlines()
    assert classes == list(PRESETS["motion8"].classes)
    for split, count in (("train", ARGS["num_train"]), ("test", ARGS["num_test"])):
        lines = written[split].read_text().splitlines()
        assert len(lines) == count
        dataset = SyntheticMotionDataset(count, num_frames=8, size=(32, 32), seed=2, split=split)
        for index, line in enumerate(lines):
            relative, label = line.rsplit(" ", 1)
            assert relative.startswith(f"videos/{classes[int(label)]}/")
            frames = _decode(written["root"] / relative)
            assert frames.shape == (8, 32, 32, 3)
            clip, expected_label, _ = dataset[index]
            assert int(label) == expected_label
            # Lossy, but close in brightness (4:2:0 chroma subsampling blurs the colours at 32x32).
            error = np.abs(frames.astype(float).mean(-1) - clip.numpy().mean(-1)).mean()
            assert error < 5.0, f"{relative}: mean brightness error {error:.2f}"


def test_a_complete_dataset_is_not_regenerated_but_other_parameters_are(written):
    marker = written["root"] / ".complete.json"
    assert json.loads(marker.read_text())["num_frames"] == 8
    video = written["root"] / written["train"].read_text().split()[0]
    stamp = video.stat().st_mtime_ns
    again = write_motion_dataset(written["root"], **ARGS)
    assert again == written and video.stat().st_mtime_ns == stamp
    changed = write_motion_dataset(written["root"], **{**ARGS, "num_train": 4, "num_frames": 4})
    assert len(changed["train"].read_text().splitlines()) == 4
    assert _decode(changed["root"] / changed["train"].read_text().split()[0]).shape[0] == 4
    assert len(list((written["root"] / "videos").rglob("*.mp4"))) == 4 + ARGS["num_test"]  # stale clips gone


def test_bad_arguments_name_the_value(tmp_path):
    with pytest.raises(ValueError, match=r"\(31, 32\)"):
        write_motion_dataset(tmp_path, size=(31, 32))
    with pytest.raises(ValueError, match="num_train must be >= 0, got -1"):
        write_motion_dataset(tmp_path, num_train=-1)
    with pytest.raises(ValueError, match="'nope'"):
        write_motion_dataset(tmp_path, preset="nope")


def test_the_same_seed_writes_the_same_bytes(tmp_path):
    # x264's macroblock tree changed a few bits of about one file in 30 to 70 between two writes of the
    # same frames (13 of 208 files of the demo's dataset); the writer turns it off for datasets.
    args = {**ARGS, "num_train": 48, "num_test": 16, "num_frames": 16, "preset": "motion4"}
    first = write_motion_dataset(tmp_path / "a", **args)
    second = write_motion_dataset(tmp_path / "b", **args)
    files = sorted(p.relative_to(first["root"]) for p in (first["root"] / "videos").rglob("*.mp4"))
    assert len(files) == 64
    differing = [str(f) for f in files if (first["root"] / f).read_bytes() != (second["root"] / f).read_bytes()]
    assert differing == []
