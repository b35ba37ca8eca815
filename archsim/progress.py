"""Progress of a long stage as one line at a time: ``stage: done / total units, elapsed``.

A stage that finishes within ``PROGRESS_AFTER_S`` prints nothing; a longer one prints a line at most
every ``PROGRESS_EVERY_S`` seconds and a last one when it ends, through the run's ``log`` callable
(the CLI's stage logger writes it to stderr; ``--quiet`` and ``--json`` give no log, so no lines).
"""
from __future__ import annotations

import time
from typing import Callable

PROGRESS_AFTER_S = 3.0   # a stage shorter than this says nothing
PROGRESS_EVERY_S = 5.0   # at most one line this often


class Progress:
    """Counts ``done`` of ``total`` units of one stage and logs a line when enough time has passed."""

    def __init__(self, log: Callable[[str], None] | None, stage: str, total: int, unit: str):
        self.log, self.stage, self.total, self.unit = log, stage, int(total), unit
        self.start = self.last = time.perf_counter()
        self.reported = False

    def update(self, done: int) -> None:
        """Record that ``done`` units are finished (a line when the stage is long and one is due)."""
        if self.log is None:
            return
        now = time.perf_counter()
        finished = done >= self.total
        due = now - self.start >= PROGRESS_AFTER_S and (now - self.last >= PROGRESS_EVERY_S or not self.reported)
        if due or (finished and self.reported):
            self.log(f"{self.stage}: {done:,} / {self.total:,} {self.unit}, {now - self.start:.1f} s")
            self.last, self.reported = now, True
