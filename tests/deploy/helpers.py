"""Helpers the deployment tests share (no tests here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def prefect_cli(env: dict[str, str], *args: str, cwd: Path = ROOT,
                timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``prefect ARGS`` in a process of its own; its output when it fails."""
    done = subprocess.run([sys.executable, "-m", "prefect", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done
