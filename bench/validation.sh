#!/bin/sh
# Full validation run (every case, the slow full-chip ones too); writes reports/validation and prints the table.
set -e
cd "$(dirname "$0")/.."
python -m archsim.cli validate --out reports/validation "$@"
