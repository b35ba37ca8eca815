"""One line saying when and where a benchmark ran (date, CPU, cores, load): figures from a shared,
noisy machine are only comparable with this beside them."""
from __future__ import annotations

import os
import platform
import time


def machine_note() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {cpu}, {os.cpu_count()} cores, "
            f"load average {load} (1 / 5 / 15 min) at start")
