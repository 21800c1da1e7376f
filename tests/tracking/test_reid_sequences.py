"""Identity crops of MOTChallenge-format sequences with frames, and time-split retrieval."""

import numpy as np
import pytest
import torch

from vidlearn.models import create
from vidlearn.synthetic.mot import MotSceneConfig, render_mot_sequence, write_mot_sequence
from vidlearn.tracking.reid import MotSequenceCrops, evaluate_retrieval


def test_crops_of_sequence_folders(tmp_path):
    config = MotSceneConfig(num_objects=3, num_frames=8, size=(64, 96))
    folders = [write_mot_sequence(tmp_path, render_mot_sequence(seed, config, name=f"S{seed}")) for seed in (1, 2)]
    data = MotSequenceCrops(folders, size=(32, 16), min_visibility=0.5, frame_step=2)
    expected = 0
    for seed in (1, 2):
        gt = render_mot_sequence(seed, config).gt
        expected += int(((gt.scores != 0) & (gt.visibility >= 0.5) & ((gt.frames - 1) % 2 == 0)).sum())
    assert len(data) == expected and data.crops.dtype == torch.uint8 and data.crops.shape[1:] == (3, 32, 16)
    assert data.num_classes == len(np.unique(data.labels.numpy())) <= 6
    assert set(data.groups.tolist()) == {0, 1} and set(data.scene_frames.tolist()) <= {1, 3, 5, 7}
    crop, label = data[0]
    assert crop.dtype == torch.float32 and float(crop.max()) <= 1.0 and label == int(data.labels[0])
    torch.manual_seed(0)
    model = create("deepsort_reid", num_classes=data.num_classes, width=8, feature_dim=32, input_size=(32, 16))
    scores = evaluate_retrieval(model, data)
    assert 0.0 <= scores["rank1"] <= 1.0 and 0.0 < scores["mAP"] <= 1.0 and scores["queries"] > 0
    (folders[0] / "gt" / "gt.txt").unlink()
    with pytest.raises(FileNotFoundError, match="S1: no ground truth"):
        MotSequenceCrops([folders[0]])
