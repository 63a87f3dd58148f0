# DNS helpers shared by the dns-* workloads: source it after lib.sh.
#
#   dns_start_appnet PORT ORIGIN ZONEFILE   appnet dns authority, one UDP worker
#   dns_start_nsd PORT ORIGIN ZONEFILE      NSD, one server process, RRL off
#   dns_start_knot PORT ORIGIN ZONEFILE     Knot, one UDP/TCP/background worker
#   dns_answers PORT NAME ADDRESS           true when the server's A answer for NAME is ADDRESS
#   dns_wait_answer TIMEOUT_S PORT NAME ADDRESS
#                                           wait (UDP, every 10 ms) until it is; prints the seconds
#                                           since $DNS_T0 (a `date +%s.%N` taken before the start)
# Each start_* only starts the server (with bench_server, pinned and in its own process group,
# all files in $BENCH_DIR, no chroot, no user switch); the caller waits for it to answer.
# shellcheck shell=bash

DNS_NSD=$(command -v nsd || echo /usr/sbin/nsd)
DNS_KNOTD=$(command -v knotd || echo /usr/sbin/knotd)

dns_start_appnet() {
  local port=$1 origin=$2 zonefile=$3
  bench_server appnet "$APPNET" dns authority --listen "$BENCH_HOST:$port" \
    --zone "$origin=$zonefile" --workers 1
}

dns_start_nsd() {
  local port=$1 origin=$2 zonefile=$3 dir=$BENCH_DIR/nsd-$1
  mkdir -p "$dir"
  # database "": read the zone file itself at start, no nsd.db. rrl-ratelimit 0: the Debian
  # build limits 200 qps per /24 otherwise, which drops most of dnsperf's queries.
  # minimal-responses: without it NSD adds the apex NS RRset and its glue to every positive
  # answer (113-byte average responses in dns-authority instead of 51); appnet and Knot answer
  # minimally, so all three send the same records.
  cat >"$dir/nsd.conf" <<EOF
server:
  ip-address: $BENCH_HOST@$port
  port: $port
  do-ip6: no
  server-count: 1
  reuseport: no
  username: ""
  chroot: ""
  zonesdir: "$dir"
  database: ""
  zonelistfile: "$dir/zone.list"
  xfrdfile: "$dir/xfrd.state"
  xfrdir: "$dir"
  pidfile: "$dir/nsd.pid"
  logfile: "$dir/nsd.log"
  verbosity: 1
  rrl-ratelimit: 0
  minimal-responses: yes
remote-control:
  control-enable: no
zone:
  name: "$origin"
  zonefile: "$zonefile"
EOF
  bench_server nsd "$DNS_NSD" -d -c "$dir/nsd.conf"
}

dns_start_knot() {
  local port=$1 origin=$2 zonefile=$3 dir=$BENCH_DIR/knot-$1
  mkdir -p "$dir/db"
  # No user: it runs as whoever runs the workload. The zone file is only read (no sync back,
  # no journal), and semantic checks are off as NSD and appnet do only the mandatory ones.
  cat >"$dir/knot.conf" <<EOF
server:
  rundir: "$dir"
  pidfile: "$dir/knot.pid"
  listen: $BENCH_HOST@$port
  udp-workers: 1
  tcp-workers: 1
  background-workers: 1
control:
  listen: "$dir/knot.sock"
database:
  storage: "$dir/db"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "$dir"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
zone:
  - domain: "$origin"
    file: "$zonefile"
EOF
  bench_server knot "$DNS_KNOTD" -c "$dir/knot.conf"
}

dns_answers() {
  [ "$(dig +short +tries=1 +time=1 @"$BENCH_HOST" -p "$1" "$2" A)" = "$3" ]
}

dns_wait_answer() {
  taskset -c "$BENCH_LOAD_CPU" python3 - "$@" "$BENCH_HOST" "${DNS_T0:-0}" <<'PY'
import socket, struct, sys, time
timeout, port, name, address, host, t0 = sys.argv[1:7]
deadline = time.time() + float(timeout)
want = socket.inet_aton(address)
qname = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.01)

def skip_name(m, i):
    while True:
        n = m[i]
        if n == 0: return i + 1
        if n >= 0xC0: return i + 2
        i += 1 + n

def answered(m, qid):
    if len(m) < 12: return False
    rid, flags, qd, an = struct.unpack("!HHHH", m[:8])
    if rid != qid or flags & 0x800F != 0x8000 or an == 0: return False  # a NOERROR response
    i = 12
    for _ in range(qd): i = skip_name(m, i) + 4
    for _ in range(an):
        i = skip_name(m, i)
        rtype, _, _, rdlen = struct.unpack("!HHIH", m[i:i + 10]); i += 10
        if rtype == 1 and m[i:i + rdlen] == want: return True
        i += rdlen
    return False

qid = 0
while time.time() < deadline:
    qid = (qid + 1) & 0xFFFF
    s.sendto(struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + qname + b"\0\1\0\1", (host, int(port)))
    end = time.time() + 0.01
    while time.time() < end:
        try:
            m = s.recv(4096)
        except OSError:  # timed out, or refused (not listening yet)
            time.sleep(max(0.0, end - time.time()))
            break
        if answered(m, qid):
            print("%.3f" % (time.time() - float(t0)))
            sys.exit(0)
print("bench: %s did not answer %s A %s within %ss" % (port, name, address, timeout), file=sys.stderr)
sys.exit(1)
PY
}
