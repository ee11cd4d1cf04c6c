#!/usr/bin/env python3
"""Connects to the lab's external host and prints what happened, one line:
  ok <source address the host saw> | refused | unreachable | timeout | error <text>
with the elapsed milliseconds appended. Exit code 0 only for "ok".
With --hold SECONDS it keeps the connection open, sends a line every 0.2 s and prints each answer
("ok <addr>") until SECONDS passed or stdin closes; "broken <text>" and exit 1 when it breaks.
Usage: probe.py HOST PORT [--timeout S] [--hold S]   (run inside a pod namespace)"""
import errno
import select
import socket
import sys
import time


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    opts = dict(zip(sys.argv[3::2], sys.argv[4::2]))
    timeout = float(opts.get("--timeout", "3"))
    hold = float(opts.get("--hold", "0"))
    start = time.monotonic()
    ms = lambda: int((time.monotonic() - start) * 1000)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        f = s.makefile("rw")
        line = f.readline().strip()
        if not line:
            print("error closed-without-answer", ms(), flush=True)
            return 1
        print("ok", line, ms(), flush=True)
    except ConnectionRefusedError:
        print("refused", ms(), flush=True)
        return 1
    except socket.timeout:
        print("timeout", ms(), flush=True)
        return 1
    except OSError as e:
        kind = "unreachable" if e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES, errno.EPERM) else "error"
        print(kind, e.strerror or e, ms(), flush=True)
        return 1
    end = start + hold
    while time.monotonic() < end:
        r, _, _ = select.select([sys.stdin], [], [], 0.2)
        if r and not sys.stdin.readline():
            break
        try:
            f.write("x\n")
            f.flush()
            line = f.readline().strip()
            if not line:
                raise OSError("closed by peer")
            print("ok", line, ms(), flush=True)
        except OSError as e:
            print("broken", e, ms(), flush=True)
            return 1
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
