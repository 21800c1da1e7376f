"""``vidlearn track``: detection files in (text, feature columns, deep_sort's .npy), result rows out."""

import json

import numpy as np
import pytest
from _cli import error_line as _error_line
from _cli import run as _run

from vidlearn.tracking import DeepSort, read_mot, read_pets_xml, write_mot
from vidlearn.tracking.boxes import mot_to_xyxy, xywh_to_xyxy, xyxy_to_mot


def _tiny_detections(num_frames: int = 8, with_features: bool = False) -> np.ndarray:
    """Two walkers (one right, one down), a detection missing in frame 5; ``(N, 10 [+ 4])`` rows."""
    table = []
    for frame in range(1, num_frames + 1):
        table.append([frame, -1, 10 + 5 * frame, 20, 30, 60, 0.9, -1, -1, -1, 1, 0, 0, 0])
        if frame != 5:
            table.append([frame, -1, 200, 10 + 4 * frame, 25, 50, 0.95, -1, -1, -1, 0, 1, 0, 0])
    array = np.array(table)
    return array if with_features else array[:, :10]


def _write_text(path, array):
    path.write_text("".join(",".join(f"{v:g}" for v in row) + "\n" for row in array))
    return path


def test_sort_on_a_tiny_detection_file(tmp_path, capsys):
    det = _write_text(tmp_path / "det.txt", _tiny_detections())
    code, out, _ = _run(capsys, "track", "--tracker", "sort", "--detections", det, "-o", tmp_path / "r.txt")
    assert code == 0 and out.strip() == f"sort: 8 frames, 15 detections -> 2 tracks, 13 rows -> {tmp_path / 'r.txt'}"
    result = read_mot(tmp_path / "r.txt")
    # abewley/sort's rules: every matched track is reported in the first min_hits frames; object 2, missed in
    # frame 5 (max_age=1 keeps it), is reported again once its hit streak is back to 3, in frame 8.
    assert list(zip(result.frames.tolist(), result.ids.tolist())) == [
        (1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (3, 2), (4, 1), (4, 2), (5, 1), (6, 1), (7, 1), (8, 1), (8, 2)]
    np.testing.assert_allclose(result.boxes[(result.frames == 1) & (result.ids == 1)], [[15, 20, 30, 60]], atol=1e-3)


def test_tracks_equal_the_library_loop(tmp_path, capsys):
    array = _tiny_detections(with_features=True)
    det = _write_text(tmp_path / "det.txt", array)
    np.save(tmp_path / "det.npy", array)
    code, out, _ = _run(capsys, "track", "--tracker", "deepsort", "--detections", det, "--num-frames", 8,
                        "--min-confidence", "0.5", "--n-init", "2", "-o", tmp_path / "text.txt")
    assert code == 0 and "appearance features (4-d)" in out
    code, _, _ = _run(capsys, "track", "--tracker", "deepsort", "--detections", tmp_path / "det.npy",
                      "--num-frames", 8, "--min-confidence", "0.5", "--n-init", "2", "-o", tmp_path / "npy.txt")
    assert code == 0
    assert (tmp_path / "text.txt").read_text() == (tmp_path / "npy.txt").read_text()
    tracker = DeepSort(min_confidence=0.5, n_init=2)
    expected = []
    for frame in range(1, 9):
        rows = array[array[:, 0] == frame]
        tracks = tracker.update(mot_to_xyxy(rows[:, 2:6]), rows[:, 6], rows[:, 10:], frame=frame)
        expected += [(frame, i, *b) for i, b in zip(tracks.ids.tolist(), xyxy_to_mot(tracks.boxes))]
    expected.sort(key=lambda r: (r[0], r[1]))
    result = read_mot(tmp_path / "text.txt")
    assert len(result) == len(expected) > 0
    assert list(zip(result.frames.tolist(), result.ids.tolist())) == [(r[0], r[1]) for r in expected]
    np.testing.assert_allclose(result.boxes, [r[2:] for r in expected], rtol=0, atol=6e-4)
    # Features ignored on request: the same file without them tracks on IoU alone.
    code, out, _ = _run(capsys, "track", "--tracker", "deepsort", "--detections", det, "--no-features",
                        "-o", tmp_path / "iou.txt")
    assert code == 0 and "no appearance features" in out


def test_bad_input_is_one_line(tmp_path, capsys):
    det = _write_text(tmp_path / "det.txt", _tiny_detections())
    line = _error_line(capsys, "track", "--tracker", "sort", "--detections", det, "--num-frames", 6, "-o", tmp_path / "r")
    assert f"{det}:12: frame past the sequence length 6" in line
    (tmp_path / "seqinfo.ini").write_text("[Sequence]\nname=X\nseqLength=7\n")
    line = _error_line(capsys, "track", "--tracker", "sort", "--detections", det, "--seqinfo", tmp_path / "seqinfo.ini",
                       "-o", tmp_path / "r")
    assert f"{det}:14: frame past the sequence length 7" in line
    bad = tmp_path / "bad.txt"
    bad.write_text("1,-1,10,20,30,60,0.9,-1,-1,-1\n2,-1,10,20,-3,60,0.9,-1,-1,-1\n")
    line = _error_line(capsys, "track", "--tracker", "sort", "--detections", bad, "-o", tmp_path / "r")
    assert f"{bad}:2: negative width or height" in line
    ragged = tmp_path / "ragged.txt"
    ragged.write_text("1,-1,10,20,30,60,0.9,-1,-1,-1,0.5,0.5\n2,-1,10,20,30,60,0.9,-1,-1,-1,0.5\n")
    line = _error_line(capsys, "track", "--tracker", "deepsort", "--detections", ragged, "-o", tmp_path / "r")
    assert f"{ragged}:2: 11 columns, the first line has 12" in line
    np.save(tmp_path / "nan.npy", np.array([[1, -1, np.nan, 20, 30, 60, 0.9, -1, -1, -1]]))
    line = _error_line(capsys, "track", "--tracker", "sort", "--detections", tmp_path / "nan.npy", "-o", tmp_path / "r")
    assert "nan.npy: row 0: not a finite number" in line
    line = _error_line(capsys, "track", "--tracker", "sort", "--detections", tmp_path / "none.txt", "-o", tmp_path / "r")
    assert "detections file" in line and "none.txt does not exist" in line
    line = _error_line(capsys, "track", "--tracker", "sort", det, "-o", tmp_path / "r")
    assert "det.txt is not a video or a MOTChallenge sequence folder (a detection file goes after --detections)" in line
    line = _error_line(capsys, "track", "--tracker", "sort", "--detections", det, "--min-hits", "-1", "-o", tmp_path / "r")
    assert "min_hits must be an integer >= 0, got -1" in line
    assert not (tmp_path / "r").exists()


@pytest.mark.shared_data
def test_pets09_s2l1_public_detections_end_to_end(shared_data, tmp_path, capsys):
    """SORT on MOT15's PETS09-S2L1 detections equals abewley/sort; both trackers scored against the PETS XML."""
    sequence = shared_data / "tracking" / "mot" / "MOT15" / "train" / "PETS09-S2L1"
    for name, options in (("sort", []), ("deepsort", ["--min-confidence", "0.3"])):
        code, _, _ = _run(capsys, "track", sequence, "--tracker", name, *options,
                          "-o", tmp_path / name / "PETS09-S2L1.txt")
        assert code == 0
    ours = read_mot(tmp_path / "sort" / "PETS09-S2L1.txt")
    reference = pytest.importorskip("sort.tracker", reason="sort-track (abewley/sort code) is not installed")
    det = read_mot(sequence / "det" / "det.txt", "det")
    rows, offsets = det.frame_bounds(det.num_frames)
    boxes = xywh_to_xyxy(rows.boxes)  # abewley/sort: x + w, no 1-based shift (a translation SORT ignores)
    reference.KalmanBoxTracker.count = 0
    sort = reference.SortTracker()
    expected = []
    for f in range(det.num_frames):
        b, s = boxes[offsets[f]:offsets[f + 1]], rows.scores[offsets[f]:offsets[f + 1]]
        out = sort.update(np.concatenate([b, s[:, None], np.zeros((len(b), 1))], axis=1), None)
        expected += [(f + 1, int(r[4]), r[0], r[1], r[2] - r[0], r[3] - r[1]) for r in out]
    expected.sort(key=lambda r: (r[0], r[1]))
    assert len(ours) == len(expected) == 3842
    np.testing.assert_array_equal(ours.frames, [r[0] for r in expected])
    np.testing.assert_array_equal(ours.ids, [r[1] for r in expected])
    np.testing.assert_allclose(ours.boxes, [r[2:] for r in expected], rtol=0, atol=6e-4)  # written with %.3f

    write_mot(tmp_path / "gt" / "PETS09-S2L1" / "gt" / "gt.txt",
              read_pets_xml(shared_data / "tracking" / "pets2009" / "PETS2009-S2L1.xml"), kind="gt")
    (tmp_path / "gt" / "PETS09-S2L1" / "seqinfo.ini").write_text("[Sequence]\nname=PETS09-S2L1\nseqLength=795\n")
    table = {}
    for name in ("sort", "deepsort"):
        code, _, _ = _run(capsys, "mot", "eval", tmp_path / "gt", tmp_path / name, "--benchmark", "MOT15",
                          "--json", tmp_path / f"{name}.json")
        assert code == 0
        table[name] = json.loads((tmp_path / f"{name}.json").read_text())["COMBINED"]
    # Measured here (docs/tracking.md's table): DeepSORT on boxes alone, thanks to its longer max_age and IoU
    # re-matching of just-lost tracks, switches identities less often than SORT.
    assert [round(table["sort"][k], 3) for k in ("MOTA", "IDF1", "HOTA")] == [58.667, 34.126, 29.736]
    assert [round(table["deepsort"][k], 3) for k in ("MOTA", "IDF1", "HOTA")] == [59.269, 43.558, 34.795]
    assert (table["sort"]["IDSW"], table["deepsort"]["IDSW"]) == (108, 78)


@pytest.fixture(scope="module")
def synthetic_sequence(tmp_path_factory):
    """A small synthetic MOTChallenge folder (frames in img1/, gt, noisy-oracle det) and its video."""
    from vidlearn.synthetic.mot import MotSceneConfig, render_mot_sequence, write_mot_sequence
    from vidlearn.tracking.detectors import NoisyOracle

    root = tmp_path_factory.mktemp("synthetic")
    config = MotSceneConfig(num_objects=4, num_frames=12, size=(64, 96))
    sequence = render_mot_sequence(2, config, name="SYN-T")
    detections = NoisyOracle().detect(sequence.gt, image_size=config.size, seed=2, num_frames=12)
    folder = write_mot_sequence(root, sequence, detections=detections)
    video = write_mot_sequence(root / "video", sequence, detections=detections, video=True)
    return folder, video / "SYN-T.mp4"


def test_a_sequence_folder_with_a_reid_model_and_an_overlay(synthetic_sequence, tmp_path, capsys):
    from vidlearn.models import create
    from vidlearn.video import VideoReader

    folder, _ = synthetic_sequence
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    torch.save(create("deepsort_reid", num_classes=4, width=8, feature_dim=32, input_size=(32, 16)).state_dict(),
               tmp_path / "reid.pt")
    code, out, _ = _run(capsys, "track", folder, "--tracker", "deepsort", "--reid", tmp_path / "reid.pt",
                        "--reid-crop", "stretch", "--min-confidence", "0.5", "-o", tmp_path / "r.txt",
                        "--video", tmp_path / "overlay.mp4", "--quiet")
    assert code == 0, out
    det = read_mot(folder / "det" / "det.txt", "det")
    assert out.startswith(f"deepsort: 12 frames, {len(det)} detections, appearance features from {tmp_path / 'reid.pt'}")
    assert out.strip().endswith(f"-> {tmp_path / 'r.txt'}, overlay -> {tmp_path / 'overlay.mp4'}")
    result = read_mot(tmp_path / "r.txt", "result", 12)
    assert len(result) > 0
    with VideoReader(tmp_path / "overlay.mp4") as reader:
        assert (reader.num_frames, reader.height, reader.width) == (12, 64, 96)


def test_a_video_with_a_detection_file(synthetic_sequence, tmp_path, capsys):
    folder, video = synthetic_sequence
    code, out, _ = _run(capsys, "track", video, "--tracker", "sort", "--detections", folder / "det" / "det.txt",
                        "--video", tmp_path / "o.mp4", "-o", tmp_path / "r.txt", "--quiet")
    assert code == 0 and out.startswith("sort: 12 frames")
    # The same detections without pixels give the same tracks.
    code, _, _ = _run(capsys, "track", "--tracker", "sort", "--detections", folder / "det" / "det.txt",
                      "--num-frames", 12, "-o", tmp_path / "plain.txt")
    assert (tmp_path / "r.txt").read_text() == (tmp_path / "plain.txt").read_text()
    # A detection file of a longer sequence is refused, naming the file and the line.
    longer = tmp_path / "long.txt"
    longer.write_text((folder / "det" / "det.txt").read_text() + "20,-1,5,5,10,10,0.9,-1,-1,-1\n")
    line = _error_line(capsys, "track", video, "--tracker", "sort", "--detections", longer, "-o", tmp_path / "x.txt")
    lines = longer.read_text().splitlines()
    assert f"{longer}:{len(lines)}: frame past the sequence length 12" in line
    assert not (tmp_path / "x.txt").exists()


def test_frame_options_need_frames_and_the_right_tracker(synthetic_sequence, tmp_path, capsys):
    folder, video = synthetic_sequence
    det = folder / "det" / "det.txt"
    line = _error_line(capsys, "track", "--tracker", "deepsort", "--detections", det, "--reid", "x.pt",
                       "-o", tmp_path / "r.txt")
    assert line.endswith("--detector, --reid, --video and --cmc need the frames, and no INPUT was given")
    line = _error_line(capsys, "track", folder, "--tracker", "sort", "--reid", "x.pt", "-o", tmp_path / "r.txt")
    assert line.endswith("--reid gives appearance features, which only --tracker deepsort uses")
    line = _error_line(capsys, "track", video, "--tracker", "sort", "--detector", "fasterrcnn_resnet50_fpn",
                       "-o", tmp_path / "r.txt")
    assert line.endswith("--detector fasterrcnn_resnet50_fpn needs --detector-weights FILE (nothing is downloaded)")
    line = _error_line(capsys, "track", video, "--tracker", "sort", "--detector", "fasterrcnn_resnet50_fpn",
                       "--detector-weights", tmp_path / "none.pth", "-o", tmp_path / "r.txt")
    assert "none.pth: no such checkpoint file" in line


@pytest.mark.slow
def test_a_torchvision_detector_on_a_video(synthetic_sequence, tmp_path, capsys):
    import torch
    from torchvision.models import detection

    _, video = synthetic_sequence
    torch.manual_seed(0)
    model = detection.fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None, num_classes=91)
    torch.save(model.state_dict(), tmp_path / "frcnn.pth")
    code, out, _ = _run(capsys, "track", video, "--tracker", "sort", "--detector", "fasterrcnn_mobilenet_v3_large_320_fpn",
                        "--detector-weights", tmp_path / "frcnn.pth", "--classes", "all", "--score-threshold", "0",
                        "-o", tmp_path / "r.txt", "--quiet")
    assert code == 0 and out.startswith("sort: 12 frames, ")
    assert read_mot(tmp_path / "r.txt", "result", 12) is not None


def test_single_object_trackers_run_as_sot_track_and_sort_refuses_their_options(capsys, tmp_path):
    from vidlearn.video import write_video

    frames = np.zeros((6, 48, 64, 3), np.uint8)
    for t in range(6):
        frames[t, 10:26, 8 + 4 * t:24 + 4 * t] = 255  # a white square moving right by 4 px a frame
    video = write_video(tmp_path / "square.mp4", frames, 10)
    code, out, _ = _run(capsys, "track", video, "--tracker", "stay", "--init", "8,10,16,16",
                        "-o", tmp_path / "stay.txt", "--quiet")
    assert code == 0 and "6 boxes" in out
    rows = (tmp_path / "stay.txt").read_text().splitlines()
    # --init is 0-based pixels; the rows are OTB's 1-based x,y,w,h
    assert len(rows) == 6 and {tuple(float(v) for v in row.split(",")) for row in rows} == {(9.0, 11.0, 16.0, 16.0)}
    assert _error_line(capsys, "track", "--tracker", "csrt", "-o", tmp_path / "x.txt") == (
        "vidlearn: error: --tracker csrt follows one target in a video or a frame folder: give INPUT")
    assert _error_line(capsys, "track", video, "--tracker", "sort", "--checkpoint", "m.safetensors",
                       "-o", tmp_path / "y.txt").startswith(
        "vidlearn: error: --checkpoint is for the single-object trackers (goturn, rolo, csrt")
