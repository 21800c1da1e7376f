import numpy as np
import pytest

from vidlearn.tracking.cmc import CameraMotionEstimator, check_warp, make_cmc, resolve_warp, similarity_scale

from ._camera import view, world_texture


@pytest.mark.parametrize("method", ["ecc", "orb"])
def test_estimates_a_known_camera_translation(method):
    world = world_texture()
    estimator = CameraMotionEstimator(method)
    np.testing.assert_array_equal(estimator(view(world, 100, 100)), np.eye(2, 3))  # first frame: no motion
    # The camera moves 30 px right and 8 px down: the scene moves 30 px left and 8 px up in the image.
    warp = estimator(view(world, 130, 108))
    np.testing.assert_allclose(warp[:, :2], np.eye(2), atol=0.01)
    np.testing.assert_allclose(warp[:, 2], [-30.0, -8.0], atol=1.0)  # ORB: keypoints on a half-size image
    assert estimator.failures == 0


def test_a_flat_image_gives_the_identity_and_counts_a_failure():
    estimator = CameraMotionEstimator("orb")
    estimator(np.full((120, 160), 128, np.uint8))
    np.testing.assert_array_equal(estimator(np.full((120, 160), 128, np.uint8)), np.eye(2, 3))
    assert estimator.failures == 1


def test_parameters_and_inputs_are_checked():
    with pytest.raises(ValueError, match="cmc method must be one of ecc, orb, got 'sift'"):
        CameraMotionEstimator("sift")
    with pytest.raises(ValueError, match="cmc must be None or one of ecc, orb, got 'flow'"):
        make_cmc("flow", 2)
    with pytest.raises(ValueError, match="cmc_downscale must be an integer >= 1, got 0"):
        CameraMotionEstimator("ecc", downscale=0)
    with pytest.raises(ValueError, match=r"image must be uint8, got float32"):
        CameraMotionEstimator("ecc")(np.zeros((10, 10), np.float32))
    estimator = CameraMotionEstimator("ecc", downscale=1)
    estimator(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match=r"image size changed from \(10, 10\) to \(12, 10\)"):
        estimator(np.zeros((12, 10), np.uint8))
    with pytest.raises(ValueError, match=r"camera_motion must be a \(2, 3\) matrix"):
        check_warp(np.eye(3))
    with pytest.raises(ValueError, match="camera_motion must be a similarity"):
        check_warp([[1.0, 0.5, 0.0], [0.0, 1.0, 0.0]])  # a shear
    with pytest.raises(ValueError, match="needs the frame: update"):
        resolve_warp(make_cmc("ecc", 2), None, None)
    with pytest.raises(ValueError, match="pass camera_motion or build the tracker with cmc, not both"):
        resolve_warp(make_cmc("ecc", 2), None, np.eye(2, 3))
    assert similarity_scale(np.array([[0.0, -2.0, 5.0], [2.0, 0.0, 1.0]])) == pytest.approx(2.0)
