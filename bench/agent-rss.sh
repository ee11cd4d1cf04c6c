#!/usr/bin/env bash
# Agent memory and start-up with the DaemonSet's JVM options.
#
# For each plan size: a throwaway network namespace (megB-rss-*) with a veth to the gateways'
# subnet, the lab's mock API server (metaleg-lab.jar) on 127.0.0.1:6443 inside it holding one
# EgressPlan of N entries (roles cycling Forward / Gateway / Reject, 20 IPv4 + 20 IPv6 source
# IPs each, Forward entries over 10 gateway nodes), then the real agent jar started with
# JAVA_TOOL_OPTIONS taken from config/agent/daemonset.yaml. Prints the time from process start to
# the first successful sync (its "full sync of generation" log line; /readyz and the plan's Ready
# condition are checked afterwards), RSS right after the first sync, RSS and peak RSS (VmHWM)
# after IDLE_SECONDS idle, and the JVM's heap/metaspace/code-cache view (jcmd) at the end.
#
# usage: sudo bench/agent-rss.sh [ENTRIES...]          (default: 100 1000 5000)
# env:   IDLE_SECONDS=180  AGENT_JAR=...  LAB_JAR=...  JAVA_TOOL_OPTIONS_OVERRIDE="..."
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
IDLE_SECONDS=${IDLE_SECONDS:-180}
AGENT_JAR=${AGENT_JAR:-$ROOT/node-agent/target/metaleg-node-agent.jar}
if [[ ! -f $AGENT_JAR ]]; then
  AGENT_JAR=$(ls ~/.m2/repository/de/metaleg/metaleg-node-agent/0.1.0-SNAPSHOT/metaleg-node-agent-0.1.0-SNAPSHOT*.jar 2>/dev/null | head -1 || true)
fi
LAB_JAR=${LAB_JAR:-$ROOT/lab/target/metaleg-lab.jar}
for jar in "$AGENT_JAR" "$LAB_JAR"; do
  [[ -f $jar ]] || { echo "missing $jar (mvn -pl node-agent,lab package -DskipTests)" >&2; exit 1; }
done
[[ $(id -u) == 0 ]] || { echo "needs root (network namespaces)" >&2; exit 1; }

# The DaemonSet's options, so this measures what runs in the cluster.
AGENT_OPTS=$(sed -n '/name: JAVA_TOOL_OPTIONS/{n;s/.*value: "\(.*\)"/\1/p}' "$ROOT/config/agent/daemonset.yaml")
AGENT_OPTS=${JAVA_TOOL_OPTIONS_OVERRIDE:-$AGENT_OPTS}
[[ -n $AGENT_OPTS ]] || { echo "no JAVA_TOOL_OPTIONS in config/agent/daemonset.yaml" >&2; exit 1; }

NODE=bench-node
WORK=$(mktemp -d /tmp/megB-rss.XXXXXX)
NS=""
AGENT_PID=""
API_PID=""

cleanup() {
  [[ -n $AGENT_PID ]] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null || true
  [[ -n $API_PID ]] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null || true
  AGENT_PID="" API_PID=""
  [[ -n $NS ]] && ip netns del "$NS" 2>/dev/null || true
  NS=""
}
trap 'cleanup; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

in_ns() { ip netns exec "$NS" "$@"; }
alive() { # pid log: fails with the agent's last log lines when it has exited
  kill -0 "$1" 2>/dev/null && return 0
  local rc=0
  wait "$1" || rc=$?
  AGENT_PID=""
  echo "agent exited with code $rc; last log lines:" >&2
  tail -5 "$2" >&2
  return 1
}
rss_mib() { awk -v k="$2:" '$1 == k { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

plan_json() { # entries
  python3 - "$1" "$NODE" <<'EOF'
import json, sys
n, node = int(sys.argv[1]), sys.argv[2]
entries = []
for i in range(n):
    role = ["Gateway", "Reject", "Forward"][i % 3]
    gw = i % 10 + 1
    k0 = i * 20
    e = {
        "service": f"bench/svc-{i}",
        "role": role,
        "sourceIPv4s": [f"10.{244 + (k >> 16)}.{(k >> 8) & 255}.{k & 255}" for k in range(k0, k0 + 20)],
        "sourceIPv6s": [f"fd00:10:244::{k >> 16:x}:{k & 0xffff:x}" for k in range(k0, k0 + 20)],
    }
    if role == "Forward":
        e.update(reason="AnnouncedByOtherNode", gatewayNode=f"gw-{gw}",
                 gatewayIPv4=f"192.0.2.{gw}", gatewayIPv6=f"2001:db8::{gw:x}")
    elif role == "Gateway":
        e.update(reason="AnnouncedByThisNode", gatewayNode=node,
                 snatIPv4=f"198.51.{100 + i // 250}.{i % 250 + 1}", snatIPv6=f"2001:db8:100::{i >> 16:x}:{i & 0xffff:x}")
    else:
        e.update(reason="NoAnnouncer")
    entries.append(e)
print(json.dumps({
    "apiVersion": "metaleg.de/v1alpha1", "kind": "EgressPlan",
    "metadata": {"name": node, "labels": {"metaleg.de/node": node}},
    "spec": {"nodeName": node, "entries": entries},
}))
EOF
}

measure() { # entries
  local n=$1
  NS=megB-rss-$$-$n
  ip netns add "$NS"
  in_ns sh -c 'ip link set lo up &&
    sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 &&
    ip link add lan0 type veth peer name lan1 && ip link set lan0 up && ip link set lan1 up &&
    ip addr add 192.0.2.254/24 dev lan0 && ip addr add 2001:db8::fe/64 dev lan0 nodad'

  # ip netns exec and env exec the JVM, so $! is the JVM's pid (a shell function would fork)
  ip netns exec "$NS" java -Xmx512m -jar "$LAB_JAR" --address 127.0.0.1 --port 6443 \
    --kubeconfig "$WORK/kubeconfig" >"$WORK/api-$n.log" 2>&1 &
  API_PID=$!
  for _ in $(seq 300); do grep -qs listening "$WORK/api-$n.log" && break; sleep 0.1; done
  grep -q listening "$WORK/api-$n.log" || { cat "$WORK/api-$n.log" >&2; return 1; }
  plan_json "$n" >"$WORK/plan-$n.json"
  in_ns curl -sf -o /dev/null -H 'Content-Type: application/json' \
    --data-binary "@$WORK/plan-$n.json" http://127.0.0.1:6443/apis/metaleg.de/v1alpha1/egressplans

  local log=$WORK/agent-$n.log t0 t1
  : >"$log"
  t0=$(now_ms)
  ip netns exec "$NS" env NODE_NAME=$NODE KUBECONFIG="$WORK/kubeconfig" JAVA_TOOL_OPTIONS="$AGENT_OPTS" \
    java -jar "$AGENT_JAR" >"$log" 2>&1 &
  AGENT_PID=$!
  until grep -q "full sync of generation" "$log"; do
    alive "$AGENT_PID" "$log" || return 1
    if grep -q "sync failed" "$log"; then cat "$log" >&2; return 1; fi
    (($(now_ms) - t0 < 60000)) || { echo "no sync within 60 s" >&2; cat "$log" >&2; return 1; }
    sleep 0.01
  done
  t1=$(now_ms)
  local ready rss_sync rss_idle hwm took
  took=$(grep -o "full sync of generation.*took [0-9]* ms" "$log" | head -1 | grep -o "took [0-9]* ms")
  ready=$(in_ns curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:21794/readyz)
  sleep 2 # let start-up threads settle before sampling
  alive "$AGENT_PID" "$log" || return 1
  rss_sync=$(rss_mib "$AGENT_PID" VmRSS)
  local cond
  cond=$(in_ns curl -sf "http://127.0.0.1:6443/apis/metaleg.de/v1alpha1/egressplans/$NODE" |
    python3 -c 'import json,sys; s=json.load(sys.stdin).get("status") or {}; print(",".join(c["type"]+"="+c["status"] for c in s.get("conditions",[])))')
  sleep "$IDLE_SECONDS"
  alive "$AGENT_PID" "$log" || return 1
  rss_idle=$(rss_mib "$AGENT_PID" VmRSS)
  hwm=$(rss_mib "$AGENT_PID" VmHWM)
  local heap
  heap=$(jcmd "$AGENT_PID" GC.heap_info 2>/dev/null | grep -E "def new generation|tenured generation|Metaspace" |
    sed -E 's/^ *//; s/ +/ /g; s/, reserved.*//; s/ total/ committed/' | paste -sd';' || true)
  printf '%5d entries: start to first sync %5d ms (agent sync %s), /readyz %s, plan status %s\n' \
    "$n" $((t1 - t0)) "${took#took }" "$ready" "$cond"
  printf '%5d entries: RSS after first sync %d MiB, after %d s idle %d MiB, peak %d MiB\n' \
    "$n" "$rss_sync" "$IDLE_SECONDS" "$rss_idle" "$hwm"
  printf '%5d entries: jcmd GC.heap_info: %s\n' "$n" "$heap"
  if [[ $AGENT_OPTS == *NativeMemoryTracking* ]]; then
    jcmd "$AGENT_PID" VM.native_memory summary | grep -E "^(Total|-)" |
      sed -E 's/ +/ /g; s/reserved=[0-9]+KB, //' | sed "s/^/$n entries: NMT /"
  fi
  grep -E "WARN|ERROR" "$log" | grep -v VersionUsageUtils | head -3 | cut -c1-300 | sed "s/^/$n entries: agent log: /" || true
  cleanup
}

echo "agent: $AGENT_JAR"
echo "JAVA_TOOL_OPTIONS: $AGENT_OPTS"
echo "$(nproc) cores, $(java -version 2>&1 | head -1), load average $(cut -d' ' -f1-3 /proc/loadavg)"
sizes=("$@")
((${#sizes[@]})) || sizes=(100 1000 5000)
failed=0
for n in "${sizes[@]}"; do
  measure "$n" || { echo "$n entries: FAILED" && failed=1; }
  cleanup
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $failed
