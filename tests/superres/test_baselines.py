"""The paper's baselines: per-frame SISR and sliding-window VSR (vidlearn.superres.models.baselines)."""

from __future__ import annotations

import pytest
import torch

from vidlearn.superres.models import MODEL_VARIANTS
from vidlearn.superres.models.baselines import sisr, sliding_window_vsr


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    ("name", "expected"),
    [("sisr_10_128", 3_253_891), ("sisr_3_64", 298_947), ("vsr_10_128", 5_006_309), ("vsr_3_64", 2_047_909)],
)
def test_parameter_counts(name: str, expected: int) -> None:
    builder, kwargs = MODEL_VARIANTS[name]
    assert count(builder(**kwargs)) == expected


def test_sisr_treats_every_frame_alone() -> None:
    torch.manual_seed(0)
    model = sisr(1, 8).eval()
    lr = torch.rand(1, 4, 3, 6, 6)
    with torch.no_grad():
        out = model(lr)
        shuffled = model(lr[:, [2, 0, 3, 1]])
        streamed = torch.stack([model.step(lr[:, t])[0] for t in range(4)], dim=1)
    assert out.shape == (1, 4, 3, 24, 24)
    torch.testing.assert_close(shuffled, out[:, [2, 0, 3, 1]])
    torch.testing.assert_close(streamed, out, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("radius", "length"), [(1, 5), (2, 6), (2, 1), (1, 2)])
def test_sliding_window_streaming_equals_batched(radius: int, length: int) -> None:
    torch.manual_seed(0)
    model = sliding_window_vsr(1, 8, radius=radius).eval()
    lr = torch.rand(2, length, 3, 8, 8)
    with torch.no_grad():
        batched = model(lr)
        state, frames = None, []
        for t in range(length):
            hr, state = model.step(lr[:, t], state)
            assert (hr is None) == (t < radius)
            if hr is not None:
                frames.append(hr)
        frames += model.flush(state)
    assert len(frames) == length
    torch.testing.assert_close(torch.stack(frames, dim=1), batched, rtol=0, atol=1e-5)


def test_sliding_window_training_output() -> None:
    model = sliding_window_vsr(1, 8, radius=1)
    lr = torch.rand(1, 3, 3, 8, 8)
    out = model.forward_train(lr)
    assert out.hr.shape == (1, 3, 3, 32, 32)
    assert out.lr_warped.shape == out.lr_target.shape == (1, 6, 3, 8, 8)
    # targets are the centre frames, each repeated for its 2 neighbours
    assert torch.equal(out.lr_target[:, 2], lr[:, 1])
    assert torch.equal(out.lr_target[:, 3], lr[:, 1])


def test_sliding_window_rejects_radius_zero() -> None:
    with pytest.raises(ValueError, match="radius must be >= 1"):
        sliding_window_vsr(1, 8, radius=0)
