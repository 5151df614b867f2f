#!/usr/bin/python3
"""The kernel-side client of tests/replay/record.sh (runs in its namespace).

    client.py lines HOST N     N short lines over TCP, each echoed before the next (50 ms apart),
                               then a half-close; then one UDP datagram
    client.py bulk HOST BYTES  BYTES over TCP, sent by one thread while the other reads the echo
Exits 1 if an echo differs from what was sent.
"""
import socket
import sys
import threading
import time


def lines(host, n):
    s = socket.create_connection((host, 7), timeout=5)
    for i in range(n):
        msg = f"line {i} of the echo test\n".encode()
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            got += s.recv(100)
        if got != msg:
            sys.exit(f"echo differs: {got!r} for {msg!r}")
        time.sleep(0.05)
    s.shutdown(socket.SHUT_WR)
    if s.recv(10) != b"":
        sys.exit("data after the echo")
    s.close()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(2)
    u.sendto(b"udp hello", (host, 7))
    if u.recvfrom(100)[0] != b"udp hello":
        sys.exit("UDP echo differs")


def bulk(host, size):
    data = bytes((i * 31 + 7) & 0xff for i in range(size))
    s = socket.create_connection((host, 7), timeout=20)
    writer = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
    writer.start()
    got = bytearray()
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
    writer.join()
    if bytes(got) != data:
        sys.exit(f"bulk echo differs ({len(got)} of {size} bytes)")


if __name__ == "__main__":
    {"lines": lines, "bulk": bulk}[sys.argv[1]](sys.argv[2], int(sys.argv[3]))
