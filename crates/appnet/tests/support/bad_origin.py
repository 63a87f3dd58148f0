#!/usr/bin/env python3
"""An origin that answers some paths with broken HTTP responses, for the proxy's tests.

    bad_origin.py PORT

/good: a proper, cacheable response. /short: a body cut off before its Content-Length.
/bad-length: a Content-Length that is not a number. /two-lengths: two Content-Lengths that
disagree. /no-colon: a header line without a colon. /chunks-cut: a chunked body that stops
mid-chunk. /big: 3 MiB, cacheable. /huge: 70 MiB, cacheable but over the proxy's limit for
what it stores. Every request is logged to stdout as "GET /path", then the connection closes.
"""
import socket
import sys
import threading

CACHE = b"Cache-Control: max-age=600\r\n"
ANSWERS = {
    "/good": b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n" + CACHE + b"\r\ngood",
    "/short": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n" + CACHE + b"\r\nonly ten..",
    "/bad-length": b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n" + CACHE + b"\r\n0123456789",
    "/two-lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n" + CACHE + b"\r\n0123456",
    "/no-colon": b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nthis is not a header\r\n" + CACHE + b"\r\nbody",
    "/chunks-cut": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" + CACHE + b"\r\n10\r\nonly part",
}
SIZES = {"/big": 3 << 20, "/huge": 70 << 20}


def serve(connection):
    with connection:
        connection.settimeout(5)
        request = b""
        while b"\r\n\r\n" not in request:
            data = connection.recv(4096)
            if not data:
                return
            request += data
        path = request.split(b" ")[1].decode()
        print(f"GET {path}", flush=True)
        if path in SIZES:
            size = SIZES[path]
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % size + CACHE + b"\r\n")
            block = bytes(range(256)) * 4096
            for start in range(0, size, len(block)):
                connection.sendall(block[: min(len(block), size - start)])
            return
        connection.sendall(ANSWERS.get(path, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))


def main():
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(sys.argv[1])))
    listener.listen(64)
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=serve, args=(connection,), daemon=True).start()


main()
