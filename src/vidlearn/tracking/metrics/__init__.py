"""Multi-object tracking metrics equal to TrackEval's: CLEAR-MOT, identity (IDF1) and HOTA.

Each family is a class with ``eval_sequence(data)`` returning per-sequence sufficient statistics and
``combine_sequences(results)`` summing them (TrackEval's split), over sequences prepared by
:func:`prepare_mot_sequence`.
"""

from .benchmark import evaluate_folders, find_sequences, format_tables, results_to_json
from .clear import CLEAR
from .data import MOT_CLASSES, SequenceData, prepare_mot_sequence
from .evaluate import METRICS, combine_sequences, evaluate_mot, evaluate_sequence, summary
from .hota import ALPHAS, HOTA
from .identity import Identity

__all__ = [
    "ALPHAS",
    "CLEAR",
    "HOTA",
    "METRICS",
    "MOT_CLASSES",
    "Identity",
    "SequenceData",
    "combine_sequences",
    "evaluate_folders",
    "evaluate_mot",
    "evaluate_sequence",
    "find_sequences",
    "format_tables",
    "prepare_mot_sequence",
    "results_to_json",
    "summary",
]
