"""Foreign checkpoint layouts: one test group per layout.

Each test writes a file with exactly the published layout's key names and shapes (random values) in
that project's format, loads it strictly through ``load_weights``, checks that every tensor landed in
the right parameter, and that a missing or an extra key is an error naming that key. The foreign key
lists are written out here from the published layouts, not derived from vidlearn's converters.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.models import video as tv_video

from vidlearn.models import CheckpointLoadError, create, load_weights, save_weights

# --- C3D --------------------------------------------------------------------------------------------

# A C3D small enough for quick files: width 1/8 (8, 16, 32, 64, 64), fc 32, 16x32x32 clips.
C3D_SMALL = {"width_multiplier": 0.125, "fc_dim": 32, "clip_len": 16, "crop_size": 32}
C3D_CLASSES = 7
# (DavideA name, MMAction2 name, in channels, out channels) in network order.
C3D_CONVS = [
    ("conv1", "conv1a", 3, 8), ("conv2", "conv2a", 8, 16), ("conv3a", "conv3a", 16, 32),
    ("conv3b", "conv3b", 32, 32), ("conv4a", "conv4a", 32, 64), ("conv4b", "conv4b", 64, 64),
    ("conv5a", "conv5a", 64, 64), ("conv5b", "conv5b", 64, 64),
]
# pool5 of a 16x32x32 clip: time 16 -> 1; space 32 -> 16 -> 8 -> 4 -> 2 -> (2 + 2*1 - 2) / 2 + 1 = 2.
C3D_FC6_IN = 64 * 1 * 2 * 2


def _c3d_pickle_state(generator: torch.Generator) -> dict[str, torch.Tensor]:
    state = {}
    for name, _, cin, cout in C3D_CONVS:
        state[f"{name}.weight"] = torch.randn(cout, cin, 3, 3, 3, generator=generator)
        state[f"{name}.bias"] = torch.randn(cout, generator=generator)
    for name, (out, inp) in {"fc6": (32, C3D_FC6_IN), "fc7": (32, 32), "fc8": (C3D_CLASSES, 32)}.items():
        state[f"{name}.weight"] = torch.randn(out, inp, generator=generator)
        state[f"{name}.bias"] = torch.randn(out, generator=generator)
    return state


def _small_c3d():
    return create("c3d", num_classes=C3D_CLASSES, **C3D_SMALL)


def test_c3d_pickle_loads_every_tensor(tmp_path: Path) -> None:
    state = _c3d_pickle_state(torch.Generator().manual_seed(0))
    path = tmp_path / "c3d.pickle"
    torch.save(state, path)
    model = _small_c3d()
    assert load_weights(model, path) == "c3d-pickle"
    for name, ours, _, _ in C3D_CONVS:
        assert torch.equal(getattr(model, ours).conv.weight, state[f"{name}.weight"])
        assert torch.equal(getattr(model, ours).conv.bias, state[f"{name}.bias"])
    for name in ("fc6", "fc7", "fc8"):
        assert torch.equal(getattr(model, name).weight, state[f"{name}.weight"])
        assert torch.equal(getattr(model, name).bias, state[f"{name}.bias"])


def test_c3d_pickle_missing_and_extra_keys_are_named(tmp_path: Path) -> None:
    state = _c3d_pickle_state(torch.Generator().manual_seed(1))
    del state["conv3b.bias"]
    torch.save(state, tmp_path / "c3d.pickle")
    with pytest.raises(CheckpointLoadError, match=r"missing keys \(1\): conv3b\.conv\.bias \(file key 'conv3b\.bias'\)"):
        load_weights(_small_c3d(), tmp_path / "c3d.pickle")

    state = _c3d_pickle_state(torch.Generator().manual_seed(1))
    state["fc9.weight"] = torch.zeros(3, 3)
    torch.save(state, tmp_path / "c3d.pickle")
    with pytest.raises(CheckpointLoadError, match=r"unexpected keys \(1\): fc9\.weight"):
        load_weights(_small_c3d(), tmp_path / "c3d.pickle")


def test_c3d_pickle_shape_mismatch_is_named(tmp_path: Path) -> None:
    state = _c3d_pickle_state(torch.Generator().manual_seed(2))
    state["fc8.weight"] = torch.zeros(C3D_CLASSES + 1, 32)
    torch.save(state, tmp_path / "c3d.pickle")
    with pytest.raises(CheckpointLoadError, match=r"fc8\.weight: checkpoint \(8, 32\) vs model \(7, 32\)"):
        load_weights(_small_c3d(), tmp_path / "c3d.pickle")


def _mmaction2_state(generator: torch.Generator, *, head: bool) -> dict[str, torch.Tensor]:
    pickle_state = _c3d_pickle_state(generator)
    state = {}
    for name, mm_name, _, _ in C3D_CONVS:
        state[f"backbone.{mm_name}.conv.weight"] = pickle_state[f"{name}.weight"]
        state[f"backbone.{mm_name}.conv.bias"] = pickle_state[f"{name}.bias"]
    for name in ("fc6", "fc7"):
        state[f"backbone.{name}.weight"] = pickle_state[f"{name}.weight"]
        state[f"backbone.{name}.bias"] = pickle_state[f"{name}.bias"]
    if head:
        state["cls_head.fc_cls.weight"] = pickle_state["fc8.weight"]
        state["cls_head.fc_cls.bias"] = pickle_state["fc8.bias"]
    return state


def test_mmaction2_c3d_loads_every_tensor(tmp_path: Path) -> None:
    state = _mmaction2_state(torch.Generator().manual_seed(3), head=True)
    # MMAction2 saves a training checkpoint: {"meta": ..., "state_dict": {...}}.
    torch.save({"meta": {"epoch": 45}, "state_dict": state}, tmp_path / "c3d_ucf101.pth")
    model = _small_c3d()
    assert load_weights(model, tmp_path / "c3d_ucf101.pth") == "mmaction2-c3d"
    for _, name, _, _ in C3D_CONVS:
        assert torch.equal(getattr(model, name).conv.weight, state[f"backbone.{name}.conv.weight"])
    assert torch.equal(model.fc7.bias, state["backbone.fc7.bias"])
    assert torch.equal(model.fc8.weight, state["cls_head.fc_cls.weight"])


def test_mmaction2_pretrain_without_head_needs_allow_missing(tmp_path: Path) -> None:
    state = _mmaction2_state(torch.Generator().manual_seed(4), head=False)
    path = tmp_path / "c3d_sports1m_pretrain.pth"
    torch.save({"state_dict": state}, path)
    with pytest.raises(CheckpointLoadError, match=r"fc8\.weight \(file key 'cls_head\.fc_cls\.weight'\)"):
        load_weights(_small_c3d(), path)

    model = _small_c3d()
    fresh_head = model.fc8.weight.detach().clone()
    with pytest.warns(UserWarning, match=r"no fc8\.bias, fc8\.weight; kept freshly initialised"):
        load_weights(model, path, allow_missing=("fc8",))
    assert torch.equal(model.fc8.weight, fresh_head)
    assert torch.equal(model.conv5b.conv.weight, state["backbone.conv5b.conv.weight"])

    # allow_missing is narrow: fc8 may be absent, a missing backbone key is still an error.
    del state["backbone.conv2a.conv.bias"]
    torch.save({"state_dict": state}, path)
    with pytest.raises(CheckpointLoadError, match=r"backbone\.conv2a\.conv\.bias"), pytest.warns(UserWarning):
        load_weights(_small_c3d(), path, allow_missing=("fc8",))
    with pytest.raises(CheckpointLoadError, match="allow_missing names 'fc9'"):
        load_weights(_small_c3d(), path, allow_missing=("fc9",))


def test_vidlearn_safetensors_round_trip(tmp_path: Path) -> None:
    model = _small_c3d()
    path = save_weights(model, tmp_path / "c3d.safetensors")
    other = create("c3d", num_classes=C3D_CLASSES, **C3D_SMALL)
    assert load_weights(other, path) == "vidlearn"
    for key, value in model.state_dict().items():
        assert torch.equal(other.state_dict()[key], value)


# --- I3D --------------------------------------------------------------------------------------------

# Inception-v1 as published (DeepMind kinetics-i3d i3d.py): stem units and per-block branch widths
# (Branch_0 1x1, Branch_1 1x1 -> 3x3, Branch_2 1x1 -> 3x3, Branch_3 pool -> 1x1).
I3D_STEM = [("Conv3d_1a_7x7", None, 64, 7), ("Conv3d_2b_1x1", 64, 64, 1), ("Conv3d_2c_3x3", 64, 192, 3)]
I3D_MIXED = [
    ("3b", 192, (64, 96, 128, 16, 32, 32)), ("3c", 256, (128, 128, 192, 32, 96, 64)),
    ("4b", 480, (192, 96, 208, 16, 48, 64)), ("4c", 512, (160, 112, 224, 24, 64, 64)),
    ("4d", 512, (128, 128, 256, 24, 64, 64)), ("4e", 512, (112, 144, 288, 32, 64, 64)),
    ("4f", 528, (256, 160, 320, 32, 128, 128)), ("5b", 832, (256, 160, 320, 32, 128, 128)),
    ("5c", 832, (384, 192, 384, 48, 128, 128)),
]


def _i3d_units(in_channels: int):
    """(stem or (block, branch index), in, out, kernel) for every conv+BN unit, in network order."""
    for name, cin, cout, k in I3D_STEM:
        yield name, cin or in_channels, cout, k
    for block, cin, (b0, b1a, b1b, b2a, b2b, b3b) in I3D_MIXED:
        for branch, (bin_, bout, k) in {
            "b0": (cin, b0, 1), "b1a": (cin, b1a, 1), "b1b": (b1a, b1b, 3),
            "b2a": (cin, b2a, 1), "b2b": (b2a, b2b, 3), "b3b": (cin, b3b, 1),
        }.items():
            yield (block, branch), bin_, bout, k


def _piergiaj_state(in_channels: int, num_classes: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    state = {}
    for unit, cin, cout, k in _i3d_units(in_channels):
        name = unit if isinstance(unit, str) else f"Mixed_{unit[0]}.{unit[1]}"
        state[f"{name}.conv3d.weight"] = torch.randn(cout, cin, k, k, k, generator=generator)
        state[f"{name}.bn.weight"] = torch.rand(cout, generator=generator) + 0.5
        state[f"{name}.bn.bias"] = torch.randn(cout, generator=generator)
        state[f"{name}.bn.running_mean"] = torch.randn(cout, generator=generator)
        state[f"{name}.bn.running_var"] = torch.rand(cout, generator=generator) + 0.5
    state["logits.conv3d.weight"] = torch.randn(num_classes, 1024, 1, 1, 1, generator=generator)
    state["logits.conv3d.bias"] = torch.randn(num_classes, generator=generator)
    return state


def _our_unit(model, unit):
    if isinstance(unit, str):
        return getattr(model, {"Conv3d_1a_7x7": "conv1a", "Conv3d_2b_1x1": "conv2b", "Conv3d_2c_3x3": "conv2c"}[unit])
    block, branch = unit
    return getattr(getattr(model, f"mixed{block}"), "branch" + branch[1:])


@pytest.mark.parametrize(("model_name", "filename", "in_channels", "num_classes"), [
    ("i3d", "rgb_charades.pt", 3, 157),
    ("i3d_flow", "flow_imagenet.pt", 2, 400),
])
def test_piergiaj_i3d_loads_every_tensor(tmp_path: Path, model_name, filename, in_channels, num_classes) -> None:
    state = _piergiaj_state(in_channels, num_classes, torch.Generator().manual_seed(5))
    assert not any("num_batches_tracked" in key for key in state)  # pytorch-i3d saved none
    torch.save(state, tmp_path / filename)
    model = create(model_name, num_classes=num_classes)
    assert load_weights(model, tmp_path / filename) == "piergiaj-i3d"
    for unit, _, _, _ in _i3d_units(in_channels):
        name = unit if isinstance(unit, str) else f"Mixed_{unit[0]}.{unit[1]}"
        ours = _our_unit(model, unit)
        assert torch.equal(ours.conv.weight, state[f"{name}.conv3d.weight"]), name
        for leaf in ("weight", "bias", "running_mean", "running_var"):
            assert torch.equal(getattr(ours.norm, leaf), state[f"{name}.bn.{leaf}"]), f"{name}.{leaf}"
    assert torch.equal(model.logits.weight, state["logits.conv3d.weight"])
    assert torch.equal(model.logits.bias, state["logits.conv3d.bias"])


def test_piergiaj_i3d_missing_and_extra_keys_are_named(tmp_path: Path) -> None:
    state = _piergiaj_state(3, 400, torch.Generator().manual_seed(6))
    del state["Mixed_4e.b2b.bn.running_var"]
    state["Mixed_6a.b0.conv3d.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "rgb_imagenet.pt")
    with pytest.raises(CheckpointLoadError) as error:
        load_weights(create("i3d"), tmp_path / "rgb_imagenet.pt")
    message = str(error.value)
    assert "missing keys (1): mixed4e.branch2b.norm.running_var (file key 'Mixed_4e.b2b.bn.running_var')" in message
    assert "unexpected keys (1): Mixed_6a.b0.conv3d.weight" in message


def _hassony2_state(generator: torch.Generator) -> dict[str, torch.Tensor]:
    branches = {"b0": "branch_0", "b1a": "branch_1.0", "b1b": "branch_1.1", "b2a": "branch_2.0",
                "b2b": "branch_2.1", "b3b": "branch_3.1"}
    state = {}
    for unit, cin, cout, k in _i3d_units(3):
        name = unit.lower() if isinstance(unit, str) else f"mixed_{unit[0]}.{branches[unit[1]]}"
        state[f"{name}.conv3d.weight"] = torch.randn(cout, cin, k, k, k, generator=generator)
        for leaf in ("weight", "bias", "running_mean", "running_var"):
            state[f"{name}.batch3d.{leaf}"] = torch.rand(cout, generator=generator) + 0.5
        state[f"{name}.batch3d.num_batches_tracked"] = torch.tensor(0)
    state["conv3d_0c_1x1.conv3d.weight"] = torch.randn(400, 1024, 1, 1, 1, generator=generator)
    state["conv3d_0c_1x1.conv3d.bias"] = torch.randn(400, generator=generator)
    return state


def test_hassony2_i3d_loads_every_tensor(tmp_path: Path) -> None:
    state = _hassony2_state(torch.Generator().manual_seed(7))
    torch.save(state, tmp_path / "model_rgb.pth")
    model = create("i3d")
    assert load_weights(model, tmp_path / "model_rgb.pth") == "hassony2-i3d"
    assert torch.equal(model.conv1a.conv.weight, state["conv3d_1a_7x7.conv3d.weight"])
    assert torch.equal(model.conv2c.norm.running_var, state["conv3d_2c_3x3.batch3d.running_var"])
    assert torch.equal(model.mixed3b.branch1b.conv.weight, state["mixed_3b.branch_1.1.conv3d.weight"])
    assert torch.equal(model.mixed5c.branch2a.norm.bias, state["mixed_5c.branch_2.0.batch3d.bias"])
    assert torch.equal(model.mixed4d.branch3b.norm.weight, state["mixed_4d.branch_3.1.batch3d.weight"])
    assert torch.equal(model.logits.bias, state["conv3d_0c_1x1.conv3d.bias"])

    del state["mixed_4b.branch_0.conv3d.weight"]
    state["mixed_4b.branch_4.conv3d.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "model_rgb.pth")
    with pytest.raises(CheckpointLoadError) as error:
        load_weights(create("i3d"), tmp_path / "model_rgb.pth")
    assert "file key 'mixed_4b.branch_0.conv3d.weight'" in str(error.value)
    assert "unexpected keys (1): mixed_4b.branch_4.conv3d.weight" in str(error.value)


def _deepmind_arrays(scope: str, in_channels: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """TF variables of kinetics-i3d: w (kT, kH, kW, in, out); BN beta and moving stats (1,1,1,1,C)."""
    prefix = f"{scope}/inception_i3d"
    tf_branch = {"b0": "Branch_0/Conv3d_0a_1x1", "b1a": "Branch_1/Conv3d_0a_1x1", "b1b": "Branch_1/Conv3d_0b_3x3",
                 "b2a": "Branch_2/Conv3d_0a_1x1", "b2b": "Branch_2/Conv3d_0b_3x3", "b3b": "Branch_3/Conv3d_0b_1x1"}
    arrays = {}
    for unit, cin, cout, k in _i3d_units(in_channels):
        if isinstance(unit, str):
            name = unit
        else:
            branch = tf_branch[unit[1]]
            if unit == ("5b", "b2b"):
                branch = "Branch_2/Conv3d_0a_3x3"  # the name in DeepMind's released checkpoints
            name = f"Mixed_{unit[0]}/{branch}"
        arrays[f"{prefix}/{name}/conv_3d/w"] = rng.standard_normal((k, k, k, cin, cout), dtype=np.float32)
        arrays[f"{prefix}/{name}/batch_norm/beta"] = rng.standard_normal((1, 1, 1, 1, cout), dtype=np.float32)
        arrays[f"{prefix}/{name}/batch_norm/moving_mean"] = rng.standard_normal((1, 1, 1, 1, cout), dtype=np.float32)
        arrays[f"{prefix}/{name}/batch_norm/moving_variance"] = rng.random((1, 1, 1, 1, cout), dtype=np.float32) + 0.5
    arrays[f"{prefix}/Logits/Conv3d_0c_1x1/conv_3d/w"] = rng.standard_normal((1, 1, 1, 1024, 400), dtype=np.float32)
    arrays[f"{prefix}/Logits/Conv3d_0c_1x1/conv_3d/b"] = rng.standard_normal((400,), dtype=np.float32)
    return arrays


def _check_deepmind_stream(model, arrays: dict[str, np.ndarray], scope: str) -> None:
    prefix = f"{scope}/inception_i3d"
    w = arrays[f"{prefix}/Conv3d_1a_7x7/conv_3d/w"]
    assert torch.equal(model.conv1a.conv.weight, torch.from_numpy(w.transpose(4, 3, 0, 1, 2)))
    w = arrays[f"{prefix}/Mixed_5b/Branch_2/Conv3d_0a_3x3/conv_3d/w"]
    assert torch.equal(model.mixed5b.branch2b.conv.weight, torch.from_numpy(w.transpose(4, 3, 0, 1, 2)))
    beta = arrays[f"{prefix}/Mixed_4c/Branch_1/Conv3d_0b_3x3/batch_norm/beta"]
    assert torch.equal(model.mixed4c.branch1b.norm.bias, torch.from_numpy(beta.reshape(-1)))
    var = arrays[f"{prefix}/Mixed_3b/Branch_3/Conv3d_0b_1x1/batch_norm/moving_variance"]
    assert torch.equal(model.mixed3b.branch3b.norm.running_var, torch.from_numpy(var.reshape(-1)))
    # DeepMind trained BN without scale: every gamma is 1.
    gammas = [m.weight for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d)]
    assert len(gammas) == 3 + 9 * 6 and all(torch.equal(g, torch.ones_like(g)) for g in gammas)
    w = arrays[f"{prefix}/Logits/Conv3d_0c_1x1/conv_3d/w"]
    assert torch.equal(model.logits.weight, torch.from_numpy(w.transpose(4, 3, 0, 1, 2)))
    assert torch.equal(model.logits.bias, torch.from_numpy(arrays[f"{prefix}/Logits/Conv3d_0c_1x1/conv_3d/b"]))


def test_deepmind_i3d_npz_loads_with_permutation_and_unit_gamma(tmp_path: Path) -> None:
    rgb = _deepmind_arrays("RGB", 3, np.random.default_rng(8))
    np.savez(tmp_path / "rgb_imagenet.npz", **rgb)
    model = create("i3d")
    assert load_weights(model, tmp_path / "rgb_imagenet.npz") == "deepmind-i3d"
    _check_deepmind_stream(model, rgb, "RGB")

    flow = _deepmind_arrays("Flow", 2, np.random.default_rng(9))
    np.savez(tmp_path / "flow_imagenet.npz", **flow)
    model = create("i3d_flow")
    assert load_weights(model, tmp_path / "flow_imagenet.npz") == "deepmind-i3d"
    _check_deepmind_stream(model, flow, "Flow")


def test_deepmind_two_stream_npz(tmp_path: Path) -> None:
    rgb = _deepmind_arrays("RGB", 3, np.random.default_rng(10))
    flow = _deepmind_arrays("Flow", 2, np.random.default_rng(11))
    np.savez(tmp_path / "i3d.npz", **rgb, **flow)
    model = create("i3d_two_stream")
    assert load_weights(model, tmp_path / "i3d.npz") == "deepmind-i3d"
    _check_deepmind_stream(model.rgb, rgb, "RGB")
    _check_deepmind_stream(model.flow, flow, "Flow")


def test_deepmind_i3d_missing_and_extra_keys_are_named(tmp_path: Path) -> None:
    arrays = _deepmind_arrays("RGB", 3, np.random.default_rng(12))
    del arrays["RGB/inception_i3d/Mixed_4c/Branch_1/Conv3d_0b_3x3/batch_norm/moving_mean"]
    arrays["RGB/inception_i3d/Mixed_6a/Branch_0/Conv3d_0a_1x1/conv_3d/w"] = np.zeros(1, dtype=np.float32)
    np.savez(tmp_path / "rgb.npz", **arrays)
    with pytest.raises(CheckpointLoadError) as error:
        load_weights(create("i3d"), tmp_path / "rgb.npz")
    message = str(error.value)
    assert "file key 'RGB/inception_i3d/Mixed_4c/Branch_1/Conv3d_0b_3x3/batch_norm/moving_mean'" in message
    assert "unexpected keys (1): RGB/inception_i3d/Mixed_6a/Branch_0/Conv3d_0a_1x1/conv_3d/w" in message


def test_deepmind_mixed_5b_needs_the_released_name(tmp_path: Path) -> None:
    # A file using the "corrected" name 0b for Mixed_5b's branch 2 is not DeepMind's layout.
    arrays = _deepmind_arrays("RGB", 3, np.random.default_rng(13))
    prefix = "RGB/inception_i3d/Mixed_5b/Branch_2/"
    for leaf in ("conv_3d/w", "batch_norm/beta", "batch_norm/moving_mean", "batch_norm/moving_variance"):
        arrays[prefix + "Conv3d_0b_3x3/" + leaf] = arrays.pop(prefix + "Conv3d_0a_3x3/" + leaf)
    np.savez(tmp_path / "rgb.npz", **arrays)
    with pytest.raises(CheckpointLoadError, match="Mixed_5b/Branch_2/Conv3d_0b_3x3/conv_3d/w"):
        load_weights(create("i3d"), tmp_path / "rgb.npz")


# --- torchvision ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "builder", "filename"), [
    ("mc3_18", tv_video.mc3_18, "mc3_18-a90a0ba3.pth"),
    ("s3d", tv_video.s3d, "s3d-d76dad2f.pth"),
])
def test_torchvision_state_dict_loads_strictly(tmp_path: Path, name, builder, filename) -> None:
    torch.manual_seed(14)
    reference = builder(weights=None, num_classes=10)
    torch.save(reference.state_dict(), tmp_path / filename)
    model = create(name, num_classes=10)
    assert load_weights(model, tmp_path / filename, layout="torchvision-video") == "torchvision-video"
    ours = model.state_dict()
    assert set(ours) == set(reference.state_dict())
    for key, value in reference.state_dict().items():
        assert torch.equal(ours[key], value), key
    # Auto-detection takes the same keys as the model's own.
    assert load_weights(create(name, num_classes=10), tmp_path / filename) in ("vidlearn", "torchvision-video")

    state = reference.state_dict()
    extra = "fc.extra" if name == "mc3_18" else "classifier.2.weight"
    state[extra] = torch.zeros(1)
    torch.save(state, tmp_path / filename)
    with pytest.raises(CheckpointLoadError, match=rf"unexpected keys \(1\): {extra}"):
        load_weights(create(name, num_classes=10), tmp_path / filename, layout="torchvision-video")


def test_allow_missing_reinitialises_a_head_of_another_class_count(tmp_path):
    """Fine-tuning a 487-class Sports-1M C3D on 101 classes: fc8 differs in shape and stays initialised."""
    import warnings

    from vidlearn.models import CheckpointLoadError, create, load_weights

    source = create("c3d", num_classes=487, width_multiplier=0.125, fc_dim=64, crop_size=32)
    path = tmp_path / "c3d_487.pt"
    torch.save(source.state_dict(), path)
    target = create("c3d", num_classes=101, width_multiplier=0.125, fc_dim=64, crop_size=32)
    head_before = target.fc8.weight.clone()
    with pytest.raises(CheckpointLoadError, match=r"fc8\.weight: checkpoint \(487, 64\) vs model \(101, 64\)"):
        load_weights(target, path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_weights(target, path, allow_missing=("fc8",))
    assert any("fc8.weight" in str(w.message) for w in caught)
    assert torch.equal(target.fc8.weight, head_before)
    assert torch.equal(target.fc6.weight, source.fc6.weight)
