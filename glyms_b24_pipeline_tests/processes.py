"""Test helpers for the Dagster processes tests start (daemon, webserver, dagster dev)."""

import os
import signal
import subprocess
from pathlib import Path


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (Linux's /proc): the code servers Dagster starts in sessions of their own."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # the command name is in parentheses and may hold spaces: the fields after it are split
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # a process that ended while we read
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def stop_process_group(process: subprocess.Popen, timeout: float = 60) -> None:
    """SIGINT to the process's group (Dagster's commands shut their children down only on SIGINT), then SIGKILL;
    a child left running in a session of its own (a daemon's code server) is killed too, not left behind."""
    below = _descendants(process.pid)
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    for pid in below:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # it ended with its parent, as it should
