#!/usr/bin/env python3
"""One pooled TCP connection, idle between uses, for transition tests.
Usage: pooled.py HOST PORT [--sport P] [--once]
(run inside a pod namespace). Connects to HOST:PORT (from source port P when given) and prints
  connected LOCALPORT SRC    or   connect-failed REASON
(SRC: the first field of the server's greeting, the source address it saw)
Then, for every line read on stdin, sends one numbered line and prints the echo's first field (the
source address the lab's echo server saw) or broken REASON:
  ans SRC                    or   broken REASON
With --once it sends one line right after connecting, prints the answer and exits.
Plain python3, no packages."""
import argparse
import socket
import sys

from flows import reason  # beside this script


def say(*fields):
    sys.stdout.write(" ".join(str(f) for f in fields) + "\n")
    sys.stdout.flush()


def ask(s, f, n):
    try:
        s.sendall(b"%d\n" % n)
        line = f.readline().decode().split()
        say("ans", line[0]) if line else say("broken", "eof")
    except OSError as e:
        say("broken", reason(e))


def main():
    a = argparse.ArgumentParser()
    a.add_argument("host")
    a.add_argument("port", type=int)
    a.add_argument("--sport", type=int, default=0)
    a.add_argument("--once", action="store_true")
    o = a.parse_args()
    s = socket.socket(socket.AF_INET6 if ":" in o.host else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(5.0)
    try:
        s.bind(("", o.sport))
        s.connect((o.host, o.port))
    except OSError as e:
        say("connect-failed", reason(e))
        return
    f = s.makefile("rb")
    try:
        greeting = f.readline().decode().split()
    except OSError as e:
        say("connect-failed", reason(e))
        return
    say("connected", s.getsockname()[1], greeting[0] if greeting else "-")
    if o.once:
        ask(s, f, 1)
        return
    n = 0
    for _ in sys.stdin:
        n += 1
        ask(s, f, n)


if __name__ == "__main__":
    main()
