"""What every benchmark shares: the machine it ran on, percentiles, and where results go.

Each benchmark writes ``.run/bench/<name>.json`` (the machine, the date, the
command and its numbers) and prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence

from handoff.dashboard import percentile as nearest_rank
from harness.servers import BRIDGE_VENV_BIN, ROOT, process_cpu_seconds  # the servers' CPU, as the drills measure it

__all__ = ["ROOT", "RESULTS_DIR", "machine", "percentile", "latency_summary", "markdown_table", "write_result",
           "process_rss_mb", "process_cpu_seconds", "commit"]

RESULTS_DIR = ROOT / ".run" / "bench"


def machine() -> Dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                     if line.startswith("MemTotal:"))
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(memory_kb / 2**20, 1),
            "python": platform.python_version(), "bridge_runtime": bridge_runtime(), "date": time.strftime("%Y-%m-%d")}


def bridge_runtime() -> str:
    """The Python and the web, websocket and Redis libraries the bridge runs on (its own environment)."""
    probe = ("import platform, sanic, websockets, redis; "
             "print(f'Python {platform.python_version()}, Sanic {sanic.__version__}, "
             "websockets {websockets.__version__}, redis-py {redis.__version__}')")
    found = subprocess.run([str(BRIDGE_VENV_BIN / "python"), "-c", probe], capture_output=True, text=True)
    return found.stdout.strip() if found.returncode == 0 else "unknown"


def percentile(values: Sequence[float], share: float) -> float:
    """The dashboard's nearest-rank percentile (share in 0..1), of a sample that must not be empty."""
    value = nearest_rank(values, share)
    if value is None:
        raise ValueError("no samples")
    return value


def latency_summary(milliseconds: Sequence[float]) -> Dict[str, float]:
    return {"count": len(milliseconds), "p50_ms": percentile(milliseconds, 0.50),
            "p99_ms": percentile(milliseconds, 0.99), "max_ms": max(milliseconds)}


def process_rss_mb(pid: int) -> float:
    """Resident memory of a running process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def markdown_table(rows: List[Dict[str, Any]], columns: Sequence[str]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3f}" if abs(value) < 1 else f"{value:.1f}"
        return "" if value is None else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(column)) for column in columns) + " |" for row in rows]
    return "\n".join(lines)


def write_result(name: str, result: Dict[str, Any]) -> Path:
    """Saves a benchmark's numbers with the machine, the code (commit) and the command that produced them."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    command = " ".join(["python -m", f"bench.{name}", *sys.argv[1:]])
    path.write_text(json.dumps({"machine": machine(), "commit": commit(), "command": command, **result}, indent=2))
    return path


def commit() -> str:
    """The commit measured, "+changes" when the tree differs from it; "" outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""
    return f"{head}+changes" if changed else head
