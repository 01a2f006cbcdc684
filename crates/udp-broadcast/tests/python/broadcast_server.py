"""The broadcast server of tutorial 4, kept as the tutorial has it, for the
interop tests in ../tutorial.rs. Two changes only: the host and the port come
from the command line, and a first line `listening on HOST:PORT` gives the
port the kernel really chose (the tests start it with port 0).

usage: python3 broadcast_server.py HOST PORT
       (HOST '' or 0.0.0.0 means every interface, as in the tutorial)
"""

import socket
import sys


def broadcast_server(host, port):
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    server.bind((host, port))

    bound_host, bound_port = server.getsockname()
    print(f"listening on {bound_host}:{bound_port}", flush=True)
    print(f"Broadcast UDP server on port {bound_port}", flush=True)

    while True:
        data, client_address = server.recvfrom(1024)
        print(f"Received from {client_address}: {data.decode()}", flush=True)
        server.sendto(b"Server response", client_address)


if __name__ == "__main__":
    broadcast_server(sys.argv[1], int(sys.argv[2]))
