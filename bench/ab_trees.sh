#!/bin/bash
# Interleaved wrk rounds of the peer bench's load against gunicorns served from several trees
# (checkouts or worktrees), side by side: what a change bought, on a machine too noisy to
# compare two separate runs. Run ../shared/bench/peer/run once first: its data and loads are used.
#
#   bench/ab_trees.sh ROUNDS SECONDS TREE[|GUNICORN ARGS] ...
#   bench/ab_trees.sh 4 10 /tmp/before . ".|-k sync"      # CONNS="64 16" by default
#
# Env: PEER_TMP (/tmp/peer), REDIS_PORT (a redis-server this script starts), CONNS, PYTHON_BIN
# (the venv's bin with gunicorn, default .venv/bin). Prints one line per round: connections,
# round, tree, wrk's RESULT (and its WRONG samples), and the web CPU ms per hop.
set -u
ROUNDS=$1; SECS=$2; shift 2
PEER_TMP=${PEER_TMP:-/tmp/peer}; BIN=${PYTHON_BIN:-$(pwd)/.venv/bin}
RUN=$(ls -td "$PEER_TMP"/run.*/ | head -1); LOADS=$RUN/loads
CPUTIME=$(cd "$(dirname "$0")/../../shared/bench/peer/lib/peer" 2>/dev/null && pwd)/cputime.py
TMP=$(mktemp -d); RP=${REDIS_PORT:-$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')}
redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes --pidfile "$TMP/redis.pid" >/dev/null
declare -A PORT PID
i=0
for spec in "$@"; do
  root=${spec%%|*}; extra=""; [[ $spec == *"|"* ]] && extra=${spec#*|}
  i=$((i+1)); cp "$RUN/db.sqlite3" "$TMP/db$i.sqlite3"
  p=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  # shellcheck disable=SC2086
  (cd "$root" && MIJUNTOS_ENV=development DATABASE_URL=sqlite:///$TMP/db$i.sqlite3 REDIS_URL=redis://127.0.0.1:$RP/0 \
     exec "$BIN/gunicorn" -b 127.0.0.1:$p -w 2 --control-socket "$TMP/g$i.ctl" $extra wsgi:app >"$TMP/g$i.log" 2>&1) &
  PID[$spec]=$!; PORT[$spec]=$p
done
for spec in "$@"; do
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:${PORT[$spec]}/ussd" -d x=1 && break; sleep 0.2; done
  wrk -t16 -c16 -d3s -s "$LOADS/load.lua" "http://127.0.0.1:${PORT[$spec]}" >/dev/null 2>&1
done
for c in ${CONNS:-64 16}; do for r in $(seq 1 "$ROUNDS"); do for spec in "$@"; do
  redis-cli -p "$RP" flushall >/dev/null
  b=$(python3 "$CPUTIME" "${PID[$spec]}")
  out=$(wrk -t"$c" -c"$c" -d"$SECS"s --latency -s "$LOADS/load.lua" "http://127.0.0.1:${PORT[$spec]}" 2>&1 | grep -E "RESULT|WRONG" | tr "\n" " ")
  a=$(python3 "$CPUTIME" "${PID[$spec]}")
  req=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$out")
  echo "$c $r $spec ${out} web_ms=$(awk -v a="$a" -v b="$b" -v n="${req:-1}" 'BEGIN{printf "%.3f", (a-b)*1000/n}')"
done; done; done
for spec in "$@"; do kill "${PID[$spec]}"; done; wait 2>/dev/null
kill "$(cat "$TMP/redis.pid")"; rm -rf "$TMP"
