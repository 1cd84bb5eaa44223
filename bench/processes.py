"""Processes the benchmarks start, and what /proc says about them.

Every process is started in its own process group and remembered; stop() ends the group
(SIGTERM, then SIGKILL after a grace period), and leaving the registry's `with` block stops
whatever is still running, also on an exception, Ctrl-C or SIGTERM.
"""
from __future__ import annotations

import os
import select
import signal
import subprocess
from pathlib import Path
from typing import Callable, Optional

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
GRACE_SECONDS = 5


class ProcessRegistry:
    def __init__(self) -> None:
        self._running: list[subprocess.Popen] = []

    def __enter__(self) -> "ProcessRegistry":
        # SIGINT (also when started in the background, where it is ignored), SIGTERM and
        # SIGHUP become KeyboardInterrupt, so `finally` blocks and __exit__ run.
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, _interrupt)
        return self

    def __exit__(self, *_exc) -> None:
        for process in list(self._running):
            self.stop(process)

    def start(self, command: list[str], log: Optional[Path], preexec: Optional[Callable[[], None]] = None,
              stdout=None) -> subprocess.Popen:
        output = open(log, "wb") if log is not None else subprocess.DEVNULL
        try:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                       stdout=stdout if stdout is not None else output,
                                       stderr=output if log is not None else None,
                                       start_new_session=True, preexec_fn=preexec)
        finally:
            if log is not None:
                output.close()  # the child has its own copy
        self._running.append(process)
        return process

    def run(self, command: list[str], timeout: float) -> str:
        """Runs a bounded command (a load run) and returns its standard output."""
        process = self.start(command, None, stdout=subprocess.PIPE)
        try:
            out, _ = process.communicate(timeout=timeout)
        finally:
            self.stop(process)
        if process.returncode != 0:
            raise subprocess.CalledProcessError(process.returncode, command, out)
        return out.decode(errors="replace")

    def read_line(self, process: subprocess.Popen, timeout: float) -> Optional[str]:
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        if not ready:
            return None
        return process.stdout.readline().decode(errors="replace").strip()

    def stop(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
        # The group may outlive its leader (forked children, nginx workers).
        _signal_group(process, signal.SIGKILL)
        if process in self._running:
            self._running.remove(process)


def _interrupt(_number, _frame) -> None:
    raise KeyboardInterrupt


def _signal_group(process: subprocess.Popen, number: int) -> None:
    try:
        os.killpg(process.pid, number)
    except (ProcessLookupError, PermissionError):
        pass


def _stat_fields(pid: int) -> Optional[list[str]]:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: the fields start after the last ')'.
    return text[text.rindex(")") + 2:].split()


def descendants(root: int) -> list[int]:
    """root and every process below it, found through the parent ids in /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue.extend(children.get(pid, []))
    return found


def tree_cpu_seconds(root: int) -> float:
    """utime + stime of the tree, with the reaped children's (cutime + cstime): a forking
    server's finished children count too."""
    total = 0
    for pid in descendants(root):
        fields = _stat_fields(pid)
        if fields is not None:  # fields[11..14]: utime stime cutime cstime (stat fields 14-17)
            total += sum(int(value) for value in fields[11:15])
    return total / CLOCK_TICKS


def tree_rss_kib(root: int) -> int:
    """VmRSS summed over the tree (shared pages count in each process)."""
    total = 0
    for pid in descendants(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total
