"""The dataset-format registry (vidlearn.recognition.datasets.formats) that training and `data check` share."""

from __future__ import annotations

import typing

import numpy as np
import pytest

from vidlearn.recognition.datasets import Kinetics, VideoFolder, VideoListDataset
from vidlearn.recognition.datasets.formats import DataPaths, build_format_dataset, format_names, get_format
from vidlearn.recognition.recipe import DataConfig
from vidlearn.video import write_video


def test_every_recipe_format_is_registered():
    recipe_formats = typing.get_args(typing.get_type_hints(DataConfig)["format"])
    assert sorted(recipe_formats) == sorted(format_names())
    for name in format_names():
        entry = get_format(name)
        assert entry.description and entry.name == name
    assert get_format("ucf101").needs_annotations and not get_format("folder").needs_annotations
    with pytest.raises(ValueError, match=r"unknown data.format 'ava'; known: ucf101, hmdb51, kinetics"):
        get_format("ava")


def test_errors_say_what_annotations_and_split_mean(tmp_path):
    with pytest.raises(ValueError, match=r"data\.root is not set"):
        build_format_dataset(DataPaths("ucf101", ""), train=True)
    with pytest.raises(FileNotFoundError, match=r"dataset root not found: .*nowhere \(data.root\)"):
        build_format_dataset(DataPaths("ucf101", str(tmp_path / "nowhere")), train=True)
    with pytest.raises(ValueError, match=r"data.format=hmdb51 needs the testTrainMulti_7030_splits folder"):
        build_format_dataset(DataPaths("hmdb51", str(tmp_path)), train=True)
    with pytest.raises(ValueError, match=r"data.split=4 is not a ucf101 split \(the official split: 1, 2, 3\)"):
        build_format_dataset(DataPaths("ucf101", str(tmp_path), annotations="splits", split=4), train=True)


def _video(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, np.zeros((4, 16, 16, 3), np.uint8), 25, codec="mpeg4")


def test_folder_list_and_kinetics_parts(tmp_path):
    for part in ("train", "val"):
        for name in ("a", "b"):
            _video(tmp_path / part / name / f"{part}_{name}.avi")
    train = build_format_dataset(DataPaths("folder", str(tmp_path)), train=True)
    held_out = build_format_dataset(DataPaths("folder", str(tmp_path)), train=False)
    assert isinstance(train, VideoFolder) and train.classes == ["a", "b"]
    assert [s.key for s in held_out.samples] == ["a/val_a.avi", "b/val_b.avi"]
    entry = get_format("folder")
    assert entry.title(DataPaths("folder", str(tmp_path)), False) == f"folder {tmp_path / 'val'}"
    assert entry.parts_to_check(DataPaths("folder", str(tmp_path))) == [True, False]
    itself = DataPaths("folder", str(tmp_path / "train"), annotations=".,.")
    assert entry.parts_to_check(itself) == [False] and len(entry.build(itself, train=False)) == 2

    (tmp_path / "train.txt").write_text("train/a/train_a.avi 0\ntrain/b/train_b.avi 1\n")
    (tmp_path / "classes.txt").write_text("a\nb\nc\n")
    listed = build_format_dataset(DataPaths("list", str(tmp_path)), train=True)
    assert isinstance(listed, VideoListDataset) and listed.classes == ["a", "b", "c"]  # root/classes.txt

    (tmp_path / "k.csv").write_text("label,youtube_id,time_start,time_end,split\n")
    kinetics = get_format("kinetics")
    recipe_like = DataPaths("kinetics", str(tmp_path), annotations=str(tmp_path / "k.csv"))  # split 1: default
    assert kinetics.part_name(recipe_like, False) == "val" and kinetics.parts_to_check(recipe_like) == [False]
    test_part = kinetics.build(DataPaths("kinetics", str(tmp_path), str(tmp_path / "k.csv"), "test"), train=False)
    assert isinstance(test_part, Kinetics) and test_part.split == "test" and test_part.num_classes == 400
    assert kinetics.build(recipe_like, train=True, num_classes=600).num_classes == 600


def test_recipe_names_the_kinetics_test_part_and_probes_through_the_index(tmp_path):
    from vidlearn.engine.config import ConfigError
    from vidlearn.recognition.builders import build_dataset
    from vidlearn.recognition.recipe import load_recipe

    for part in ("train", "val"):
        for name in ("a", "b"):
            _video(tmp_path / part / name / f"{part}_{name}.avi")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"model: {{name: c3d}}\ndata: {{format: folder, root: {tmp_path}, clip_len: 2, probe: true}}\n")
    cfg = load_recipe(recipe)
    assert cfg.data.probe is True
    held_out = build_dataset(cfg, train=False)
    assert (tmp_path / "val" / ".vidlearn_index.json").is_file()  # the index in the part's folder
    assert {sample.num_frames for sample in held_out.samples} == {4}
    assert set(held_out.metadata) == {sample.path for sample in held_out.samples}
    assert load_recipe(recipe, ["data.format=kinetics", "data.split=test"]).data.split == "test"
    with pytest.raises(ConfigError, match=r"data.split: expected int or one of 'train', 'val', 'test', got 'tset'"):
        load_recipe(recipe, ["data.split=tset"])
