"""Flow storage: the MMAction2 JPEG mapping, round-trip quantisation error, NPZ archives."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from vidlearn.video.flow import (
    dequantize_flow,
    quantize_flow,
    read_flow_frames,
    read_flow_npz,
    write_flow_frames,
    write_flow_npz,
)


def smooth_flow(fields: int = 3, height: int = 24, width: int = 32, scale: float = 8.0) -> torch.Tensor:
    """A smooth random flow ``(T, 2, H, W)`` within ``±scale`` px (JPEG keeps smooth images well)."""
    generator = torch.Generator().manual_seed(0)
    coarse = torch.rand(fields, 2, 3, 4, generator=generator) * 2 - 1
    return torch.nn.functional.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=True).clamp(-1, 1) * scale


def test_quantisation_mapping_and_error_bound() -> None:
    bound = 20.0
    values = np.array([-25.0, -20.0, -0.1, 0.0, 0.1, 7.3, 20.0, 31.0], np.float32)
    expected = np.round((np.clip(values, -bound, bound) + bound) / (2 * bound) * 255)
    np.testing.assert_array_equal(quantize_flow(values, bound), expected.astype(np.uint8))
    dense = np.linspace(-bound, bound, 10001, dtype=np.float32)
    error = np.abs(dequantize_flow(quantize_flow(dense, bound), bound) - dense)
    assert error.max() <= bound / 255 + 1e-5
    assert error.max() > 0.5 * bound / 255  # the bound is tight, not loose
    with pytest.raises(ValueError, match="bound"):
        quantize_flow(values, 0.0)


def test_jpeg_layout_names_and_exact_values(tmp_path) -> None:
    flow = torch.zeros(2, 2, 16, 16)
    flow[0, 0] = 5.0
    flow[0, 1] = -30.0  # saturates at -bound
    flow[1, 0] = 0.0
    flow[1, 1] = 19.0
    written = write_flow_frames(flow, tmp_path / "video")
    names = sorted(path.name for path in written)
    assert names == ["flow_x_00001.jpg", "flow_x_00002.jpg", "flow_y_00001.jpg", "flow_y_00002.jpg"]
    # constant images survive JPEG exactly, so the stored byte is the documented mapping
    stored = cv2.imread(str(tmp_path / "video" / "flow_x_00001.jpg"), cv2.IMREAD_GRAYSCALE)
    assert (stored == round((5.0 + 20) / 40 * 255)).all()
    assert (cv2.imread(str(tmp_path / "video" / "flow_y_00001.jpg"), cv2.IMREAD_GRAYSCALE) == 0).all()
    back = read_flow_frames(tmp_path / "video", [0, 1])
    assert back.shape == (2, 2, 16, 16) and back.dtype == torch.float32
    torch.testing.assert_close(back, flow.clamp(-20, 20), atol=20 / 255 + 1e-4, rtol=0)


def test_jpeg_round_trip_error_on_smooth_flow(tmp_path) -> None:
    flow = smooth_flow()
    write_flow_frames(flow, tmp_path, quality=95)
    back = read_flow_frames(tmp_path, range(3))
    error = (back - flow).abs()
    assert error.mean() < 0.1 and error.max() < 0.5
    # lower quality loses more: the quality setting reaches the encoder
    write_flow_frames(flow, tmp_path / "low", quality=5)
    low = read_flow_frames(tmp_path / "low", range(3))
    assert (low - flow).abs().mean() > error.mean()


def test_read_selected_indices_in_order_with_start_offset(tmp_path) -> None:
    flow = smooth_flow(fields=4)
    write_flow_frames(flow[:2], tmp_path)
    write_flow_frames(flow[2:], tmp_path, start=2)  # chunked writing continues the numbering
    assert (tmp_path / "flow_y_00004.jpg").is_file() and not (tmp_path / "flow_x_00005.jpg").exists()
    picked = read_flow_frames(tmp_path, [3, 0])
    whole = read_flow_frames(tmp_path, range(4))
    torch.testing.assert_close(picked, whole[[3, 0]])


def test_custom_template_and_bound(tmp_path) -> None:
    flow = smooth_flow(fields=1, scale=4.0)
    write_flow_frames(flow, tmp_path, template="{axis}_{index:03d}.png", bound=5.0)
    assert (tmp_path / "x_001.png").is_file()
    back = read_flow_frames(tmp_path, [0], template="{axis}_{index:03d}.png", bound=5.0)
    assert (back - flow).abs().max() <= 5.0 / 255 + 1e-5  # PNG is lossless: only quantisation


def test_missing_image_is_named(tmp_path) -> None:
    write_flow_frames(smooth_flow(fields=1), tmp_path)
    with pytest.raises(FileNotFoundError, match=r"flow_x_00002\.jpg"):
        read_flow_frames(tmp_path, [0, 1])
    with pytest.raises(ValueError, match="negative"):
        read_flow_frames(tmp_path, [-1])
    with pytest.raises(ValueError, match=r"\(T, 2, H, W\)"):
        write_flow_frames(torch.zeros(1, 3, 4, 4), tmp_path)


@pytest.mark.parametrize(("dtype", "tolerance"), [("float16", 0.01), ("uint8", 20 / 255 + 1e-4)])
def test_npz_round_trip(tmp_path, dtype: str, tolerance: float) -> None:
    flow = smooth_flow(fields=3, scale=15.0)
    path = write_flow_npz(flow, tmp_path / "sub" / "flow.npz", dtype=dtype)
    assert path.is_file() and not list(path.parent.glob("*.tmp*"))
    back = read_flow_npz(path)
    assert back.dtype == torch.float32 and back.shape == flow.shape
    error = (back - flow).abs().max().item()
    assert 0 < error <= tolerance
    torch.testing.assert_close(read_flow_npz(path, [2, 0]), back[[2, 0]])
    with pytest.raises(IndexError, match="out of range"):
        read_flow_npz(path, [3])


def test_npz_errors(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nothing\.npz"):
        read_flow_npz(tmp_path / "nothing.npz")
    np.savez(tmp_path / "other.npz", something=np.zeros(3))
    with pytest.raises(ValueError, match=r"other\.npz"):
        read_flow_npz(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="dtype"):
        write_flow_npz(torch.zeros(1, 2, 2, 2), tmp_path / "x.npz", dtype="int8")
