"""Recognition datasets: official split files, annotation errors, skipping bad videos, items."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import vidlearn.video as video_api
from vidlearn.recognition.datasets import (
    HMDB51,
    UCF101,
    AnnotationError,
    Kinetics,
    RawframeDataset,
    Sports1M,
    VideoClipDataset,
    VideoFolder,
    VideoListDataset,
    VideoSample,
    count_skipped,
    kinetics_classes,
    read_class_names,
    skipped_videos,
)
from vidlearn.recognition.datasets.lists import read_labelled_list
from vidlearn.video import write_video as write_video_file
from vidlearn.video.errors import VideoDecodeError
from vidlearn.video.sampling import CenterClipSampler, RandomClipSampler, UniformClipSampler

FRAME_STEP = 30  # frame i of a test video is flat grey i * FRAME_STEP: a frame names its index


def write_video(path: Path, num_frames: int, size: int = 16, fps: int = 25) -> Path:
    """A tiny MPEG-4 Part 2 video whose frame ``i`` is grey level ``i * FRAME_STEP``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    grey = (np.arange(num_frames) * FRAME_STEP % 256).astype(np.uint8)
    frames = np.broadcast_to(grey[:, None, None, None], (num_frames, size, size, 3))
    return write_video_file(path, np.ascontiguousarray(frames), fps, codec="mpeg4", gop=4)


# -- a root of hard links named as in the official split files ----------------------------------


@pytest.fixture(scope="session")
def official_roots(tmp_path_factory, shared_data):
    """UCF-101 and HMDB51 roots where every video of split 1 is a hard link to one 4-frame video."""
    base = tmp_path_factory.mktemp("official")
    source = write_video(base / "source.avi", num_frames=4)
    started = time.perf_counter()
    ucf_root, hmdb_root = base / "ucf101", base / "hmdb51"
    ucf_dir = shared_data / "recognition" / "ucf101_splits"
    names = set()
    for list_name in ("trainlist01.txt", "testlist01.txt"):
        for line in (ucf_dir / list_name).read_text().splitlines():
            if line.strip():
                names.add(line.split()[0])
    for name in names:
        (ucf_root / name).parent.mkdir(parents=True, exist_ok=True)
        os.link(source, ucf_root / name)
    hmdb_dir = shared_data / "recognition" / "hmdb51_splits" / "testTrainMulti_7030_splits"
    for split_file in hmdb_dir.glob("*_test_split1.txt"):
        class_name = split_file.name[: -len("_test_split1.txt")]
        (hmdb_root / class_name).mkdir(parents=True)
        for line in split_file.read_text().splitlines():
            fields = line.split()
            if len(fields) == 2 and fields[1] in ("1", "2"):
                os.link(source, hmdb_root / class_name / fields[0])
    elapsed = time.perf_counter() - started
    return SimpleNamespace(
        ucf=ucf_root,
        hmdb=hmdb_root,
        ucf_splits=ucf_dir,
        hmdb_splits=hmdb_dir.parent,
        ucf_count=len(names),
        link_seconds=elapsed,
    )


@pytest.mark.shared_data
def test_ucf101_split1_counts_and_class_order(official_roots):
    train = UCF101(official_roots.ucf, official_roots.ucf_splits, split=1, train=True)
    test = UCF101(official_roots.ucf, official_roots.ucf_splits, split=1, train=False)
    assert (len(train), len(test)) == (9537, 3783)
    assert train.classes[0] == "ApplyEyeMakeup" and train.classes[100] == "YoYo"
    assert train.classes == read_class_names(official_roots.ucf_splits / "label_map_mmaction2.txt")
    # samples follow the file order: line n of the list is sample n - 1
    lines = (official_roots.ucf_splits / "trainlist01.txt").read_text().splitlines()
    for number in (1, 4000, 9537):
        relative, class_id = lines[number - 1].split()
        assert train.samples[number - 1].key == relative
        assert train.samples[number - 1].label == int(class_id) - 1
    test_lines = (official_roots.ucf_splits / "testlist01.txt").read_text().splitlines()
    assert test_lines[-1].strip() == "YoYo/v_YoYo_g07_c04.avi"
    assert test.samples[-1].label == 100
    assert test.samples[0].label == 0


@pytest.mark.shared_data
def test_hmdb51_split1_counts_and_class_order(official_roots):
    train = HMDB51(official_roots.hmdb, official_roots.hmdb_splits, split=1, train=True)
    test = HMDB51(official_roots.hmdb, official_roots.hmdb_splits, split=1, train=False)
    assert (len(train), len(test)) == (3570, 1530)
    assert train.classes == read_class_names(official_roots.hmdb_splits / "label_map_mmaction2.txt")
    assert np.bincount(train.labels).tolist() == [70] * 51
    assert np.bincount(test.labels).tolist() == [30] * 51
    assert train.classes.index("kick") == 20 and train.classes.index("kick_ball") == 21
    # TSN's order is available by passing its class list
    tsn_classes = read_class_names(official_roots.hmdb_splits / "class_list.txt")
    tsn = HMDB51(official_roots.hmdb, official_roots.hmdb_splits, split=1, train=False, classes=tsn_classes)
    assert tsn.classes.index("kick_ball") == 20
    kick_ball = [s for s in tsn.samples if s.key.startswith("kick_ball/")]
    assert len(kick_ball) == 30 and {s.label for s in kick_ball} == {20}


@pytest.mark.shared_data
def test_probing_hard_linked_tree_is_fast_and_cached(official_roots, tmp_path, monkeypatch):
    index_file = tmp_path / "index.json"
    started = time.perf_counter()
    train = UCF101(
        official_roots.ucf,
        official_roots.ucf_splits,
        probe=True,
        index_file=index_file,
        sampler=CenterClipSampler(4),
    )
    first = time.perf_counter() - started
    assert len(train) == 9537 and train.samples[0].num_frames == 4
    assert json.loads(index_file.read_text())["version"] == 2

    def fail(path):
        raise AssertionError(f"opened {path} although the index is cached")

    monkeypatch.setattr(video_api, "probe_video", fail, raising=False)
    started = time.perf_counter()
    again = UCF101(
        official_roots.ucf,
        official_roots.ucf_splits,
        probe=True,
        index_file=index_file,
        sampler=CenterClipSampler(4),
    )
    second = time.perf_counter() - started
    assert [s.num_frames for s in again.samples] == [4] * 9537
    print(
        f"\nlinked {official_roots.ucf_count} UCF names in {official_roots.link_seconds:.2f}s; "
        f"probe+index {first:.2f}s, cached {second:.2f}s"
    )
    assert first < 30 and second < 15


# -- annotation errors ------------------------------------------------------------------------


@pytest.fixture()
def small_ucf(tmp_path):
    """A two-class UCF-101 layout: classInd, trainlist01 (3 videos), testlist01 (1 video)."""
    annotations = tmp_path / "splits"
    annotations.mkdir()
    (annotations / "classInd.txt").write_text("1 Archery\r\n2 Biking\r\n")
    (annotations / "trainlist01.txt").write_text(
        "Archery/v_Archery_g01_c01.avi 1\r\nBiking/v_Biking_g01_c01.avi 2\r\nBiking/v_Biking_g01_c02.avi 2\r\n"
    )
    (annotations / "testlist01.txt").write_text("Biking/v_Biking_g02_c01.avi\r\n")
    root = tmp_path / "videos"
    source = write_video(tmp_path / "source.avi", num_frames=8)
    for name in (
        "Archery/v_Archery_g01_c01.avi",
        "Biking/v_Biking_g01_c01.avi",
        "Biking/v_Biking_g01_c02.avi",
        "Biking/v_Biking_g02_c01.avi",
    ):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        os.link(source, root / name)
    return SimpleNamespace(root=root, annotations=annotations)


def test_missing_video_names_file_and_list_line(small_ucf):
    missing = small_ucf.root / "Biking" / "v_Biking_g01_c02.avi"
    missing.unlink()
    with pytest.raises(FileNotFoundError) as error:
        UCF101(small_ucf.root, small_ucf.annotations)
    message = str(error.value)
    assert str(missing) in message
    assert "trainlist01.txt:3: 'Biking/v_Biking_g01_c02.avi 2'" in message
    skipping = UCF101(small_ucf.root, small_ucf.annotations, on_error="skip")
    assert len(skipping) == 2 and skipping.missing == [str(missing)]


def test_unknown_class_names_file_line_number_and_line(small_ucf):
    list_file = small_ucf.annotations / "trainlist01.txt"
    list_file.write_text(list_file.read_text() + "Skydiving/v_Skydiving_g01_c01.avi 2\r\n")
    with pytest.raises(AnnotationError) as error:
        UCF101(small_ucf.root, small_ucf.annotations)
    assert error.value.line_number == 4
    assert str(error.value) == (
        f"{list_file}:4: unknown class 'Skydiving' (not in classInd.txt): 'Skydiving/v_Skydiving_g01_c01.avi 2'"
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("Archery/v_Archery_g01_c01.avi 1 extra", "malformed line"),
        ("v_Archery_g01_c01.avi 1", "the path has no class folder"),
        ("Archery/v_Archery_g01_c01.avi 7", "unknown class id '7'"),
        ("Archery/v_Archery_g01_c01.avi 2", "class id 2 (Biking) disagrees with the folder 'Archery'"),
    ],
)
def test_malformed_split_lines(small_ucf, line, reason):
    list_file = small_ucf.annotations / "trainlist01.txt"
    list_file.write_text("Biking/v_Biking_g01_c01.avi 2\n\n" + line + "\n")
    with pytest.raises(AnnotationError, match=re.escape(reason)) as error:
        UCF101(small_ucf.root, small_ucf.annotations)
    assert (error.value.file, error.value.line_number, error.value.line) == (str(list_file), 3, line)


def test_hmdb51_bad_flag_and_unknown_class(tmp_path):
    splits = tmp_path / "testTrainMulti_7030_splits"
    splits.mkdir()
    (splits / "wave_test_split1.txt").write_text("a.avi 1 \nb.avi 3 \n")
    with pytest.raises(AnnotationError, match=r"wave_test_split1.txt:2: malformed line .*'b.avi 3'"):
        HMDB51(tmp_path / "videos", tmp_path, split=1, on_error="skip")
    (splits / "wave_test_split1.txt").write_text("a.avi 1 \n")
    with pytest.raises(AnnotationError, match="unknown class 'wave'"):
        HMDB51(tmp_path / "videos", tmp_path, classes=["walk"], on_error="skip")


# -- items: labels on top of the generic clip dataset (tests/data/test_clips.py) ----------------


def _dataset(paths, **kwargs):
    samples = [
        VideoSample(str(path), label, key=path.name, source=f"test:{label}")
        for label, path in enumerate(paths)
    ]
    return VideoClipDataset(samples, [p.stem for p in paths], **kwargs)


def test_skipped_items_carry_the_label_of_the_replacement(tmp_path):
    good = write_video(tmp_path / "good.avi", num_frames=8)
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    dataset = _dataset([good, empty], sampler=CenterClipSampler(4), on_error="skip")
    clip, label, info = dataset[1]
    assert label == 0 and info["path"] == str(good) and info["skipped"] == 1
    assert count_skipped((clip, label, info)) == 1 and skipped_videos((clip, label, info))[0].startswith(f"{empty}: ")
    assert dataset.num_classes == 2 and dataset.labels == [0, 1]
    assert repr(dataset).startswith("VideoClipDataset(2 videos, 2 classes")


def test_rawframe_dataset_rgb_and_flow(tmp_path):
    import cv2

    from vidlearn.video.flow.storage import write_flow_frames

    frame_dir = tmp_path / "frames" / "clip_a"
    frame_dir.mkdir(parents=True)
    for index in range(1, 7):
        cv2.imwrite(str(frame_dir / f"img_{index:05d}.jpg"), np.full((8, 10, 3), index * 30, np.uint8))
    write_flow_frames(torch.full((5, 2, 8, 10), 3.0), frame_dir)
    list_file = tmp_path / "list.txt"
    list_file.write_text("clip_a 6 2\n")
    rgb = RawframeDataset(list_file, tmp_path / "frames", sampler=CenterClipSampler(2))
    clip, label, info = rgb[0]
    assert clip.shape == (2, 8, 10, 3) and label == 2 and rgb.classes == ["0", "1", "2"]
    assert torch.allclose(clip[:, 0, 0, 0].float(), (info["frame_indices"][0].float() + 1) * 30, atol=3)
    (tmp_path / "flow_list.txt").write_text("clip_a 5 2\n")
    flow = RawframeDataset(
        tmp_path / "flow_list.txt", tmp_path / "frames", modality="flow", sampler=CenterClipSampler(2)
    )
    flow_clip = flow[0][0]
    assert flow_clip.shape == (2, 2, 8, 10) and torch.allclose(
        flow_clip, torch.full_like(flow_clip, 3.0), atol=0.2
    )
    list_file.write_text("clip_a six 2\n")
    with pytest.raises(AnnotationError, match=r"list.txt:1: malformed frame count 'six'"):
        RawframeDataset(list_file, tmp_path / "frames")


# -- other formats -----------------------------------------------------------------------------


def test_kinetics_csv_layouts_labels_and_errors(tmp_path):
    classes = kinetics_classes(400)
    assert len(classes) == 400 and classes[0] == "abseiling" and classes[6] == "arm wrestling"
    assert len(kinetics_classes(600)) == 600 and len(kinetics_classes(700)) == 700
    source = write_video(tmp_path / "source.mp4", num_frames=4)
    root = tmp_path / "k400"
    (root / "val" / "arm wrestling").mkdir(parents=True)
    os.link(source, root / "val" / "arm wrestling" / "abc_000010_000020.mp4")  # label folder layout
    os.link(source, root / "val" / "zz-9_000001_000011.mp4")  # flat layout
    csv_file = tmp_path / "validate.csv"
    csv_file.write_text(
        "label,youtube_id,time_start,time_end,split,is_cc\n"
        "arm wrestling,abc,10,20,val,0\n"
        "zumba,zz-9,1,11,val,0\n"
        "abseiling,train_only,0,10,train,0\n"
        "abseiling,gone,5,15,val,0\n"
    )
    with pytest.raises(FileNotFoundError, match=r"gone_000005_000015.mp4 .*validate.csv:5"):
        Kinetics(root, csv_file, split="val")
    dataset = Kinetics(root, csv_file, split="val", on_error="skip")
    assert dataset.labels == [6, 399] and len(dataset.missing) == 1
    assert dataset.samples[1].key == os.path.join("val", "zz-9_000001_000011.mp4")
    assert dataset[1][0].shape == (4, 16, 16, 3)
    csv_file.write_text("label,youtube_id,time_start,time_end,split\narm wrestlin,abc,10,20,val\n")
    with pytest.raises(AnnotationError) as error:
        Kinetics(root, csv_file, split="val")
    assert error.value.line_number == 2 and "unknown class 'arm wrestlin'" in str(error.value)


def test_sports1m_json_multi_hot_and_bad_entry(tmp_path):
    source = write_video(tmp_path / "source.mp4", num_frames=4)
    root = tmp_path / "sports1m"
    root.mkdir()
    os.link(source, root / "AbC-12.mp4")
    os.link(source, root / "xyz.mkv")
    entries = [
        {"id": "AbC-12", "url": "https://www.youtube.com/watch?v=AbC-12", "label487": [3, 486]},
        {"url": "https://www.youtube.com/watch?v=xyz", "label487": [0]},
    ]
    annotation = tmp_path / "sports1m_train.json"
    annotation.write_text(json.dumps(entries))
    dataset = Sports1M(root, tmp_path, split="train", sampler=CenterClipSampler(2))
    _, target, _ = dataset[0]
    assert target.shape == (487,) and target.dtype == torch.float32
    assert target.nonzero().flatten().tolist() == [3, 486]
    assert dataset.samples[1].path == str(root / "xyz.mkv")
    entries[1]["label487"] = [487]
    annotation.write_text(json.dumps(entries))
    with pytest.raises(AnnotationError, match=r"sports1m_train.json:2: unknown class 487"):
        Sports1M(root, annotation)
    partition = tmp_path / "train_partition.txt"
    partition.write_text("https://www.youtube.com/watch?v=AbC-12 168,169\n")
    assert Sports1M(root, partition).labels == [(168, 169)]


def test_video_folder_and_multi_label_list(tmp_path):
    source = write_video(tmp_path / "source.avi", num_frames=4)
    root = tmp_path / "folder"
    for name in ("b_class/x.avi", "a_class/y.avi", "a_class/sub/z.mp4", "a_class/notes.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        os.link(source, root / name)
    folder = VideoFolder(root)
    assert folder.classes == ["a_class", "b_class"]
    assert [(s.key, s.label) for s in folder.samples] == [
        (os.path.join("a_class", "y.avi"), 0),
        (os.path.join("a_class", "sub", "z.mp4"), 0),
        (os.path.join("b_class", "x.avi"), 1),
    ]
    list_file = tmp_path / "list.txt"
    list_file.write_text("a_class/y.avi 0 2\nb_class/x.avi 1\n")
    multi = VideoListDataset(list_file, root, multi_label=True, num_classes=3, sampler=CenterClipSampler(2))
    assert multi[0][1].tolist() == [1.0, 0.0, 1.0]
    with pytest.raises(AnnotationError, match=r"list.txt:1: malformed line"):
        VideoListDataset(list_file, root)
    list_file.write_text("a_class/y.avi 0\nb_class/x.avi 3\n")
    with pytest.raises(AnnotationError, match=r"list.txt:2: unknown class 3 \(labels are 0..1\)"):
        VideoListDataset(list_file, root, classes=["a", "b"])


@pytest.mark.parametrize(
    ("text", "line_number", "reason"),
    [
        ("a.avi 0\nb.avi x1\n", 2, "malformed label 'x1' (expected an integer)"),
        ("a.avi 0\n\nb.avi 1.5\n", 3, "malformed label '1.5' (expected an integer)"),
        ("a.avi 0\nb.avi\n", 2, "malformed line (expected '<path> <label>')"),
        ("a.avi 0 1\n", 1, "malformed line (expected '<path> <label>')"),
        ("a.avi -1\n", 1, "unknown class -1 (labels are >= 0)"),
    ],
)
def test_malformed_label_line_names_file_line_number_and_line(tmp_path, text, line_number, reason):
    list_file = tmp_path / "train_list.txt"
    list_file.write_text(text)
    bad_line = text.splitlines()[line_number - 1]
    with pytest.raises(AnnotationError) as error:
        read_labelled_list(list_file, ("<path>",))
    assert (error.value.file, error.value.line_number, error.value.line) == (
        str(list_file),
        line_number,
        bad_line,
    )
    assert str(error.value) == f"{list_file}:{line_number}: {reason}: {bad_line!r}"
    # Both list datasets parse their labels through it.
    with pytest.raises(AnnotationError, match=re.escape(f"{list_file}:{line_number}: {reason}")):
        VideoListDataset(list_file, tmp_path)


def test_labelled_list_labels_and_class_names(tmp_path):
    list_file = tmp_path / "rawframes.txt"
    list_file.write_text("clip_a 6 2\nclip_b 4 0\n")
    entries, names = read_labelled_list(list_file, ("<frame dir>", "<num_frames>"))
    assert [(line.number, line.fields[0], label) for line, label in entries] == [
        (1, "clip_a", 2),
        (2, "clip_b", 0),
    ]
    assert names == ["0", "1", "2"]
    list_file.write_text("clip_a 6 2 0\nclip_b 4 1\n")
    entries, names = read_labelled_list(
        list_file, ("<frame dir>", "<num_frames>"), multi_label=True, classes=["run", "jump", "swim"]
    )
    assert [label for _, label in entries] == [(2, 0), (1,)] and names == ["run", "jump", "swim"]
    with pytest.raises(AnnotationError, match=r"rawframes.txt:1: unknown class 2 \(labels are 0..1\)"):
        RawframeDataset(list_file, tmp_path, multi_label=True, num_classes=2)
    list_file.write_text("clip_a 6\n")
    with pytest.raises(
        AnnotationError,
        match=r"rawframes.txt:1: malformed line \(expected '<frame dir> <num_frames> <label>'\)",
    ):
        RawframeDataset(list_file, tmp_path)
    with pytest.raises(ValueError, match="multi_label=True needs num_classes or classes"):
        read_labelled_list(list_file, ("<path>",), multi_label=True)


def test_with_the_standard_test_pipeline_ten_clips_three_crops(tmp_path):
    from vidlearn.models import Preprocessing
    from vidlearn.recognition.preprocessing import build_clip_transform

    path = write_video(tmp_path / "v.avi", num_frames=12, size=16)
    preprocessing = Preprocessing(clip_length=4, crop_size=8, mean=(0.5,) * 3, std=(0.5,) * 3)
    transform = build_clip_transform(preprocessing, train=False, num_crops=3)
    dataset = _dataset([path], sampler=UniformClipSampler(4, num_clips=10), transform=transform)
    clip, _, info = dataset[0]
    assert clip.shape == (30, 3, 4, 8, 8) and clip.dtype == torch.float32
    # clip-major: views 0..2 are the three crops of clip 0, whose frames are frame_indices[0]
    expected = (info["frame_indices"][0].float() * FRAME_STEP / 255 - 0.5) / 0.5
    assert torch.allclose(clip[1, 0, :, 4, 4], expected, atol=0.05)
    assert info["frame_indices"].shape == (10, 4)


def test_sampler_error_names_the_video(tmp_path):
    path = write_video(tmp_path / "v.avi", num_frames=8)
    sampler = RandomClipSampler(2, target_fps=10)

    class NoFps:
        def __init__(self, source):
            self.num_frames, self.fps, self.source = source.num_frames, None, source

        def get(self, indices, size=None):
            return self.source.get(indices, size)

    dataset = _dataset([path], sampler=sampler)
    dataset.open = lambda sample: NoFps(VideoClipDataset.open(dataset, sample))
    with pytest.raises(VideoDecodeError, match=r"v\.avi: cannot sample a clip: .*needs the video's fps"):
        dataset[0]


@pytest.mark.shared_data
def test_real_ucf101_clips_ten_views_match_direct_reads(shared_data, tmp_path):
    clips = shared_data / "clips" / "ucf101_c3d_keras"
    splits = tmp_path / "splits"
    splits.mkdir()
    (splits / "classInd.txt").write_bytes(
        (shared_data / "recognition" / "ucf101_splits" / "classInd.txt").read_bytes()
    )
    (splits / "trainlist01.txt").write_text(
        "Biking/v_Biking_g05_c02.avi 11\r\nPunch/v_Punch_g03_c01.avi 71\r\n"
    )
    root = tmp_path / "videos"
    for name in ("Biking/v_Biking_g05_c02.avi", "Punch/v_Punch_g03_c01.avi"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).symlink_to(clips / Path(name).name)
    dataset = UCF101(root, splits, sampler=UniformClipSampler(16, num_clips=10), size=64, probe=True)
    assert dataset.labels == [10, 70] and dataset.classes[70] == "Punch"
    assert dataset.samples[0].num_frames == video_api.probe_video(clips / "v_Biking_g05_c02.avi").num_frames
    clip, label, info = dataset[1]
    assert label == 70 and clip.shape == (10, 16, 64, 85, 3) and clip.dtype == torch.uint8
    with video_api.VideoReader(clips / "v_Punch_g03_c01.avi") as reader:
        for view in (0, 9):
            direct = reader.get_frames(info["frame_indices"][view].tolist(), size=64)
            assert torch.equal(clip[view], direct)
