"""Tracking a sequence: inputs opened by kind, frames read only when needed, features per chunk."""

import numpy as np
import pytest
import torch

from vidlearn.synthetic.mot import MotSceneConfig, render_mot_sequence, write_mot_sequence
from vidlearn.tracking import DeepSort, Sort
from vidlearn.tracking.detectors import NoisyOracle
from vidlearn.tracking.formats import MotFormatError
from vidlearn.tracking.pipeline import Sequence, open_sequence, track_sequence
from vidlearn.tracking.run import Detections, track_detections

CONFIG = MotSceneConfig(num_objects=4, num_frames=10, size=(64, 96))


@pytest.fixture(scope="module")
def rendered():
    sequence = render_mot_sequence(11, CONFIG, name="SYN-P")
    detections = NoisyOracle(false_positives=0.5).detect(sequence.gt, image_size=CONFIG.size, seed=1,
                                                         num_frames=CONFIG.num_frames)
    return sequence, detections


def test_open_sequence_by_kind(rendered, tmp_path):
    sequence, detections = rendered
    folder = write_mot_sequence(tmp_path, sequence, detections=detections)
    opened = open_sequence(folder)
    assert (opened.name, opened.num_frames, opened.height, opened.width) == ("SYN-P", 10, 64, 96)
    assert opened.image_dir == folder / "img1" and opened.detections == folder / "det" / "det.txt"
    chunks = list(opened.frame_chunks(4))
    assert [first for first, _ in chunks] == [1, 5, 9] and sum(len(f) for _, f in chunks) == 10
    # JPEG at quality 95: the frames read back are close to the rendered ones.
    assert (chunks[0][1].float() - sequence.frames[:4].float()).abs().mean() < 3
    video = open_sequence(write_mot_sequence(tmp_path / "v", sequence, video=True))
    assert video.video is not None and video.num_frames == 10
    mp4 = open_sequence(video.video)
    assert (mp4.name, mp4.num_frames, mp4.fps) == ("SYN-P", 10, 25.0)
    with pytest.raises(FileNotFoundError, match="neither a video file nor a MOTChallenge sequence folder"):
        open_sequence(tmp_path / "none")
    (tmp_path / "det.txt").write_text("1,-1,1,1,2,2,1\n")
    with pytest.raises(ValueError, match=r"det\.txt: not a video file"):
        open_sequence(tmp_path / "det.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="is not a MOTChallenge sequence folder"):
        open_sequence(tmp_path / "empty")


def test_rows_alone_equal_the_detection_file_loop(rendered):
    _sequence, detections = rendered
    no_pixels = Sequence("SYN-P", 10, 25.0, 64, 96)
    rows, used = track_sequence(Sort(), no_pixels, detections=Detections(detections), chunk=3)
    expected = track_detections(Sort(), Detections(detections), 10)
    np.testing.assert_array_equal(rows.frames, expected.frames)
    np.testing.assert_array_equal(rows.ids, expected.ids)
    np.testing.assert_allclose(rows.boxes, expected.boxes)
    assert len(used) == len(detections)


def test_embedder_features_reach_the_tracker(rendered):
    sequence, detections = rendered
    seen = []

    def embedder(frames, boxes, frame_index):
        seen.append((len(frames), len(boxes)))
        assert int(np.max(frame_index, initial=0)) < len(frames)
        return np.tile(np.eye(4)[0], (len(boxes), 1))

    source = Sequence("SYN-P", 10, 25.0, 64, 96, frames=sequence.frames)
    frames_seen = []
    rows, _ = track_sequence(DeepSort(min_confidence=0.0, n_init=1), source, detections=Detections(detections),
                             embedder=embedder, chunk=4, on_frame=lambda n, frame, tracks: frames_seen.append(n))
    assert [n for n, _ in seen] == [4, 4, 2]  # one call per chunk of frames
    assert sum(k for _, k in seen) == len(detections)
    assert frames_seen == list(range(1, 11)) and len(rows) > 0


def test_detections_of_another_sequence_length_are_refused(rendered):
    sequence, detections = rendered
    shorter = Sequence("SHORT", 6, 25.0, 64, 96, frames=sequence.frames[:6])
    with pytest.raises(MotFormatError, match="detections reach frame 10, past the 6 frames of SHORT"):
        track_sequence(Sort(), shorter, detections=Detections(detections))
    with pytest.raises(ValueError, match="has none"):
        track_sequence(Sort(), Sequence("X", 10, 25.0, 64, 96), detections=Detections(detections),
                       embedder=lambda *a: None)
    with pytest.raises(ValueError, match="exactly one"):
        track_sequence(Sort(), shorter)


def test_nan_boxes_are_refused_by_update():
    for tracker in (Sort(), DeepSort()):
        with pytest.raises(ValueError, match=r"boxes\[1\] is not finite"):
            tracker.update(np.array([[0, 0, 10, 10], [np.nan, 0, 10, 10.0]]), np.ones(2))
    assert torch.isfinite(torch.zeros(1)).all()


@pytest.mark.parametrize("method", ["ecc", "orb"])
def test_track_command_compensates_a_panning_camera(tmp_path, capsys, method):
    """``vidlearn track SEQ --cmc``: three objects standing still in a textured world filmed by a camera that
    pans 24 px a frame; their 20-px boxes move 24 px in the image, so SORT without compensation loses every
    track every frame; with ``--cmc`` each keeps one id. The command equals the library loop."""
    from PIL import Image

    from vidlearn.cli.main import main
    from vidlearn.tracking.formats import read_mot

    from ._camera import view, world_texture

    world, folder = world_texture(), tmp_path / "PAN-01"
    (folder / "img1").mkdir(parents=True)
    (folder / "det").mkdir()
    objects = np.array([[300.0, 200.0, 320.0, 240.0], [420.0, 150.0, 440.0, 190.0], [360.0, 260.0, 380.0, 300.0]])
    rows, frames = [], []
    for number in range(1, 9):
        camera_x = 100 + 24 * (number - 1)
        frames.append(view(world, camera_x, 100))
        Image.fromarray(frames[-1]).save(folder / "img1" / f"{number:06d}.png")
        for x1, y1, x2, y2 in objects - [camera_x, 100, camera_x, 100]:
            rows.append(f"{number},-1,{x1 + 1:g},{y1 + 1:g},{x2 - x1:g},{y2 - y1:g},0.9,-1,-1,-1\n")
    (folder / "det" / "det.txt").write_text("".join(rows))

    results = {}
    for name, extra in (("plain", []), ("cmc", ["--cmc", method])):
        out = tmp_path / f"{name}.txt"
        assert main(["track", str(folder), "--tracker", "sort", "--min-hits", "1", "-o", str(out), "--quiet", *extra]) == 0
        results[name] = read_mot(out, "result", 8)
    capsys.readouterr()
    # Without compensation every box starts a new track that is never matched again, so after the first
    # frame (where abewley/sort's rule reports every track) nothing is reported.
    assert results["plain"].frames.tolist() == [1, 1, 1]
    assert sorted(set(results["cmc"].ids.tolist())) == [1, 2, 3] and len(results["cmc"]) == 24

    tracker = Sort(min_hits=1, cmc=method)
    det = read_mot(folder / "det" / "det.txt", "det")
    for number, image in enumerate(frames, start=1):
        here = det.frames == number
        tracks = tracker.update(det.boxes_xyxy[here], det.scores[here], image=image)
        got = results["cmc"].frames == number
        np.testing.assert_array_equal(np.sort(results["cmc"].ids[got]), np.sort(tracks.ids))
