"""A CSV logger that keeps its rows across a resume and writes metrics.csv atomically.

Lightning's CSVLogger deletes metrics.csv when a new process opens a non-empty log dir, so a
resumed run (or the SFT stage of a job) wiped every earlier row; it also rewrites the file in
place when new columns appear. Here rows are appended (one write per flush) while the columns
stay the same, and the file is rewritten through a temp file when they change.
"""

from __future__ import annotations

import csv
import io
import os

from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

from c2s.atomic import write_text_atomic


class KeepingWriter(ExperimentWriter):
    """ExperimentWriter that appends to an existing metrics.csv instead of deleting it."""

    def _check_log_dir_exists(self) -> None:  # Lightning deletes metrics.csv here
        pass

    def _rows(self) -> list[dict]:
        if not os.path.isfile(self.metrics_file_path):
            return []
        with open(self.metrics_file_path, newline="") as f:
            return list(csv.DictReader(f))

    def _write(self, rows: list[dict]) -> None:
        keys = sorted(set().union(*rows)) if rows else []
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
        write_text_atomic(self.metrics_file_path, buf.getvalue())
        self.metrics_keys = keys

    def _header(self) -> list[str]:
        if not os.path.isfile(self.metrics_file_path):
            return []
        with open(self.metrics_file_path, newline="") as f:
            return next(csv.reader(f), [])

    def save(self) -> None:
        """Append the new rows in one write when the columns are known (O(new rows)); rewrite the
        file atomically only when new columns appear (a handful of times per run)."""
        if not self.metrics:
            return
        header = self.metrics_keys or self._header()
        if header and set().union(*self.metrics) <= set(header):
            buf = io.StringIO()
            csv.DictWriter(buf, fieldnames=header).writerows(self.metrics)
            with open(self.metrics_file_path, "a", newline="") as f:
                f.write(buf.getvalue())
            self.metrics_keys = header
        else:
            self._write(self._rows() + self.metrics)
        self.metrics = []

    def drop_after(self, prefix: str, step: int) -> int:
        """Remove the stage's rows (metrics starting with ``prefix``) that a resume from global
        step ``step`` redoes; returns how many. Lightning logs training metrics at the step index
        before the optimizer step (the batch that makes step k+1 logs at k) and validation after
        it, so training rows at ``step`` go and validation rows at ``step`` stay."""

        def redone(r: dict) -> bool:
            mine = [k for k, v in r.items() if k.startswith(prefix) and v not in ("", None)]
            at = int(float(r.get("step") or 0))
            return bool(mine) and (at > step or (at == step and not any(k.startswith(f"{prefix}val/") for k in mine)))

        rows = self._rows()
        keep = [r for r in rows if not redone(r)]
        if len(keep) != len(rows):
            self._write(keep)
        return len(rows) - len(keep)


class ResumableCSVLogger(CSVLogger):
    @property
    @rank_zero_experiment
    def experiment(self) -> KeepingWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = KeepingWriter(log_dir=self.log_dir)
        return self._experiment
