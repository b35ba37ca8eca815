"""The NIR tests against the oldest supported nir (1.0.4, setup.cfg's lower bound); the suite itself runs the newest.

nir 1.0.4 is installed without dependencies into a temporary ``--target`` directory and put first on
PYTHONPATH of a pytest subprocess that runs the NIR test files. Deselect with ``-m "not nir_versions"``;
skipped, with the reason, when pip cannot reach a package index.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

OLDEST = "1.0.4"
ROOT = Path(__file__).resolve().parents[1]
NIR_TESTS = ["tests/test_graph_nir.py", "tests/test_nir_interop.py", "tests/test_nir_presets.py",
             "tests/test_nir_nodes.py", "tests/test_nir_paper.py", "tests/test_nir_delays.py"]
#: what pip prints when no index answers (offline machine, no proxy, unknown host)
_UNREACHABLE = ("No matching distribution found", "Could not find a version", "NewConnectionError",
                "Temporary failure in name resolution", "Network is unreachable", "ConnectionError",
                "Max retries exceeded", "ProxyError")


def _install_oldest(target: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
           f"nir=={OLDEST}", "--target", str(target)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.skip(f"pip could not fetch nir=={OLDEST} within 120 s (no package index reachable)")
    if done.returncode != 0:
        output = done.stdout + done.stderr
        if any(marker in output for marker in _UNREACHABLE):
            pytest.skip(f"pip cannot reach a package index for nir=={OLDEST}: {output.strip().splitlines()[-1]}")
        pytest.fail(f"pip install nir=={OLDEST} failed:\n{output}")


@pytest.mark.nir_versions
def test_nir_tests_pass_with_the_oldest_supported_nir(tmp_path):
    target = tmp_path / "nir-oldest"
    _install_oldest(target)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    probe = subprocess.run([sys.executable, "-c", "import nir; print(nir.__version__); print(nir.__file__)"],
                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    version, where = probe.stdout.split()[:2]
    assert version == OLDEST and Path(where).is_relative_to(target), probe.stdout + probe.stderr
    run = subprocess.run([sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider", "-x",
                          "-m", "not nir_versions", *NIR_TESTS],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    tail = "\n".join((run.stdout + run.stderr).strip().splitlines()[-15:])
    assert run.returncode == 0, f"NIR tests under nir {OLDEST} failed:\n{tail}"
    assert " passed" in tail and "failed" not in tail, tail
