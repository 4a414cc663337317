"""Test helpers for the Dagster processes tests start (daemon, webserver, dagster dev)."""

import os
import signal
import subprocess


def stop_process_group(process: subprocess.Popen, timeout: float = 60) -> None:
    """SIGINT to the process's group (Dagster's commands shut their children down only on SIGINT), then SIGKILL."""
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
