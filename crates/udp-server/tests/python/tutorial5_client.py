"""Tutorial 5's UDP client, rewritten for the tests: send each input line,
print each reply, stop at `exit` (any case).

usage: python3 tutorial5_client.py HOST PORT   (lines on stdin)

Like the tutorial: the prompt is always printed, the reply is awaited with
no timeout, and input that ends before `exit` raises EOFError.
"""
import socket
import sys

host, port = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
sock = socket.socket(family, socket.SOCK_DGRAM)

while True:
    line = input("say something ('exit' ends): ")
    if line.lower() == "exit":
        break
    sock.sendto(line.encode(), (host, port))
    answer, _ = sock.recvfrom(1024)
    print(f"Server response: {answer.decode()}")
sock.close()
