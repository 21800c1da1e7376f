import pytest

from vidlearn.tracking.metrics.clear import CLEAR
from vidlearn.tracking.metrics.data import prepare_mot_sequence

from ._hand_case import GT, NUM_FRAMES, TRACKER


def test_clear_counts_on_the_hand_case():
    res = CLEAR().eval_sequence(prepare_mot_sequence(GT, TRACKER, NUM_FRAMES))
    # TP 5 (object 1 in frames 1, 2, 4, 5, 6); FN 1 + 6; FP 1; one switch (id 1 -> 2 at frame 5); one
    # fragmentation (object 1 lost at frame 3, resumed at 4). Object 1 tracked 5/6 > 80 %: MT; object 2: ML.
    assert (res["CLR_TP"], res["CLR_FN"], res["CLR_FP"], res["IDSW"], res["Frag"]) == (5, 7, 1, 1, 1)
    assert (res["MT"], res["PT"], res["ML"]) == (1, 0, 1)
    assert res["MOTA"] == pytest.approx(1 - (7 + 1 + 1) / 12)
    assert res["MOTP"] == 1.0
    assert res["CLR_Frames"] == 6


def test_combined_is_computed_from_summed_counts_not_a_mean():
    metric = CLEAR()
    a = metric.eval_sequence(prepare_mot_sequence(GT, TRACKER, NUM_FRAMES))
    b = metric.eval_sequence(prepare_mot_sequence(GT.select(GT.frames == 1), TRACKER.select(TRACKER.frames == 1), 1))
    assert b["MOTA"] == 0.5
    combined = metric.combine_sequences({"a": a, "b": b})
    assert combined["CLR_TP"] == 6 and combined["CLR_FN"] == 8
    assert combined["MOTA"] == pytest.approx((6 - 1 - 1) / 14)
    assert combined["MOTA"] != pytest.approx((a["MOTA"] + b["MOTA"]) / 2)


def test_threshold_is_checked():
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\]"):
        CLEAR(threshold=2)


def test_a_frame_without_tracker_boxes_does_not_break_a_fragment():
    # TrackEval skips frames where the tracker reports nothing before it forgets the previous matches; so do we.
    res = CLEAR().eval_sequence(prepare_mot_sequence(GT, TRACKER.select(TRACKER.ids != 7), NUM_FRAMES))
    assert (res["Frag"], res["IDSW"], res["CLR_FP"]) == (0, 1, 0)
