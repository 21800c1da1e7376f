import numpy as np
import pytest

from vidlearn.tracking.formats import MotFormatError
from vidlearn.tracking.sdd import read_sdd

TEXT = (
    '0 718 739 787 804 0 0 0 0 "Skater"\n'
    '0 712 739 781 804 1 0 1 1 "Skater"\n'
    '3 10 20 30 60 1 1 0 0 "Pedestrian"\n'
)


def test_reads_columns_flags_and_labels(tmp_path):
    path = tmp_path / "annotations.txt"
    path.write_text(TEXT)
    ann = read_sdd(path)
    assert ann.track_ids.tolist() == [0, 0, 3] and ann.frames.tolist() == [0, 1, 1]
    np.testing.assert_array_equal(ann.boxes[1], [712, 739, 781, 804])
    assert ann.lost.tolist() == [False, False, True] and ann.occluded.tolist() == [False, True, False]
    assert ann.generated.tolist() == [False, True, False] and ann.labels.tolist() == ["Skater", "Skater", "Pedestrian"]
    rows = ann.to_mot_rows()  # the lost box is dropped
    assert rows.frames.tolist() == [1, 2] and rows.ids.tolist() == [1, 1] and rows.classes.tolist() == [3, 3]
    np.testing.assert_array_equal(rows.boxes[0], [719, 740, 69, 65])
    assert rows.visibility.tolist() == [1.0, 0.0]
    assert len(ann.to_mot_rows(keep_lost=True, labels=("Pedestrian",))) == 1


@pytest.mark.parametrize(("line", "why"), [
    ('0 1 2 3 4 5 0 0 "Biker"', "9 fields, expected 10"),
    ('0 1 2 x 4 5 0 0 0 "Biker"', "not a number"),
    ('0 1 2 3 4 5 2 0 0 "Biker"', "flags must be 0/1"),
])
def test_malformed_line_is_named(tmp_path, line, why):
    path = tmp_path / "annotations.txt"
    path.write_text(TEXT + line + "\n")
    with pytest.raises(MotFormatError, match=f"annotations.txt:4: {why}"):
        read_sdd(path)


@pytest.mark.shared_data
def test_reads_the_seven_shared_videos(shared_data):
    files = sorted((shared_data / "tracking" / "sdd" / "annotations").rglob("annotations.txt"))
    assert len(files) == 7
    ann = read_sdd(shared_data / "tracking" / "sdd" / "annotations" / "hyang" / "video8" / "annotations.txt")
    assert len(ann) == 6784 and len(np.unique(ann.track_ids)) == 14
    labels, counts = np.unique(ann.labels, return_counts=True)
    assert dict(zip(labels.tolist(), counts.tolist())) == {"Biker": 1638, "Pedestrian": 5072, "Skater": 74}
