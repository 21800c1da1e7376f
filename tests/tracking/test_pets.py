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
