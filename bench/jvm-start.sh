#!/usr/bin/env bash
# JVM spawn -> a start-up log line, for comparing JVM options (e.g. a CDS archive) without a
# cluster: the component runs against an unreachable API server (127.0.0.1:9) in a private network
# namespace (unshare -n, so nothing is left behind and no kernel state is touched), is stopped with
# SIGTERM once the line appears, and the milliseconds are printed.
#
# usage: bench/jvm-start.sh controller|agent JAR [JVM OPTIONS...]
#   controller: until "Starting 'egressplan' controller" (config, client and JOSDK loaded, the
#               informers about to list)
#   agent:      until its first "watch of EgressPlan ... failed" (includes the fabric8 client's
#               fixed ~20 s of connection retries, the same for every option set: compare
#               differences, not absolute values)
# Make an archive: bench/jvm-start.sh controller JAR -XX:ArchiveClassesAtExit=/tmp/c.jsa
# Use it:          bench/jvm-start.sh controller JAR -XX:SharedArchiveFile=/tmp/c.jsa
set -euo pipefail
component=$1 jar=$2
shift 2
case $component in
  controller) marker="Starting 'egressplan' controller" ;;
  agent) marker="watch of EgressPlan" ;;
  *) echo "usage: $0 controller|agent JAR [JVM OPTIONS...]" >&2; exit 2 ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/kubeconfig" <<'KC'
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "http://127.0.0.1:9"}}]
users: [{name: none, user: {}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
KC
start=$(date +%s%N)
KUBECONFIG=$work/kubeconfig NODE_NAME=bench METRICS_BIND_ADDRESS=0 HEALTH_PROBE_BIND_ADDRESS=0 \
  unshare -n java "$@" -jar "$jar" >"$work/log" 2>&1 &
pid=$!
until grep -q "$marker" "$work/log"; do
  kill -0 $pid 2>/dev/null || { echo "exited before \"$marker\":" >&2; tail -5 "$work/log" >&2; exit 1; }
  sleep 0.02
done
end=$(date +%s%N)
kill $pid
wait $pid 2>/dev/null || true
echo $(((end - start) / 1000000))
