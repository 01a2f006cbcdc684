"""Servers written the way tutorial 3 writes them, for the tests.

Usage: python3 tutorial_server.py HOST PORT [sequential|threaded]

sequential (the default): accept, one recv(1024), reply, close, repeat.
threaded: a thread per client that replies to every recv(1024) until the
client hangs up. Either prints "listening on HOST:PORT" with the port the
kernel gave (PORT may be 0), and runs until it is killed.
"""
import socket
import sys
import threading

REPLY = "Message received"


def handle_client(client_socket, client_address):
    print(f"Connection from {client_address} has been established.", flush=True)
    while True:
        data = client_socket.recv(1024)
        if not data:
            break
        print(f"Received data from {client_address}: {data.decode('utf-8')}", flush=True)
        client_socket.sendall(REPLY.encode("utf-8"))
    print(f"Connection from {client_address} has been closed.", flush=True)
    client_socket.close()


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    threaded = len(sys.argv) > 3 and sys.argv[3] == "threaded"
    server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server_socket.bind((host, port))
    server_socket.listen(5)
    bound_host, bound_port = server_socket.getsockname()[:2]
    print(f"listening on {bound_host}:{bound_port}", flush=True)
    while True:
        client_socket, client_address = server_socket.accept()
        if threaded:
            worker = threading.Thread(
                target=handle_client, args=(client_socket, client_address), daemon=True
            )
            worker.start()
            continue
        print(f"Connection from {client_address} has been established.", flush=True)
        data = client_socket.recv(1024)
        print(f"Received data: {data.decode('utf-8')}", flush=True)
        client_socket.sendall(REPLY.encode("utf-8"))
        client_socket.close()


if __name__ == "__main__":
    main()
