"""Sweep machinery: spec validation, executors, the result store, resuming, failures and re-costing.

The chip models are not needed here: a deterministic toy evaluator (``toy_run``/``toy_recost``, below)
stands in for ``archsim.runner``. It simulates a toy "trace" whose counts depend only on simulation
keys and costs it with technology keys, so re-costing can be checked against simulating. One test at
the end runs the real runner when it exists.
"""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest

from archsim.config import Chip, describe
from archsim.errors import UserError
from archsim.sweep import ResultStore, analyse, expand_points, format_summary, is_cost_only, load_sweep, run_sweep
from archsim.sweep.executors import InProcessExecutor, ProcessExecutor
from archsim.sweep.points import canonical_json

TESTS = Path(__file__).parent
FAILING_NEURONS = 13  # the toy model refuses this core size, to test failed points
LOG_ENV = "ARCHSIM_TOY_LOG"  # where the toy evaluator appends one line per call

TOY_CHIP = {
    "name": "toy",
    "family": "manycore",
    "clock_mhz": 100,
    "core": {"neurons": 64},
    "mesh": {"width": 2, "height": 2},
    "technology": {"node_nm": 28, "voltage_v": 0.9},
    "components": {"sram": {"class": "fixed", "energy_pj": {"read": 1.5}, "area_mm2": 0.2}},
}
TOY_SCHEMA = {
    "type": "object",
    "properties": {
        "clock_mhz": {"type": "number", "exclusiveMinimum": 0},
        "core": {"type": "object", "properties": {"neurons": {"type": "integer", "minimum": 1}}},
        "mesh": {"type": "object", "properties": {"width": {"type": "integer", "minimum": 1}}},
        "technology": {"type": "object", "properties": {"node_nm": {"enum": [7, 14, 28, 45, 65]}}},
    },
}


class ToyChip(Chip):
    """A chip validated against TOY_SCHEMA (the real family schemas belong to the chip models)."""

    def with_overrides(self, overrides: dict) -> "ToyChip":
        params = copy.deepcopy(self.params)
        for dotted, value in overrides.items():
            *parents, last = dotted.split(".")
            node = params
            for part in parents:
                node = node[part]
            if last not in node:
                raise UserError(f"{self.path}: {dotted}: no such key")
            node[last] = value
        for error in jsonschema.Draft202012Validator(TOY_SCHEMA).iter_errors(params):
            raise UserError(f"{self.path}: {describe(error)}")
        return ToyChip(self.name, self.family, self.path, params)


def _log(kind: str, network: str, chip: Chip) -> None:
    if os.environ.get(LOG_ENV):
        with open(os.environ[LOG_ENV], "a") as f:
            f.write(f"{kind} {network} {canonical_json(chip.params)}\n")


def toy_run(network: str, chip: Chip, **options) -> dict:
    """Deterministic stand-in for archsim.runner.run."""
    _log("run", network, chip)
    neurons, width = chip.get("core.neurons"), chip.get("mesh.width")
    if neurons == FAILING_NEURONS:
        raise ValueError(f"toy model: {neurons} neurons per core cannot be mapped")
    steps, batch = options["steps"] or 4, options["batch"] or 1
    trace = {
        "chip": chip.name, "family": chip.family, "workload": network, "mode": options["mode"],
        "engine": options["engine"], "steps": steps, "batch": batch,
        "cycles": 1000 * steps * batch // width + 7 * neurons + len(network),
        "clock_hz": chip.get("clock_mhz") * 1e6,
        "actions": {"sram": {"read": neurons * steps * batch * 31}},
    }
    return _toy_cost(trace, chip)


def toy_recost(result: dict, chip: Chip) -> dict:
    _log("recost", result["workload"], chip)
    return _toy_cost(result["trace"], chip)


def _toy_cost(trace: dict, chip: Chip) -> dict:
    scale = (chip.get("technology.node_nm") / 28) ** 2
    read_pj = chip.get("components.sram.energy_pj.read") * scale
    energy_pj = trace["actions"]["sram"]["read"] * read_pj
    area_mm2 = chip.get("components.sram.area_mm2") * scale * chip.get("core.neurons") / 64
    latency_s = trace["cycles"] / trace["clock_hz"]
    return {
        "schema": "archsim.result/1", "chip": trace["chip"], "family": trace["family"], "workload": trace["workload"],
        "mode": trace["mode"], "engine": trace["engine"], "steps": trace["steps"], "batch": trace["batch"],
        "cycles": trace["cycles"], "clock_hz": trace["clock_hz"], "latency_s": latency_s,
        "throughput_samples_per_s": trace["batch"] / latency_s, "energy_pj": energy_pj,
        "energy_breakdown_pj": {"sram": {"read": energy_pj}}, "static_energy_pj": 0.0, "area_mm2": area_mm2,
        "area_breakdown_mm2": {"sram": area_mm2}, "cost_sources": {"sram": {"read": "toy table"}},
        "synaptic_ops": trace["actions"]["sram"]["read"], "spikes": 0, "trace": trace,
    }


def write_sweep(folder: Path, body: str, name: str = "toy-sweep.yaml") -> Path:
    (folder / "toy.yaml").write_text(json.dumps(TOY_CHIP))
    path = folder / name
    path.write_text(textwrap.dedent(body))
    return path


def toy_spec(path: Path):
    base = ToyChip("toy", "manycore", path.parent / "toy.yaml", copy.deepcopy(TOY_CHIP))
    return load_sweep(path, chip=base)


TWELVE_POINTS = """
    name: twelve
    chip: toy.yaml
    workloads: [{network: mlp-digits, mode: infer, batch: 2, steps: 3}]
    axes:
      core.neurons: [32, 64, 128]
      mesh.width: [1, 2]
      technology.node_nm: [28, 45]
    objectives: [latency_s, energy_pj, edp]
    constraints: [{metric: area_mm2, max: 1.0}]
"""


def stored(store: ResultStore) -> list[tuple]:
    """Everything a store row holds except where and when it ran."""
    return [(r["hash"], r["idx"], r["status"], r["how"], r["recosted_from"], r["attempts"],
             canonical_json(r["config"]), canonical_json(r["result"]), r["error"]) for r in store.rows()]


def sweep_once(tmp_path: Path, executor, tag: str) -> list[tuple]:
    spec = toy_spec(write_sweep(tmp_path, TWELVE_POINTS))
    with ResultStore(tmp_path / f"{tag}.db") as store:
        run = run_sweep(spec, store, executor=executor, run_fn=toy_run, recost_fn=toy_recost, progress=False)
        assert (run.simulated, run.recosted, run.failed) == (6, 6, 0)
        workers = {r["worker"].rsplit(":", 1)[1] for r in store.rows()}
        assert (workers == {str(os.getpid())}) == (tag == "one"), workers  # it really ran elsewhere
        return stored(store)


def test_linked_axis_sets_keys_together(tmp_path):
    spec = toy_spec(write_sweep(tmp_path, """
        chip: toy.yaml
        workloads: [{network: mlp-digits}]
        axes:
          size: {set: [{core.neurons: 32, mesh.width: 1}, {core.neurons: 64, mesh.width: 2}]}
          technology.node_nm: [28, 45]
    """))
    points = expand_points(spec)
    assert [p.overrides for p in points][:2] == [{"core.neurons": 32, "mesh.width": 1, "technology.node_nm": 28},
                                                 {"core.neurons": 32, "mesh.width": 1, "technology.node_nm": 45}]
    assert points[2].axes == {"size": 64, "technology.node_nm": 28}
    with pytest.raises(UserError, match="axes.size: mesh.depth: no such key"):
        toy_spec(write_sweep(tmp_path, "chip: toy.yaml\nworkloads: [{network: mlp-digits}]\naxes: {size: {set: [{mesh.depth: 2}]}}\n"))


def test_points_grid_zip_random_and_hashes(tmp_path):
    spec = toy_spec(write_sweep(tmp_path, TWELVE_POINTS))
    points = expand_points(spec)
    assert len(points) == 12 and len({p.hash for p in points}) == 12
    assert len({p.sim_hash for p in points}) == 6  # the node axis is cost-only
    assert is_cost_only("technology.node_nm") and is_cost_only("components.sram.energy_pj.read")
    assert not is_cost_only("core.neurons") and not is_cost_only("components.sram.size_kb")
    zipped = toy_spec(write_sweep(tmp_path, """
        chip: toy.yaml
        workloads: [{network: mlp-digits}, {network: conv-digits}]
        axes: {core.neurons: [32, 64], mesh.width: [1, 2]}
        combine: zip
    """, "zip.yaml"))
    assert [p.overrides for p in expand_points(zipped)][:2] == [{"core.neurons": 32, "mesh.width": 1},
                                                                {"core.neurons": 64, "mesh.width": 2}]
    assert len(expand_points(zipped)) == 4
    body = """
        chip: toy.yaml
        workloads: [{network: mlp-digits}]
        axes: {core.neurons: {range: [8, 80, 8]}, mesh.width: [1, 2, 3]}
        combine: random
        samples: 5
        seed: %d
    """
    draw = lambda seed: [p.overrides for p in expand_points(toy_spec(write_sweep(tmp_path, body % seed, "r.yaml")))]  # noqa: E731
    assert draw(1) == draw(1) and len(draw(1)) == 5 and draw(1) != draw(2)


@pytest.mark.parametrize("axes, message", [
    ("{core.synapses: [1, 2]}", "axes.core.synapses: no such key"),
    ("{core.neurons: []}", "axes.core.neurons: empty axis"),
    ("{core.neurons: [64, -3]}", "axes.core.neurons: value -3 is not allowed"),
    ("{technology.node_nm: [28, 3]}", "axes.technology.node_nm: value 3 is not allowed"),
    ("{core.neurons: {range: [1, 9, 0]}}", "axes.core.neurons: range step 0"),
])
def test_bad_axis_is_one_line_naming_it(tmp_path, axes, message):
    path = write_sweep(tmp_path, f"chip: toy.yaml\nworkloads: [{{network: mlp-digits}}]\naxes: {axes}\n")
    with pytest.raises(UserError) as err:
        toy_spec(path)
    assert message in str(err.value) and "\n" not in str(err.value) and str(path) in str(err.value)


def test_bad_structure_is_one_line(tmp_path):
    cases = {
        "chip: toy.yaml\naxes: {}\n": "workloads: required key is missing",
        "chip: toy.yaml\nworkloads: [{network: mlp-digits}]\naxes: {}\nobjectives: [speed]\n": "objectives[0]: 'speed' is not allowed",
        "chip: toy.yaml\nworkloads: [{network: mlp-digits}]\naxes: {core.neurons: [1, 2], mesh.width: [1]}\ncombine: zip\n":
            "axes.mesh.width: has 1 values but axes.core.neurons has 2",
        "chip: toy.yaml\nworkloads: [{network: mlp-digits}]\naxes: {core.neurons: [1]}\ncombine: random\nsamples: 3\n":
            "samples: 3 is too large",
        "chip: toy.yaml\nworkloads: [{network: missing.nir}]\naxes: {}\n": "workloads[0].network: no such file",
    }
    for body, message in cases.items():
        with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
            toy_spec(write_sweep(tmp_path, body))


def test_same_results_in_process_processes_and_dask(tmp_path):
    in_process = sweep_once(tmp_path, InProcessExecutor(), "one")
    assert len(in_process) == 12 and all(row[2] == "ok" for row in in_process)
    assert sweep_once(tmp_path, ProcessExecutor(2), "two") == in_process
    distributed = pytest.importorskip("distributed", reason="Dask is the optional 'dask' extra")
    from archsim.sweep.executors import DaskExecutor

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        assert sweep_once(tmp_path, DaskExecutor(cluster.scheduler_address), "dask") == in_process


def test_recosted_point_equals_simulated_one(tmp_path):
    spec = toy_spec(write_sweep(tmp_path, TWELVE_POINTS))
    with ResultStore(tmp_path / "s.db") as store:
        run_sweep(spec, store, executor=InProcessExecutor(), run_fn=toy_run, recost_fn=toy_recost, progress=False)
        rows = store.rows()
    recosted = [r for r in rows if r["how"] == "recosted"]
    assert len(recosted) == 6
    for row in recosted:
        source = next(r for r in rows if r["hash"] == row["recosted_from"])
        assert source["how"] == "simulated" and source["result"]["energy_pj"] != row["result"]["energy_pj"]
        chip = spec.base_chip.with_overrides(row["config"]["overrides"])
        simulated = toy_run(row["config"]["workload"]["network"], chip, mode="infer", steps=3, batch=2, engine="fast")
        assert canonical_json(simulated) == canonical_json(row["result"])


def test_failing_point_is_recorded_and_the_rest_finish(tmp_path):
    spec = toy_spec(write_sweep(tmp_path, """
        chip: toy.yaml
        workloads: [{network: mlp-digits}]
        axes: {core.neurons: [8, 13, 16], technology.node_nm: [28, 45]}
    """))
    with ResultStore(tmp_path / "s.db") as store:
        run = run_sweep(spec, store, executor=InProcessExecutor(), run_fn=toy_run, recost_fn=toy_recost, progress=False)
        rows = store.rows()
        assert (run.simulated, run.recosted, run.failed) == (2, 2, 2)
        failed = [r for r in rows if r["status"] == "failed"]
        assert {r["config"]["overrides"]["core.neurons"] for r in failed} == {13}
        assert all(r["error"].startswith("ValueError: toy model: 13 neurons") for r in failed)
        assert all(r["result"] is None for r in failed)
        with pytest.raises(UserError, match="--resume"):
            run_sweep(spec, store, executor=InProcessExecutor(), run_fn=toy_run, progress=False)
        again = run_sweep(spec, store, executor=InProcessExecutor(), run_fn=toy_run, recost_fn=toy_recost,
                          resume=True, progress=False)
        assert again.already_done == 4 and again.failed == 2  # only the failed points ran again
        assert [r["attempts"] for r in store.rows() if r["status"] == "failed"] == [2, 2]
        csv_text = store.export_csv(tmp_path / "s.csv").read_text().splitlines()
    assert len(csv_text) == 7 and csv_text[0].startswith("idx,sweep,network,mode,core.neurons,technology.node_nm")


def interrupt_after_three(network, chip, **options):
    log = Path(os.environ[LOG_ENV])
    if log.exists() and len(log.read_text().splitlines()) >= 3:
        raise KeyboardInterrupt
    return toy_run(network, chip, **options)


def test_interrupted_sweep_resumes_with_every_point_done_once(tmp_path, monkeypatch):
    log = tmp_path / "calls.log"
    monkeypatch.setenv(LOG_ENV, str(log))
    spec = toy_spec(write_sweep(tmp_path, TWELVE_POINTS))
    with ResultStore(tmp_path / "s.db") as store:
        with pytest.raises(KeyboardInterrupt):
            run_sweep(spec, store, executor=InProcessExecutor(), run_fn=interrupt_after_three, recost_fn=toy_recost,
                      progress=False)
        done_before = sum(r["status"] == "ok" for r in store.rows())
        assert done_before == 3
        run_sweep(spec, store, executor=InProcessExecutor(), run_fn=toy_run, recost_fn=toy_recost, resume=True,
                  progress=False)
        assert all(r["status"] == "ok" and r["attempts"] == 1 for r in store.rows())
    calls = log.read_text().splitlines()
    assert len(calls) == 12 and len(set(calls)) == 12


KILLED_RUN = """
import os, signal, sys
sys.path.insert(0, {tests!r})
import test_sweep as t
from archsim.sweep import ResultStore, run_sweep
from archsim.sweep.executors import InProcessExecutor

def killed_after_four(network, chip, **options):
    log = t.Path(os.environ[t.LOG_ENV])
    if log.exists() and len(log.read_text().splitlines()) >= 4:
        os.kill(os.getpid(), signal.SIGKILL)
    return t.toy_run(network, chip, **options)

spec = t.toy_spec(t.Path({sweep!r}))
run_sweep(spec, ResultStore({store!r}), executor=InProcessExecutor(), run_fn=killed_after_four,
          recost_fn=t.toy_recost, progress=False)
"""


def test_killed_process_loses_no_finished_point(tmp_path, monkeypatch):
    log = tmp_path / "calls.log"
    monkeypatch.setenv(LOG_ENV, str(log))
    sweep = write_sweep(tmp_path, TWELVE_POINTS)
    script = KILLED_RUN.format(tests=str(TESTS), sweep=str(sweep), store=str(tmp_path / "s.db"))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    with ResultStore(tmp_path / "s.db") as store:
        assert sum(r["status"] == "ok" for r in store.rows()) == 4  # every call that returned was stored
        run_sweep(toy_spec(sweep), store, executor=InProcessExecutor(), run_fn=toy_run, recost_fn=toy_recost,
                  resume=True, progress=False)
        rows = store.rows()
    assert all(r["status"] == "ok" and r["attempts"] == 1 for r in rows)
    calls = log.read_text().splitlines()
    assert len(calls) == 12 and len(set(calls)) == 12


def test_summary_has_pareto_front_and_respects_constraints(tmp_path):
    spec = toy_spec(write_sweep(tmp_path, TWELVE_POINTS))
    with ResultStore(tmp_path / "s.db") as store:
        run_sweep(spec, store, executor=InProcessExecutor(), run_fn=toy_run, recost_fn=toy_recost, progress=False)
        analysis = analyse(store.rows(), store.meta("sweep"))
    assert {r["config"]["overrides"]["core.neurons"] for r in analysis.infeasible} == {128}  # area > 1 mm²
    assert analysis.front and not any(r in analysis.infeasible for r in analysis.front)
    for row in analysis.front:  # nothing feasible beats a front point in every objective
        e, t = row["result"]["energy_pj"], row["result"]["latency_s"]
        assert not any(o["result"]["energy_pj"] < e and o["result"]["latency_s"] < t
                       for o in analysis.ok if o not in analysis.infeasible)
    text = format_summary(analysis)
    assert "Pareto front" in text and "latency_s [s]" in text and "12 ok (6 re-costed)" in text


REAL_NODES = "{set: [{technology.node_nm: 28, technology.voltage_v: 0.9, technology.table: tech/28nm.yaml}, " \
             "{technology.node_nm: 12, technology.voltage_v: 0.8, technology.table: tech/12nm.yaml}]}"


TIANJIC = Path(__file__).parents[1] / "chips" / "tianjic.yaml"   # the real point evaluator's chip


def test_cli_sweep_runs_and_refuses_to_overwrite(tmp_path, monkeypatch):
    from archsim.cli import main

    monkeypatch.chdir(tmp_path)   # the store goes into the current folder
    chip = TIANJIC
    sweep = tmp_path / "s.yaml"
    sweep.write_text(f"chip: {chip}\nworkloads: [{{network: mlp-digits, batch: 1, steps: 2}}]\n"
                     f"axes: {{node: {REAL_NODES}}}\n")
    assert main(["sweep", str(sweep), "--workers", "1", "--quiet"]) == 0
    assert main(["sweep", str(sweep), "--workers", "1", "--quiet"]) == 2
    assert (tmp_path / "s.db").exists() and (tmp_path / "s.csv").exists()


def test_real_runner_recost_equals_simulation(tmp_path):
    from archsim import runner
    from archsim.config import load_chip

    chip_path = TIANJIC
    base = load_chip(chip_path)
    sweep = tmp_path / "s.yaml"
    sweep.write_text(f"chip: {chip_path}\nworkloads: [{{network: mlp-digits, batch: 1, steps: 2}}]\n"
                     f"axes: {{node: {REAL_NODES}}}\nrun: {{gpu: null}}\n")
    spec = load_sweep(sweep)
    with ResultStore(tmp_path / "s.db") as store:
        run = run_sweep(spec, store, executor=InProcessExecutor(), progress=False)
        rows = store.rows()
    assert (run.simulated, run.recosted, run.failed) == (1, 1, 0), run.failures
    recosted = next(r for r in rows if r["how"] == "recosted")
    direct = runner.run("mlp-digits", base.with_overrides(recosted["config"]["overrides"]), batch=1, steps=2, gpu=None)
    direct = json.loads(canonical_json(direct))
    for key in ("cycles", "latency_s", "energy_pj", "area_mm2", "energy_breakdown_pj", "area_breakdown_mm2"):
        assert direct[key] == recosted["result"][key], key
