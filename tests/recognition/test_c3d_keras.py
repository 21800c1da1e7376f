"""C3D-keras (TianzhongSong/C3D-keras ``models.py``): architecture, and its Keras weights loaded exactly.

The reference test builds the Keras model itself (Keras 3, PyTorch backend; a test-only dependency,
skipped with the reason when it is not installed), gives it seeded weights, saves them in the Keras 3
``.weights.h5`` layout, writes the same arrays in the Keras 2 ``save_weights`` layout with h5py, loads
both through ``vidlearn.models.load_weights`` and compares logits on one clip.
"""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from vidlearn.models import CheckpointLoadError, create, load_weights
from vidlearn.models.keras import KerasLayer, convert_keras_state
from vidlearn.models.layers import MaxPool3dSame

PARAMS = 16_117_733  # conv 3,323,776 + fc6 8,390,656 + fc7 4,196,352 + fc8 206,949


def test_architecture_layer_for_layer() -> None:
    with torch.device("meta"):
        model = create("c3d_keras")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv3d)]
    assert [c.out_channels for c in convs] == [64, 128, 128, 256, 256]
    assert all(c.kernel_size == (3, 3, 3) and c.padding == (1, 1, 1) and c.stride == (1, 1, 1) for c in convs)
    pools = [m for m in model.modules() if isinstance(m, MaxPool3dSame)]
    assert [p.kernel_size for p in pools] == [(1, 2, 2)] + [(2, 2, 2)] * 4
    assert [p.stride for p in pools] == [p.kernel_size for p in pools]
    assert model.pool5_shape == (256, 1, 4, 4)
    assert (model.fc6.in_features, model.fc6.out_features, model.fc7.out_features, model.fc8.out_features) == (
        4096, 2048, 2048, 101)
    assert model.dropout.p == 0.5
    assert sum(p.numel() for p in model.parameters()) == PARAMS


def test_pool5_is_tensorflow_same_not_symmetric() -> None:
    # 7 -> 4 with the odd row pooled alone at the end: a peak in row 6 lands in output row 3 only.
    pool = create("c3d_keras", num_classes=3, width_multiplier=0.125, fc_dim=8, crop_size=32).pool5
    x = torch.zeros(1, 1, 2, 7, 7)
    x[..., 6, 0] = 5.0
    x[..., 0, 0] = 3.0
    out = pool(x)
    assert out.shape == (1, 1, 1, 4, 4)
    assert out[0, 0, 0, :, 0].tolist() == [3.0, 0.0, 0.0, 5.0]


def test_forward_shapes_and_feature_layers() -> None:
    torch.manual_seed(0)
    model = create("c3d_keras", num_classes=7, width_multiplier=0.125, fc_dim=16, crop_size=32).eval()
    clip = torch.randn(2, 3, 16, 32, 32)
    with torch.no_grad():
        assert model.forward_conv(clip).shape == (2, 32, 1, 1, 1)
        assert model(clip).shape == (2, 7)
        assert model.forward_features(clip, layer="fc6").shape == (2, 16)
        with pytest.raises(ValueError, match=r"built for clips of 16x32x32"):
            model(torch.randn(1, 3, 16, 64, 64))


def _keras_state_for(model: nn.Module, seed: int = 0) -> tuple[dict[str, torch.Tensor], list[np.ndarray]]:
    """Random Keras-shaped arrays for ``model`` and the Keras 3 dict naming them; arrays in Keras order."""
    rng = np.random.default_rng(seed)
    arrays: list[np.ndarray] = []
    state: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    for layer in model.keras_layers():
        weight = getattr(model, layer.module).weight
        if layer.kind == "conv3d":
            out, cin, kt, kh, kw = weight.shape
            kernel_shape = (kh, kw, kt, cin, out)
        else:
            kernel_shape = (weight.shape[1], weight.shape[0])
        index = counts.get(layer.kind, 0)
        counts[layer.kind] = index + 1
        group = f"layers/{layer.kind}" + (f"_{index}" if index else "")
        for j, shape in enumerate((kernel_shape, (weight.shape[0],))):
            array = rng.standard_normal(shape).astype(np.float32)
            arrays.append(array)
            state[f"{group}/vars/{j}"] = torch.from_numpy(array)
    return state, arrays


def test_fc6_rows_follow_keras_flatten_order() -> None:
    # Keras computes fc6 on pool5 flattened as (H, W, T, C); vidlearn flattens (C, T, H, W).
    torch.manual_seed(0)
    model = create("c3d_keras", num_classes=3, width_multiplier=0.125, fc_dim=8, clip_len=32, crop_size=48)
    assert model.pool5_shape == (32, 2, 2, 2)  # every axis > 1, so a wrong order cannot pass
    state, arrays = _keras_state_for(model)
    converted = convert_keras_state(state, model, model.keras_layers(), axes="HWT")
    pooled = torch.randn(3, *model.pool5_shape)
    keras_kernel, keras_bias = torch.from_numpy(arrays[10]), torch.from_numpy(arrays[11])
    expected = pooled.permute(0, 3, 4, 2, 1).reshape(3, -1) @ keras_kernel + keras_bias
    got = pooled.reshape(3, -1) @ converted["fc6.weight"].t() + converted["fc6.bias"]
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    # conv kernels: Keras (kH, kW, kT, in, out) -> torch (out, in, kT, kH, kW)
    assert torch.equal(converted["conv2.weight"][5, 3, 2, 0, 1], torch.from_numpy(arrays[2])[0, 1, 2, 3, 5])
    assert torch.equal(converted["fc7.weight"], torch.from_numpy(arrays[12]).t())


def _write_keras2(path: Path, arrays: list[np.ndarray], *, drop: str | None = None) -> None:
    """The Keras 2 ``save_weights`` layout of C3D-keras (Keras 2.1 names), written with h5py."""
    h5py = pytest.importorskip("h5py", reason="h5py (vidlearn[keras]) is not installed")
    names = ["input_1", "conv3d_1", "max_pooling3d_1", "conv3d_2", "max_pooling3d_2", "conv3d_3",
             "max_pooling3d_3", "conv3d_4", "max_pooling3d_4", "conv3d_5", "max_pooling3d_5", "flatten_1",
             "dense_1", "dropout_1", "dense_2", "dropout_2", "dense_3", "activation_1"]
    names = [name for name in names if name != drop]
    pairs = iter(zip(arrays[0::2], arrays[1::2]))
    with h5py.File(path, "w") as handle:
        handle.attrs["layer_names"] = np.array([name.encode() for name in names])
        handle.attrs["backend"] = b"tensorflow"
        handle.attrs["keras_version"] = b"2.1.5"
        for name in ["input_1", "conv3d_1", "max_pooling3d_1", "conv3d_2", "max_pooling3d_2", "conv3d_3",
                     "max_pooling3d_3", "conv3d_4", "max_pooling3d_4", "conv3d_5", "max_pooling3d_5",
                     "flatten_1", "dense_1", "dropout_1", "dense_2", "dropout_2", "dense_3", "activation_1"]:
            has_weights = name.startswith(("conv3d", "dense"))
            kernel, bias = next(pairs) if has_weights else (None, None)
            if name == drop:
                continue
            group = handle.create_group(name)
            if has_weights:
                weight_names = [f"{name}/kernel:0", f"{name}/bias:0"]
                group.attrs["weight_names"] = np.array([w.encode() for w in weight_names])
                group.create_dataset(weight_names[0], data=kernel)
                group.create_dataset(weight_names[1], data=bias)
            else:
                group.attrs["weight_names"] = np.array([], dtype="S1")


def _small() -> nn.Module:
    torch.manual_seed(0)
    return create("c3d_keras", num_classes=5, width_multiplier=0.125, fc_dim=16, crop_size=32)


def test_keras2_file_loads_and_matches_the_keras3_dict(tmp_path: Path) -> None:
    model = _small()
    state, arrays = _keras_state_for(model)
    _write_keras2(tmp_path / "weights_c3d.h5", arrays)
    assert load_weights(model, tmp_path / "weights_c3d.h5") == "keras2-h5"
    expected = convert_keras_state(state, model, model.keras_layers(), axes="HWT")
    for key, value in model.state_dict().items():
        assert torch.equal(value, expected[key]), key


def test_keras3_layout_inside_a_dot_keras_archive_loads(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py", reason="h5py (vidlearn[keras]) is not installed")
    model = _small()
    state, _ = _keras_state_for(model, seed=4)
    with h5py.File(tmp_path / "model.weights.h5", "w") as handle:
        for key, value in state.items():
            handle.create_dataset(key, data=value.numpy())
        handle.create_group("layers/max_pooling3d/vars")  # weightless layers have empty groups
    with zipfile.ZipFile(tmp_path / "c3d.keras", "w") as archive:
        archive.writestr("config.json", "{}")
        archive.write(tmp_path / "model.weights.h5", "model.weights.h5")
    assert load_weights(model, tmp_path / "c3d.keras") == "keras3-h5"
    expected = convert_keras_state(state, model, model.keras_layers(), axes="HWT")
    assert all(torch.equal(value, expected[key]) for key, value in model.state_dict().items())


def test_missing_layer_is_an_error_naming_layers(tmp_path: Path) -> None:
    model = _small()
    _, arrays = _keras_state_for(model)
    _write_keras2(tmp_path / "w.h5", arrays, drop="dense_3")
    with pytest.raises(CheckpointLoadError, match=r"(?s)w\.h5: .*the file has 7 layers with weights .*dense_2\); "
                                                   r"the model expects 8 .*dense -> fc8\), matched in order: "
                                                   r"no file layer for fc8"):
        load_weights(model, tmp_path / "w.h5")


def test_wrong_shape_is_an_error_naming_layer_and_shapes(tmp_path: Path) -> None:
    model = _small()
    _, arrays = _keras_state_for(model)
    arrays[14] = np.zeros((16, 101), np.float32)  # a 101-class fc8 into a 5-class model
    arrays[15] = np.zeros((101,), np.float32)
    _write_keras2(tmp_path / "w.h5", arrays)
    with pytest.raises(CheckpointLoadError) as error:
        load_weights(model, tmp_path / "w.h5")
    message = str(error.value)
    assert "layer 'dense_3' (dense -> fc8) kernel: file (16, 101) vs model (16, 5)" in message
    assert "layer 'dense_3' (dense -> fc8) bias: file (101,) vs model (5,)" in message


def test_unexpected_keras3_layer_is_an_error() -> None:
    model = _small()
    state, _ = _keras_state_for(model)
    state["layers/dense_3/vars/0"] = torch.zeros(5, 5)
    del state["layers/conv3d_4/vars/1"]
    with pytest.raises(CheckpointLoadError) as error:
        convert_keras_state(state, model, model.keras_layers(), axes="HWT")
    message = str(error.value)
    assert "layer 'layers/conv3d_4' (conv3d -> conv5): missing bias layers/conv3d_4/vars/1 (expected Keras shape (32,))" in message
    assert "unexpected weights (1) that no layer of C3DKeras takes: layers/dense_3/vars/0" in message


def test_keras_layer_kind_is_checked() -> None:
    with pytest.raises(ValueError, match="kind must be 'conv3d' or 'dense'"):
        KerasLayer("fc6", "linear")


def test_missing_h5py_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "weights.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n")
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now fails
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'vidlearn\[keras\]'"):
        load_weights(_small(), path)


def test_not_a_keras_file_is_named(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py", reason="h5py (vidlearn[keras]) is not installed")
    with h5py.File(tmp_path / "other.h5", "w") as handle:
        handle.create_dataset("data", data=np.zeros(3))
    with pytest.raises(CheckpointLoadError, match=r"other\.h5: not a Keras weights file .*\['data'\]"):
        load_weights(_small(), tmp_path / "other.h5")


# --- against Keras itself -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras() -> object:
    os.environ["KERAS_BACKEND"] = "torch"  # before the first import of keras
    keras = pytest.importorskip("keras", reason="keras (test-only: pip install keras) is not installed")
    if keras.backend.backend() != "torch":
        pytest.skip(f"keras was already imported with the {keras.backend.backend()!r} backend")
    return keras


def _keras_c3d(keras: object) -> object:
    """TianzhongSong/C3D-keras ``c3d_model()``, layer for layer (regularisers do not change outputs)."""
    from keras import layers
    from keras.regularizers import l2

    inputs = keras.Input((112, 112, 16, 3))
    x = inputs
    for width, pool in zip((64, 128, 128, 256, 256), ((2, 2, 1), *((2, 2, 2),) * 4)):
        x = layers.Conv3D(width, (3, 3, 3), strides=(1, 1, 1), padding="same", activation="relu",
                          kernel_regularizer=l2(0.005))(x)
        x = layers.MaxPool3D(pool, strides=pool, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(2048, activation="relu", kernel_regularizer=l2(0.005))(x)
    x = layers.Dropout(0.5)(x)
    x = layers.Dense(2048, activation="relu", kernel_regularizer=l2(0.005))(x)
    x = layers.Dropout(0.5)(x)
    x = layers.Dense(101, kernel_regularizer=l2(0.005))(x)
    x = layers.Activation("softmax")(x)
    return keras.Model(inputs, x)


# Keras 3.15 with NumPy 2 converts its variables through a deprecated __array__ signature.
@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
def test_keras_weights_give_keras_logits(keras: object, tmp_path: Path) -> None:
    model_k = _keras_c3d(keras)
    assert model_k.count_params() == PARAMS
    rng = np.random.default_rng(0)
    arrays: list[np.ndarray] = []
    for layer in model_k.layers:
        weights = layer.get_weights()
        if weights:
            # glorot-like kernels keep activations O(1); random biases check the bias mapping too
            kernel, bias = weights
            new = [rng.uniform(-1, 1, kernel.shape).astype(np.float32) * np.sqrt(3.0 / np.prod(kernel.shape[:-1])),
                   rng.uniform(-0.1, 0.1, bias.shape).astype(np.float32)]
            layer.set_weights(new)
            arrays += new
    model_k.save_weights(tmp_path / "c3d.weights.h5")
    _write_keras2(tmp_path / "weights_c3d.h5", arrays)

    clip_k = rng.uniform(-2, 2, (1, 112, 112, 16, 3)).astype(np.float32)  # (B, H, W, T, C)
    logits_model = keras.Model(model_k.inputs, model_k.layers[-2].output)  # before the softmax
    expected = torch.from_numpy(np.asarray(keras.ops.convert_to_numpy(logits_model([clip_k], training=False))))
    clip = torch.from_numpy(clip_k).permute(0, 4, 3, 1, 2)  # -> (B, C, T, H, W)

    for filename, layout in (("c3d.weights.h5", "keras3-h5"), ("weights_c3d.h5", "keras2-h5")):
        torch.manual_seed(1)
        model = create("c3d_keras").eval()
        assert load_weights(model, tmp_path / filename) == layout
        with torch.no_grad():
            got = model(clip)
        error = ((got - expected).norm() / expected.norm()).item()
        assert error < 1e-5, f"{filename}: relative error {error:.2e}"
    assert expected.std() > 0.1  # logits that carry signal, so the comparison means something
