"""FNet (vidlearn.superres.models.fnet)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vidlearn.superres.models.fnet import FNet
from vidlearn.superres.models.warp import backward_warp


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_count_from_the_architecture() -> None:
    # encoder 11,008 + 55,424 + 221,440; decoder 885,248 + 442,624 + 110,720; head 19,042
    assert count(FNet(3)) == 1_745_506
    assert count(FNet(1)) == 1_745_506 - 2 * 3 * 32 * 9 + 2 * 1 * 32 * 9


def _conv(cin: int, cout: int) -> int:
    return cin * cout * 9 + cout


@pytest.mark.parametrize("width", [32, 8, 1])
def test_width_scales_every_stage(width: int) -> None:
    """``width`` is the first stage's filters; the stages have w, 2w, 4w | 8w, 4w, 2w | w, 2 filters."""
    w = width
    pairs = [(6, w), (w, 2 * w), (2 * w, 4 * w), (4 * w, 8 * w), (8 * w, 4 * w), (4 * w, 2 * w)]
    expected = sum(_conv(a, b) + _conv(b, b) for a, b in pairs) + _conv(2 * w, w) + _conv(w, 2)
    assert count(FNet(3, width=width)) == expected
    if width == 32:
        assert expected == 1_745_506  # the paper's FNet
    flow = FNet(3, width=width)(torch.rand(2, 3, 12, 20), torch.rand(2, 3, 12, 20))
    assert flow.shape == (2, 2, 12, 20)


@pytest.mark.parametrize("width", [0, -8, 2.5, True])
def test_width_must_be_a_positive_integer(width: object) -> None:
    with pytest.raises(ValueError, match="FNet width must be a positive integer"):
        FNet(3, width=width)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [(16, 24), (13, 10), (7, 9)])
def test_any_lr_size_gives_a_flow_of_that_size_within_the_bound(size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    net = FNet(3, max_flow=2.0)
    with torch.no_grad():
        net.head[-1].bias.fill_(10.0)  # drive tanh to saturation
        flow = net(torch.rand(2, 3, *size), torch.rand(2, 3, *size))
    assert flow.shape == (2, 2, *size)
    assert flow.abs().max() <= 2.0
    assert flow.min() > 1.99


def test_rejects_frames_of_another_shape_or_channel_count() -> None:
    net = FNet(3)
    with pytest.raises(ValueError, match="two \\(B, C, h, w\\) frames of one shape"):
        net(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 16))
    with pytest.raises(ValueError, match="built for 3 channels, got 1"):
        net(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8))


def test_torch_export() -> None:
    torch.manual_seed(0)
    net = FNet(3).eval()
    previous, current = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    exported = torch.export.export(net, (previous, current))
    torch.testing.assert_close(exported.module()(previous, current), net(previous, current))


@pytest.mark.slow
def test_fnet_and_warp_fit_known_motion_by_the_photometric_loss() -> None:
    # L_flow alone (no flow labels) drives FNet to the true motion of two pairs: end-point error
    # 0.06 px after 150 Adam steps (measured 1.45 px after 50, 0.23 after 100)
    torch.manual_seed(0)
    texture = F.interpolate(torch.rand(2, 3, 12, 12), size=(48, 48), mode="bicubic", align_corners=False)
    previous = texture[:, :, 8:40, 8:40]
    current = torch.stack([texture[0, :, 6:38, 9:41], texture[1, :, 9:41, 7:39]])
    truth = torch.tensor([[1.0, -2.0], [-1.0, 1.0]])  # x, y per pair
    net = FNet(3)
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-4)
    for _ in range(150):
        flow = net(previous, current)
        loss = F.mse_loss(backward_warp(previous, flow)[..., 4:-4, 4:-4], current[..., 4:-4, 4:-4])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    end_point_error = (flow.detach()[..., 4:-4, 4:-4] - truth[:, :, None, None]).norm(dim=1).mean()
    assert end_point_error < 0.15


def test_known_motion_pairs_are_aligned_by_their_flow() -> None:
    from vidlearn.superres.fnet_pretrain import known_motion_pairs

    previous, current, flow = known_motion_pairs(6, torch.Generator().manual_seed(0), max_motion=2.0)
    assert previous.shape == current.shape == (6, 3, 32, 32) and flow.shape == (6, 2)
    assert flow.abs().max() <= 2.0 and flow.abs().max() > 0.5
    warped = backward_warp(previous, flow[:, :, None, None].expand(6, 2, 32, 32))
    # The known flow aligns the pair exactly away from the border (|motion| <= 2 px).
    torch.testing.assert_close(warped[..., 4:-4, 4:-4], current[..., 4:-4, 4:-4], atol=1e-5, rtol=0)
    assert (previous - current)[..., 4:-4, 4:-4].abs().mean() > 0.01


def test_pretrain_fnet_writes_weights_an_frvsr_recipe_loads(tmp_path) -> None:
    from vidlearn.cli.main import main
    from vidlearn.models import create
    from vidlearn.superres.fnet_pretrain import pretrain_fnet
    from vidlearn.superres.training import load_fnet

    lines: list[str] = []
    result = pretrain_fnet(tmp_path / "fnet.safetensors", width=4, max_flow=4.0, steps=40, batch=4, eval_every=20,
                           log=lines.append)
    errors = result["end_point_error_px"]
    assert list(errors) == [0, 20, 40] and len(lines) == 3 and "predicting no motion: 1.451 px" in lines[0]
    assert result["zero_flow_px"] == pytest.approx(1.451, abs=5e-4)
    assert errors[40] < errors[0]  # the flow's initial noise is trained away first
    model = create("frvsr_3_64", num_blocks=1, num_filters=8, fnet_width=4, max_flow=4.0)
    load_fnet(model, tmp_path / "fnet.safetensors")
    for key, value in result["fnet"].state_dict().items():
        assert torch.equal(model.fnet.state_dict()[key], value)
    again = pretrain_fnet(None, width=4, max_flow=4.0, steps=40, batch=4, eval_every=20, log=None)
    assert again["end_point_error_px"] == errors  # seeded: the same run twice
    assert main(["superres", "pretrain-fnet", str(tmp_path / "cli.pt"), "--width", "4", "--max-flow", "4",
                 "--steps", "40", "--batch", "4"]) == 0
    assert torch.equal(torch.load(tmp_path / "cli.pt")["head.2.weight"], model.fnet.head[2].weight)
    assert main(["superres", "pretrain-fnet", str(tmp_path / "cli.pt"), "--steps", "1"]) == 2


def test_teacher_flow_follows_known_motion_in_fnet_s_convention() -> None:
    """DIS's flow on a shifted texture is the known flow, with the sign backward_warp needs."""
    from vidlearn.superres.fnet_pretrain import known_motion_pairs, teacher_flow

    previous, current, flow = known_motion_pairs(4, torch.Generator().manual_seed(3), max_motion=2.0, size=48)
    estimate = teacher_flow(previous, current)
    assert estimate.shape == (4, 2, 48, 48) and estimate.dtype == previous.dtype
    inner = estimate[..., 8:-8, 8:-8]
    error = (inner - flow[:, :, None, None]).norm(dim=1).mean(dim=(1, 2))
    assert error.max() < 0.25, error  # no motion would be off by |flow| (0.5-2.8 px here)
    assert flow.norm(dim=1).min() > 0.5
    # The opposite sign would move the content the other way: the warp with DIS's flow aligns the pair.
    aligned = F.mse_loss(backward_warp(previous, estimate)[..., 8:-8, 8:-8], current[..., 8:-8, 8:-8])
    flipped = F.mse_loss(backward_warp(previous, -estimate)[..., 8:-8, 8:-8], current[..., 8:-8, 8:-8])
    assert aligned < flipped / 10


def test_augmented_pairs_keep_their_flow() -> None:
    """Mirroring and transposing a pair changes its flow's components so that the warp still aligns it."""
    from vidlearn.superres.fnet_pretrain import _augment, known_motion_pairs

    previous, current, motion = known_motion_pairs(1, torch.Generator().manual_seed(5), max_motion=2.0, size=48)
    flow = motion[0, :, None, None].expand(2, 48, 48).contiguous()
    inner = (..., slice(6, -6), slice(6, -6))
    base = F.mse_loss(backward_warp(previous, flow[None])[inner], current[inner])
    for flips in ([1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]):
        p, c, f = _augment(previous[0], current[0], flow, flips)
        aligned = F.mse_loss(backward_warp(p[None], f[None])[inner], c[None][inner])
        unaligned = F.mse_loss(p[None][inner], c[None][inner])
        assert aligned < 1.5 * base + 1e-6 and aligned < unaligned / 20, flips


def test_distill_fnet_lowers_the_held_out_warping_error_and_feeds_a_recipe(tmp_path, shared_data) -> None:
    from vidlearn.cli.main import main
    from vidlearn.models import CheckpointLoadError, create
    from vidlearn.superres.fnet_pretrain import distill_fnet, pretrain_fnet
    from vidlearn.superres.training import load_fnet

    clip = shared_data / "clips" / "ucf101_c3d_keras" / "v_Punch_g03_c01.avi"
    pretrain_fnet(tmp_path / "known.pt", width=4, max_flow=4.0, steps=40, batch=4, eval_every=40, log=None)
    lines: list[str] = []
    result = distill_fnet(tmp_path / "fnet.pt", sources=["synthetic"], width=4, max_flow=4.0,
                          init=tmp_path / "known.pt", steps=60, batch=4, lr=1e-3, crop_size=64, eval_every=30,
                          test_scenes=2, synthetic_scenes=8, test_sources=["synthetic", str(clip)], test_frames=6,
                          log=lines.append)
    errors, distances = result["warp_error"], result["teacher_distance_px"]
    assert list(errors) == list(distances) == [0, 30, 60] and len(lines) == 3 and "the DIS teacher" in lines[0]
    assert list(result["per_sequence"]) == ["synthetic_00", "synthetic_01", "v_Punch_g03_c01"]
    # On the held-out sequences the teacher aligns the pairs better than no motion; the known-motion FNet
    # aligns them worse than no motion, and distillation brings its flow towards the teacher's.
    for row in result["per_sequence"].values():
        assert row["teacher"] < row["zero_flow"] * 0.8, row
    assert result["teacher_error"] < result["zero_flow_error"] * 0.6 < errors[0]
    assert distances[60] < 0.7 * distances[0]
    assert errors[60] < 0.6 * errors[0]
    model = create("frvsr_3_64", num_blocks=1, num_filters=8, fnet_width=4, max_flow=4.0)
    load_fnet(model, tmp_path / "fnet.pt")
    for key, value in result["fnet"].state_dict().items():
        assert torch.equal(model.fnet.state_dict()[key], value)
    with pytest.raises(CheckpointLoadError, match=r"known\.pt"):  # another width: strict, naming the file
        distill_fnet(None, sources=["synthetic"], width=8, max_flow=4.0, init=tmp_path / "known.pt", steps=1,
                     log=None)
    assert main(["superres", "pretrain-fnet", str(tmp_path / "cli.pt"), "--width", "4", "--max-flow", "4",
                 "--steps", "10", "--batch", "4", "--crop-size", "64", "--init", str(tmp_path / "known.pt"),
                 "--teacher-sources", str(clip), "--test-sources", str(clip)]) == 0
    with pytest.raises(ValueError, match=r"v_Punch_g03_c01\.avi: LR frames of 80x60 are smaller than the 64x64"):
        distill_fnet(None, sources=[str(clip)], width=4, max_flow=4.0, steps=1, crop_size=256, log=None)
    assert main(["superres", "pretrain-fnet", str(tmp_path / "x.pt"), "--init", str(tmp_path / "known.pt")]) == 2
    assert main(["superres", "pretrain-fnet", str(tmp_path / "x.pt"), "--device", "cuda",
                 "--teacher-sources", "synthetic"]) == 2
    assert not (tmp_path / "x.pt").exists()
