"""DVD-GAN's generator: shapes, range, conditioning, recurrence over time, truncation, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from vidlearn.generation.models import G_MULTIPLIERS, DVDGANGenerator, truncated_normal


@pytest.fixture(scope="module")
def generator() -> DVDGANGenerator:
    torch.manual_seed(0)
    return DVDGANGenerator(num_classes=3, resolution=16, num_frames=4, ch=2, multipliers=(4, 4, 2), z_dim=8,
                           embed_dim=8)


def test_output_shape_and_range(generator: DVDGANGenerator) -> None:
    generator.train()
    clips = generator(torch.randn(2, 8) * 5, torch.tensor([0, 2]))
    assert clips.shape == (2, 3, 4, 16, 16)
    assert clips.min() >= -1 and clips.max() <= 1
    assert clips.std() > 0


def test_class_conditioning_changes_the_output(generator: DVDGANGenerator) -> None:
    generator.eval()
    z = torch.randn(1, 8).repeat(3, 1)
    clips = generator(z, torch.tensor([0, 1, 2]))
    assert (clips[0] - clips[1]).abs().max() > 1e-4
    assert (clips[1] - clips[2]).abs().max() > 1e-4


def test_frames_differ_and_a_longer_unroll_keeps_the_first_frames(generator: DVDGANGenerator) -> None:
    generator.eval()  # running statistics: frames do not share batch statistics
    z, y = torch.randn(2, 8), torch.tensor([1, 2])
    short = generator(z, y)
    long = generator(z, y, num_frames=7)
    assert long.shape == (2, 3, 7, 16, 16)
    torch.testing.assert_close(long[:, :, :4], short, atol=1e-5, rtol=1e-5)
    assert (short[:, :, 0] - short[:, :, 1]).abs().max() > 1e-5  # the ConvGRU makes frames move


def test_backward_reaches_every_generator_parameter(generator: DVDGANGenerator) -> None:
    generator.train()
    generator.zero_grad()
    generator(torch.randn(2, 8), torch.tensor([0, 1])).square().mean().backward()
    missing = [n for n, p in generator.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_bad_input_names_the_problem(generator: DVDGANGenerator) -> None:
    with pytest.raises(ValueError, match=r"z must be \(B, 8\), got shape \(2, 7\)"):
        generator(torch.randn(2, 7), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"class indices must be in \[0, 3\), got \[0, 3\]"):
        generator(torch.randn(2, 8), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="resolution must be a power of two >= 8, got 24"):
        DVDGANGenerator(num_classes=2, resolution=24, num_frames=2, ch=1, multipliers=(1, 1, 1))
    with pytest.raises(ValueError, match="resolution 16 needs 3 multipliers"):
        DVDGANGenerator(num_classes=2, resolution=16, num_frames=2, ch=1, multipliers=(1, 1))


def test_multiplier_tables_match_the_resolutions() -> None:
    for resolution, multipliers in G_MULTIPLIERS.items():
        assert len(multipliers) == round(math.log2(resolution / 4)) + 1


def test_truncated_normal_is_bounded_and_has_the_truncated_variance() -> None:
    generator = torch.Generator().manual_seed(0)
    samples = truncated_normal((200_000,), 1.0, generator=generator)
    assert samples.abs().max() <= 1.0
    # Var of N(0, 1) truncated to [-1, 1]: 1 - 2 φ(1) / (2 Φ(1) - 1)
    phi = math.exp(-0.5) / math.sqrt(2 * math.pi)
    expected = 1 - 2 * phi / math.erf(1 / math.sqrt(2))
    assert samples.var().item() == pytest.approx(expected, abs=3e-3)
    assert samples.mean().item() == pytest.approx(0.0, abs=3e-3)
    plain = truncated_normal((5,), None, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(plain, torch.randn(5, generator=torch.Generator().manual_seed(3)))
    with pytest.raises(ValueError, match="truncation must be a positive finite number"):
        truncated_normal((2,), 0.0)


def test_sample_with_truncation(generator: DVDGANGenerator) -> None:
    clips = generator.sample([0, 1, 2], truncation=0.5, generator=torch.Generator().manual_seed(1))
    assert clips.shape == (3, 3, 4, 16, 16)
    again = generator.sample([0, 1, 2], truncation=0.5, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(clips, again)
