# Side-by-side benchmark harness: source it from a workload script (see README.md).
#
# A workload defines three functions and calls `bench_run NAME UNIT ANCHOR…`:
#   start_appnet   start our server with `bench_server appnet CMD…`, then wait until it answers
#   start_anchor   the same for the anchor program, `bench_server NAME CMD…`; with several
#                  anchors, one function per anchor instead: start_anchor_NAME (e.g.
#                  start_anchor_nsd, start_anchor_knot)
#   load           drive the server at $BENCH_TARGET for $BENCH_SECONDS s, pinned to $BENCH_LOAD_CPU;
#                  print "REQUESTS SECONDS" (requests completed, seconds taken) as its last line
# bench_run alternates appnet and the anchors for $BENCH_ROUNDS rounds (interleaved, so drift
# hits all), takes medians, and prints one line per anchor:
#   NAME: appnet=X anchor(A)=Y ratio=X/Y (UNIT); cpu_s_per_Mreq: appnet=P anchor(A)=Q ratio=P/Q
# CPU seconds per million requests come from /proc/PID/stat (user+system of the server and its
# descendants, before and after the load): the efficiency figure that still counts when the
# load generator, not the server, is the ceiling.
# shellcheck shell=bash

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_ROUNDS=${BENCH_ROUNDS:-3}
BENCH_SERVER_CPU=${BENCH_SERVER_CPU:-0}
BENCH_LOAD_CPU=${BENCH_LOAD_CPU:-1}
BENCH_HOST=${BENCH_HOST:-127.0.0.1}
BENCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/appnet-bench.XXXXXX")
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_PIDS=()

if [ "$(nproc)" -lt 2 ]; then
  echo "bench: only one CPU: server and load share it, figures are not comparable" >&2
  BENCH_LOAD_CPU=$BENCH_SERVER_CPU
fi

bench_cleanup() {
  local pid
  for pid in "${BENCH_PIDS[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  sleep 0.2
  for pid in "${BENCH_PIDS[@]}"; do
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  rm -rf "$BENCH_DIR"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# The appnet binary the workloads run: APPNET=/path/to/appnet overrides the release build.
APPNET=${APPNET:-$BENCH_ROOT/target/release/appnet}

# bench_require_appnet: fail with a build hint when $APPNET is missing.
bench_require_appnet() {
  [ -x "$APPNET" ] || {
    echo "bench: $APPNET is missing: build it with cargo build --release (or set APPNET=/path/to/appnet)" >&2
    exit 1
  }
}

# bench_require PROGRAM DEBIAN_PACKAGE: fail with an install hint when PROGRAM is missing.
bench_require() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || {
    echo "bench: $1 is not installed: apt-get install $2" >&2
    exit 1
  }
}

# bench_free_port: a loopback port free for both UDP and TCP right now.
bench_free_port() {
  python3 - "$BENCH_HOST" <<'PY'
import socket, sys
for _ in range(100):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((sys.argv[1], 0))
    port = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind((sys.argv[1], port)); print(port); break
    except OSError:
        continue
    finally:
        t.close(); u.close()
PY
}

# bench_server LABEL CMD…: start CMD pinned to the server CPU in its own process group, with its
# output in $BENCH_DIR/LABEL.log; sets BENCH_SERVER_PID.
bench_server() {
  local label=$1; shift
  setsid taskset -c "$BENCH_SERVER_CPU" "$@" >"$BENCH_DIR/$label.log" 2>&1 &
  BENCH_SERVER_PID=$!
  BENCH_PIDS+=("$BENCH_SERVER_PID")
}

# bench_stop_server: stop the server started last (its whole process group).
bench_stop_server() {
  kill -TERM -- "-$BENCH_SERVER_PID" 2>/dev/null || true
  local _
  for _ in $(seq 50); do
    kill -0 "$BENCH_SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$BENCH_SERVER_PID" 2>/dev/null || true
  wait "$BENCH_SERVER_PID" 2>/dev/null || true
}

# bench_wait_until TIMEOUT_S CMD…: retry CMD every 0.1 s until it succeeds; fail after TIMEOUT_S.
bench_wait_until() {
  local timeout=$1; shift
  local tries=$((timeout * 10))
  while ! "$@" >/dev/null 2>&1; do
    tries=$((tries - 1))
    if [ "$tries" -le 0 ]; then
      echo "bench: server not ready after ${timeout}s: $*" >&2
      tail -n 20 "$BENCH_DIR"/*.log >&2 || true
      exit 1
    fi
    sleep 0.1
  done
}

# bench_cpu_ticks_of_stat LINE: user+system clock ticks (own, plus reaped children) from one
# /proc/PID/stat line. The command name in parentheses may hold spaces and parentheses, so the
# fields are counted after the last ')'.
bench_cpu_ticks_of_stat() {
  local rest=${1##*) }
  # shellcheck disable=SC2086
  set -- $rest
  # After ')': state=1 … utime=12 stime=13 cutime=14 cstime=15 (fields 14–17 of proc(5)).
  echo $(( ${12} + ${13} + ${14} + ${15} ))
}

# bench_descendants PID: PID and all its live descendants, one per line.
bench_descendants() {
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2 }
    END {
      for (p in parent) {
        q = p
        for (depth = 0; depth < 64 && q != "" && q != 0; depth++) {
          if (q == root) { print p; break }
          q = parent[q]
        }
      }
    }'
}

# bench_cpu_seconds PID: CPU seconds used so far by PID and all its live descendants.
bench_cpu_seconds() {
  local root=$1 pids pid ticks=0 stat
  pids=$(bench_descendants "$root")
  for pid in $pids; do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    ticks=$((ticks + $(bench_cpu_ticks_of_stat "$stat")))
  done
  awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f\n", t / hz }'
}

# bench_rss_kib PID: resident memory (VmRSS, KiB) of PID and its live descendants, summed.
# Pages shared between them (e.g. a zone a forking server loaded before fork) count once per
# process, as `ps` would show them.
bench_rss_kib() {
  local pid kib total=0
  for pid in $(bench_descendants "$1"); do
    kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || continue
    total=$((total + ${kib:-0}))
  done
  echo "$total"
}

# bench_median V…: the median of the numbers given.
bench_median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_measure: run `load` once against the server started last; prints "RATE CPU_S_PER_MREQ".
bench_measure() {
  local before after result requests seconds
  before=$(bench_cpu_seconds "$BENCH_SERVER_PID")
  result=$(load | tail -n 1)
  after=$(bench_cpu_seconds "$BENCH_SERVER_PID")
  read -r requests seconds <<<"$result"
  if ! awk -v r="$requests" -v s="$seconds" 'BEGIN { exit !(r > 0 && s > 0) }'; then
    echo "bench: load reported '$result', expected 'REQUESTS SECONDS' with both > 0" >&2
    exit 1
  fi
  awk -v r="$requests" -v s="$seconds" -v b="$before" -v a="$after" \
    'BEGIN { printf "%.6g %.6g\n", r / s, (a - b) / r * 1e6 }'
}

# bench_run NAME UNIT ANCHOR…: the interleaved rounds and one result line per anchor. With one
# anchor, start_anchor starts it; with several, start_anchor_ANCHOR for each.
bench_run() {
  local name=$1 unit=$2 round side rate cpu start measured
  shift 2
  local -a sides=(appnet "$@")
  local -A rates=() cpus=()
  for round in $(seq "$BENCH_ROUNDS"); do
    for side in "${sides[@]}"; do
      if [ "$side" = appnet ]; then start=start_appnet
      elif [ $# -eq 1 ] && ! declare -F "start_anchor_$side" >/dev/null; then start=start_anchor
      else start=start_anchor_$side; fi
      "$start"
      # Not `read … <<<"$(bench_measure)"`: that would hide a failed measurement.
      measured=$(bench_measure) || exit 1
      read -r rate cpu <<<"$measured"
      bench_stop_server
      echo "  round $round $side: $rate $unit, $cpu cpu-s/Mreq" >&2
      rates[$side]+=" $rate"; cpus[$side]+=" $cpu"
    done
  done
  local anchor x y p q
  # shellcheck disable=SC2086
  x=$(bench_median ${rates[appnet]}); p=$(bench_median ${cpus[appnet]})
  for anchor in "$@"; do
    # shellcheck disable=SC2086
    y=$(bench_median ${rates[$anchor]}); q=$(bench_median ${cpus[$anchor]})
    awk -v n="$name" -v a="$anchor" -v x="$x" -v y="$y" -v p="$p" -v q="$q" -v u="$unit" '
      function num(v) { return v >= 100 ? sprintf("%.0f", v) : sprintf("%.3g", v) }
      BEGIN {
        printf "%s: appnet=%s anchor(%s)=%s ratio=%s (%s); cpu_s_per_Mreq: appnet=%s anchor(%s)=%s ratio=%s\n",
          n, num(x), a, num(y), (y > 0 ? sprintf("%.2f", x / y) : "n/a"), u,
          num(p), a, num(q), (q > 0 ? sprintf("%.2f", p / q) : "n/a") }'
  done
}
