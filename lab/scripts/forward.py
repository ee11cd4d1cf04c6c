#!/usr/bin/env python3
"""Forwards a TCP port on this host into a network namespace, like `kubectl port-forward`:
every accepted connection is relayed through `ip netns exec NS python3 forward.py --connect`.
Usage: forward.py LISTEN_HOST LISTEN_PORT NETNS TARGET_HOST TARGET_PORT
       forward.py --connect TARGET_HOST TARGET_PORT   (inside NS: relays stdin/stdout)
Plain python3 (no socat needed), so the test machine needs no extra package."""
import os
import socket
import socketserver
import subprocess
import sys
import threading


def pump(read, write, close):
    try:
        while True:
            data = read(65536)
            if not data:
                break
            write(data)
    except OSError:
        pass
    finally:
        close()


def connect(host, port):
    s = socket.create_connection((host, port), timeout=10)
    s.settimeout(None)

    def to_stdout(data):
        while data:
            data = data[os.write(1, data):]

    t = threading.Thread(target=pump, args=(s.recv, to_stdout, lambda: os.close(1)), daemon=True)
    t.start()
    pump(lambda n: os.read(0, n), s.sendall, lambda: s.shutdown(socket.SHUT_WR))
    t.join()


def serve(listen_host, listen_port, netns, host, port):
    me = os.path.abspath(__file__)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            child = subprocess.Popen(
                ["ip", "netns", "exec", netns, sys.executable, me, "--connect", host, str(port)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
            conn = self.request
            t = threading.Thread(
                target=pump, args=(child.stdout.read, conn.sendall,
                                   lambda: conn.shutdown(socket.SHUT_WR)), daemon=True)
            t.start()
            pump(conn.recv, child.stdin.write, child.stdin.close)
            t.join()
            child.wait()

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    Server((listen_host, int(listen_port)), Handler).serve_forever()


if __name__ == "__main__":
    if sys.argv[1] == "--connect":
        connect(sys.argv[2], int(sys.argv[3]))
    else:
        serve(*sys.argv[1:6])
