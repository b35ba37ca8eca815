"""The published design point is the sizing rule's output, and both H2Learn configs load and train."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_design_point_is_the_sizing_rule_output():
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "size_h2learn.py"), "--check",
                          str(ROOT / "chips" / "h2learn.yaml")], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    # the edge config is a different design: the check names what differs
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "size_h2learn.py"), "--check",
                          str(ROOT / "chips" / "h2learn-edge.yaml")], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 1 and "weight_buffer.size_kb" in run.stdout
