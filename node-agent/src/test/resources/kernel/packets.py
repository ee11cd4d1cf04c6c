#!/usr/bin/env python3
"""Single packets for the guard kernel tests.

udp SRC SPORT DST DPORT COUNT: COUNT datagrams from SRC:SPORT (SRC "-" lets the kernel choose) to
  DST:DPORT, 20 ms apart; a fixed source port keeps every run in one conntrack entry.
ack SRC SPORT DST DPORT: one TCP segment with only ACK set (no SYN), from SRC:SPORT to DST:DPORT, on a
  raw socket with a correct checksum (conntrack drops bad ones as INVALID): what a reply of a flow
  looks like to a node that has not seen the flow.
"""
import socket
import struct
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def udp(src, sport, dst, dport, count):
    s = socket.socket(family(dst), socket.SOCK_DGRAM)
    s.bind(("" if src == "-" else src, sport))
    for i in range(count):
        try:
            s.sendto(b"%d\n" % i, (dst, dport))
        except OSError:  # an ICMP error for an earlier datagram
            pass
        time.sleep(0.02)


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ack(src, sport, dst, dport):
    fam = family(dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1000, 2000, 5 << 4, 0x10, 65535, 0, 0)
    addrs = socket.inet_pton(fam, src) + socket.inet_pton(fam, dst)
    if fam == socket.AF_INET:
        pseudo = addrs + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    else:
        pseudo = addrs + struct.pack("!I3xB", len(tcp), socket.IPPROTO_TCP)
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    s = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_TCP)
    s.bind((src, 0))
    s.sendto(tcp, (dst, 0))


if __name__ == "__main__":
    a = sys.argv
    if a[1] == "udp":
        udp(a[2], int(a[3]), a[4], int(a[5]), int(a[6]))
    else:
        ack(a[2], int(a[3]), a[4], int(a[5]))
