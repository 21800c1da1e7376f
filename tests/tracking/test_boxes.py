import numpy as np
import pytest

from vidlearn.tracking.boxes import (
    cxcyah_to_xyxy,
    cxcysr_to_xyxy,
    iou_matrix,
    mot_to_xyxy,
    nms,
    validate_boxes,
    xywh_to_xyxy,
    xyxy_to_cxcyah,
    xyxy_to_cxcysr,
    xyxy_to_mot,
    xyxy_to_xywh,
)


def test_mot_boundary_conversion_is_one_based():
    # MOT's top-left pixel is (1, 1): a 10x20 box there covers library pixels [0, 10) x [0, 20).
    np.testing.assert_array_equal(mot_to_xyxy(np.array([[1.0, 1.0, 10.0, 20.0]])), [[0.0, 0.0, 10.0, 20.0]])
    boxes = np.array([[3.5, 7.0, 40.0, 90.0], [0.0, 0.0, 1.0, 1.0]])
    np.testing.assert_allclose(xyxy_to_mot(mot_to_xyxy(boxes)), boxes)
    np.testing.assert_allclose(xyxy_to_xywh(xywh_to_xyxy(boxes)), boxes)
    np.testing.assert_array_equal(xywh_to_xyxy(boxes)[0], [3.5, 7.0, 43.5, 97.0])


def test_centre_parametrisations_round_trip():
    boxes = np.array([[10.0, 20.0, 30.0, 60.0], [0.0, 0.0, 5.0, 2.5]])
    z = xyxy_to_cxcysr(boxes)
    np.testing.assert_allclose(z[0], [20.0, 40.0, 800.0, 0.5])
    np.testing.assert_allclose(cxcysr_to_xyxy(z), boxes)
    z = xyxy_to_cxcyah(boxes)
    np.testing.assert_allclose(z[0], [20.0, 40.0, 0.5, 40.0])
    np.testing.assert_allclose(cxcyah_to_xyxy(z), boxes)
    # A negative area has no box: NaN, which SORT uses to drop the track.
    assert np.isnan(cxcysr_to_xyxy(np.array([[0.0, 0.0, -4.0, 1.0]]))).all()


def test_iou_matrix_values_and_degenerate_boxes():
    a = np.array([[0.0, 0.0, 10.0, 10.0], [5.0, 5.0, 5.0, 5.0]])
    b = np.array([[5.0, 0.0, 15.0, 10.0], [0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    iou = iou_matrix(a, b)
    assert iou.shape == (2, 3)
    np.testing.assert_allclose(iou[0], [50.0 / 150.0, 1.0, 0.0])
    np.testing.assert_array_equal(iou[1], [0.0, 0.0, 0.0])  # zero area: 0, never NaN
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)


def test_validate_boxes_names_the_bad_box():
    with pytest.raises(ValueError, match=r"boxes\[1\] is not finite"):
        validate_boxes(np.array([[0, 0, 1, 1], [0, np.nan, 1, 1]]))
    with pytest.raises(ValueError, match=r"boxes\[0\] has x2 < x1"):
        validate_boxes(np.array([[5, 0, 1, 1]]))
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        validate_boxes(np.zeros((2, 5)))
    assert validate_boxes([]).shape == (0, 4)


def test_nms_suppresses_overlaps_above_threshold():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]], dtype=float)
    scores = np.array([0.5, 0.9, 0.7])
    np.testing.assert_array_equal(nms(boxes, scores, 0.5), [1, 2])
    np.testing.assert_array_equal(nms(boxes, scores, 1.0), [1, 2, 0])
    with pytest.raises(ValueError, match="3 boxes but 2 scores"):
        nms(boxes, scores[:2], 0.5)
