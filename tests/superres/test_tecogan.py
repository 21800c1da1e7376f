"""TecoGAN-PyTorch FRNet checkpoints load strictly into frvsr_10_64 and compute what TecoGAN computes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from vidlearn.models import CheckpointLoadError, create, load_weights
from vidlearn.superres.models.tecogan import tecogan_bicubic_kernels

NF, NB, S = 64, 10, 4


def tecogan_state_dict(seed: int = 0, *, bd: bool = False) -> dict[str, torch.Tensor]:
    """FRNet(in_nc=3, out_nc=3, nf=64, nb=10)'s state dict: key names and shapes of tecogan_nets.py."""
    generator = torch.Generator().manual_seed(seed)
    shapes: dict[str, tuple[int, ...]] = {}
    fnet = [("encoder1", 6, 32), ("encoder2", 32, 64), ("encoder3", 64, 128),
            ("decoder1", 128, 256), ("decoder2", 256, 128), ("decoder3", 128, 64)]
    for name, cin, cout in fnet:
        shapes[f"fnet.{name}.0.weight"], shapes[f"fnet.{name}.0.bias"] = (cout, cin, 3, 3), (cout,)
        shapes[f"fnet.{name}.2.weight"], shapes[f"fnet.{name}.2.bias"] = (cout, cout, 3, 3), (cout,)
    shapes["fnet.flow.0.weight"], shapes["fnet.flow.0.bias"] = (32, 64, 3, 3), (32,)
    shapes["fnet.flow.2.weight"], shapes["fnet.flow.2.bias"] = (2, 32, 3, 3), (2,)
    shapes["srnet.conv_in.0.weight"], shapes["srnet.conv_in.0.bias"] = (NF, 3 * (S * S + 1), 3, 3), (NF,)
    for i in range(NB):
        for j in (0, 2):
            shapes[f"srnet.resblocks.{i}.conv.{j}.weight"] = (NF, NF, 3, 3)
            shapes[f"srnet.resblocks.{i}.conv.{j}.bias"] = (NF,)
    for j in (0, 2):
        shapes[f"srnet.conv_up.{j}.weight"], shapes[f"srnet.conv_up.{j}.bias"] = (NF, NF, 3, 3), (NF,)
    shapes["srnet.conv_out.weight"], shapes["srnet.conv_out.bias"] = (3, NF, 3, 3), (3,)
    state = {k: torch.randn(shape, generator=generator) * (0.02 if len(shape) > 1 else 0.01) for k, shape in shapes.items()}
    if bd:
        state["upsample_func.kernels"] = tecogan_bicubic_kernels(S)
        state["srnet.upsample_func.kernels"] = tecogan_bicubic_kernels(S)
    return state


def tecogan_step(w: dict[str, torch.Tensor], lr_curr: torch.Tensor, lr_prev: torch.Tensor,
                 hr_prev: torch.Tensor) -> torch.Tensor:
    """TecoGAN-PyTorch's FRNet.step for BI (bilinear skip), written out from its code."""
    def conv(x: torch.Tensor, name: str, **kw: int) -> torch.Tensor:
        return F.conv2d(x, w[f"{name}.weight"], w[f"{name}.bias"], padding=1, **kw)

    x = torch.cat([lr_curr, lr_prev], 1)
    for k in (1, 2, 3):
        x = F.leaky_relu(conv(F.leaky_relu(conv(x, f"fnet.encoder{k}.0"), 0.2), f"fnet.encoder{k}.2"), 0.2)
        x = F.max_pool2d(x, 2)
    for k in (1, 2, 3):
        x = F.leaky_relu(conv(F.leaky_relu(conv(x, f"fnet.decoder{k}.0"), 0.2), f"fnet.decoder{k}.2"), 0.2)
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    flow = torch.tanh(conv(F.leaky_relu(conv(x, "fnet.flow.0"), 0.2), "fnet.flow.2")) * 24
    hr_flow = S * F.interpolate(flow, scale_factor=S, mode="bilinear", align_corners=False)
    n, c, h, width = hr_prev.shape
    iu = torch.linspace(-1.0, 1.0, width).view(1, 1, 1, width).expand(n, -1, h, -1)
    iv = torch.linspace(-1.0, 1.0, h).view(1, 1, h, 1).expand(n, -1, -1, width)
    grid = torch.cat([iu, iv], 1) + torch.cat([hr_flow[:, :1] / ((width - 1.0) / 2.0),
                                               hr_flow[:, 1:] / ((h - 1.0) / 2.0)], 1)
    warped = F.grid_sample(hr_prev, grid.permute(0, 2, 3, 1), mode="bilinear", padding_mode="border",
                           align_corners=True)
    s2d = warped.reshape(n, c, h // S, S, width // S, S).permute(0, 3, 5, 1, 2, 4).reshape(n, S * S * c, h // S, width // S)
    x = F.relu(conv(torch.cat([lr_curr, s2d], 1), "srnet.conv_in.0"))
    for i in range(NB):
        x = x + conv(F.relu(conv(x, f"srnet.resblocks.{i}.conv.0")), f"srnet.resblocks.{i}.conv.2")
    for j in (0, 2):
        x = F.relu(F.conv_transpose2d(x, w[f"srnet.conv_up.{j}.weight"], w[f"srnet.conv_up.{j}.bias"], stride=2,
                                      padding=1, output_padding=1))
    out = conv(x, "srnet.conv_out")
    return out + F.interpolate(lr_curr, scale_factor=S, mode="bilinear", align_corners=False)


def test_frnet_checkpoint_loads_strictly_and_computes_tecogans_step(tmp_path: Path) -> None:
    state = tecogan_state_dict()
    path = tmp_path / "frnet_bi.pth"
    torch.save(state, path)
    model = create("frvsr_10_64", lr_skip="bilinear").eval()
    assert load_weights(model, path) == "tecogan-pytorch-frnet"
    torch.manual_seed(1)
    lr_prev, lr_curr = torch.rand(1, 3, 16, 24), torch.rand(1, 3, 16, 24)
    hr_prev = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        expected = tecogan_step(state, lr_curr, lr_prev, hr_prev)
        ours = model.recurrent_step(lr_curr, lr_prev, hr_prev)
    assert torch.allclose(ours, expected, atol=1e-5), float((ours - expected).abs().max())


def test_bd_checkpoint_kernels_are_checked_and_dropped(tmp_path: Path) -> None:
    path = tmp_path / "frnet_bd.pth"
    torch.save(tecogan_state_dict(bd=True), path)
    model = create("frvsr_10_64", lr_skip="bicubic")
    assert load_weights(model, path) == "tecogan-pytorch-frnet"
    wrong = tecogan_state_dict(bd=True)
    wrong["upsample_func.kernels"] = tecogan_bicubic_kernels(2)
    torch.save(wrong, path)
    with pytest.raises(CheckpointLoadError, match=r"upsample_func\.kernels"):
        load_weights(create("frvsr_10_64", lr_skip="bicubic"), path)


def test_a_missing_or_extra_key_is_named(tmp_path: Path) -> None:
    state = tecogan_state_dict()
    del state["srnet.resblocks.9.conv.2.bias"]
    state["srnet.extra.weight"] = torch.zeros(1)
    path = tmp_path / "frnet_broken.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointLoadError) as error:
        load_weights(create("frvsr_10_64"), path)
    assert "srnet.resblocks.9.conv.2.bias" in str(error.value) and "srnet.extra.weight" in str(error.value)


def test_a_checkpoint_of_another_size_fails_naming_the_shapes(tmp_path: Path) -> None:
    path = tmp_path / "frnet.pth"
    torch.save(tecogan_state_dict(), path)
    with pytest.raises(CheckpointLoadError, match="srnet"):
        load_weights(create("frvsr_10_128"), path)
