import numpy as np

from vidlearn.tracking.deepsort.track import TrackSet, TrackState
from vidlearn.tracking.kalman import DeepSortKalmanFilter


def _tracks(n=2, n_init=3, max_age=2):
    kf = DeepSortKalmanFilter()
    z = np.array([[50.0 + 100 * i, 50.0, 0.5, 80.0] for i in range(n)])
    tracks = TrackSet(n_init=n_init, max_age=max_age)
    mean, cov = kf.initiate(z)
    tracks.add(mean, cov, np.arange(1, n + 1), np.eye(n, 4))
    return tracks, kf, z


def test_life_cycle_tentative_confirmed_deleted():
    tracks, kf, z = _tracks()
    assert tracks.state.tolist() == [TrackState.TENTATIVE] * 2
    assert tracks.hits.tolist() == [1, 1] and tracks.age.tolist() == [1, 1]
    tracks.predict(kf)
    tracks.update(np.array([0]), z[:1], None, kf)
    tracks.mark_missed(np.array([1]))
    tracks.prune()
    assert tracks.ids.tolist() == [1] and tracks.state.tolist() == [TrackState.TENTATIVE]
    tracks.predict(kf)
    tracks.update(np.array([0]), z[:1], None, kf)
    # Track 1 reached n_init = 3 hits; track 2 missed once while Tentative and was deleted.
    assert tracks.ids.tolist() == [1]
    assert tracks.state.tolist() == [TrackState.CONFIRMED]
    # A Confirmed track survives max_age = 2 missed frames and dies at the third.
    for expected in ([1], [1], []):
        tracks.predict(kf)
        tracks.mark_missed(np.array([0]))
        tracks.prune()
        assert tracks.ids.tolist() == expected


def test_pending_features_go_to_the_gallery_only_when_confirmed():
    tracks, kf, z = _tracks(n=1, n_init=2)
    features, owners = tracks.take_confirmed_features()
    assert len(features) == 0 and len(owners) == 0  # Tentative: kept pending
    tracks.predict(kf)
    tracks.update(np.array([0]), z, np.ones((1, 4)), kf)
    features, owners = tracks.take_confirmed_features()
    assert owners.tolist() == [1, 1]  # both observations since creation
    np.testing.assert_array_equal(features, [[1, 0, 0, 0], [1, 1, 1, 1]])
    assert tracks.take_confirmed_features()[1].tolist() == []
