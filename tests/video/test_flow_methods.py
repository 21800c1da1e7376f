"""Flow estimators against synthetic pairs with known motion, and RAFT weight loading."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest
import torch

from vidlearn.models.weights import CheckpointLoadError
from vidlearn.video.flow import (
    DISFlow,
    FarnebackFlow,
    RAFTFlow,
    TVL1Flow,
    compute_flow,
    create_flow_estimator,
)
from vidlearn.video.flow.methods import RAFT_WEIGHTS_URLS

HEIGHT, WIDTH = 240, 320
BORDER = 24  # pixels whose source lies outside frame 1, and pyramid border effects, are cropped


def smooth_texture(height: int = HEIGHT, width: int = WIDTH, sigma: float = 3.0, seed: int = 0) -> np.ndarray:
    """Low-pass filtered RGB noise, ``uint8 (H, W, 3)``: texture everywhere, no aliasing."""
    noise = np.random.default_rng(seed).standard_normal((height, width, 3)).astype(np.float32)
    blurred = cv2.GaussianBlur(noise, (0, 0), sigma)
    blurred = (blurred - blurred.min()) / (blurred.max() - blurred.min())
    return np.round(blurred * 255).astype(np.uint8)


def warp_pair(affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``(2, H, W, 3)`` where frame 2 is frame 1 moved by ``affine`` (2x3), and the true
    flow ``(2, H, W)`` from frame 1 to frame 2.

    ``cv2.warpAffine`` without WARP_INVERSE_MAP sends the pixel at ``p`` of the source to ``A p + b``
    in the output, so the pixel at ``p`` in frame 1 moves by ``A p + b - p``.
    """
    first = smooth_texture()
    second = cv2.warpAffine(first, affine, (WIDTH, HEIGHT), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    flow_x = affine[0, 0] * xs + affine[0, 1] * ys + affine[0, 2] - xs
    flow_y = affine[1, 0] * xs + affine[1, 1] * ys + affine[1, 2] - ys
    return np.stack([first, second]), np.stack([flow_x, flow_y]).astype(np.float32)


def interior_epe(estimate: torch.Tensor, truth: np.ndarray) -> float:
    error = estimate.numpy() - truth
    error = error[:, BORDER:-BORDER, BORDER:-BORDER]
    return float(np.sqrt((error**2).sum(axis=0)).mean())


TRANSLATION = np.array([[1.0, 0.0, 1.7], [0.0, 1.0, -0.6]])
ROTATION = cv2.getRotationMatrix2D((WIDTH / 2 - 10.5, HEIGHT / 2 + 5.5), 1.5, 1.0)  # 1.5 degrees, off-centre


@pytest.fixture(scope="module")
def translated() -> tuple[np.ndarray, np.ndarray]:
    return warp_pair(TRANSLATION)


@pytest.fixture(scope="module")
def rotated() -> tuple[np.ndarray, np.ndarray]:
    return warp_pair(ROTATION)


def test_ground_truth_direction(translated: tuple[np.ndarray, np.ndarray]) -> None:
    # Sanity of the test itself: frame 2 sampled at p + flow(p) gives frame 1 back.
    frames, truth = translated
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    back = cv2.remap(frames[1], xs + truth[0], ys + truth[1], cv2.INTER_CUBIC)
    inner = (slice(BORDER, -BORDER), slice(BORDER, -BORDER))
    assert np.abs(back[inner].astype(float) - frames[0][inner]).mean() < 1.0
    assert np.abs(frames[1][inner].astype(float) - frames[0][inner]).mean() > 5.0


@pytest.mark.parametrize(("method", "limit"), [("tvl1", 0.5), ("farneback", 1.0), ("dis", 1.0)])
def test_translation_epe(method: str, limit: float, translated: tuple[np.ndarray, np.ndarray]) -> None:
    frames, truth = translated
    flow = compute_flow(frames, method)
    assert flow.shape == (1, 2, HEIGHT, WIDTH) and flow.dtype == torch.float32
    assert interior_epe(flow[0], truth) < limit


@pytest.mark.parametrize(("method", "limit"), [("tvl1", 0.5), ("farneback", 1.0), ("dis", 1.0)])
def test_rotation_epe(method: str, limit: float, rotated: tuple[np.ndarray, np.ndarray]) -> None:
    frames, truth = rotated
    flow = compute_flow(torch.from_numpy(frames), method)  # tensors are accepted too
    assert interior_epe(flow[0], truth) < limit
    # a zero field would already be far off: the rotation moves the interior by up to ~4 px
    assert interior_epe(torch.zeros_like(flow[0]), truth) > 1.5


def test_clip_gives_one_field_per_consecutive_pair() -> None:
    texture = smooth_texture(48, 64)
    shifts = [0.0, 1.0, 3.0]
    frames = np.stack([cv2.warpAffine(texture, np.float32([[1, 0, s], [0, 1, 0]]), (64, 48),
                                      borderMode=cv2.BORDER_REFLECT) for s in shifts])  # fmt: skip
    flow = compute_flow(frames, "farneback")
    assert flow.shape == (2, 2, 48, 64)
    centre = flow[:, 0, 16:-16, 16:-16].mean(dim=(1, 2))
    torch.testing.assert_close(centre, torch.tensor([1.0, 2.0]), atol=0.3, rtol=0)


def test_estimator_call_single_and_batched() -> None:
    frames = np.stack([smooth_texture(32, 40, seed=seed) for seed in range(3)])
    estimator = DISFlow(preset="fast")
    batched = estimator(frames[:-1], frames[1:])
    single = estimator(frames[1], frames[2])
    assert batched.shape == (2, 2, 32, 40) and single.shape == (2, 32, 40)
    torch.testing.assert_close(batched[1], single)


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        (np.zeros((1, 8, 8, 3), np.uint8), "T >= 2"),
        (np.zeros((2, 8, 8, 3), np.float32), "uint8"),
        (np.zeros((2, 8, 8), np.uint8), "shape"),
    ],
)
def test_bad_frames_are_rejected(frames: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compute_flow(frames, "farneback")


def test_unknown_method_and_option() -> None:
    with pytest.raises(ValueError, match="unknown flow method 'brox'"):
        create_flow_estimator("brox")
    with pytest.raises(ValueError, match="farneback"):
        create_flow_estimator("farneback", preset="fast")
    with pytest.raises(ValueError, match="CPU only"):
        create_flow_estimator("dis", device="cuda")
    with pytest.raises(ValueError, match="preset"):
        DISFlow(preset="slowest")


def test_options_reach_opencv() -> None:
    assert isinstance(create_flow_estimator("tvl1"), TVL1Flow)
    tvl1 = TVL1Flow(warps=3, inner_iterations=7)
    assert tvl1._solver.getWarpingsNumber() == 3 and tvl1._solver.getInnerIterations() == 7
    assert FarnebackFlow(winsize=9).options["winsize"] == 9


# --- RAFT -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def raft_small_random() -> RAFTFlow:
    torch.manual_seed(0)
    return RAFTFlow(model="raft_small", random_weights=True, num_flow_updates=2, batch_size=2)


def test_raft_shape_padding_and_batching(raft_small_random: RAFTFlow) -> None:
    # 60x70 is neither a multiple of 8 nor as large as RAFT's pyramid needs: padded and cropped.
    frames = np.stack([smooth_texture(60, 70, seed=seed) for seed in range(3)])
    flow = compute_flow(frames, raft_small_random)
    assert flow.shape == (2, 2, 60, 70) and flow.dtype == torch.float32
    assert torch.isfinite(flow).all()
    raft_small_random.batch_size = 1
    try:
        one_by_one = compute_flow(frames, raft_small_random)
    finally:
        raft_small_random.batch_size = 2
    torch.testing.assert_close(flow, one_by_one, atol=1e-3, rtol=1e-3)


def test_raft_without_weights_names_the_published_file() -> None:
    with pytest.raises(CheckpointLoadError, match=r"raft_small_C_T_V2-01064c6d\.pth") as info:
        RAFTFlow(model="raft_small")
    assert RAFT_WEIGHTS_URLS["raft_small"] in str(info.value)
    with pytest.raises(CheckpointLoadError, match="raft_large_C_T_SKHT_V2"):
        compute_flow(np.zeros((2, 8, 8, 3), np.uint8), "raft")


def test_raft_loads_a_state_dict_file_strictly(tmp_path, raft_small_random: RAFTFlow) -> None:
    from torchvision.models.optical_flow import raft_small

    torch.manual_seed(1)
    reference = raft_small(weights=None, progress=False)
    path = tmp_path / "raft_small.pth"
    torch.save(reference.state_dict(), path)
    loaded = RAFTFlow(model="raft_small", weights_path=path)
    for name, value in reference.state_dict().items():
        torch.testing.assert_close(loaded.network.state_dict()[name], value, msg=name)
    # a different random network would not match: the load did something
    differs = raft_small_random.network.state_dict()["feature_encoder.convnormrelu.0.weight"]
    assert not torch.equal(differs, reference.state_dict()["feature_encoder.convnormrelu.0.weight"])

    broken = reference.state_dict()
    removed = "update_block.flow_head.conv2.weight"
    del broken[removed]
    broken["extra.weight"] = torch.zeros(1)
    bad_path = tmp_path / "broken.pth"
    torch.save(broken, bad_path)
    with pytest.raises(CheckpointLoadError, match=re.escape(removed)) as info:
        RAFTFlow(model="raft_small", weights_path=bad_path)
    assert "extra.weight" in str(info.value) and "broken.pth" in str(info.value)
    with pytest.raises(CheckpointLoadError, match=r"raft_small\.pth.*does not match"):
        RAFTFlow(model="raft_large", weights_path=path)  # raft_small weights into raft_large
    with pytest.raises(CheckpointLoadError, match=r"missing\.pth"):
        RAFTFlow(model="raft_small", weights_path=tmp_path / "missing.pth")


# --- real footage -------------------------------------------------------------------------------


def decode_gif(path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)][:72])


@pytest.mark.shared_data
def test_tvl1_agrees_with_deepmind_i3d_flow(shared_data) -> None:
    """DeepMind's I3D sample ships its TV-L1 flow input (x, y in R, G; ``(clip(v, ±20) / 20 + 1) / 2``,
    palette-quantised GIF) next to the RGB frames: our TV-L1 of pair t matches their field t."""
    folder = shared_data / "clips" / "kinetics_i3d"
    rgb = decode_gif(folder / "v_CricketShot_g04_c01_rgb.gif")
    reference = decode_gif(folder / "v_CricketShot_g04_c01_flow.gif")[..., :2].astype(np.float32)
    reference = (reference / 255 * 2 - 1) * 20  # back to pixels
    index = 70  # a pair with the batsman in motion
    estimate = compute_flow(rgb[index : index + 2], "tvl1")[0].numpy()
    truth = reference[index].transpose(2, 0, 1)
    correlation = [np.corrcoef(estimate[axis].ravel(), truth[axis].ravel())[0, 1] for axis in (0, 1)]
    assert correlation[0] > 0.8 and correlation[1] > 0.6  # a sign or axis swap would be negative or ~0
    assert np.sqrt(((estimate - truth) ** 2).sum(axis=0)).mean() < 0.8
