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

source "$ROOT/bench/lib.sh"
AGENT_OPTS=${JAVA_TOOL_OPTIONS_OVERRIDE:-$(daemonset_java_options)}
[[ -n $AGENT_OPTS ]] || { echo "no JAVA_TOOL_OPTIONS in config/agent/daemonset.yaml" >&2; exit 1; }

NODE=bench-node
WORK=$(mktemp -d /tmp/megB-rss.XXXXXX)
trap 'cleanup; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

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

measure() { # entries
  local n=$1
  make_ns "megB-rss-$$-$n"
  start_api_with_plan "$n" "$WORK/api-$n.log" || return 1

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
