"""Videos shorter than one clip: the recipe's ``data.pad`` (training and testing) and ``predict``'s warning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vidlearn.engine.config import ConfigError
from vidlearn.models import Preprocessing, create
from vidlearn.recognition.builders import build_dataset
from vidlearn.recognition.predict import Predictor, _class_names
from vidlearn.recognition.recipe import load_recipe
from vidlearn.video import write_video
from vidlearn.video.errors import VideoDecodeError

RECIPE = """\
data:
  format: synthetic
  root: {root}
  clip_len: 16
  preprocessing: {{resize_short_side: null, crop_size: 16, flip: false}}
  num_workers: 0
  synthetic: {{preset: motion4, num_train: 4, num_test: 4, num_frames: 8, size: [16, 16]}}
"""


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("short")
    path = root / "short.yaml"
    path.write_text(RECIPE.format(root=root / "data"))
    return path


def test_too_short_videos_name_the_recipe_key_that_pads_them(recipe) -> None:
    dataset = build_dataset(load_recipe(recipe), train=True)
    with pytest.raises(VideoDecodeError, match=r"num_frames=8 but the clip requires 16 .*\(in a recognition "
                       r"recipe: data\.pad=loop or data\.pad=repeat_last\)"):
        dataset[0]


@pytest.mark.parametrize("pad", ["loop", "repeat_last"])
def test_data_pad_samples_short_videos_in_training_and_testing(recipe, pad: str) -> None:
    cfg = load_recipe(recipe, [f"data.pad={pad}"])
    assert cfg.data.pad == pad
    for train in (True, False):
        dataset = build_dataset(cfg, train=train)
        assert len(dataset) == 4
        clip, _ = dataset[0][:2]
        assert clip.shape == (3, 16, 16, 16)
        # frames 0..7 then the padding: looped (0..7 again) or the last frame repeated
        assert torch.equal(clip[:, 8], clip[:, 0]) == (pad == "loop")
        assert torch.equal(clip[:, 15], clip[:, 7])
    with pytest.raises(ConfigError, match=r"data\.pad.*'mirror'"):
        load_recipe(recipe, ["data.pad=mirror"])


def test_predict_warns_on_a_video_shorter_than_a_clip(recipe, tmp_path, recwarn) -> None:
    cfg = load_recipe(recipe, ["data.pad=loop"])
    video = build_dataset(cfg, train=False).samples[0].path
    model = create("c3d", num_classes=4, width_multiplier=0.125, fc_dim=8, clip_len=16, crop_size=16)
    predictor = Predictor(model, ["a", "b", "c", "d"], Preprocessing(clip_length=16, crop_size=16))
    with pytest.warns(UserWarning, match=r"8 frames, fewer than one clip needs \(16\)"):
        prediction = predictor.predict(video, num_clips=2)
    assert prediction.warning and prediction.num_frames == 8
    recwarn.clear()
    sixteen = write_video(tmp_path / "sixteen.mp4", np.zeros((16, 16, 16, 3), np.uint8), 25, codec="mpeg4")
    assert predictor.predict(sixteen, num_clips=1).warning is None
    assert not [w for w in recwarn if "fewer than one clip" in str(w.message)]


def test_published_kinetics_weights_get_kinetics_class_names() -> None:
    from vidlearn.recognition.datasets import kinetics_classes

    assert _class_names("Kinetics-400", 400) == kinetics_classes(400)
    assert _class_names("kinetics400", 400)[0] == "abseiling"
    assert _class_names("Sports-1M (487 classes)", 3) == ["0", "1", "2"]
