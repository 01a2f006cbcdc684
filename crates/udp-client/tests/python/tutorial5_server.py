"""Tutorial 5's UDP server, rewritten for the tests: every datagram gets
"Message received".

usage: python3 -u tutorial5_server.py HOST PORT

PORT 0 lets the kernel choose; the first line, `listening on HOST:PORT`,
gives the real port (the tutorial prints the one it asked for). Stop it with
a signal: like the tutorial, it has no other way out.
"""
import socket
import sys

host, port = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ":" in host else socket.AF_INET

sock = socket.socket(family, socket.SOCK_DGRAM)
sock.bind((host, port))
bound = sock.getsockname()
where = f"[{bound[0]}]:{bound[1]}" if family == socket.AF_INET6 else f"{bound[0]}:{bound[1]}"
print(f"listening on {where}")

while True:
    data, peer = sock.recvfrom(1024)
    print(f"Connection from {peer}")
    print(f"Message from client: {data.decode()}")
    sock.sendto("Message received".encode(), peer)
    print(f"Acknowledgment sent to {peer}")
