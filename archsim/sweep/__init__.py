"""Design-space sweeps: a YAML grid over chip-config keys and workloads, run on local processes or a
Dask cluster, every point stored in an SQLite result store as it finishes.

- :func:`load_sweep` reads and validates a sweep file (:mod:`archsim.sweep.spec`);
- :func:`expand_points` lists its points with their content hashes (:mod:`archsim.sweep.points`);
- :func:`run_sweep` evaluates the points not stored yet (:mod:`archsim.sweep.driver`);
- :class:`ResultStore` is the SQLite store, with CSV export (:mod:`archsim.sweep.store`);
- :func:`analyse` / :func:`format_summary` give the Pareto front and the summary (:mod:`archsim.sweep.summary`).
"""
from archsim.sweep.driver import SweepRun, run_sweep
from archsim.sweep.points import expand_points, is_cost_only
from archsim.sweep.spec import SweepSpec, load_sweep
from archsim.sweep.store import ResultStore, is_store
from archsim.sweep.summary import analyse, format_summary

__all__ = ["SweepRun", "SweepSpec", "ResultStore", "analyse", "expand_points", "format_summary", "is_cost_only",
           "is_store", "load_sweep", "run_sweep"]
