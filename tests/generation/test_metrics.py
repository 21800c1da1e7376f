"""Fréchet distance against scipy and closed forms; IS against its definition; FVD / IS protocols."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from vidlearn.generation.metrics import (
    FVDProtocol,
    ISProtocol,
    classification_accuracy,
    feature_statistics,
    frechet_distance,
    frechet_distance_from_features,
    frechet_video_distance,
    inception_score,
    inception_score_of_clips,
    prepare_clips,
    sample_accuracy,
)
from vidlearn.models import create


def _scipy_frechet(mu1, sigma1, mu2, sigma2) -> float:
    # The pytorch-fid / TF reference: scipy's sqrtm of the (non-symmetric) product.
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    covmean = covmean.real if np.iscomplexobj(covmean) else covmean
    return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def test_frechet_distance_matches_scipy_sqrtm_on_random_features() -> None:
    rng = np.random.default_rng(0)
    real = rng.normal(size=(200, 24))
    fake = rng.normal(size=(150, 24)) @ rng.normal(size=(24, 24)) * 0.3 + 0.5
    mu1, sigma1 = real.mean(0), np.cov(real, rowvar=False)
    mu2, sigma2 = fake.mean(0), np.cov(fake, rowvar=False)
    expected = _scipy_frechet(mu1, sigma1, mu2, sigma2)
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance_from_features(real, fake) == pytest.approx(expected, rel=1e-6)


def test_feature_statistics_equal_numpy() -> None:
    features = np.random.default_rng(1).normal(size=(30, 5))
    mean, cov = feature_statistics(torch.from_numpy(features).float())
    np.testing.assert_allclose(mean.numpy(), features.astype(np.float32).mean(0), rtol=1e-6)
    np.testing.assert_allclose(cov.numpy(), np.cov(features.astype(np.float32), rowvar=False), rtol=1e-5, atol=1e-7)
    assert mean.dtype == cov.dtype == torch.float64


def test_frechet_distance_closed_forms() -> None:
    rng = np.random.default_rng(2)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    # diagonal covariances: |mu1 - mu2|^2 + sum (sqrt(a) - sqrt(b))^2
    a, b = rng.uniform(0.1, 2, 6), rng.uniform(0.1, 2, 6)
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-6)
    # full covariance S and c^2 S: |mu1 - mu2|^2 + (1 - c)^2 tr(S)
    m = rng.normal(size=(6, 6))
    s = m @ m.T + 0.1 * np.eye(6)
    expected = ((mu1 - mu2) ** 2).sum() + (1 - 3.0) ** 2 * np.trace(s)
    assert frechet_distance(mu1, s, mu2, 9.0 * s) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(mu1, s, mu1, s) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="sigma2 has non-finite values"):
        frechet_distance(mu1, s, mu2, np.full((6, 6), np.nan))


def test_inception_score_on_known_prediction_sets() -> None:
    assert inception_score(torch.full((40, 7), 1 / 7)) == pytest.approx((1.0, 0.0), abs=1e-12)
    one_hot = torch.eye(5).repeat(4, 1)  # 20 samples, each class 4 times
    assert inception_score(one_hot)[0] == pytest.approx(5.0, rel=1e-12)
    assert inception_score(one_hot, splits=4) == pytest.approx((5.0, 0.0), rel=1e-12)
    # the definition on a random set, written out: exp(mean_x sum_y p log(p / p_y))
    probs = torch.distributions.Dirichlet(torch.ones(6)).sample((50,), ).double()
    marginal = probs.mean(0)
    direct = float(torch.exp((probs * (probs / marginal).log()).sum(1).mean()))
    assert inception_score(probs)[0] == pytest.approx(direct, rel=1e-12)
    with pytest.raises(ValueError, match="pass softmax outputs"):
        inception_score(torch.randn(10, 3))


def test_prepare_clips_follows_the_protocol() -> None:
    protocol = ISProtocol(resize=(32, 43), center_crop=32, clip_length=4)
    clips = torch.full((2, 3, 4, 16, 16), -1.0)
    clips[:, 0] = 1.0  # red channel at the top of the range
    x = prepare_clips(clips, protocol)
    assert x.shape == (2, 3, 4, 32, 32)
    # BGR in [0, 255] minus the Sports-1M mean (B, G, R): red is last
    torch.testing.assert_close(x[:, 2].unique(), torch.tensor([255.0 - 101.41]))
    torch.testing.assert_close(x[:, 0].unique(), torch.tensor([0.0 - 90.25]))
    with pytest.raises(ValueError, match="the protocol's clip_length is 4 frames, the clips have 5"):
        prepare_clips(torch.zeros(1, 3, 5, 16, 16), protocol)


@pytest.fixture(scope="module")
def small_i3d() -> torch.nn.Module:
    torch.manual_seed(0)
    network = create("i3d", num_classes=400, width_multiplier=0.25)
    # Random weights with BN's default statistics shrink every activation to ~1e-6; one forward with
    # momentum 1 calibrates the statistics so that features vary with the input.
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            module.momentum = 1.0
    with torch.no_grad():
        network.train()(torch.rand(8, 3, 8, 32, 32) * 2 - 1)
    return network.eval()


def test_fvd_records_its_protocol_and_is_zero_for_identical_sets(small_i3d) -> None:
    protocol = FVDProtocol(resize=(32, 32), clip_length=8, num_samples=6, real_split="synthetic test")
    generator = torch.Generator().manual_seed(0)
    real = torch.rand(6, 3, 8, 24, 24, generator=generator) * 2 - 1
    same = frechet_video_distance(real, real, small_i3d, protocol)
    shifted = frechet_video_distance(real, (real * 0.2).split(4), small_i3d, protocol)  # batches: an iterable
    assert shifted.value > 1e-2
    assert abs(same.value) <= 1e-6 * shifted.value
    record = shifted.as_dict()
    assert record["name"] == "fvd" and record["num_real"] == record["num_fake"] == 6
    assert record["protocol"]["feature_network"] == "i3d" and record["protocol"]["clip_length"] == 8
    assert record["protocol"]["resize"] == (32, 32) and record["protocol"]["real_split"] == "synthetic test"
    assert record["protocol"]["weights"].startswith("none (random initialisation")
    with pytest.raises(ValueError, match="the protocol asks for 6 clips, only 4 were given"):
        frechet_video_distance(real[:4], real, small_i3d, protocol)


def test_inception_score_of_clips_with_a_c3d_classifier() -> None:
    torch.manual_seed(0)
    c3d = create("c3d", num_classes=5, width_multiplier=0.125, fc_dim=32, clip_len=16, crop_size=32).eval()
    protocol = ISProtocol(num_classes=5, resize=(32, 43), center_crop=32, num_samples=6, splits=2)
    clips = torch.rand(6, 3, 16, 16, 16) * 2 - 1
    result = inception_score_of_clips(clips, c3d, protocol, batch_size=4)
    assert 1.0 <= result.value <= 5.0 and result.std is not None
    assert result.protocol["classifier"] == "c3d" and result.protocol["splits"] == 2
    wrong = ISProtocol(num_classes=101, resize=(32, 43), center_crop=32, num_samples=6, splits=2)
    with pytest.raises(ValueError, match="the classifier has 5 classes, the protocol says 101"):
        inception_score_of_clips(clips, c3d, wrong)


def test_classification_accuracy_in_percent() -> None:
    scores = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    assert classification_accuracy(scores, torch.tensor([0, 1, 1, 1])) == 75.0


class _ColourGenerator(torch.nn.Module):
    """A 'generator' whose clip is coloured by its class: channel y is 1, the others -1."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(()))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        clips = -torch.ones(len(y), 3, 2, 4, 4)
        clips[torch.arange(len(y)), y] = 1.0
        return clips


class _MeanColourClassifier(torch.nn.Module):
    """Predicts the brightest channel, but calls class 2 class 0: per-class accuracy 100, 100, 0."""

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        logits = clips.mean(dim=(2, 3, 4))
        logits[:, 0] = torch.maximum(logits[:, 0], logits[:, 2]) + 1e-3
        return logits


def test_sample_accuracy_per_class_and_overall() -> None:
    result = sample_accuracy(_ColourGenerator(), _MeanColourClassifier(), num_classes=3, z_dim=4,
                             num_per_class=5, batch_size=4)
    assert result.extra["per_class"] == [100.0, 100.0, 0.0]
    assert result.value == pytest.approx(200.0 / 3)
    assert result.num_fake == 15 and result.protocol["num_per_class"] == 5
