"""The recipe's test protocols: the split mean and the recognition wing's protocol dispatch.
(The protocols themselves run end to end in test_train_end_to_end.py.)"""

import math

import pytest

from vidlearn.recognition.protocols import average_splits
from vidlearn.recognition.recipe import RecognitionConfig
from vidlearn.recognition.wing import evaluate


def test_average_splits_is_the_mean_of_the_common_metrics():
    results = [{"top1": 0.5, "top5": 0.9, "only_here": 1.0, "map": math.nan},
               {"top1": 0.6, "top5": 0.8},
               {"top1": 0.7, "top5": 1.0, "map": 0.2}]
    assert average_splits(results) == pytest.approx({"top1": 0.6, "top5": 0.9})
    with pytest.raises(ValueError, match="no split results to average"):
        average_splits([])


def test_unknown_protocol_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown recognition protocol 'knn'; choose softmax or svm"):
        evaluate(RecognitionConfig(), "model.safetensors", protocol="knn")
