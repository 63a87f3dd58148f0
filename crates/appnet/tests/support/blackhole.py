"""Holds UDP ports on loopback and never answers: an authority that is down without the
kernel saying so (no ICMP port unreachable), so a resolver waits out its full timeout.

usage: blackhole.py IP[,IP…] PORT SECONDS
"""
import select
import socket
import sys
import time

addresses, port, seconds = sys.argv[1].split(","), int(sys.argv[2]), float(sys.argv[3])
sockets = []
for address in addresses:
    assert address.startswith("127."), "loopback only"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((address, port))
    sockets.append(s)
print("ready", flush=True)
deadline = time.time() + seconds
while time.time() < deadline:
    readable, _, _ = select.select(sockets, [], [], 0.2)
    for s in readable:
        s.recv(65535)
