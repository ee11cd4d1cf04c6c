#!/usr/bin/env python3
"""The lab's external host: answers every TCP connection, and every line received on it, with the
source address it sees. Usage: echo-source.py PORT ADDRESS...  (runs in the megl-router namespace)."""
import socket
import socketserver
import sys
import threading


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        seen = (self.client_address[0] + "\n").encode()
        try:
            self.wfile.write(seen)
            for _ in self.rfile:  # one answer per line: lets a client hold a connection open
                self.wfile.write(seen)
        except OSError:
            pass


def serve(address, port):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET

    class Server(socketserver.ThreadingTCPServer):
        address_family = family
        allow_reuse_address = True
        daemon_threads = True

    Server((address, port), Handler).serve_forever()


def main():
    port = int(sys.argv[1])
    threads = [threading.Thread(target=serve, args=(a, port), daemon=True) for a in sys.argv[2:]]
    for t in threads:
        t.start()
    print("echo-source listening on port", port, "at", " ".join(sys.argv[2:]), flush=True)
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
