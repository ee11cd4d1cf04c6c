# Shared by bench/agent-rss.sh and bench/agent-idle-cpu.sh (sourced, not run): one throwaway
# network namespace ($NS) with a veth to the gateways' subnet, the lab's mock API server inside it
# ($API_PID) holding one EgressPlan for $NODE, and the real agent ($AGENT_PID). The caller sets
# ROOT, NODE and WORK, and the traps that call cleanup.

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

in_ns() { ip netns exec "$NS" "$@"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# The DaemonSet's JAVA_TOOL_OPTIONS, so the benchmarks measure what runs in the cluster.
daemonset_java_options() {
  sed -n '/name: JAVA_TOOL_OPTIONS/{n;s/.*value: "\(.*\)"/\1/p}' "$ROOT/config/agent/daemonset.yaml"
}

# The EgressPlan for $NODE: roles cycling Gateway / Reject / Forward, 20 IPv4 + 20 IPv6 source IPs
# each, Forward entries over 10 gateway nodes.
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

# Creates $NS with lo up, DAD off and lan0 (192.0.2.254/24, 2001:db8::fe/64), a veth whose peer
# stays in the namespace, so the gateways' subnet is on-link.
make_ns() { # name
  NS=$1
  ip netns add "$NS"
  in_ns sh -c 'ip link set lo up &&
    sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 &&
    ip link add lan0 type veth peer name lan1 && ip link set lan0 up && ip link set lan1 up &&
    ip addr add 192.0.2.254/24 dev lan0 && ip addr add 2001:db8::fe/64 dev lan0 nodad'
}

# Starts the lab's API server on 127.0.0.1:6443 in $NS (kubeconfig in $WORK/kubeconfig), waits
# until it listens and stores the plan of ENTRIES entries.
start_api_with_plan() { # entries log
  # ip netns exec and env exec the JVM, so $! is the JVM's pid (a shell function would fork)
  ip netns exec "$NS" java -Xmx512m -jar "$LAB_JAR" --address 127.0.0.1 --port 6443 \
    --kubeconfig "$WORK/kubeconfig" >"$2" 2>&1 &
  API_PID=$!
  for _ in $(seq 300); do grep -qs listening "$2" && break; sleep 0.1; done
  grep -q listening "$2" || { cat "$2" >&2; return 1; }
  plan_json "$1" >"$WORK/plan-$1.json"
  in_ns curl -sf -o /dev/null -H 'Content-Type: application/json' \
    --data-binary "@$WORK/plan-$1.json" http://127.0.0.1:6443/apis/metaleg.de/v1alpha1/egressplans
}
