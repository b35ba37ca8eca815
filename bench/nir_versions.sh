#!/usr/bin/env bash
# Run the NIR tests against the oldest and the newest nir that archsim supports (setup.cfg: nir >= 1.0.4),
# each in its own virtual environment under ${NIR_VENVS:-/tmp/archsim-nir-venvs}:
#     bash bench/nir_versions.sh            # oldest (1.0.4) and newest (whatever pip picks)
set -euo pipefail
cd "$(dirname "$0")/.."
root=${NIR_VENVS:-/tmp/archsim-nir-venvs}
tests="tests/test_graph_nir.py tests/test_nir_interop.py tests/test_nir_presets.py tests/test_nir_nodes.py tests/test_nir_paper.py"
for spec in "nir==1.0.4" "nir"; do
    venv="$root/${spec//[=<>]/_}"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -e ".[test]" "$spec"
    "$venv/bin/pip" install -q --upgrade "$spec"
    echo "== $("$venv/bin/python" -c 'import nir; print("nir", nir.__version__)')"
    "$venv/bin/python" -m pytest -q $tests
done
