#!/usr/bin/env bash
# MetalEG lab topology: network namespaces that make a three-node "cluster" on one L2 segment.
# Usage: lab-net.sh up|down|status|plan|announce <node-N|none> [lb-ip...]|counters [reset]
#        |cut node-N|uncut|conntrack
# Needs root, iproute2, iptables, nftables, python3 (no socat). Idempotent: "up" rebuilds a running lab,
# "down" removes everything with the megl- prefix, also after an interrupted run.
#
# IP plan (documentation and private ranges only; nothing leaves the lab's namespaces):
#   namespace      interface  IPv4            IPv6               role
#   megl-lan       megl-br    -               -                  the L2 segment (bridge)
#   megl-router    eth0       10.89.0.1/24    fd89::1/64         LAN router / "internet"
#                  lo         203.0.113.10    2001:db8:203::10   external host (echo :8080; long-lived
#                                                                flows echo :8081 tcp+udp, flows.py)
#                  lo         192.168.77.10   fd77::10           host in an excluded range (echo :8080)
#   megl-cp        eth0       10.89.0.2/24    fd89::2/64         API server :6443, controller
#   megl-node-N    eth0       10.89.0.1N/24   fd89::1N/64        node-N (N=1..3), MAC 02:89:00:00:00:1N
#                  cni0       10.244.N.1/24   fd44:0:0:N::1/64   pod bridge; pod CIDRs routed via node IPs
#   megl-pod-1a    eth0       10.244.1.10     fd44:0:0:1::10     endpoint pod on node-1
#   megl-pod-1b    eth0       10.244.1.11     fd44:0:0:1::11     pod on node-1 that is NO endpoint
#   megl-pod-2a    eth0       10.244.2.10     fd44:0:0:2::10     endpoint pod on node-2
#   megl-pod-3a    eth0       10.244.3.10     fd44:0:0:3::10     endpoint pod on node-3
#   cluster CIDR 10.244.0.0/16, fd44::/48: every node masquerades pod traffic leaving it (CNI-style).
#   LB IPs 198.51.100.0/24, 2001:db8:51::/64 (the Service uses .10 / ::10): on-link on the router's
#   eth0 with a permanent neighbour entry to the announcing node's MAC (MetalLB's gratuitous ARP/NA).
#   The router counts packets arriving for the external/excluded hosts per source range (nft
#   table inet megl_count) so tests can prove that nothing leaks. Port 8081 (tcp+udp) is only used
#   by the endpoint pods' long-lived flows and fresh connects (flows.py), so a node source there
#   (flow_nN_*) is a leak too, while pod 1b's node-1 source on :8080 is legitimate (from_node_*).
#   Exception: TCP RSTs a node's own stack sends from its address (flow_rst_nN_*, see below).
#   Any pod source (from_pod_*, any port) is always a leak: every node masquerades.
#   "cut node-N" drops the node's frames in megl-lan (table bridge megl_cut): a hard node failure.
#   Host side: 127.0.0.1:16443 forwards into megl-cp 10.89.0.2:6443 (forward.py) for kubectl/curl/tests.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN=/run/megl-lab
NODES=(1 2 3)
PODS=(1a 1b 2a 3a)
LB_V4_NET=198.51.100.0/24
LB_V6_NET=2001:db8:51::/64
LB_IPS=(198.51.100.10 2001:db8:51::10)
EXT_IPS=(203.0.113.10 2001:db8:203::10 192.168.77.10 fd77::10)
ECHO_PORT=8080
FLOW_PORT=8081
API_FORWARD_PORT=16443

node_v4() { echo "10.89.0.1$1"; }
node_v6() { echo "fd89::1$1"; }
node_mac() { echo "02:89:00:00:00:1$1"; }
pod_host() { if [ "${1:1:1}" = a ]; then echo 10; else echo 11; fi; } # pod 1a -> .10, 1b -> .11
pod_v4() { echo "10.244.${1:0:1}.$(pod_host "$1")"; }
pod_v6() { echo "fd44:0:0:${1:0:1}::$(pod_host "$1")"; }

die() { echo "lab-net: $*" >&2; exit 1; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

plan() {
  # Machine-readable plan (the Java lab and the demo read it, LabPlanTest checks it).
  echo "router.ns=megl-router"
  echo "cp.ns=megl-cp cp.ipv4=10.89.0.2 cp.ipv6=fd89::2 api.port=6443 api.hostPort=$API_FORWARD_PORT"
  for n in "${NODES[@]}"; do
    echo "node.$n.ns=megl-node-$n node.$n.name=node-$n node.$n.ipv4=$(node_v4 "$n") node.$n.ipv6=$(node_v6 "$n") node.$n.mac=$(node_mac "$n")"
  done
  for p in "${PODS[@]}"; do
    echo "pod.$p.ns=megl-pod-$p pod.$p.node=node-${p:0:1} pod.$p.ipv4=$(pod_v4 "$p") pod.$p.ipv6=$(pod_v6 "$p")"
  done
  echo "external.ipv4=${EXT_IPS[0]} external.ipv6=${EXT_IPS[1]} excluded.ipv4=${EXT_IPS[2]} excluded.ipv6=${EXT_IPS[3]} echo.port=$ECHO_PORT flow.port=$FLOW_PORT"
  echo "lb.ipv4=${LB_IPS[0]} lb.ipv6=${LB_IPS[1]}"
}

sysctls() { # ns: routing on, no DAD, no redirects, no reverse-path filter
  nsx "$1" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
    net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
    net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0 \
    net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
}

new_ns() { ip netns add "$1"; nsx "$1" ip link set lo up; sysctls "$1"; }

attach_lan() { # ns short-name [mac]: veth from ns eth0 into the bridge
  local ns=$1 short=$2 mac=${3:-}
  ip link add "megl-$short" type veth peer name eth0 netns "$ns"
  ip link set "megl-$short" netns megl-lan
  nsx megl-lan ip link set "megl-$short" master megl-br up
  [ -n "$mac" ] && nsx "$ns" ip link set eth0 address "$mac"
  nsx "$ns" ip link set eth0 up
}

addr() { # ns dev v4/len v6/len
  nsx "$1" ip addr add "$3" dev "$2"
  nsx "$1" ip -6 addr add "$4" dev "$2" nodad
}

up() {
  down quiet
  # A failed or interrupted "up" leaves nothing behind.
  trap 'echo "lab-net: up failed or interrupted: tearing down" >&2; down quiet; exit 1' ERR INT TERM
  mkdir -p "$RUN"
  new_ns megl-lan
  nsx megl-lan ip link add megl-br type bridge
  nsx megl-lan ip link set megl-br up

  # Router and the "internet" behind it.
  new_ns megl-router
  attach_lan megl-router router
  addr megl-router eth0 10.89.0.1/24 fd89::1/64
  # Host addresses on the router's loopback (this kernel has no dummy interfaces).
  addr megl-router lo "${EXT_IPS[0]}/32" "${EXT_IPS[1]}/128"
  addr megl-router lo "${EXT_IPS[2]}/32" "${EXT_IPS[3]}/128"
  nsx megl-router ip route add "$LB_V4_NET" dev eth0
  nsx megl-router ip -6 route add "$LB_V6_NET" dev eth0
  nsx megl-router ip route add 10.244.0.0/16 via 10.89.0.11 # only for replies to leaked packets
  local flow_counters="" flow_rules="" n
  for n in "${NODES[@]}"; do
    flow_counters+="  counter flow_n${n}_v4 {}
  counter flow_n${n}_v6 {}
  counter flow_rst_n${n}_v4 {}
  counter flow_rst_n${n}_v6 {}
"
    # A node's own TCP stack answers a segment for a tuple it no longer tracks (the masquerade
    # entry of a flow that is no longer the node's to masquerade was deleted) with a RST from its
    # address: no pod packet, counted apart (flow_rst_*) and not a leak.
    flow_rules+="    ip daddr ${EXT_IPS[0]} udp dport $FLOW_PORT ip saddr $(node_v4 "$n") counter name flow_n${n}_v4
    ip daddr ${EXT_IPS[0]} tcp dport $FLOW_PORT tcp flags & rst == 0 ip saddr $(node_v4 "$n") counter name flow_n${n}_v4
    ip daddr ${EXT_IPS[0]} tcp dport $FLOW_PORT tcp flags & rst != 0 ip saddr $(node_v4 "$n") counter name flow_rst_n${n}_v4
    ip6 daddr ${EXT_IPS[1]} udp dport $FLOW_PORT ip6 saddr $(node_v6 "$n") counter name flow_n${n}_v6
    ip6 daddr ${EXT_IPS[1]} tcp dport $FLOW_PORT tcp flags & rst == 0 ip6 saddr $(node_v6 "$n") counter name flow_n${n}_v6
    ip6 daddr ${EXT_IPS[1]} tcp dport $FLOW_PORT tcp flags & rst != 0 ip6 saddr $(node_v6 "$n") counter name flow_rst_n${n}_v6
"
  done
  nsx megl-router nft -f - <<NFT
table inet megl_count {
  counter flow_lb_v4 {}
  counter flow_lb_v6 {}
  counter flow_pod_v4 {}
  counter flow_pod_v6 {}
$flow_counters  counter from_node_v4 {}
  counter from_node_v6 {}
  counter from_pod_v4 {}
  counter from_pod_v6 {}
  counter from_lb_v4 {}
  counter from_lb_v6 {}
  chain pre {
    type filter hook prerouting priority -300; policy accept;
    ip daddr ${EXT_IPS[0]} ip saddr 10.89.0.0/24 counter name from_node_v4
    ip daddr ${EXT_IPS[0]} ip saddr 10.244.0.0/16 counter name from_pod_v4
    ip daddr ${EXT_IPS[0]} ip saddr $LB_V4_NET counter name from_lb_v4
    ip6 daddr ${EXT_IPS[1]} ip6 saddr fd89::/64 counter name from_node_v6
    ip6 daddr ${EXT_IPS[1]} ip6 saddr fd44::/48 counter name from_pod_v6
    ip6 daddr ${EXT_IPS[1]} ip6 saddr $LB_V6_NET counter name from_lb_v6
    ip daddr ${EXT_IPS[0]} meta l4proto { tcp, udp } th dport $FLOW_PORT ip saddr $LB_V4_NET counter name flow_lb_v4
    ip6 daddr ${EXT_IPS[1]} meta l4proto { tcp, udp } th dport $FLOW_PORT ip6 saddr $LB_V6_NET counter name flow_lb_v6
    ip daddr ${EXT_IPS[0]} meta l4proto { tcp, udp } th dport $FLOW_PORT ip saddr 10.244.0.0/16 counter name flow_pod_v4
    ip6 daddr ${EXT_IPS[1]} meta l4proto { tcp, udp } th dport $FLOW_PORT ip6 saddr fd44::/48 counter name flow_pod_v6
$flow_rules  }
}
NFT
  nsx megl-router setsid python3 "$HERE/echo-source.py" "$ECHO_PORT" "${EXT_IPS[@]}" --flow-port "$FLOW_PORT" \
    >"$RUN/echo.log" 2>&1 </dev/null &
  echo $! >"$RUN/echo.pid"

  # Control plane.
  new_ns megl-cp
  attach_lan megl-cp cp
  addr megl-cp eth0 10.89.0.2/24 fd89::2/64

  # Nodes and their pods.
  for n in "${NODES[@]}"; do
    local ns=megl-node-$n
    new_ns "$ns"
    attach_lan "$ns" "node$n" "$(node_mac "$n")"
    addr "$ns" eth0 "$(node_v4 "$n")/24" "$(node_v6 "$n")/64"
    nsx "$ns" ip route add default via 10.89.0.1
    nsx "$ns" ip -6 route add default via fd89::1
    nsx "$ns" ip link add cni0 type bridge
    nsx "$ns" ip link set cni0 up
    addr "$ns" cni0 "10.244.$n.1/24" "fd44:0:0:$n::1/64"
    for m in "${NODES[@]}"; do
      [ "$m" = "$n" ] && continue
      nsx "$ns" ip route add "10.244.$m.0/24" via "$(node_v4 "$m")"
      nsx "$ns" ip -6 route add "fd44:0:0:$m::/64" via "$(node_v6 "$m")"
    done
    # What a CNI (kube-router, flannel) does: masquerade pod traffic leaving the cluster.
    nsx "$ns" iptables -t nat -A POSTROUTING -s "10.244.$n.0/24" ! -d 10.244.0.0/16 -j MASQUERADE
    nsx "$ns" ip6tables -t nat -A POSTROUTING -s "fd44:0:0:$n::/64" ! -d fd44::/48 -j MASQUERADE
  done
  for p in "${PODS[@]}"; do
    local n=${p:0:1} pns=megl-pod-$p
    new_ns "$pns"
    nsx "megl-node-$n" ip link add "veth$p" type veth peer name eth0 netns "$pns"
    nsx "megl-node-$n" ip link set "veth$p" master cni0 up
    nsx "$pns" ip link set eth0 up
    addr "$pns" eth0 "$(pod_v4 "$p")/24" "$(pod_v6 "$p")/64"
    nsx "$pns" ip route add default via "10.244.$n.1"
    nsx "$pns" ip -6 route add default via "fd44:0:0:$n::1"
  done

  # Host-side port forward to the API server (like kubectl port-forward), for tests and kubectl.
  setsid python3 "$HERE/forward.py" 127.0.0.1 "$API_FORWARD_PORT" megl-cp 10.89.0.2 6443 \
    >"$RUN/forward.log" 2>&1 </dev/null &
  echo $! >"$RUN/forward.pid"

  wait_echo
  trap - ERR INT TERM
  echo "lab-net: up (namespaces: $(ip netns list | grep -c '^megl-'))"
}

wait_echo() {
  for _ in $(seq 50); do
    if nsx megl-router python3 "$HERE/probe.py" "${EXT_IPS[0]}" "$ECHO_PORT" --timeout 0.5 >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  die "echo server in megl-router did not start: $(cat "$RUN/echo.log")"
}

kill_pidfile() {
  local f=$1
  [ -f "$f" ] || return 0
  local pid
  pid=$(cat "$f")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

down() {
  kill_pidfile "$RUN/forward.pid"
  kill_pidfile "$RUN/echo.pid"
  local ns pids=""
  for ns in $(ip netns list | awk '{print $1}' | grep '^megl-' || true); do
    # Processes still inside a lab namespace (agents, servers, an interrupted run's leftovers).
    pids="$pids $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ' || true)"
  done
  if [ -n "${pids// /}" ]; then
    kill $pids 2>/dev/null || true
    local alive p
    for _ in $(seq 100); do # up to 10 s for a clean shutdown, then SIGKILL
      alive=""
      for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
      [ -z "$alive" ] && break
      sleep 0.1
    done
    for p in $alive; do kill -9 "$p" 2>/dev/null || true; done
  fi
  for ns in $(ip netns list | awk '{print $1}' | grep '^megl-' || true); do
    ip netns del "$ns"
  done
  # veth ends that were created in this namespace and never moved (interrupted "up").
  for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^megl-' || true); do
    ip link del "$l" 2>/dev/null || true
  done
  [ "${1:-}" = quiet ] || echo "lab-net: down"
}

status() {
  local list
  list=$(ip netns list | awk '{print $1}' | grep '^megl-' | sort || true)
  if [ -z "$list" ]; then echo "lab-net: not running"; return 1; fi
  echo "lab-net: namespaces: $(echo "$list" | tr '\n' ' ')"
  echo "lab-net: LB neighbour entries on the router:"
  nsx megl-router ip neigh show dev eth0 nud permanent | sed 's/^/  /'
  for f in echo forward; do
    if [ -f "$RUN/$f.pid" ] && kill -0 "$(cat "$RUN/$f.pid")" 2>/dev/null; then
      echo "lab-net: $f running (pid $(cat "$RUN/$f.pid"))"
    else
      echo "lab-net: $f NOT running"
    fi
  done
}

announce() { # node-N|none [ip...]: what MetalLB's gratuitous ARP/NA does to the router's cache
  local node=$1; shift
  local ips=("$@")
  [ ${#ips[@]} -gt 0 ] || ips=("${LB_IPS[@]}")
  local ip
  for ip in "${ips[@]}"; do
    if [ "$node" = none ]; then
      nsx megl-router ip neigh del "$ip" dev eth0 2>/dev/null || true
    else
      [[ "$node" =~ ^node-([123])$ ]] || die "announce: unknown node '$node' (node-1..3 or none)"
      nsx megl-router ip neigh replace "$ip" lladdr "$(node_mac "${BASH_REMATCH[1]}")" dev eth0 nud permanent
    fi
  done
}

cut_node() { # node-N: drop every frame from and to the node's LAN port (the node is unplugged)
  [[ "${1:-}" =~ ^node-([123])$ ]] || die "cut: unknown node '${1:-}' (node-1..3)"
  local port=megl-node${BASH_REMATCH[1]}
  nsx megl-lan nft -f - <<NFT
table bridge megl_cut {
  chain drop_ports {
    type filter hook forward priority 0; policy accept;
  }
}
NFT
  nsx megl-lan nft add rule bridge megl_cut drop_ports iifname "$port" drop
  nsx megl-lan nft add rule bridge megl_cut drop_ports oifname "$port" drop
}

uncut_all() { # every cut node is plugged in again
  nsx megl-lan nft delete table bridge megl_cut 2>/dev/null || true
}

conntrack_dump() { # every node's conntrack table and policy routing (for failure reports)
  local n
  for n in "${NODES[@]}"; do
    echo "--- conntrack -L megl-node-$n"
    local all
    all=$(nsx "megl-node-$n" conntrack -L 2>&1 | grep -v 'conntrack v.*flow entries' || true)
    echo "$all" | grep -v TIME_WAIT || true
    echo "($(echo "$all" | grep -c TIME_WAIT) entries in TIME_WAIT not shown)"
    echo "--- policy routing megl-node-$n (MetalEG's rules and tables)"
    nsx "megl-node-$n" sh -c 'ip -4 rule; ip -6 rule; ip -4 route show table all; ip -6 route show table all' 2>&1 |
      grep -E 'fwmark|table 1[0-9]{5}' || true
  done
}

counters() {
  if [ "${1:-}" = reset ]; then
    nsx megl-router nft reset counters table inet megl_count >/dev/null
  fi
  nsx megl-router nft list counters table inet megl_count |
    awk '/counter /{name=$2} /packets/{for(i=1;i<=NF;i++) if($i=="packets") print name, $(i+1)}'
}

[ "${1:-}" = plan ] || [ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  plan) plan ;;
  announce) shift; [ $# -ge 1 ] || die "usage: announce node-N|none [ip...]"; announce "$@" ;;
  counters) shift; counters "$@" ;;
  cut) shift; cut_node "$@" ;;
  uncut) uncut_all ;;
  conntrack) conntrack_dump ;;
  *) die "usage: lab-net.sh up|down|status|plan|announce <node-N|none> [ip...]|counters [reset]|cut node-N|uncut|conntrack" ;;
esac
