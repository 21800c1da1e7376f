"""Evaluate a folder of tracker results against MOTChallenge ground truth, without seqmaps.

The layout is the one MOTChallenge ships and trackers write, and nothing more::

    GT_ROOT/SEQ/gt/gt.txt          ground truth of sequence SEQ
    GT_ROOT/SEQ/seqinfo.ini        optional: the sequence length (seqLength)
    RESULTS/SEQ.txt                the tracker's rows for SEQ (or RESULTS/data/SEQ.txt, TrackEval's layout)

Sequences are matched by name. Without ``seqinfo.ini`` a sequence is as long as its last frame in the ground
truth or the results. :func:`find_sequences` names every sequence that lacks ground truth or results in one
error; :func:`format_tables` prints what TrackEval prints (one table per metric family, a row per sequence
and ``COMBINED``, values in percent, ``%-35s`` then ``%-10s`` columns); :func:`results_to_json` gives the
same numbers as a dict keyed by sequence and ``COMBINED`` (percent for ratios, counts as integers).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..formats import MotRows, read_mot, read_seqinfo, write_text_atomically
from .evaluate import combine_sequences, evaluate_sequence

__all__ = [
    "FAMILIES",
    "SUMMARY_FIELDS",
    "BenchmarkError",
    "SequenceFiles",
    "evaluate_folders",
    "find_sequences",
    "format_tables",
    "load_sequences",
    "read_seqmap",
    "results_to_json",
    "select_families",
    "write_results_json",
]

#: The metric families ``mot eval`` knows, in TrackEval's order.
FAMILIES = ("HOTA", "CLEAR", "Identity")

#: The columns TrackEval prints for each family (its ``summary_fields``).
SUMMARY_FIELDS: dict[str, tuple[str, ...]] = {
    "HOTA": ("HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA", "OWTA",
             "HOTA(0)", "LocA(0)", "HOTALocA(0)"),
    "CLEAR": ("MOTA", "MOTP", "MODA", "CLR_Re", "CLR_Pr", "MTR", "PTR", "MLR", "sMOTA",
              "CLR_TP", "CLR_FN", "CLR_FP", "IDSW", "MT", "PT", "ML", "Frag"),
    "Identity": ("IDF1", "IDR", "IDP", "IDTP", "IDFN", "IDFP"),
}
_COUNT_FIELDS = {"CLR_TP", "CLR_FN", "CLR_FP", "IDSW", "MT", "PT", "ML", "Frag", "IDTP", "IDFN", "IDFP"}


class BenchmarkError(ValueError):
    """Folders that do not fit together (missing sequences, an empty folder); one line."""


@dataclass(frozen=True)
class SequenceFiles:
    """The files of one sequence: ``gt.txt``, ``seqinfo.ini`` (or ``None``) and the result file."""

    name: str
    gt: Path
    seqinfo: Path | None
    result: Path


def read_seqmap(path: str | os.PathLike) -> list[str]:
    """Sequence names of a TrackEval seqmap (a ``name`` header line, then one name per line)."""
    path = Path(path)
    try:
        lines = [line.strip() for line in path.read_text().splitlines()]
    except OSError as error:
        raise BenchmarkError(f"{path}: cannot read: {error}") from error
    names = [line.split(",")[0].strip() for line in lines if line]
    return names[1:] if names and names[0] == "name" else names


def _results_folder(results: Path) -> Path:
    # TrackEval's trackers/NAME/data/SEQ.txt: accept the tracker folder as well as its data/ folder.
    if not any(results.glob("*.txt")) and (results / "data").is_dir():
        return results / "data"
    return results


def find_sequences(
    gt_root: str | os.PathLike, results: str | os.PathLike, sequences: Sequence[str] | None = None
) -> list[SequenceFiles]:
    """Pair ``GT_ROOT/SEQ/gt/gt.txt`` with ``RESULTS/SEQ.txt`` by sequence name, sorted by name.

    Args:
        gt_root: folder of MOTChallenge sequence folders.
        results: folder of result files (or a TrackEval tracker folder holding ``data/``).
        sequences: names to evaluate; default every sequence of ``gt_root``.

    Raises:
        BenchmarkError: a folder is missing or empty, or some sequences lack ground truth or results
            (all of them named in the one message).
    """
    gt_root, results = Path(gt_root), Path(results)
    for folder, what in ((gt_root, "ground-truth folder"), (results, "results folder")):
        if not folder.is_dir():
            raise BenchmarkError(f"{what} {folder} does not exist or is not a folder")
    results = _results_folder(results)
    available = sorted(p.parent.parent.name for p in gt_root.glob("*/gt/gt.txt"))
    if sequences is None:
        if not available:
            raise BenchmarkError(f"no sequences in {gt_root}: expected {gt_root}/SEQ/gt/gt.txt")
        names = available
    else:
        names = list(dict.fromkeys(sequences))
        if not names:
            raise BenchmarkError("no sequences given")
    no_gt = [name for name in names if not (gt_root / name / "gt" / "gt.txt").is_file()]
    if no_gt:
        raise BenchmarkError(f"no ground truth for {len(no_gt)} sequence(s) in {gt_root}: {', '.join(no_gt)} "
                             f"(expected {gt_root}/SEQ/gt/gt.txt)")
    no_result = [name for name in names if not (results / f"{name}.txt").is_file()]
    if no_result:
        raise BenchmarkError(f"no results for {len(no_result)} sequence(s) in {results}: {', '.join(no_result)} "
                             f"(expected {results}/SEQ.txt)")
    files = []
    for name in names:
        seqinfo = gt_root / name / "seqinfo.ini"
        files.append(SequenceFiles(name, gt_root / name / "gt" / "gt.txt", seqinfo if seqinfo.is_file() else None,
                                   results / f"{name}.txt"))
    return files


def load_sequences(files: Iterable[SequenceFiles]) -> dict[str, tuple[MotRows, MotRows, int]]:
    """Read each sequence's rows: ``{name: (gt, results, num_frames)}`` for :func:`evaluate_mot`.

    The length is ``seqLength`` of ``seqinfo.ini`` (a row past it is an error naming the file and line), or
    without one the last frame of the ground truth or the results.
    """
    sequences = {}
    for entry in files:
        length = read_seqinfo(entry.seqinfo).seq_length if entry.seqinfo is not None else None
        gt = read_mot(entry.gt, "gt", num_frames=length)
        result = read_mot(entry.result, "result", num_frames=length)
        if length is None:
            length = max(gt.num_frames, result.num_frames, 1)
        sequences[entry.name] = (gt, result, length)
    return sequences


def evaluate_folders(
    gt_root: str | os.PathLike, results: str | os.PathLike, *, sequences: Sequence[str] | None = None,
    benchmark: str = "MOT17",
) -> dict[str, dict[str, Any]]:
    """:func:`find_sequences`, then :func:`evaluate_mot`'s results for them; each sequence is scored as soon as
    it is read (:func:`load_sequences`), so only one sequence's rows are held at a time."""
    scores: dict[str, dict[str, Any]] = {}
    for entry in find_sequences(gt_root, results, sequences):
        (gt, result, length), = load_sequences([entry]).values()
        scores[entry.name] = evaluate_sequence(gt, result, length, benchmark=benchmark, name=entry.name)
    scores["COMBINED"] = combine_sequences(scores)
    return scores


def select_families(families: Sequence[str]) -> list[str]:
    """The known families among ``families``, in TrackEval's order; an unknown name is an error."""
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise BenchmarkError(f"unknown metric family {unknown[0]!r}; known: {', '.join(FAMILIES)}")
    return [f for f in FAMILIES if f in families]  # TrackEval's order, whatever order was asked


def _value(result: Mapping[str, Any], field: str) -> float | int:
    value = result[field]
    if field in _COUNT_FIELDS:
        return int(value)
    return 100.0 * float(np.mean(value))


def _sequence_order(results: Mapping[str, Any]) -> list[str]:
    return [*sorted(name for name in results if name != "COMBINED"), "COMBINED"]


def format_tables(
    results: Mapping[str, Mapping[str, Any]], families: Sequence[str] = FAMILIES, *, tracker: str = "tracker",
) -> str:
    """The tables TrackEval prints for ``results`` (from :func:`evaluate_mot`), character for character.

    A header ``FAMILY: TRACKER-pedestrian`` then the summary fields; ratios as ``100 * x`` with ``%1.5g``,
    counts as integers; sequences sorted by name, then ``COMBINED``.
    """
    lines = []
    for family in select_families(families):
        fields = SUMMARY_FIELDS[family]
        lines.append("")
        lines.append(_row([f"{family}: {tracker}-pedestrian", *fields]))
        for name in _sequence_order(results):
            values = [_value(results[name], field) for field in fields]
            lines.append(_row([name, *(str(v) if isinstance(v, int) else f"{v:1.5g}" for v in values)]))
    return "\n".join(lines) + "\n"


def _row(cells: Sequence[str]) -> str:
    # TrackEval's _row_print: '%-35s' then '%-10s' per cell (a cell longer than its column is not cut).
    return f"{cells[0]:<35}" + "".join(f"{cell:<10}" for cell in cells[1:])


def results_to_json(
    results: Mapping[str, Mapping[str, Any]], families: Sequence[str] = FAMILIES
) -> dict[str, dict[str, float | int]]:
    """``{SEQ: {field: value}, "COMBINED": {...}}`` with the printed fields, ratios in percent (unrounded)."""
    fields = [field for family in select_families(families) for field in SUMMARY_FIELDS[family]]
    return {name: {field: _value(results[name], field) for field in fields} for name in _sequence_order(results)}


def write_results_json(
    path: str | os.PathLike, results: Mapping[str, Mapping[str, Any]], families: Sequence[str] = FAMILIES
) -> None:
    """Write :func:`results_to_json` to ``path`` atomically."""
    write_text_atomically(Path(path), json.dumps(results_to_json(results, families), indent=2) + "\n")
