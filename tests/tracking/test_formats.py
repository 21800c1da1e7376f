import numpy as np
import pytest

from vidlearn.tracking.formats import (
    MotFormatError,
    SeqInfo,
    read_mot,
    read_seqinfo,
    tracks_to_rows,
    write_mot,
    write_seqinfo,
)

GT = "1,1,10,20,30,40,1,1,0.8\n1,2,50,20,30,40,0,7,1\n2,1,12,20,30,40,1,1,0.75\n"


def _write(tmp_path, text, name="gt.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_mot17_ground_truth_columns(tmp_path):
    rows = read_mot(_write(tmp_path, GT), "gt")
    assert rows.frames.tolist() == [1, 1, 2] and rows.ids.tolist() == [1, 2, 1]
    np.testing.assert_array_equal(rows.boxes[0], [10, 20, 30, 40])
    assert rows.scores.tolist() == [1, 0, 1]  # the consider flag
    assert rows.classes.tolist() == [1, 7, 1] and rows.visibility.tolist() == [0.8, 1.0, 0.75]
    np.testing.assert_array_equal(rows.boxes_xyxy[0], [9, 19, 39, 59])
    assert rows.num_frames == 2


def test_det_file_without_classes_and_whitespace_separated(tmp_path):
    rows = read_mot(_write(tmp_path, "1,-1,1.5,2,3,4,0.9,-1,-1,-1\n1,-1,5,2,3,4,0.5,-1,-1,-1\n"), "det")
    assert rows.ids.tolist() == [-1, -1] and rows.scores.tolist() == [0.9, 0.5]
    rows = read_mot(_write(tmp_path, "1 3 1 2 3 4\n\n2 3 1 2 3 4\n", "r.txt"), "result")
    assert rows.frames.tolist() == [1, 2] and rows.scores.tolist() == [1.0, 1.0]
    assert len(read_mot(_write(tmp_path, "", "empty.txt"))) == 0


@pytest.mark.parametrize(
    ("text", "line", "why"),
    [
        ("1,1,10,20,30,40,1\n2,1,10,20,30\n", 2, "5 columns, need at least 6"),
        ("1,1,10,20,30,40,1\n2,1,10,abc,30,40,1\n", 2, "not a number"),
        ("1,1,10,20,30,40,1\n\n2,1,10,20,-3,40,1\n", 3, "negative width or height"),
        ("0,1,10,20,30,40,1\n", 1, "frame numbers start at 1"),
        ("1,1,10,20,30,40,1\n1,1,11,20,30,40,1\n", 2, "id 1 appears twice in frame 1"),
        ("1,1,10,20,30,40,1\n2,1,nan,20,30,40,1\n", 2, "not a finite number"),
    ],
)
def test_malformed_lines_name_file_line_and_content(tmp_path, text, line, why):
    path = _write(tmp_path, text)
    with pytest.raises(MotFormatError) as error:
        read_mot(path, "gt")
    message = str(error.value)
    assert f"{path}:{line}: {why}" in message
    assert repr(text.splitlines()[line - 1]) in message


def test_frame_past_the_sequence_length(tmp_path):
    path = _write(tmp_path, "1,1,10,20,30,40,1\n9,1,10,20,30,40,1\n", "result.txt")
    with pytest.raises(MotFormatError, match=r"result.txt:2: frame past the sequence length 5"):
        read_mot(path, "result", num_frames=5)
    assert len(read_mot(path, "result", num_frames=9)) == 2


def test_write_read_round_trip_and_atomic(tmp_path):
    boxes = np.array([[9.0, 19.0, 39.0, 59.0], [0.0, 0.0, 10.5, 20.25]])
    rows = tracks_to_rows(np.array([2, 1]), np.array([7, 3]), boxes, np.array([0.5, 1.0]))
    path = tmp_path / "out" / "SEQ.txt"
    write_mot(path, rows)
    assert path.read_text().splitlines() == [
        "1,3,1.000,1.000,10.500,20.250,1,-1,-1,-1",
        "2,7,10.000,20.000,30.000,40.000,0.5,-1,-1,-1",
    ]
    assert [p.name for p in path.parent.iterdir()] == ["SEQ.txt"]  # no temporary file left
    back = read_mot(path, "result")
    np.testing.assert_allclose(back.boxes_xyxy, boxes[::-1])
    gt = read_mot(_write(tmp_path, GT), "gt")
    write_mot(tmp_path / "gt2.txt", gt, kind="gt")
    again = read_mot(tmp_path / "gt2.txt", "gt")
    assert again.classes.tolist() == gt.classes.tolist() and again.visibility.tolist() == gt.visibility.tolist()


def test_seqinfo_round_trip_and_errors(tmp_path):
    info = SeqInfo(name="MOT17-09-FRCNN", seq_length=525, frame_rate=30.0, im_width=1920, im_height=1080)
    write_seqinfo(tmp_path / "seqinfo.ini", info)
    assert read_seqinfo(tmp_path / "seqinfo.ini") == info
    bad = _write(tmp_path, "[Sequence]\nname=X\n", "seqinfo.ini")
    with pytest.raises(MotFormatError, match=r"seqinfo.ini: \[Sequence\] has no seqLength"):
        read_seqinfo(bad)
    bad.write_text("[Sequence]\nname=X\nseqLength=ten\n")
    with pytest.raises(MotFormatError, match="seqLength='ten' is not a number"):
        read_seqinfo(bad)


@pytest.mark.shared_data
def test_reads_the_real_mot17_ground_truth(shared_data):
    folder = shared_data / "tracking" / "mot" / "MOT17" / "train" / "MOT17-09-FRCNN"
    info = read_seqinfo(folder / "seqinfo.ini")
    assert (info.name, info.seq_length, info.im_width, info.im_height) == ("MOT17-09-FRCNN", 525, 1920, 1080)
    gt = read_mot(folder / "gt" / "gt.txt", "gt", num_frames=info.seq_length)
    assert len(gt) == 10411
    assert np.bincount(gt.classes).tolist()[1::] == [5325, 0, 0, 0, 0, 0, 514, 1575, 1050, 0, 0, 1947]
    assert int(np.sum((gt.scores == 1) & (gt.classes == 1))) == 5325
