#!/usr/bin/env python3
"""The lab's external host: answers every TCP connection, and every line received on it, with the
source address it sees. With --flow-port P it also serves the long-lived flows of flows.py on P:
TCP answers the connection with "<source>" and every line with "<source> <line>", UDP answers every
datagram with "<source> <payload>".
Usage: echo-source.py PORT ADDRESS... [--flow-port P]  (runs in the megl-router namespace)."""
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


class FlowHandler(socketserver.StreamRequestHandler):
    def handle(self):
        src = self.client_address[0]
        try:
            self.wfile.write((src + "\n").encode())
            for line in self.rfile:
                self.wfile.write(("%s %s\n" % (src, line.decode(errors="replace").strip())).encode())
        except OSError:
            pass


def serve(address, port, handler=Handler):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET

    class Server(socketserver.ThreadingTCPServer):
        address_family = family
        allow_reuse_address = True
        daemon_threads = True
        request_queue_size = 128

    Server((address, port), handler).serve_forever()


def serve_udp(address, port):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((address, port))
    while True:
        data, peer = s.recvfrom(65536)
        try:
            s.sendto(("%s %s" % (peer[0], data.decode(errors="replace").strip())).encode(), peer)
        except OSError:
            pass


def main():
    args = sys.argv[1:]
    flow_port = None
    if "--flow-port" in args:
        i = args.index("--flow-port")
        flow_port = int(args[i + 1])
        del args[i : i + 2]
    port = int(args[0])
    addresses = args[1:]
    threads = [threading.Thread(target=serve, args=(a, port), daemon=True) for a in addresses]
    if flow_port:
        for a in addresses:
            threads.append(threading.Thread(target=serve, args=(a, flow_port, FlowHandler), daemon=True))
            threads.append(threading.Thread(target=serve_udp, args=(a, flow_port), daemon=True))
    for t in threads:
        t.start()
    print("echo-source listening on port", port, "at", " ".join(addresses),
          "flow port (tcp+udp)", flow_port, flush=True)
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
