"""Run logs: JSON lines, CSV and (optionally) TensorBoard, written by rank 0.

``work_dir/log.jsonl`` holds one JSON object per logged step (``"kind": "step"``) and per epoch
summary (``"kind": "epoch"``); ``steps.csv`` and ``epochs.csv`` hold the same rows as tables (a
column is added, and the file rewritten, when a new metric appears). TensorBoard scalars go to
``work_dir/tensorboard`` under ``train/<name>`` and ``epoch/<name>``.

On resume, :meth:`RunLogger.truncate_after` drops the rows an interrupted run wrote after its last
checkpoint, so a resumed run's logs read as if it had never stopped.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["RunLogger"]


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/inf
    return value


class _CsvTable:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.columns: list[str] = []
        if path.is_file():
            with path.open(newline="", encoding="utf-8") as handle:
                self.columns = next(csv.reader(handle), [])

    def rows(self) -> list[dict[str, str]]:
        if not self.path.is_file():
            return []
        with self.path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    def _rewrite(self, rows: list[Mapping[str, Any]]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, self.path)

    def append(self, row: Mapping[str, Any]) -> None:
        new = [key for key in row if key not in self.columns]
        if new or not self.path.is_file():
            old_rows = self.rows()
            self.columns += new
            self._rewrite([*old_rows, row])
            return
        with self.path.open("a", newline="", encoding="utf-8") as handle:
            csv.DictWriter(handle, fieldnames=self.columns).writerow(row)

    def keep(self, predicate: Any) -> None:
        if self.path.is_file():
            self._rewrite([r for r in self.rows() if predicate(r)])


class RunLogger:
    """Appends step and epoch rows to JSONL/CSV and TensorBoard; does nothing when ``enabled`` is False.

    ``log_step(global_step, {"loss": 0.7, "lr": 0.1, ...})`` and ``log_epoch(epoch, {...})``; each
    row also records ``epoch`` and ``global_step``. Call :meth:`close` at the end.
    """

    def __init__(
        self, work_dir: str | os.PathLike[str], *, tensorboard: bool = False, enabled: bool = True
    ) -> None:
        self.work_dir = Path(work_dir)
        self.enabled = enabled
        self.jsonl_path = self.work_dir / "log.jsonl"
        self._writer: Any = None
        if not enabled:
            return
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._steps = _CsvTable(self.work_dir / "steps.csv")
        self._epochs = _CsvTable(self.work_dir / "epochs.csv")
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as error:
                raise ImportError(
                    "train.tensorboard=true needs the tensorboard package (pip install tensorboard)"
                ) from error
            self._writer = SummaryWriter(log_dir=str(self.work_dir / "tensorboard"))

    def _write(self, row: dict[str, Any], table: _CsvTable) -> None:
        with self.jsonl_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        table.append({k: v for k, v in row.items() if k != "kind"})

    def log_step(self, global_step: int, epoch: int, metrics: Mapping[str, Any]) -> None:
        """One row for a logged optimizer step."""
        if not self.enabled:
            return
        row = {"kind": "step", "epoch": epoch, "global_step": global_step}
        row.update({k: _plain(v) for k, v in metrics.items()})
        self._write(row, self._steps)
        if self._writer is not None:
            for key, value in row.items():
                if key not in ("kind", "epoch", "global_step") and isinstance(value, (int, float)):
                    self._writer.add_scalar(f"train/{key}", value, global_step)

    def log_epoch(self, epoch: int, global_step: int, summary: Mapping[str, Any]) -> None:
        """One row for an epoch summary (training means, counters and evaluation metrics)."""
        if not self.enabled:
            return
        row = {"kind": "epoch", "epoch": epoch, "global_step": global_step}
        row.update({k: _plain(v) for k, v in summary.items()})
        self._write(row, self._epochs)
        if self._writer is not None:
            for key, value in row.items():
                if key not in ("kind", "epoch", "global_step") and isinstance(value, (int, float)):
                    self._writer.add_scalar(f"epoch/{key}", value, epoch)
            self._writer.flush()

    def truncate_after(self, global_step: int) -> None:
        """Drop every row with a global step past ``global_step`` (written after the checkpoint)."""
        if not self.enabled:
            return
        if self.jsonl_path.is_file():
            kept = []
            for line in self.jsonl_path.read_text(encoding="utf-8").splitlines():
                try:
                    if json.loads(line).get("global_step", 0) <= global_step:
                        kept.append(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by the kill
            tmp = self.jsonl_path.with_name(".log.jsonl.tmp")
            tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
            os.replace(tmp, self.jsonl_path)
        for table in (self._steps, self._epochs):
            table.keep(lambda row: int(row.get("global_step") or 0) <= global_step)

    def close(self) -> None:
        """Flush and close TensorBoard."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
