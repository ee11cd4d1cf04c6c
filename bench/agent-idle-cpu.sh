#!/usr/bin/env bash
# Idle CPU of the agent on a busy node, canary detection time and full-resync time.
#
# One throwaway namespace (megB-cpu-*) holding kube-proxy's iptables-mode ruleset for SERVICES
# Services in both families (KubeProxyRuleset, iptables-nft, restored in chunks of 2,000), the
# lab's mock API server with an EgressPlan of ENTRIES entries (bench/lib.sh's, as agent-rss.sh:
# roles cycling Gateway / Reject / Forward, 20 IPv4 + 20 IPv6 sources each), then the agent with the
# DaemonSet's JAVA_TOOL_OPTIONS and FIREWALL_BACKEND=BACKEND. After the first full sync and a
# settle period, it reads utime+stime+cutime+cstime of the JVM from /proc/PID/stat (the JVM waits
# for every iptables/ipset/ip/nft child, so their CPU is in cutime/cstime), plus utime+stime of the
# children still running (the agent's xtables-monitor), at the start and end of the window: CPU % of one core = delta / window. The window contains whatever periodic full
# resyncs RECONCILIATION_INTERVAL (default 5m) brings. Then it flushes one of the agent's chains
# (iptables: METALEG-MARK; nftables: chain postrouting) and reports the time until the canary's
# log line and the duration of the full resync it triggers.
#
# usage: sudo bench/agent-idle-cpu.sh [--window SECONDS] [--backend iptables|nftables|both]
#        [--services N] [--entries N]                  (defaults: 600 s, both, 10000, 1000)
# env:   AGENT_JAR=...  LAB_JAR=...  SETTLE_SECONDS=30  LOG_DIR=dir (keeps the agent logs)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WINDOW=600
BACKENDS=(iptables nftables)
SERVICES=10000
ENTRIES=1000
SETTLE_SECONDS=${SETTLE_SECONDS:-30}
LOG_DIR=${LOG_DIR:-}
while (($#)); do
  case $1 in
    --window) WINDOW=$2; shift 2 ;;
    --backend) [[ $2 == both ]] && BACKENDS=(iptables nftables) || BACKENDS=("$2"); shift 2 ;;
    --services) SERVICES=$2; shift 2 ;;
    --entries) ENTRIES=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
AGENT_JAR=${AGENT_JAR:-$ROOT/node-agent/target/metaleg-node-agent.jar}
AGENT_TEST_CLASSES=${AGENT_TEST_CLASSES:-$ROOT/node-agent/target/test-classes} # KubeProxyRuleset
LAB_JAR=${LAB_JAR:-$ROOT/lab/target/metaleg-lab.jar}
for jar in "$AGENT_JAR" "$LAB_JAR" "$AGENT_TEST_CLASSES"; do
  [[ -e $jar ]] || { echo "missing $jar (mvn -B -pl node-agent,lab -am package -DskipTests)" >&2; exit 1; }
done
[[ $(id -u) == 0 ]] || { echo "needs root (network namespaces)" >&2; exit 1; }
source "$ROOT/bench/lib.sh"
AGENT_OPTS=$(daemonset_java_options)
[[ -n $AGENT_OPTS ]] || { echo "no JAVA_TOOL_OPTIONS in config/agent/daemonset.yaml" >&2; exit 1; }

NODE=bench-node
WORK=$(mktemp -d /tmp/megB-cpu.XXXXXX)
trap 'cleanup; [[ -n $LOG_DIR ]] && cp "$WORK"/*.log "$LOG_DIR"/ 2>/dev/null; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
ticks() { # "self children": utime+stime, and cutime+cstime plus the CPU of live children, in clock ticks
  local live=0 c
  for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do # e.g. the long-running xtables-monitor
    live=$((live + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$c/stat" 2>/dev/null || echo 0)))
  done
  awk -v live="$live" '{ sub(/^.*\) /, ""); print $12 + $13, $14 + $15 + live }' "/proc/$1/stat"
}
HZ=$(getconf CLK_TCK)

kube_proxy() { # the ruleset, both families, chunked (iptables-nft restore time grows fast)
  local fam pre n k
  for fam in 4 6; do
    pre=$([[ $fam == 6 ]] && echo ip6 || echo ip)
    n=$(java -cp "$AGENT_JAR:$AGENT_TEST_CLASSES" de.metaleg.agent.bench.KubeProxyRuleset iptables $fam "$SERVICES")
    for ((k = 0; k < n; k++)); do
      java -cp "$AGENT_JAR:$AGENT_TEST_CLASSES" de.metaleg.agent.bench.KubeProxyRuleset iptables $fam "$SERVICES" $k |
        in_ns "${pre}tables-nft-restore" -w --noflush
    done
  done
}

measure() { # backend
  local backend=$1
  make_ns "megB-cpu-$$-$backend"
  local t0
  t0=$(now_ms)
  kube_proxy
  echo "$backend: kube-proxy ruleset for $SERVICES Services loaded in $((($(now_ms) - t0) / 1000)) s:" \
    "$(in_ns iptables-nft-save 2>/dev/null | grep -c '^-A') IPv4 rules," \
    "$(in_ns ip6tables-nft-save 2>/dev/null | grep -c '^-A') IPv6 rules"

  start_api_with_plan "$ENTRIES" "$WORK/api-$backend.log" || return 1

  local log=$WORK/agent-$backend.log
  : >"$log"
  ip netns exec "$NS" env NODE_NAME=$NODE KUBECONFIG="$WORK/kubeconfig" \
    FIREWALL_BACKEND="$backend" JAVA_TOOL_OPTIONS="$AGENT_OPTS" \
    java -jar "$AGENT_JAR" >"$log" 2>&1 &
  AGENT_PID=$!
  t0=$(now_ms)
  until grep -q "full sync of generation" "$log"; do
    kill -0 "$AGENT_PID" 2>/dev/null || { tail -5 "$log" >&2; return 1; }
    (($(now_ms) - t0 < 180000)) || { echo "no sync within 180 s" >&2; tail -5 "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "$backend: first sync: $(grep -o 'full sync of generation.*took [0-9]* ms' "$log" | head -1 | grep -o 'took [0-9]* ms')"
  sleep "$SETTLE_SECONDS"
  local s0 k0 s1 k1 w0 w1 resyncs
  resyncs=$(grep -c "full sync of generation" "$log")
  kill -0 "$AGENT_PID" 2>/dev/null || { echo "$backend: agent exited:" >&2; tail -5 "$log" >&2; return 1; }
  read -r s0 k0 < <(ticks "$AGENT_PID")
  w0=$(now_ms)
  sleep "$WINDOW"
  kill -0 "$AGENT_PID" 2>/dev/null || { echo "$backend: agent exited:" >&2; tail -5 "$log" >&2; return 1; }
  read -r s1 k1 < <(ticks "$AGENT_PID")
  w1=$(now_ms)
  resyncs=$(($(grep -c "full sync of generation" "$log") - resyncs))
  awk -v s=$((s1 - s0)) -v k=$((k1 - k0)) -v hz="$HZ" -v w=$((w1 - w0)) -v b="$backend" -v r="$resyncs" 'BEGIN {
    printf "%s: idle CPU %.2f%% of one core (%.2f s CPU in %.0f s: JVM %.2f s, children %.2f s; %d full resyncs in the window)\n",
      b, 100 * (s + k) / hz / (w / 1000), (s + k) / hz, w / 1000, s / hz, k / hz, r }'
  echo "$backend: canary resyncs during the window: $(grep -c "canary: owned kernel state changed" "$log" || true)"

  # detection: flush one owned chain, wait for the canary's log line
  local before t1 took
  before=$(grep -c "canary: owned kernel state changed" "$log" || true)
  if [[ $backend == nftables ]]; then
    in_ns nft flush chain inet metaleg postrouting
  else
    in_ns iptables-nft -w -t mangle -F METALEG-MARK
  fi
  t0=$(now_ms)
  until (($(grep -c "canary: owned kernel state changed" "$log" || true) > before)); do
    (($(now_ms) - t0 < 60000)) || { echo "$backend: drift not detected within 60 s" >&2; return 1; }
    sleep 0.05
  done
  t1=$(now_ms)
  local n
  n=$(grep -c "full sync of generation" "$log")
  until (($(grep -c "full sync of generation" "$log") > n)); do sleep 0.05; done
  took=$(grep -o "full sync of generation.*took [0-9]* ms" "$log" | tail -1 | grep -o "took [0-9]* ms")
  echo "$backend: flushed chain detected after $((t1 - t0)) ms; the full resync it triggered $took"
  grep -E "WARN|ERROR" "$log" | grep -v -e VersionUsageUtils -e "canary: owned" | head -3 | cut -c1-300 |
    sed "s/^/$backend: agent log: /" || true
  cleanup
}

echo "agent: $AGENT_JAR; window ${WINDOW} s after ${SETTLE_SECONDS} s settle; $SERVICES Services; $ENTRIES entries"
echo "$(nproc) cores, $(java -version 2>&1 | head -1), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for b in "${BACKENDS[@]}"; do
  measure "$b"
  cleanup
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
