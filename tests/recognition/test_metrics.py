import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.metrics import top_k_accuracy_score

from vidlearn.recognition import metrics


@pytest.fixture
def scores_and_labels():
    generator = np.random.default_rng(0)
    scores = generator.normal(size=(200, 12))
    labels = generator.integers(0, 12, size=200)
    scores[np.arange(100), labels[:100]] += 2.0  # half of the samples lean to the right class
    return scores, labels


def test_topk_matches_scikit_learn(scores_and_labels):
    scores, labels = scores_and_labels
    ours = metrics.topk_accuracy(torch.from_numpy(scores), torch.from_numpy(labels), (1, 5))
    assert ours["top1"] == pytest.approx(top_k_accuracy_score(labels, scores, k=1, labels=range(12)))
    assert ours["top5"] == pytest.approx(top_k_accuracy_score(labels, scores, k=5, labels=range(12)))


def test_confusion_and_mean_class_accuracy_match_scikit_learn(scores_and_labels):
    scores, labels = scores_and_labels
    matrix = metrics.confusion_matrix(scores, labels)
    expected = sk_confusion_matrix(labels, scores.argmax(1), labels=range(12))
    np.testing.assert_array_equal(matrix, expected)
    per_class = np.diag(expected) / expected.sum(1)
    assert metrics.mean_class_accuracy(scores, labels) == pytest.approx(per_class.mean())


def test_shape_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"\(3, 2\)"):
        metrics.topk_accuracy(np.zeros((3, 2)), np.zeros(4))


def test_plot_and_csv(tmp_path, scores_and_labels):
    scores, labels = scores_and_labels
    matrix = metrics.confusion_matrix(scores, labels)
    names = [f"c{i}" for i in range(12)]
    png = metrics.plot_confusion_matrix(matrix, names, tmp_path / "cm.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = (tmp_path / "per_class.csv")
    metrics.write_per_class_csv(rows, matrix, names)
    lines = rows.read_text().splitlines()
    assert lines[0] == "class,support,correct,accuracy"
    assert len(lines) == 13
    assert lines[1].split(",")[1] == str(int((labels == 0).sum()))
