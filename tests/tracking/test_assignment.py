import numpy as np
import pytest

from vidlearn.tracking.assignment import lap_available, linear_assignment


def test_optimal_assignment_with_threshold():
    cost = np.array([[0.1, 0.9, 0.8], [0.7, 0.2, 0.9]])
    result = linear_assignment(cost, 0.5)
    np.testing.assert_array_equal(result.matches, [[0, 0], [1, 1]])
    np.testing.assert_array_equal(result.unmatched_cols, [2])
    # The threshold drops pairs after solving; it does not change the solution.
    cost = np.array([[0.1, 0.2], [0.15, 0.9]])
    result = linear_assignment(cost, 0.5)
    np.testing.assert_array_equal(result.matches, [[0, 1], [1, 0]])  # total 0.35 beats 0.1 + 0.9
    result = linear_assignment(cost, 0.18)
    np.testing.assert_array_equal(result.matches, [[1, 0]])
    np.testing.assert_array_equal(result.unmatched_rows, [0])
    np.testing.assert_array_equal(result.unmatched_cols, [1])


def test_empty_and_bad_input():
    result = linear_assignment(np.zeros((0, 3)))
    assert result.matches.shape == (0, 2)
    np.testing.assert_array_equal(result.unmatched_cols, [0, 1, 2])
    with pytest.raises(ValueError, match=r"NaN at \(0, 1\)"):
        linear_assignment(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="backend"):
        linear_assignment(np.zeros((1, 1)), backend="hungarian")


@pytest.mark.skipif(not lap_available(), reason="the optional lap package is not installed")
def test_lap_gives_the_same_answers_as_scipy():
    rng = np.random.default_rng(0)
    for shape in [(5, 5), (4, 7), (8, 3)]:
        cost = rng.random(shape)
        a = linear_assignment(cost, 0.6)
        b = linear_assignment(cost, 0.6, backend="lap")
        np.testing.assert_array_equal(a.matches, b.matches)
