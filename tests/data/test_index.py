"""The cached video metadata index (vidlearn.data.index): cache hits open no file, changes are re-probed, writes are atomic."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from vidlearn.data.index import INDEX_FILENAME, VideoIndex


def make_files(root, names, content=b"x" * 10):
    paths = []
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        paths.append(path)
    return paths


class CountingProber:
    """Returns (num_frames = file size, fps, height, width); fails for files containing b'bad'."""

    def __init__(self):
        self.calls = []
        self.lock = threading.Lock()

    def __call__(self, path):
        with self.lock:
            self.calls.append(path)
        data = Path(path).read_bytes()
        if b"bad" in data:
            raise ValueError("moov atom not found")
        return len(data), 25.0, 120, 160


def test_second_lookup_opens_nothing_and_cache_is_relative(tmp_path):
    paths = make_files(tmp_path, ["a/1.mp4", "a/2.mp4", "b/3.avi"])
    prober = CountingProber()
    index = VideoIndex(tmp_path, prober=prober)
    metas = index.lookup(paths)
    assert sorted(prober.calls) == sorted(map(str, paths)) and index.probed == 3
    assert metas[str(paths[0])].num_frames == 10 and metas[str(paths[0])].fps == 25.0
    saved = json.loads((tmp_path / INDEX_FILENAME).read_text())
    assert sorted(saved["entries"]) == sorted(os.path.join(*p.relative_to(tmp_path).parts) for p in paths)

    def fail(path):
        raise AssertionError(f"opened {path}")

    again = VideoIndex(tmp_path, prober=fail)
    assert again.lookup(paths) == metas and again.probed == 0


def test_changed_file_is_probed_again_and_errors_are_cached(tmp_path):
    good, bad = make_files(tmp_path, ["good.mp4", "bad.mp4"])
    bad.write_bytes(b"bad bytes")
    prober = CountingProber()
    metas = VideoIndex(tmp_path, prober=prober).lookup([good, bad, tmp_path / "absent.mp4"])
    assert set(metas) == {str(good), str(bad)}  # a missing file is left out
    assert not metas[str(bad)].ok and metas[str(bad)].error == "ValueError: moov atom not found"
    good.write_bytes(b"y" * 20)  # new size: stale entry
    prober = CountingProber()
    metas = VideoIndex(tmp_path, prober=prober).lookup([good, bad])
    assert prober.calls == [str(good)] and metas[str(good)].num_frames == 20
    assert metas[str(bad)].error == "ValueError: moov atom not found"


def test_hard_links_are_probed_once(tmp_path):
    (source,) = make_files(tmp_path, ["source.mp4"])
    links = []
    for index in range(50):
        link = tmp_path / "c" / f"{index}.mp4"
        link.parent.mkdir(exist_ok=True)
        os.link(source, link)
        links.append(link)
    prober = CountingProber()
    index = VideoIndex(tmp_path, prober=prober)
    metas = index.lookup(links)
    assert len(prober.calls) == 1 and len(metas) == 50 and index.probed == 1


def test_cache_file_override_disable_and_unwritable(tmp_path, caplog):
    paths = make_files(tmp_path / "root", ["v.mp4"])
    custom = tmp_path / "cache" / "meta.json"
    VideoIndex(tmp_path / "root", custom, prober=CountingProber()).lookup(paths)
    assert custom.is_file() and not (tmp_path / "root" / INDEX_FILENAME).exists()
    assert [p.name for p in custom.parent.iterdir()] == ["meta.json"]  # no temporary left behind
    prober = CountingProber()
    VideoIndex(tmp_path / "root", False, prober=prober).lookup(paths)
    VideoIndex(tmp_path / "root", False, prober=prober).lookup(paths)
    assert len(prober.calls) == 2 and not (tmp_path / "root" / INDEX_FILENAME).exists()
    blocker = tmp_path / "file"
    blocker.write_text("")
    metas = VideoIndex(tmp_path / "root", blocker / "index.json", prober=CountingProber()).lookup(paths)
    assert metas[str(paths[0])].num_frames == 10
    assert "could not write video index" in caplog.text


@pytest.mark.parametrize("content", ["{not json", '{"version": 99, "entries": {}}'])
def test_corrupt_or_foreign_cache_is_ignored(tmp_path, content, caplog):
    paths = make_files(tmp_path, ["v.mp4"])
    (tmp_path / INDEX_FILENAME).write_text(content)
    prober = CountingProber()
    VideoIndex(tmp_path, prober=prober).lookup(paths)
    assert len(prober.calls) == 1 and "ignoring" in caplog.text
    assert json.loads((tmp_path / INDEX_FILENAME).read_text())["version"] == 2


def test_default_prober_keeps_the_frame_table_and_version_1_is_read(tmp_path):
    from vidlearn.video import write_video

    frames = np.zeros((6, 16, 16, 3), np.uint8)
    path = write_video(tmp_path / "v.mp4", frames, 25, codec="mpeg4", gop=3)
    meta = VideoIndex(tmp_path).lookup([path])[str(path)]
    assert (meta.num_frames, meta.fps, meta.height, meta.width) == (6, 25.0, 16, 16)
    table = meta.frame_table
    assert table["num_frames"] == 6 and table["keyframes"] == [0, 3] and table["count_frames"] is False
    cached = json.loads((tmp_path / INDEX_FILENAME).read_text())
    assert cached["version"] == 2 and cached["entries"]["v.mp4"]["frame_table"] == table
    entry = {key: value for key, value in cached["entries"]["v.mp4"].items() if key != "frame_table"}
    (tmp_path / INDEX_FILENAME).write_text(json.dumps({"version": 1, "entries": {"v.mp4": entry}}))
    prober = CountingProber()
    old = VideoIndex(tmp_path, prober=prober).lookup([path])[str(path)]
    assert prober.calls == [] and old.num_frames == 6 and old.frame_table is None
