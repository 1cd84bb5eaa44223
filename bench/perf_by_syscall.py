#!/usr/bin/env python3
"""Split a perf profile by system call: where a server's time per request goes.

    perf record -e cpu-clock -g -p WORKER -- sleep 10
    perf script -F ip,sym,dso | python3 bench/perf_by_syscall.py [CPU_US_PER_REQUEST]

Each sample counts once: a user-space sample under its shared object (the binary, a
plugin, libc); a kernel sample under the outermost system call of its stack
(`__x64_sys_NAME`, or `do_NAME`/`ksys_NAME` for calls such as writev whose entry the
stack may not reach), else "other" (entry and exit, scheduling, interrupts). With the
server's CPU time per request (`make bench`'s "CPU µs/req"), the shares are also given
in µs per request.
"""
from __future__ import annotations

import collections
import re
import sys

SYSCALL = re.compile(r"(?:__x64_sys_|do_|ksys_)(sendto|recvfrom|sendmsg|recvmsg|sendmmsg|recvmmsg|"
                     r"writev|readv|write|read|epoll_wait|epoll_pwait|poll|ppoll|accept4|close)$")


def attribute(stack: list[tuple[str, str]]) -> str:
    symbol, dso = stack[0]  # the leaf: where the sample landed
    if "kernel" not in dso:
        return "user: " + dso.strip("()").rsplit("/", 1)[-1]
    for frame_symbol, _ in reversed(stack):  # outermost first
        match = SYSCALL.match(frame_symbol)
        if match:
            return "kernel: " + match.group(1)
    return "kernel: other"


def main() -> None:
    cpu_us = float(sys.argv[1]) if len(sys.argv) > 1 else None
    counts: collections.Counter[str] = collections.Counter()
    stack: list[tuple[str, str]] = []
    for line in list(sys.stdin) + [""]:
        fields = line.split()
        if not fields:  # a blank line ends a sample's stack
            if stack:
                counts[attribute(stack)] += 1
            stack = []
        elif line[0].isspace() and len(fields) >= 3:  # "  ip symbol+off (dso)"
            stack.append((re.sub(r"\+0x[0-9a-f]+$", "", fields[1]), fields[-1]))
    total = sum(counts.values())
    if total == 0:
        sys.exit("no samples on stdin (perf script -F ip,sym,dso)")
    for where, count in counts.most_common():
        share = count / total
        per_request = f"  {share * cpu_us:6.2f} µs/req" if cpu_us else ""
        print(f"{100 * share:6.2f} %{per_request}  {where}")
    print(f"{total} samples")


if __name__ == "__main__":
    main()
