#!/usr/bin/env python3
"""Long-lived flows from one pod namespace to the lab's external host, for transition tests.
Usage: flows.py --v4 HOST --v6 HOST --port P [--interval 0.1] [--dead 20] [--fresh 0.05]
(run inside a pod namespace; stops at EOF on stdin).

Per family it runs, each in its own thread:
  tcp  one TCP connection that sends a numbered line every --interval s and reads the echo
       ("<source the server saw> <line>"); when it breaks (RST, EOF, error, or no answer for --dead
       s) it reports that and opens a new connection (a new CONN number) after 0.2 s;
  udp  one UDP socket (fixed source port) sending a numbered datagram every --interval s;
  fresh (with --fresh S) a new TCP connection every S s (1 s timeout) that reads one answer.
Every event is one line on stdout, times in CLOCK_MONOTONIC milliseconds (the JVM's nanoTime clock):
  T tcp4 connected CONN          T tcp4 ans CONN SEQ SRC       T tcp4 broken CONN REASON
  T tcp4 connect-failed CONN REASON
  T udp4 ans 0 SEQ SRC           T udp4 error 0 REASON
  T fresh4 ok SRC | refused | timeout | unreachable REASON | error REASON
Plain python3, no packages."""
import argparse
import errno
import select
import socket
import sys
import threading
import time

out_lock = threading.Lock()
stop = threading.Event()


def now():
    return time.monotonic() * 1000.0


def emit(flow, *fields):
    line = "%.1f %s %s\n" % (now(), flow, " ".join(str(f) for f in fields))
    with out_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


def reason(e):
    if isinstance(e, ConnectionResetError):
        return "rst"
    if isinstance(e, socket.timeout):
        return "timeout"
    if isinstance(e, OSError) and e.errno is not None:
        return errno.errorcode.get(e.errno, str(e.errno)).lower()
    return type(e).__name__


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def tcp_flow(name, host, port, interval, dead):
    conn = 0
    seq = 0
    while not stop.is_set():
        conn += 1
        s = socket.socket(family_of(host), socket.SOCK_STREAM)
        s.settimeout(2.0)
        try:
            s.connect((host, port))
        except OSError as e:
            emit(name, "connect-failed", conn, reason(e))
            s.close()
            stop.wait(0.2)
            continue
        s.setblocking(False)
        emit(name, "connected", conn)
        buf = b""
        last_answer = time.monotonic()
        next_send = time.monotonic()
        broken = None
        while not stop.is_set() and broken is None:
            t = time.monotonic()
            if t >= next_send:
                seq += 1
                try:
                    s.send(b"%d\n" % seq)  # a few bytes: fits the socket buffer even when stalled
                except BlockingIOError:
                    pass
                except OSError as e:
                    broken = reason(e)
                    break
                next_send = t + interval
            r, _, _ = select.select([s], [], [], max(0.0, next_send - time.monotonic()))
            if r:
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError as e:
                    broken = reason(e)
                    break
                if not data:
                    broken = "eof"
                    break
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    f = line.decode(errors="replace").split()
                    if len(f) >= 2:  # "<src> <seq>"; a bare "<src>" is the greeting
                        emit(name, "ans", conn, f[1], f[0])
                    last_answer = time.monotonic()
            if time.monotonic() - last_answer > dead:
                broken = "stalled"
        if broken is not None:
            emit(name, "broken", conn, broken)
        s.close()
        if not stop.is_set():
            stop.wait(0.2)


def udp_flow(name, host, port, interval):
    s = socket.socket(family_of(host), socket.SOCK_DGRAM)
    s.connect((host, port))
    s.setblocking(False)
    seq = 0
    next_send = time.monotonic()
    while not stop.is_set():
        t = time.monotonic()
        if t >= next_send:
            seq += 1
            try:
                s.send(b"%d" % seq)
            except OSError as e:
                emit(name, "error", 0, reason(e))
            next_send = t + interval
        r, _, _ = select.select([s], [], [], max(0.0, next_send - time.monotonic()))
        if r:
            try:
                data = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:  # e.g. ECONNREFUSED from an ICMP error
                emit(name, "error", 0, reason(e))
                continue
            f = data.decode(errors="replace").split()
            if len(f) >= 2:
                emit(name, "ans", 0, f[1], f[0])
    s.close()


def fresh_flow(name, host, port, every):
    next_start = time.monotonic()
    while not stop.is_set():
        stop.wait(max(0.0, next_start - time.monotonic()))
        next_start = time.monotonic() + every
        s = socket.socket(family_of(host), socket.SOCK_STREAM)
        s.settimeout(1.0)
        try:
            s.connect((host, port))
            f = s.makefile("rb")
            line = f.readline().decode(errors="replace").split()
            if line:
                emit(name, "ok", line[0])
            else:
                emit(name, "error", "closed-without-answer")
        except ConnectionRefusedError:
            emit(name, "refused")
        except socket.timeout:
            emit(name, "timeout")
        except OSError as e:
            kind = "unreachable" if e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH,
                                                errno.EACCES, errno.EPERM) else "error"
            emit(name, kind, reason(e))
        finally:
            s.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--v4")
    p.add_argument("--v6")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--interval", type=float, default=0.1)
    p.add_argument("--dead", type=float, default=20.0)
    p.add_argument("--fresh", type=float, default=0.0)
    a = p.parse_args()
    threads = []
    for fam, host in (("4", a.v4), ("6", a.v6)):
        if not host:
            continue
        threads.append(threading.Thread(target=tcp_flow, args=("tcp" + fam, host, a.port, a.interval, a.dead)))
        threads.append(threading.Thread(target=udp_flow, args=("udp" + fam, host, a.port, a.interval)))
        if a.fresh > 0:
            threads.append(threading.Thread(target=fresh_flow, args=("fresh" + fam, host, a.port, a.fresh)))
    for t in threads:
        t.daemon = True
        t.start()
    emit("all", "started", len(threads))
    sys.stdin.read()  # EOF ends the run
    stop.set()
    for t in threads:
        t.join(3)
    emit("all", "stopped")


if __name__ == "__main__":
    main()
