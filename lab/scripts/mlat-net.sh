#!/usr/bin/env bash
# Topology of ProgrammingLatencyBenchmark: N node namespaces on one L2 bridge, reachable from the
# host (where the benchmark JVM runs the mock API server and the controller). Nothing else: no
# router, no pods (pod IPs are only set members here). Own prefix mlat-, so it can run next to
# the lab (megl-). Usage: mlat-net.sh up [nodes, default 3] | down. Needs root and iproute2.
#
#   namespace      interface   IPv4             IPv6           role
#   (host)         mlat-host   10.231.0.1/24    fd31::1/64     API server, controller
#   mlat-lan       mlat-br     -                -              the L2 segment (bridge)
#   mlat-node-N    eth0        10.231.0.1N/24   fd31::1N/64    node-N, default routes via the host
set -Eeuo pipefail

die() { echo "mlat-net: $*" >&2; exit 1; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

up() {
  local nodes=${1:-3} n
  [[ "$nodes" =~ ^[1-9]$ ]] || die "nodes must be 1..9, got '$nodes'"
  down
  trap 'echo "mlat-net: up failed: tearing down" >&2; down; exit 1' ERR INT TERM
  ip netns add mlat-lan
  nsx mlat-lan ip link add mlat-br type bridge
  nsx mlat-lan ip link set mlat-br up
  ip link add mlat-host type veth peer name host netns mlat-lan
  nsx mlat-lan ip link set host master mlat-br up
  ip addr add 10.231.0.1/24 dev mlat-host
  ip -6 addr add fd31::1/64 dev mlat-host nodad
  ip link set mlat-host up
  for n in $(seq "$nodes"); do
    local ns=mlat-node-$n
    ip netns add "$ns"
    nsx "$ns" ip link set lo up
    nsx "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
      net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    ip link add "mlat-n$n" type veth peer name eth0 netns "$ns"
    ip link set "mlat-n$n" netns mlat-lan
    nsx mlat-lan ip link set "mlat-n$n" master mlat-br up
    nsx "$ns" ip link set eth0 address "02:31:00:00:00:1$n" up
    nsx "$ns" ip addr add "10.231.0.1$n/24" dev eth0
    nsx "$ns" ip -6 addr add "fd31::1$n/64" dev eth0 nodad
    nsx "$ns" ip route add default via 10.231.0.1
    nsx "$ns" ip -6 route add default via fd31::1
  done
  trap - ERR INT TERM
}

down() {
  local ns
  for ns in $(ip netns list | awk '{print $1}' | grep '^mlat-' || true); do
    local pids
    pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ' || true)
    [ -n "${pids// /}" ] && kill -9 $pids 2>/dev/null || true
    ip netns del "$ns"
  done
  ip link del mlat-host 2>/dev/null || true
}

[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  *) die "usage: mlat-net.sh up [nodes] | down" ;;
esac
