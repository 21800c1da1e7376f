"""The recognition preprocessing protocol: the standard clip pipelines, and a recipe's
``data.preprocessing`` section resolved against a weights spec (explicit recipe keys win)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidlearn.engine.config import ConfigError
from vidlearn.models import Preprocessing
from vidlearn.recognition.preprocessing import build_clip_transform, clip_transform_of, preprocessing_of
from vidlearn.recognition.recipe import RecognitionConfig, load_recipe
from vidlearn.video.transforms import Compose, RandomHorizontalFlip


def test_build_clip_transform_pipelines():
    pre = Preprocessing(mean=(1.0, 2.0, 3.0), std=(2.0, 2.0, 2.0), value_range=(0, 255), crop_size=4)
    clip = torch.randint(0, 256, (2, 6, 8, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    test_out = build_clip_transform(pre, train=False)(clip)
    assert test_out.shape == (3, 2, 4, 4) and test_out.dtype == torch.float32
    # no resize in this spec: centre crop rows 1..4, cols 2..5, then (x - mean) / std, then C, T
    ref = clip.double().numpy()[:, 1:5, 2:6, :]
    ref = (ref - np.array([1.0, 2.0, 3.0])) / 2.0
    np.testing.assert_allclose(test_out.numpy(), ref.transpose(3, 0, 1, 2), rtol=1e-6)
    assert build_clip_transform(pre, train=False, num_crops=3)(clip).shape == (3, 3, 2, 4, 4)
    assert build_clip_transform(pre, train=False, num_crops=10)(clip).shape == (10, 3, 2, 4, 4)
    train = build_clip_transform(pre, train=True)
    assert isinstance(train, Compose)
    assert train(clip).shape == (3, 2, 4, 4)
    resized = Preprocessing(crop_size=4, resize_short_side=5)
    assert build_clip_transform(resized, train=True, multi_scale_crop=True)(clip).shape == (3, 2, 4, 4)
    with pytest.raises(ValueError, match="num_crops must be 1, 3 or 10, got 5"):
        build_clip_transform(pre, train=False, num_crops=5)
    with pytest.raises(ValueError, match="training uses one crop"):
        build_clip_transform(pre, train=True, num_crops=3)


def test_build_clip_transform_flow_negates_x_on_flip():
    pre = Preprocessing(mean=(0.0, 0.0), std=(1.0, 1.0), value_range=(0, 255), crop_size=4, modality="flow")
    flow = torch.ones(3, 2, 4, 4)
    transform = build_clip_transform(pre, train=True, input_layout="TCHW")
    flips = transform.transforms[1]
    assert isinstance(flips, RandomHorizontalFlip) and flips.flow
    flips.p = 1.0
    out = transform(flow)
    assert out.shape == (2, 3, 4, 4)
    assert torch.all(out[0] == -1.0) and torch.all(out[1] == 1.0)


def test_flip_flag_leaves_the_flip_out_of_the_training_pipeline():
    pre = Preprocessing(crop_size=4)
    with_flip = build_clip_transform(pre, train=True)
    without = build_clip_transform(pre, train=True, flip=False)
    assert [type(t).__name__ for t in with_flip.transforms] == [
        "ToTCHW", "RandomCrop", "RandomHorizontalFlip", "Normalize", "ToCTHW"]
    assert [type(t).__name__ for t in without.transforms] == ["ToTCHW", "RandomCrop", "Normalize", "ToCTHW"]
    # a clip whose right half differs from its left: never mirrored without the flip
    clip = torch.zeros(2, 4, 4, 3, dtype=torch.uint8)
    clip[:, :, 2:] = 255
    outputs = {tuple(without(clip)[0, 0, 0].tolist()) for _ in range(20)}
    assert len(outputs) == 1


def _recipe(tmp_path, body: str) -> RecognitionConfig:
    path = tmp_path / "recipe.yaml"
    path.write_text(body)
    return load_recipe(path)


def test_unset_pixel_values_come_from_the_named_weights_spec(tmp_path):
    cfg = _recipe(tmp_path, "model: {name: c3d, preprocessing: sports1m}\n")
    pre = preprocessing_of(cfg)
    # the sports1m spec of c3d: Caffe BGR 0-255 minus the Sports-1M mean
    assert pre.channel_order == "BGR"
    assert pre.mean == (90.25, 97.66, 101.41) and pre.std == (1.0, 1.0, 1.0)
    assert pre.value_range == (0.0, 255.0)
    # geometry is the recipe's, not the spec's
    assert (pre.resize_short_side, pre.crop_size, pre.clip_length) == (128, 112, 16)


def test_explicit_recipe_pixel_values_win_over_the_spec(tmp_path):
    cfg = _recipe(tmp_path, "model: {name: c3d, preprocessing: sports1m}\n"
                            "data: {preprocessing: {mean: [1.0, 2.0, 3.0], channel_order: RGB}}\n")
    pre = preprocessing_of(cfg)
    assert pre.mean == (1.0, 2.0, 3.0) and pre.channel_order == "RGB"
    assert pre.std == (1.0, 1.0, 1.0) and pre.value_range == (0.0, 255.0)  # still the spec's


def test_without_spec_or_recipe_values_the_defaults_apply(tmp_path):
    pre = preprocessing_of(_recipe(tmp_path, "model: {name: c3d}\n"))
    assert pre.mean == (0.485, 0.456, 0.406) and pre.std == (0.229, 0.224, 0.225)
    assert pre.channel_order == "RGB" and pre.value_range == (0.0, 1.0)


def test_unknown_spec_lists_the_models_specs(tmp_path):
    cfg = _recipe(tmp_path, "model: {name: c3d, preprocessing: kinetics}\n")
    with pytest.raises(ValueError, match=r"c3d has no weights spec 'kinetics' \(known: sports1m, "):
        preprocessing_of(cfg)


def test_recipe_flip_and_multi_scale_reach_the_pipeline(tmp_path):
    cfg = _recipe(tmp_path, "data: {preprocessing: {flip: false, multi_scale_crop: true, crop_size: 8}}\n")
    names = [type(t).__name__ for t in clip_transform_of(cfg, train=True).transforms]
    assert names == ["ToTCHW", "ResizeShortSide", "MultiScaleCrop", "Normalize", "ToCTHW"]
    names = [type(t).__name__ for t in clip_transform_of(cfg, train=False, num_crops=3).transforms]
    assert names == ["ToTCHW", "ResizeShortSide", "ThreeCrop", "Normalize", "ToCTHW"]


@pytest.mark.parametrize("key", ["mean", "std", "channel_order", "value_range", "resize_short_side",
                                 "crop_size", "flip", "multi_scale_crop"])
def test_old_flat_pixel_key_names_its_new_place(tmp_path, key):
    path = tmp_path / "old.yaml"
    path.write_text(f"data:\n  {key}: null\n")
    with pytest.raises(ConfigError, match=rf"old\.yaml: data\.{key} moved to data\.preprocessing\.{key}$"):
        load_recipe(path)
    path.write_text("{}\n")
    with pytest.raises(ConfigError, match=rf"data\.{key} moved to data\.preprocessing\.{key}$"):
        load_recipe(path, [f"data.{key}=1"])
