"""The result store: one SQLite file, one row per sweep point.

Table ``points`` (one row per point, keyed by the point's content hash):

=============== =====================================================================
hash            sha256 of everything the result depends on (see :mod:`archsim.sweep.points`)
sim_hash        the same without cost-only overrides (points sharing it share a simulation)
sweep, idx      the sweep's name and the point's position in it
config          JSON: ``{"workload": {...}, "overrides": {dotted key: value}, "axes": {axis: shown value}}``
status          ``pending`` | ``ok`` | ``failed``
how             ``simulated`` | ``recosted`` (the Trace of ``recosted_from`` costed again)
recosted_from   hash of the point whose Trace was re-costed, else NULL
error           one line plus the traceback's tail, for failed points
attempts        how many times the point was evaluated
started_at      UNIX time the last attempt started; ``elapsed_s`` its duration
worker          where it ran (host:pid)
result          the RESULT JSON (schema ``archsim.result/1``), for ``ok`` points
=============== =====================================================================

Table ``meta`` holds ``sweep``: the sweep's description (axes, objectives, constraints) as JSON.
Every write is one transaction, so a killed sweep keeps every point that had finished.
"""
from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

from archsim.atomic import write_atomically
from archsim.errors import UserError
from archsim.guard.text import quote
from archsim.result import check as check_result

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    hash TEXT PRIMARY KEY,
    sim_hash TEXT NOT NULL,
    sweep TEXT NOT NULL,
    idx INTEGER NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    how TEXT,
    recosted_from TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at REAL,
    elapsed_s REAL,
    worker TEXT,
    result TEXT
);
CREATE INDEX IF NOT EXISTS points_sim_hash ON points (sim_hash, status);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

COLUMNS = ("hash", "sim_hash", "sweep", "idx", "config", "status", "how", "recosted_from", "error",
           "attempts", "started_at", "elapsed_s", "worker", "result")


class ResultStore:
    """An SQLite result store (created on first use).

    ``create=False`` opens an existing store only (for reading it, as the report does): a missing file
    or an SQLite database that is not a store is a :class:`UserError`, and nothing is added to it.
    A database that already holds other tables is never turned into a store.
    """

    def __init__(self, path: str | Path, create: bool = True):
        self.path = Path(path)
        allowed = "allowed: a STORE.db written by 'archsim sweep'"
        if not create and not self.path.is_file():
            raise UserError(f"{self.path}: no such result store ({allowed})")
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "points" not in tables and (tables or not create):
                self._db.close()
                raise UserError(f"{self.path}: not a result store: it has no 'points' table ({allowed})")
            if create:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.executescript(_SCHEMA)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:    # damaged text decodes as no UTF-8
            raise UserError(f"{self.path}: not a result store: {quote(str(exc), 80)} ({allowed})") from None

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _write(self, sql: str, params=()) -> None:
        with self._db:  # one transaction
            self._db.execute("BEGIN IMMEDIATE")
            if isinstance(params, list):
                self._db.executemany(sql, params)
            else:
                self._db.execute(sql, params)

    # --- writing ---------------------------------------------------------------------------------
    def set_meta(self, key: str, value) -> None:
        """Store ``value`` (JSON) under ``key`` in the meta table."""
        self._write("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value, sort_keys=True)))

    def register(self, sweep: str, points) -> None:
        """Add a pending row for each point not stored yet (stored rows are left as they are)."""
        rows = [(p.hash, p.sim_hash, sweep, p.index, json.dumps(p.config, sort_keys=True)) for p in points]
        self._write("INSERT OR IGNORE INTO points (hash, sim_hash, sweep, idx, config) VALUES (?, ?, ?, ?, ?)", rows)

    def record(self, outcome: dict) -> None:
        """Store one finished evaluation (``ok`` or ``failed``), in one transaction."""
        self._write(
            """UPDATE points SET status = ?, how = ?, recosted_from = ?, error = ?, attempts = attempts + 1,
                   started_at = ?, elapsed_s = ?, worker = ?, result = ? WHERE hash = ?""",
            (outcome["status"], outcome["how"], outcome.get("recosted_from"), outcome.get("error"),
             outcome["started_at"], outcome["elapsed_s"], outcome["worker"], outcome.get("result"), outcome["hash"]),
        )

    # --- reading ---------------------------------------------------------------------------------
    def meta(self, key: str, default=None):
        """The meta value stored under ``key``, or ``default``."""
        row = self._guarded(lambda: self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone())
        return self._json(row["value"], f"meta.{key}", dict) if row else default

    def statuses(self) -> dict[str, str]:
        """Status of every stored point: hash -> pending | ok | failed."""
        return {r["hash"]: r["status"] for r in self._guarded(lambda: self._db.execute("SELECT hash, status FROM points").fetchall())}

    def simulated_result(self, sim_hash: str) -> tuple[str, str] | None:
        """(hash, RESULT JSON) of a successful point with this ``sim_hash``, preferring simulated ones."""
        row = self._db.execute(
            """SELECT hash, result FROM points WHERE sim_hash = ? AND status = 'ok'
               ORDER BY how = 'simulated' DESC, idx LIMIT 1""",
            (sim_hash,),
        ).fetchone()
        return (row["hash"], row["result"]) if row else None

    def rows(self) -> list[dict]:
        """Every row in sweep order, ``config`` and ``result`` parsed from JSON."""
        rows = []
        records = self._guarded(lambda: self._db.execute(
            f"SELECT {', '.join(COLUMNS)} FROM points ORDER BY sweep, idx").fetchall())
        for r in records:
            row = dict(r)
            row["config"] = self._json(row["config"], f"points.config of {str(row['hash'])[:12]}", dict)
            if not isinstance(row["config"].get("workload"), dict) or not isinstance(row["config"].get("axes"), dict):
                raise UserError(f"{self.path}: points.config of {str(row['hash'])[:12]}: no workload and axes "
                                "objects (allowed: a STORE.db written by 'archsim sweep')")
            where = f"points.result of {str(row['hash'])[:12]}"
            row["result"] = self._json(row["result"], where, dict) if row["result"] else None
            if row["status"] == "ok":          # what reports and the summary read as a finished point's result
                check_result(row["result"], f"{self.path}: {where} (status ok)")
            rows.append(row)
        return rows

    def _guarded(self, read):
        """Run an SQLite read; a damaged database is the user's error, naming the store."""
        try:
            return read()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            raise UserError(f"{self.path}: damaged result store: {quote(str(exc), 80)} (allowed: a STORE.db written "
                            "by 'archsim sweep')") from None

    def _json(self, text, where: str, kind: type):
        """A JSON column's value, strictly parsed (:mod:`archsim.guard.json_files`) and of ``kind``."""
        from archsim.guard.json_files import parse_json

        value = parse_json(text if isinstance(text, str) else "", f"{self.path}: {where}", "JSON object")
        if not isinstance(value, kind):
            raise UserError(f"{self.path}: {where}: a JSON {type(value).__name__} (allowed: a JSON object)")
        return value

    def export_csv(self, path: str | Path, metrics=()) -> Path:
        """One line per point: axis values, status, how, timings and the named metrics (with units)."""
        from archsim.sweep.objectives import METRICS, metric_value

        rows = self.rows()
        axes = list(dict.fromkeys(k for r in rows for k in r["config"]["axes"]))
        metrics = list(metrics) or [m for m in METRICS]
        header = (["idx", "sweep", "network", "mode", *axes, "status", "how", "elapsed_s"]
                  + [f"{m} [{METRICS[m].unit}]" for m in metrics] + ["error", "hash"])

        def write(tmp: Path) -> None:
            with tmp.open("w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(header)
                for r in rows:
                    workload, shown = r["config"]["workload"], r["config"]["axes"]
                    values = [metric_value(r["result"], m) if r["result"] else None for m in metrics]
                    writer.writerow([r["idx"], r["sweep"], workload["network"], workload["mode"],
                                     *[shown.get(a) for a in axes], r["status"], r["how"], r["elapsed_s"],
                                     *values, (r["error"] or "").split("\n")[0], r["hash"]])

        return write_atomically(path, write)


def is_store(path: str | Path) -> bool:
    """Whether a file is an SQLite database (by its header), so a store and a JSON result can be told apart."""
    try:
        with open(path, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False
