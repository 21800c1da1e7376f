"""Tests of T3D (Diba et al. 2017): 3D DenseNet with Temporal Transition Layers, and 2D->3D transfer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from vidlearn.engine import TrainerConfig
from vidlearn.models import CheckpointLoadError, create
from vidlearn.recognition.models.t3d import T3D, TemporalTransitionLayer
from vidlearn.recognition.supervision_transfer import (
    PairClassifier,
    densenet121_2d,
    freeze,
    pair_loss,
    run_supervision_transfer,
    supervision_transfer_step,
)


@pytest.fixture(autouse=True, scope="module")
def single_thread() -> Iterator[None]:
    # These models run tiny tensors; on a busy 2-core machine the OpenMP barrier between two threads
    # costs more than the work itself (measured 100x slower per conv), so the module runs on one.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY = {"growth_rate": 4, "num_init_features": 8, "bn_size": 2, "ttl_branch_channels": 4,
        "block_config": (1, 1, 1, 1)}


def densenet3d_params(blocks: tuple[int, ...], classes: int, *, ttl: bool, k: int = 32, init: int = 64,
                      bn: int = 4, branch: int = 128) -> int:
    """Parameters from the layer shapes: stem 3x7x7 conv, dense layers, transitions or TTLs, head."""
    total = 3 * init * 3 * 7 * 7 + 2 * init
    channels = init
    for index, layers in enumerate(blocks):
        for i in range(layers):
            c = channels + i * k
            total += 2 * c + c * bn * k + 2 * bn * k + bn * k * k * 27  # BN, 1x1x1, BN, 3x3x3
        channels += layers * k
        if index < len(blocks) - 1:
            out = channels // 2
            if ttl:  # BN, [1x1x1 | 3x3x3 | 6x3x3] x branch, BN over 3 branches, 1x1x1 to out
                total += 2 * channels + channels * branch * (1 + 27 + 54) + 2 * 3 * branch + 3 * branch * out
            else:
                total += 2 * channels + channels * out
            channels = out
    return total + 2 * channels + channels * classes + classes


@pytest.mark.parametrize(("name", "blocks", "ttl"), [
    ("t3d_121", (6, 12, 24, 16), True),
    ("t3d_169", (6, 12, 32, 32), True),
    ("densenet3d_121", (6, 12, 24, 16), False),
])
def test_parameter_counts(name: str, blocks: tuple[int, ...], ttl: bool) -> None:
    with torch.device("meta"):
        model = create(name)
    assert sum(p.numel() for p in model.parameters()) == densenet3d_params(blocks, 400, ttl=ttl)


def test_t3d_121_widths_and_forward_at_a_small_input() -> None:
    torch.manual_seed(0)
    model = create("t3d_121", num_classes=7).eval()
    widths = {name: m.out_channels for name, m in model.features.named_children() if hasattr(m, "out_channels")}
    assert widths == {"denseblock1": 256, "denseblock2": 512, "denseblock3": 1024, "denseblock4": 1024}
    shapes = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape[1:])))
             for m in model.features.children()]
    with torch.no_grad():
        assert model(torch.randn(1, 3, 8, 16, 16)).shape == (1, 7)
    for hook in hooks:
        hook.remove()
    # stem, block1, TTL1, block2, TTL2, block3, TTL3, block4, final BN-ReLU
    assert shapes == [(64, 4, 4, 4), (256, 4, 4, 4), (128, 2, 2, 2), (512, 2, 2, 2), (256, 1, 1, 1),
                      (1024, 1, 1, 1), (512, 1, 1, 1), (1024, 1, 1, 1), (1024, 1, 1, 1)]


def test_ttl_branch_depths_and_padding() -> None:
    ttl = TemporalTransitionLayer(6, 5, branch_channels=2)
    kernels = [branch[1].kernel_size for branch in ttl.branches]
    assert kernels == [(1, 1, 1), (3, 3, 3), (6, 3, 3)]
    assert ttl.branches[2][0].padding == (1, 1, 1, 1, 2, 3)  # 2 frames before, 3 after
    with torch.no_grad():
        ttl.eval()
        assert ttl(torch.randn(1, 6, 9, 8, 8)).shape == (1, 5, 5, 4, 4)  # pooling rounds up: 9 -> 5
        # the depth-6 branch alone: an impulse at frame t reaches output frames t-3 .. t+2
        x = torch.zeros(1, 6, 12, 3, 3)
        x[:, :, 6] = 1.0
        response = ttl.branches[2][1](ttl.branches[2][0](x)).abs().sum(dim=(0, 1, 3, 4))
    assert (response > 0).nonzero().flatten().tolist() == [3, 4, 5, 6, 7, 8]


def test_small_t3d_trains_and_exports() -> None:
    torch.manual_seed(0)
    model = T3D(num_classes=4, **TINY)
    clips, labels = torch.randn(2, 3, 4, 16, 16), torch.tensor([1, 3])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(4):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(clips), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    model.eval()
    exported = torch.export.export(model, (clips,))
    assert torch.allclose(exported.module()(clips), model(clips), atol=1e-5)
    model.reset_classifier(9)
    assert model.get_classifier().out_features == 9
    assert model.forward_features(clips).shape == (2, 8)  # 8+4 -> 6, 6+4 -> 5, 5+4 -> 4, 4+4 = 8


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="unknown transition 'dense'"):
        T3D(num_classes=3, transition="dense")
    with pytest.raises(ValueError, match=r"expected input \(B, 3, T, H, W\), got \(1, 3, 16, 16\)"):
        T3D(num_classes=3, **TINY)(torch.randn(1, 3, 16, 16))


def tiny_densenet_2d() -> nn.Module:
    # torchvision's DenseNet class as densenet121(weights=None) builds it, narrowed to keep the test fast
    return torchvision.models.DenseNet(growth_rate=4, block_config=(1, 1), num_init_features=8, bn_size=2)


def test_supervision_transfer_lowers_the_pair_loss_and_keeps_2d_frozen(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net3d = T3D(num_classes=4, **TINY)
    net2d = freeze(tiny_densenet_2d())
    before = {k: v.clone() for k, v in net2d.state_dict().items()}
    before_3d = {k: v.clone() for k, v in net3d.state_dict().items()}
    clips = torch.randn(4, 3, 4, 16, 16)
    config = TrainerConfig(max_epochs=3, max_steps=6, work_dir=str(tmp_path), progress_bar=False, device="cpu",
                           log_every_steps=0)
    # 4 clips of 4 videos, batches of 2: 2 steps an epoch, stopped by max_steps at 6 (through the engine).
    result = run_supervision_transfer(net3d, net2d, torch.utils.data.TensorDataset(clips), config=config,
                                      batch_size=2)
    assert isinstance(result.head, PairClassifier)
    assert result.head.layers[0].in_features == net2d.classifier.in_features + net3d.num_features
    assert len(result.losses) == 6 and result.history.global_step == 6
    assert sum(result.losses[-2:]) < sum(result.losses[:2])
    assert all(torch.equal(before[k], v) for k, v in net2d.state_dict().items())
    assert all(p.grad is None and not p.requires_grad for p in net2d.parameters())
    assert not net2d.training
    assert any(not torch.equal(before_3d[k], v) for k, v in net3d.state_dict().items())
    assert (tmp_path / "checkpoints").is_dir()  # the engine's checkpoints: the run resumes


def test_pairs_and_video_ids() -> None:
    torch.manual_seed(0)
    net3d, net2d = T3D(num_classes=4, **TINY).eval(), freeze(tiny_densenet_2d())
    head = PairClassifier(net2d.classifier.in_features + net3d.num_features)
    clips = torch.randn(3, 3, 4, 16, 16)
    # clips 0 and 1 come from one video: the negative (frame 0, clip 1) is dropped, 3 + 2 pairs remain
    seen = []
    hook = head.register_forward_hook(lambda _m, args, _o: seen.append(args[0].shape[0]))
    with torch.no_grad():
        pair_loss(net3d, net2d, head, clips, video_ids=torch.tensor([5, 5, 8]))
        pair_loss(net3d, net2d, head, clips)
    hook.remove()
    assert seen == [5, 6]
    with pytest.raises(ValueError, match="at least 2 clips per batch"):
        pair_loss(net3d, net2d, head, clips[:1])
    trainable = tiny_densenet_2d()
    optimizer = torch.optim.SGD(net3d.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="the 2D network must be frozen"):
        supervision_transfer_step(net3d, trainable, head, clips, optimizer=optimizer)


def test_densenet121_2d_loads_torchvisions_published_key_names(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = torchvision.models.densenet121(weights=None)
    # torchvision's published file names the dense layers' modules "norm.1", "conv.2", ...
    old_style = {re.sub(r"(denselayer\d+\.(?:norm|conv))(\d)", r"\1.\2", k): v for k, v in source.state_dict().items()}
    assert "features.denseblock1.denselayer1.norm.1.weight" in old_style
    torch.save(old_style, tmp_path / "densenet121.pth")
    net = densenet121_2d(tmp_path / "densenet121.pth")
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    assert all(torch.equal(v, source.state_dict()[k]) for k, v in net.state_dict().items())
    del old_style["classifier.bias"]
    torch.save(old_style, tmp_path / "partial.pth")
    with pytest.raises(CheckpointLoadError, match=r"(?s)partial\.pth: .*Missing key\(s\).*classifier\.bias"):
        densenet121_2d(tmp_path / "partial.pth")
