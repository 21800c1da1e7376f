"""FRVSR (vidlearn.superres.models.frvsr): sizes, shapes, streaming, gradients, export, checkpoints."""

from __future__ import annotations

import pytest
import torch

from vidlearn.superres.models import MODEL_VARIANTS
from vidlearn.superres.models.frvsr import FRVSR, FRVSR_VARIANTS, FRVSRState, frvsr, frvsr_10_128


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def tiny(**kwargs: object) -> FRVSR:
    torch.manual_seed(0)
    return frvsr(num_blocks=1, num_filters=8, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("frvsr_10_128", 5_054_693),  # the paper: "5.1 M"
        ("frvsr_10_64", 2_589_093),  # TecoGAN's FRVSR: "about 2.5 M" (2.59 M rounded down)
        ("frvsr_3_64", 2_072_101),
    ],
)
def test_parameter_counts_of_the_paper_sizes(name: str, expected: int) -> None:
    builder, kwargs = MODEL_VARIANTS[name]
    assert count(builder(**kwargs)) == expected
    assert name in FRVSR_VARIANTS


def test_paper_model_is_within_the_published_rounding() -> None:
    assert round(count(frvsr_10_128()) / 1e6, 1) == 5.1


def test_forward_shape() -> None:
    model = tiny()
    assert model(torch.rand(2, 3, 3, 6, 10)).shape == (2, 3, 3, 24, 40)


def test_streaming_equals_batched_forward() -> None:
    model = tiny(lr_skip="bicubic").eval()
    lr = torch.rand(2, 5, 3, 12, 9)
    with torch.no_grad():
        batched = model(lr)
        state = None
        frames = []
        for t in range(lr.shape[1]):
            hr, state = model.step(lr[:, t], state)
            frames.append(hr)
    torch.testing.assert_close(torch.stack(frames, dim=1), batched, rtol=0, atol=1e-5)
    assert isinstance(state, FRVSRState)
    assert state.hr_previous.shape == (2, 3, 48, 36)


def test_first_frame_comes_from_a_black_previous_estimate() -> None:
    model = tiny().eval()
    lr = torch.rand(1, 2, 3, 8, 8)
    with torch.no_grad():
        first, _ = model.step(lr[:, 0])
        from_black, _ = model.step(lr[:, 0], model.init_state(lr[:, 0]))  # runs FNet and warps black
        for parameter in model.fnet.parameters():
            parameter.add_(1.0)
        after_fnet_change = model(lr)[:, 0]
    torch.testing.assert_close(from_black, first, rtol=0, atol=1e-6)
    torch.testing.assert_close(after_fnet_change, first, rtol=0, atol=1e-6)


def test_forward_train_returns_what_the_losses_need() -> None:
    model = tiny()
    lr = torch.rand(2, 4, 3, 8, 8)
    out = model.forward_train(lr)
    assert out.hr.shape == (2, 4, 3, 32, 32)
    assert out.lr_warped.shape == (2, 3, 3, 8, 8)
    assert torch.equal(out.lr_target, lr[:, 1:])
    assert out.lr_flow.shape == (2, 3, 2, 8, 8)


def test_gradients_flow_through_the_unrolled_steps() -> None:
    model = tiny()
    lr = torch.rand(1, 3, 3, 8, 8)
    out = model.forward_train(lr)
    # a loss on the last frame only must reach FNet (through the warp) and the first step's SRNet pass
    out.hr[:, -1].square().mean().backward()
    assert model.fnet.head[-1].weight.grad is not None
    assert model.fnet.head[-1].weight.grad.abs().sum() > 0
    lr.requires_grad_(True)
    model.zero_grad()
    model(lr)[:, -1].sum().backward()
    assert lr.grad is not None and lr.grad[:, 0].abs().sum() > 0  # frame 0 influences frame 2


def test_step_rejects_a_state_of_another_size() -> None:
    model = tiny()
    _, state = model.step(torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="frame size changed mid-sequence"):
        model.step(torch.rand(1, 3, 8, 12), state)
    with pytest.raises(ValueError, match=r"expected an LR sequence \(B, T, 3, h, w\)"):
        model(torch.rand(3, 8, 8))


def test_one_recurrent_step_exports() -> None:
    model = tiny().eval()

    class Step(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, lr: torch.Tensor, lr_previous: torch.Tensor, hr_previous: torch.Tensor) -> torch.Tensor:
            return self.model.recurrent_step(lr, lr_previous, hr_previous)

    args = (torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), torch.rand(1, 3, 32, 32))
    exported = torch.export.export(Step(), args)
    torch.testing.assert_close(exported.module()(*args), model.recurrent_step(*args))


def test_strict_state_dict_round_trip() -> None:
    source, target = tiny(), frvsr(num_blocks=1, num_filters=8)
    target.load_state_dict(source.state_dict(), strict=True)
    lr = torch.rand(1, 2, 3, 8, 8)
    torch.testing.assert_close(target(lr), source(lr))
    with pytest.raises(RuntimeError, match="size mismatch"):
        frvsr(num_blocks=1, num_filters=8, scale=2).load_state_dict(source.state_dict(), strict=True)


def test_a_one_frame_clip_and_an_lr_size_not_divisible_by_8() -> None:
    model = tiny()
    out = model.forward_train(torch.rand(2, 1, 3, 6, 10))
    assert out.hr.shape == (2, 1, 3, 24, 40)
    assert out.lr_warped.shape == (2, 0, 3, 6, 10)
    assert model(torch.rand(1, 3, 3, 6, 10)).shape == (1, 3, 3, 24, 40)
