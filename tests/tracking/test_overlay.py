"""Overlay: a colour per id, boxes, ids and trails drawn; streamed to a video file."""

import itertools

import numpy as np

from vidlearn.tracking.overlay import OverlayWriter, TrackDrawer, draw_tracks, id_color
from vidlearn.tracking.sort import Tracks


def test_colours_are_stable_and_distinct():
    colours = [id_color(i) for i in range(1, 21)]
    assert colours == [id_color(i) for i in range(1, 21)]
    assert len(set(colours)) == 20
    gaps = [np.abs(np.subtract(a, b)).max() for a, b in itertools.pairwise(colours)]
    assert min(gaps) > 60  # neighbouring ids differ strongly


def test_boxes_and_trails_are_drawn_in_the_id_colour():
    frame = np.zeros((60, 80, 3), np.uint8)
    drawn = draw_tracks(frame, np.array([3]), np.array([[10.0, 20, 40, 50]]))
    assert tuple(drawn[35, 10]) == id_color(3)  # the left edge of the box
    assert frame.max() == 0  # the input is not drawn on
    drawer = TrackDrawer(trail=3)
    for x in range(5):
        image = drawer(frame, Tracks(np.array([7]), np.array([[10.0 + 5 * x, 10, 20 + 5 * x, 20]])))
    assert list(drawer.trails[7]) == [(25, 15), (30, 15), (35, 15)]
    assert tuple(image[15, 27]) == id_color(7)  # the trail runs through the centres
    drawer(frame, Tracks(np.zeros(0, np.int64), np.zeros((0, 4))))
    assert drawer.trails == {}


def test_overlay_video_has_every_frame(tmp_path):
    from vidlearn.video import VideoReader

    with OverlayWriter(tmp_path / "o.mp4", 10) as writer:
        for frame in range(6):
            writer(frame + 1, np.full((48, 64, 3), 40, np.uint8), Tracks(np.array([1]), np.array([[5.0, 5, 20, 30]])))
    with VideoReader(tmp_path / "o.mp4") as reader:
        assert (reader.num_frames, reader.height, reader.width) == (6, 48, 64)
    assert [p.name for p in tmp_path.iterdir()] == ["o.mp4"]
