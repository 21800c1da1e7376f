"""The task-neutral clip dataset core (vidlearn.data.clips): skipping bad videos, seeding, views, transforms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from vidlearn.data import ClipDataset, VideoSample, count_skipped, skipped_videos
from vidlearn.data import frames as frames_module
from vidlearn.video import write_video as write_video_file
from vidlearn.video.backends.pyav import PyAVBackend
from vidlearn.video.errors import VideoDecodeError
from vidlearn.video.sampling import CenterClipSampler, RandomClipSampler, UniformClipSampler

FRAME_STEP = 30  # frame i of a test video is flat grey i * FRAME_STEP: a frame names its index


def write_video(path: Path, num_frames: int, size: int = 16, fps: int = 25) -> Path:
    """A tiny MPEG-4 Part 2 video whose frame ``i`` is grey level ``i * FRAME_STEP``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    grey = (np.arange(num_frames) * FRAME_STEP % 256).astype(np.uint8)
    frames = np.broadcast_to(grey[:, None, None, None], (num_frames, size, size, 3))
    return write_video_file(path, np.ascontiguousarray(frames), fps, codec="mpeg4", gop=4)




@pytest.fixture()
def mixed_videos(tmp_path):
    """One good 12-frame video, one truncated, one empty, one 3 frames long."""
    good = write_video(tmp_path / "good.mp4", num_frames=12)
    truncated = write_video(tmp_path / "truncated.mp4", num_frames=12)
    truncated.write_bytes(truncated.read_bytes()[:300])  # the index (moov) is gone
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    short = write_video(tmp_path / "short.mp4", num_frames=3)
    return [good, truncated, empty, short]


def _dataset(paths, **kwargs):
    """A generic clip dataset: samples without labels, items ``(clip, info)``."""
    samples = [VideoSample(str(path), key=path.name, source=f"test:{index}") for index, path in enumerate(paths)]
    return ClipDataset(samples, **kwargs)


def test_skip_replaces_and_counts_bad_videos(mixed_videos, caplog):
    dataset = _dataset(mixed_videos, sampler=RandomClipSampler(4), on_error="skip", seed=3)
    loader = DataLoader(dataset, batch_size=4, shuffle=False, num_workers=0)
    batch = next(iter(loader))
    clips, info = batch
    assert clips.shape == (4, 4, 16, 16, 3) and clips.dtype == torch.uint8
    assert info["path"] == [str(mixed_videos[0])] * 4  # every bad item was replaced by the good video
    assert info["index"].tolist() == [0, 0, 0, 0]
    assert info["skipped"][0].item() == 0 and (info["skipped"][1:] >= 1).all()
    assert count_skipped(batch) == int(info["skipped"].sum()) >= 3
    reasons = skipped_videos(batch)
    for bad in mixed_videos[1:]:
        assert any(reason.startswith(f"{bad}: ") for reason in reasons), bad
    assert any("too short" in reason for reason in reasons if reason.startswith(str(mixed_videos[3])))
    assert "skipping" in caplog.text and str(mixed_videos[2]) in caplog.text


@pytest.mark.parametrize("bad", [1, 2, 3])
def test_raise_names_the_bad_file(mixed_videos, bad):
    dataset = _dataset(mixed_videos, sampler=RandomClipSampler(4))
    with pytest.raises(VideoDecodeError) as error:
        dataset[bad]
    assert error.value.path == str(mixed_videos[bad])


def test_probe_sets_aside_unreadable_and_short(mixed_videos, tmp_path):
    dataset = _dataset(mixed_videos, sampler=CenterClipSampler(4), on_error="skip", probe=True, root=tmp_path)
    assert [s.path for s in dataset.samples] == [str(mixed_videos[0])]
    assert sorted(path for path, _ in dataset.unreadable) == sorted(str(p) for p in mixed_videos[1:3])
    assert dataset.too_short == [(str(mixed_videos[3]), 3)]
    with pytest.raises(VideoDecodeError, match=r"truncated\.mp4"):
        _dataset(mixed_videos, sampler=CenterClipSampler(4), probe=True, root=tmp_path)


def test_items_are_deterministic_per_epoch_and_across_workers(tmp_path):
    paths = [write_video(tmp_path / f"v{i}.avi", num_frames=30) for i in range(3)]
    dataset = _dataset(paths, sampler=RandomClipSampler(4), seed=11)

    def starts(loader_kwargs, epochs=(0, 1)):
        loader = DataLoader(dataset, batch_size=3, **loader_kwargs)
        out = []
        for epoch in epochs:
            dataset.set_epoch(epoch)
            out.append(torch.cat([info["frame_indices"][:, 0, 0] for _, info in loader]).tolist())
        return out

    in_process = starts({"num_workers": 0})
    assert in_process == starts({"num_workers": 0})
    assert in_process[0] != in_process[1]
    persistent = starts({"num_workers": 1, "persistent_workers": True})
    assert persistent == in_process  # set_epoch reached the persistent worker


def test_multi_view_decodes_once_and_gathers_the_right_frames(tmp_path, monkeypatch):
    path = write_video(tmp_path / "v.avi", num_frames=8)
    calls = []
    original = frames_module.VideoFileFrames.get

    def counting_get(self, indices, size=None):
        calls.append(list(indices))
        return original(self, indices, size)

    monkeypatch.setattr(frames_module.VideoFileFrames, "get", counting_get)
    dataset = _dataset([path], sampler=UniformClipSampler(4, num_clips=3))
    clip, info = dataset[0]
    assert clip.shape == (3, 4, 16, 16, 3)
    assert len(calls) == 1 and calls[0] == sorted(set(info["frame_indices"].flatten().tolist()))
    grey = clip[..., 0].float().mean(dim=(-1, -2))  # (V, T) mean grey of each frame
    expected = info["frame_indices"].float() * FRAME_STEP
    assert torch.allclose(grey, expected, atol=6), (grey, expected)


def test_transform_per_view_and_multi_crop_flatten(tmp_path):
    path = write_video(tmp_path / "v.avi", num_frames=8)

    def to_cthw(view):
        return view.permute(3, 0, 1, 2).float() / 255

    single = _dataset([path], sampler=CenterClipSampler(4), transform=to_cthw)[0][0]
    assert single.shape == (3, 4, 16, 16)
    views = _dataset([path], sampler=UniformClipSampler(4, num_clips=2), transform=to_cthw)[0][0]
    assert views.shape == (2, 3, 4, 16, 16)

    def two_crops(view):
        cthw = to_cthw(view)
        return torch.stack([cthw[..., :8, :8], cthw[..., 8:, 8:]])

    crops = _dataset([path], sampler=UniformClipSampler(4, num_clips=2), transform=two_crops)[0][0]
    assert crops.shape == (4, 3, 4, 8, 8)


def test_decode_time_resize(tmp_path):
    path = write_video(tmp_path / "v.avi", num_frames=6, size=32)
    clip = _dataset([path], sampler=CenterClipSampler(2), size=(8, 12))[0][0]
    assert clip.shape == (2, 8, 12, 3)


def test_flow_modality_reads_mmaction2_layout(tmp_path):
    from vidlearn.video.flow.storage import write_flow_frames

    flow = torch.zeros(5, 2, 8, 8)
    flow[:, 0] = torch.arange(5).view(5, 1, 1).float()  # x displacement = field index
    flow[:, 1] = -2.0
    write_flow_frames(flow, tmp_path / "flow" / "Biking" / "v_1")
    sample = VideoSample(str(tmp_path / "videos" / "Biking" / "v_1.avi"), 0, key="Biking/v_1.avi")
    dataset = ClipDataset(
        [sample],
        modality="flow",
        flow_root=tmp_path / "flow",
        sampler=CenterClipSampler(3),
        size=(4, 4),
    )
    clip, info = dataset[0]
    assert clip.shape == (3, 2, 4, 4) and clip.dtype == torch.float32
    assert info["frame_indices"].tolist() == [[1, 2, 3]] and info["num_frames"] == 5
    # resized by half: vectors halve with the image
    assert torch.allclose(clip[:, 0, 0, 0], torch.tensor([0.5, 1.0, 1.5]), atol=0.1)
    assert torch.allclose(clip[:, 1], torch.full((3, 4, 4), -1.0), atol=0.1)


def test_items_have_no_label_and_info_is_last(tmp_path):
    path = write_video(tmp_path / "v.avi", num_frames=8)
    dataset = _dataset([path], sampler=CenterClipSampler(4))
    item = dataset[0]
    assert len(item) == 2 and item[1]["path"] == str(path) and item[1]["num_frames"] == 8
    assert item[1]["frame_indices"].tolist() == [[2, 3, 4, 5]]
    assert count_skipped(item) == 0 and skipped_videos(item) == []
    assert repr(dataset).startswith("ClipDataset(1 videos, modality='rgb'")


def test_set_epoch_is_shared_memory(tmp_path):
    dataset = _dataset([write_video(tmp_path / "v.avi", num_frames=4)])
    assert dataset.epoch == 0 and dataset._epoch.is_shared()
    dataset.set_epoch(7)
    assert dataset.epoch == 7


def test_probed_metadata_reaches_the_reader_and_skips_the_packet_pass(tmp_path, monkeypatch):
    paths = [write_video(tmp_path / f"v{i}.mp4", num_frames=10) for i in range(2)]
    plain = _dataset(paths, sampler=RandomClipSampler(4), seed=5)
    probed = _dataset(paths, sampler=RandomClipSampler(4), seed=5, probe=True, root=tmp_path)
    assert set(probed.metadata) == {str(path) for path in paths}
    assert all(meta.frame_table is not None for meta in probed.metadata.values())
    passes = []
    original = PyAVBackend._build_index

    def counting(self, deadline):
        passes.append(self.path)
        return original(self, deadline)

    monkeypatch.setattr(PyAVBackend, "_build_index", counting)
    for index in range(2):
        with_meta, without = probed[index], plain[index]
        assert torch.equal(with_meta[0], without[0])
        assert torch.equal(with_meta[1]["frame_indices"], without[1]["frame_indices"])
    assert len(passes) == 2  # only the reads without metadata demuxed their file
