"""FRVSR's losses (vidlearn.superres.losses): values, gradients, a tiny overfit."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vidlearn.superres.degrade import bd_degrade
from vidlearn.superres.losses import flow_loss, frvsr_loss, sr_loss
from vidlearn.superres.models.frvsr import frvsr


def test_values_are_mean_squared_errors() -> None:
    a = torch.zeros(1, 2, 3, 4, 4)
    b = torch.full((1, 2, 3, 4, 4), 0.5)
    assert sr_loss(a, b).item() == pytest.approx(0.25)
    assert flow_loss(a[:, 1:], b[:, 1:]).item() == pytest.approx(0.25)
    assert flow_loss(a[:, :0], b[:, :0]).item() == 0.0
    with pytest.raises(ValueError, match="differ in shape"):
        sr_loss(a, b[:, :1])


def test_flow_loss_reaches_fnet_and_sr_loss_reaches_srnet() -> None:
    torch.manual_seed(0)
    model = frvsr(num_blocks=1, num_filters=8)
    lr = torch.rand(1, 3, 3, 8, 8)
    out = model.forward_train(lr)
    flow_loss(out.lr_warped, out.lr_target).backward(retain_graph=True)
    assert model.fnet.encoder[0][0].weight.grad.abs().sum() > 0
    assert model.srnet.conv_in.weight.grad is None
    sr_loss(out.hr, torch.rand_like(out.hr)).backward()
    assert model.srnet.conv_in.weight.grad.abs().sum() > 0


def test_a_few_steps_on_a_tiny_clip_reduce_the_loss() -> None:
    torch.manual_seed(0)
    # smooth texture moving one HR pixel per frame: HR 32x32, LR 8x8 by the paper's BD x4
    base = F.interpolate(torch.rand(1, 3, 12, 12), size=(48, 48), mode="bicubic", align_corners=False)[0]
    hr = torch.stack([base[:, 4:36, 4 + t : 36 + t] for t in range(4)]).unsqueeze(0).clamp(0, 1)
    lr = bd_degrade(hr, scale=4, sigma=1.5)
    model = frvsr(num_blocks=1, num_filters=16, lr_skip="bicubic")
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(10):
        loss, parts = frvsr_loss(model.forward_train(lr), hr)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
        assert set(parts) == {"loss_sr", "loss_flow"}
    assert min(losses[-3:]) < 0.6 * losses[0]
