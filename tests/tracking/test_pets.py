import numpy as np
import pytest

from vidlearn.tracking.formats import MotFormatError
from vidlearn.tracking.pets import read_pets_xml

XML = """<?xml version="1.0" encoding="utf-8"?>
<dataset>
  <frame number="0"><objectlist>
    <object id="9"><box h="80" w="30" xc="515" yc="195"/></object>
    <object id="15"><box h="88" w="32" xc="274" yc="263"/></object>
  </objectlist></frame>
  <frame number="1"><objectlist>
    <object id="9"><box h="80" w="30" xc="513" yc="196"/></object>
  </objectlist></frame>
</dataset>
"""


def test_reads_centre_boxes_into_mot_rows(tmp_path):
    path = tmp_path / "gt.xml"
    path.write_text(XML)
    rows = read_pets_xml(path)
    assert rows.frames.tolist() == [1, 1, 2] and rows.ids.tolist() == [9, 15, 9]
    # Centre 515, 195 and size 30 x 80: 0-based top-left (500, 155), 1-based (501, 156).
    np.testing.assert_allclose(rows.boxes[0], [501, 156, 30, 80])
    np.testing.assert_allclose(rows.boxes_xyxy[0], [500, 155, 530, 235])


def test_bad_xml_is_named(tmp_path):
    path = tmp_path / "gt.xml"
    path.write_text(XML.replace('w="32"', 'w="wide"'))
    with pytest.raises(MotFormatError, match=r"gt.xml: frame '0', object '15': bad or missing number"):
        read_pets_xml(path)
    path.write_text(XML.replace("</dataset>", ""))
    with pytest.raises(MotFormatError, match=r"gt.xml:\d+: XML error"):
        read_pets_xml(path)


@pytest.mark.shared_data
def test_reads_s2l1(shared_data):
    rows = read_pets_xml(shared_data / "tracking" / "pets2009" / "PETS2009-S2L1.xml")
    assert (len(rows), rows.frames.min(), rows.frames.max(), len(np.unique(rows.ids))) == (4650, 1, 795, 19)


@pytest.mark.shared_data
def test_sort_and_deepsort_on_s2l1_public_detections(shared_data):
    """End to end on real data: MOT15's public detections for PETS09-S2L1, scored against the PETS XML."""
    from vidlearn.tracking import DeepSort, Sort, read_mot, tracks_to_rows
    from vidlearn.tracking.metrics import evaluate_mot, summary

    det = read_mot(shared_data / "tracking" / "mot" / "MOT15" / "train" / "PETS09-S2L1" / "det" / "det.txt", "det",
                   num_frames=795)
    gt = read_pets_xml(shared_data / "tracking" / "pets2009" / "PETS2009-S2L1.xml")
    rows, offsets = det.frame_bounds(795)
    boxes = rows.boxes_xyxy
    scores = {}
    for name, tracker in [("sort", Sort()), ("deepsort", DeepSort())]:
        frames, ids, out_boxes = [], [], []
        for f in range(795):
            out = tracker.update(boxes[offsets[f]:offsets[f + 1]], rows.scores[offsets[f]:offsets[f + 1]], frame=f + 1)
            frames.append(np.full(len(out.ids), f + 1))
            ids.append(out.ids)
            out_boxes.append(out.boxes)
        result = tracks_to_rows(np.concatenate(frames), np.concatenate(ids), np.concatenate(out_boxes))
        scores[name] = summary(evaluate_mot({"S2L1": (gt, result, 795)}, benchmark="MOT15")["S2L1"])
    # Measured with this code (SORT's tracks equal abewley/sort's on these detections).
    sort = scores["sort"]
    assert (sort["IDSW"], sort["CLR_FP"], sort["CLR_FN"]) == (108, 503, 1311)
    assert round(100 * sort["MOTA"], 2) == 58.67
    # DeepSORT's life-cycle and cascade, even without appearance features: fewer switches, no lower MOTA.
    assert scores["deepsort"]["IDSW"] < sort["IDSW"] and scores["deepsort"]["MOTA"] >= sort["MOTA"]
