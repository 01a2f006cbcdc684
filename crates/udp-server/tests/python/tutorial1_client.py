"""Tutorial 1's UDP client, rewritten for the tests: one message, one reply.

usage: python3 tutorial1_client.py HOST PORT [MESSAGE]

Like the tutorial it waits for the reply with no timeout (the Rust test that
runs it has the deadline) and decodes the reply as UTF-8.
"""
import socket
import sys

host, port = sys.argv[1], int(sys.argv[2])
text = sys.argv[3] if len(sys.argv) > 3 else "Hello, Server!"
family = socket.AF_INET6 if ":" in host else socket.AF_INET

sock = socket.socket(family, socket.SOCK_DGRAM)
sock.sendto(text.encode("utf-8"), (host, port))
print(f"Sent message to {host}:{port}")
reply, sender = sock.recvfrom(1024)
print(f"Received response from {sender}: {reply.decode('utf-8')}")
sock.close()
