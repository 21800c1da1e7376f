"""Generic annotation reading (vidlearn.data.annotations): lines, errors that point at them, missing files."""

from __future__ import annotations

import pickle

import pytest

from vidlearn.data.annotations import AnnotationError, VideoSample, read_lines, resolve_missing


def test_read_lines_handles_bom_crlf_blank_lines_and_trailing_spaces(tmp_path):
    file = tmp_path / "seqmap.txt"
    file.write_bytes("\ufeffname\r\nMOT17-02 \r\n\r\n  MOT17-04\tFRCNN\r\n".encode())
    lines = list(read_lines(file))
    assert [(line.number, line.text, line.fields) for line in lines] == [
        (1, "name", ("name",)),
        (2, "MOT17-02", ("MOT17-02",)),
        (4, "MOT17-04\tFRCNN", ("MOT17-04", "FRCNN")),
    ]
    error = lines[2].error("unknown detector 'FRCNN'")
    assert str(error) == f"{file}:4: unknown detector 'FRCNN': 'MOT17-04\\tFRCNN'"
    with pytest.raises(FileNotFoundError, match=r"annotation file not found: .*absent\.txt"):
        list(read_lines(tmp_path / "absent.txt"))


def test_annotation_error_text_and_pickling():
    whole = AnnotationError("list.txt", 0, "", "no classes")
    assert str(whole) == "list.txt: no classes"
    copy = pickle.loads(pickle.dumps(AnnotationError("list.txt", 3, "a b", "malformed line")))
    assert (copy.file, copy.line_number, copy.line, copy.reason) == ("list.txt", 3, "a b", "malformed line")
    assert str(copy) == "list.txt:3: malformed line: 'a b'"


def test_resolve_missing_raises_with_the_listing_line_or_skips(tmp_path, caplog):
    present = tmp_path / "a.mp4"
    present.write_bytes(b"x")
    samples = [
        VideoSample(str(present), source="list.txt:1: 'a.mp4'"),
        VideoSample(str(tmp_path / "b.mp4"), source="list.txt:2: 'b.mp4'"),
    ]
    assert samples[0].label is None  # a sample needs no label (super-resolution, tracking)
    with pytest.raises(FileNotFoundError, match=r"b\.mp4 \(listed at list\.txt:2: 'b\.mp4'\)"):
        resolve_missing(samples, on_error="raise")
    kept, missing = resolve_missing(samples, on_error="skip")
    assert kept == samples[:1] and missing == [str(tmp_path / "b.mp4")]
    assert "1 of 2 videos are missing" in caplog.text
    assert resolve_missing(samples, on_error="raise", check_exists=False) == (samples, [])
