"""HR sources (files, frame folders, Vid4 / REDS / Vimeo-90K layouts, synthetic scenes) and training clips."""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vidlearn.superres.data import (
    FileSource,
    FrameFolder,
    SRClipDataset,
    SyntheticSource,
    find_sequences,
    read_image,
    read_sequence,
)
from vidlearn.superres.degrade import Degradation
from vidlearn.video import VideoDecodeError, write_video


def write_frames(folder: Path, count: int, size: tuple[int, int] = (36, 44), *, name: str = "{:08d}.png",
                 seed: int = 0) -> np.ndarray:
    folder.mkdir(parents=True, exist_ok=True)
    frames = np.random.default_rng(seed).integers(0, 256, (count, *size, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / name.format(i)), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return frames


def test_vid4_reds_and_vimeo_layouts_are_found(tmp_path: Path) -> None:
    write_frames(tmp_path / "vid4" / "GT" / "calendar", 3)
    write_frames(tmp_path / "vid4" / "GT" / "walk", 3)
    write_frames(tmp_path / "reds" / "train_sharp" / "000", 2, name="{:08d}.png")
    write_frames(tmp_path / "vimeo" / "sequences" / "00001" / "0001", 7, name="im{}.png")
    assert [p.name for p in find_sequences(tmp_path / "vid4" / "GT")] == ["calendar", "walk"]
    assert find_sequences(tmp_path / "reds") == [tmp_path / "reds" / "train_sharp" / "000"]
    assert find_sequences(tmp_path / "vimeo") == [tmp_path / "vimeo" / "sequences" / "00001" / "0001"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no frame images"):
        find_sequences(tmp_path / "empty")


def test_frames_pair_in_sorted_name_order_and_lr_folders_are_used(tmp_path: Path) -> None:
    hr = write_frames(tmp_path / "GT" / "walk", 4, size=(32, 48))
    lr = write_frames(tmp_path / "BDx4" / "walk", 4, size=(8, 12), seed=1)
    sequence = read_sequence(tmp_path / "GT" / "walk", Degradation("bd", 4), lr_path=tmp_path / "BDx4" / "walk")
    assert torch.equal((sequence.hr * 255).round().to(torch.uint8).permute(0, 2, 3, 1), torch.from_numpy(hr))
    assert torch.equal((sequence.lr * 255).round().to(torch.uint8).permute(0, 2, 3, 1), torch.from_numpy(lr))
    with pytest.raises(ValueError, match="do not match"):
        read_sequence(tmp_path / "GT" / "walk", Degradation("bd", 2), lr_path=tmp_path / "BDx4" / "walk")


def test_a_size_not_divisible_by_the_scale_is_cropped_bottom_right(tmp_path: Path) -> None:
    write_frames(tmp_path / "odd", 2, size=(37, 43))
    sequence = read_sequence(tmp_path / "odd", Degradation("bd", 4))
    assert tuple(sequence.hr.shape) == (2, 3, 36, 40) and tuple(sequence.lr.shape) == (2, 3, 9, 10)
    assert sequence.cropped == (1, 3)


def test_grey_alpha_and_16_bit_frames_read_as_rgb(tmp_path: Path) -> None:
    grey = np.arange(12 * 16, dtype=np.uint8).reshape(12, 16)
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    rgba = np.dstack([np.full((12, 16, 3), (10, 20, 30), np.uint8), np.full((12, 16), 7, np.uint8)])
    cv2.imwrite(str(tmp_path / "alpha.png"), rgba)  # BGRA on disk
    cv2.imwrite(str(tmp_path / "deep.png"), np.full((12, 16, 3), 65535, np.uint16))
    assert np.array_equal(read_image(tmp_path / "grey.png"), np.repeat(grey[..., None], 3, 2))
    assert read_image(tmp_path / "alpha.png")[0, 0].tolist() == [30, 20, 10]
    assert read_image(tmp_path / "deep.png").max() == 255


def test_frames_of_different_sizes_in_one_folder_are_an_error_naming_the_frame(tmp_path: Path) -> None:
    write_frames(tmp_path, 1, size=(16, 16))
    cv2.imwrite(str(tmp_path / "00000001.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(VideoDecodeError, match=r"00000001\.png.*frame 1"):
        FrameFolder(tmp_path).get([0, 1])


def test_clip_dataset_is_reproducible_per_epoch_and_pairs_lr_with_hr(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    write_video(video, np.random.default_rng(0).integers(0, 255, (12, 48, 64, 3), dtype=np.uint8), 25)
    degradation = Degradation("bd", 4, quantize=True)
    dataset = SRClipDataset([FileSource(video), SyntheticSource()], degradation=degradation, clip_len=5,
                            crop_size=32, samples=4)
    first = dataset[1]
    assert tuple(first["hr"].shape) == (5, 3, 32, 32) and tuple(first["lr"].shape) == (5, 3, 8, 8)
    assert torch.equal(dataset[1]["hr"], first["hr"])
    assert torch.allclose(first["lr"], degradation(first["hr"]).clamp(0, 1))
    dataset.set_epoch(1)
    assert not torch.equal(dataset[1]["hr"], first["hr"])
    assert tuple(dataset[0]["hr"].shape) == (5, 3, 32, 32)  # from the video


@pytest.mark.parametrize("kind", ["real video", "frame folder"])
def test_cached_frames_give_the_clips_a_decode_gives(kind: str, tmp_path: Path, shared_data: Path) -> None:
    if kind == "real video":
        path = shared_data / "clips" / "ucf101_c3d_keras" / "v_Punch_g03_c01.avi"
    else:
        path = tmp_path / "frames"
        write_frames(path, 9)
    plain, cached = FileSource(path), FileSource(path, cache=True)
    for seed in range(4):
        expected = plain.clip(np.random.default_rng(seed), 5, 32)
        assert torch.equal(cached.clip(np.random.default_rng(seed), 5, 32), expected)
    assert cached._decoded is not None and cached._decoded.shape[0] == plain.frames.num_frames
    clone = pickle.loads(pickle.dumps(cached))  # what a DataLoader worker receives: no frames
    assert clone.cache and clone._decoded is None and clone._frames is None
    assert torch.equal(clone.clip(np.random.default_rng(0), 5, 32), plain.clip(np.random.default_rng(0), 5, 32))
    assert repr(cached).endswith("cache=True)") and "cache=" not in repr(plain)


def test_recipe_cache_frames_reaches_every_file_source(tmp_path: Path) -> None:
    from vidlearn.superres.recipe import SuperresConfig
    from vidlearn.superres.training import build_train_set

    write_frames(tmp_path / "a", 6)
    write_frames(tmp_path / "b", 6)
    cfg = SuperresConfig()
    cfg.data.train_sources = ["synthetic", str(tmp_path)]
    cfg.data.crop_size = 16
    assert [getattr(s, "cache", None) for s in build_train_set(cfg).sources] == [None, False, False]
    cfg.data.cache_frames = True
    assert [getattr(s, "cache", None) for s in build_train_set(cfg).sources] == [None, True, True]


def test_a_source_shorter_than_a_clip_is_named(tmp_path: Path) -> None:
    video = tmp_path / "short.mp4"
    write_video(video, np.zeros((3, 32, 32, 3), np.uint8), 25)
    with pytest.raises(ValueError, match=r"short\.mp4: 3 frames, shorter than a clip of 5"):
        FileSource(video).clip(np.random.default_rng(0), 5, 16)


def test_synthetic_scenes_move_and_have_fine_detail() -> None:
    clip = SyntheticSource().clip(np.random.default_rng(3), 4, 64).float()
    assert tuple(clip.shape) == (4, 64, 64, 3)
    assert (clip[1:] - clip[:-1]).abs().mean() > 1.0  # every frame differs: camera and objects move
    spectrum = torch.fft.rfft2(clip[0].mean(-1) - clip[0].mean()).abs()
    assert spectrum[8:56, 8:].sum() > 0.05 * spectrum.sum()  # energy beyond a x4 LR grid's Nyquist
