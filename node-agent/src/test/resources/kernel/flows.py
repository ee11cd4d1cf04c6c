#!/usr/bin/env python3
"""Long-lived flows for the transition kernel tests.

server HOST4 HOST6 TCPPORT: echo every line back on TCP (both families) and take UDP on TCPPORT+1.
client HOST TCPPORT UDPPORT: one TCP connection and one UDP flow (fixed socket) from this namespace;
  every 50 ms send a numbered line on both; print "ok N MILLIS" per TCP echo (milliseconds since
  the start), "broken REASON" and exit on a reset, EOF or 10 s without an answer; stop when stdin
  closes.
"""
import select
import socket
import sys
import threading
import time


def serve(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(16)
    while True:
        c, _ = s.accept()
        threading.Thread(target=echo, args=(c,), daemon=True).start()


def sink(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((host, port))
    while True:
        s.recv(4096)


def echo(c):
    try:
        while True:
            data = c.recv(4096)
            if not data:
                return
            c.sendall(data)
    except OSError:
        return


def client(host, tport, uport):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    t = socket.create_connection((host, tport), timeout=3)
    u = socket.socket(fam, socket.SOCK_DGRAM)
    u.connect((host, uport))
    print("connected", flush=True)
    n = 0
    start = last = time.monotonic()
    next_send = last
    buf = b""
    while True:
        r, _, _ = select.select([sys.stdin, t], [], [], max(0, next_send - time.monotonic()))
        if sys.stdin in r and not sys.stdin.readline():
            return
        if t in r:
            try:
                data = t.recv(4096)
            except OSError as e:
                print("broken", e, flush=True)
                return
            if not data:
                print("broken eof", flush=True)
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                last = time.monotonic()
                print("ok", line.decode(), int((last - start) * 1000), flush=True)
        if time.monotonic() - last > 10:
            print("broken silent for 10 s", flush=True)
            return
        if time.monotonic() < next_send:
            continue
        next_send += 0.05
        n += 1
        try:
            t.sendall(b"%d\n" % n)
        except OSError as e:
            print("broken", e, flush=True)
            return
        try:
            u.send(b"%d\n" % n)
        except OSError as e:  # an ICMP error for an earlier datagram: UDP carries on
            print("udp", e, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        port = int(sys.argv[4])
        threading.Thread(target=serve, args=(sys.argv[2], port), daemon=True).start()
        for h in sys.argv[2:4]:
            threading.Thread(target=sink, args=(h, port + 1), daemon=True).start()
        serve(sys.argv[3], port)
    else:
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
