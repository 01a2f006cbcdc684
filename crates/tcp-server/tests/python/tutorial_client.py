"""A client written the way tutorial 3 writes its TCP client, for the tests.

Usage: python3 tutorial_client.py HOST PORT [MESSAGE ...]

Connects, then for each MESSAGE (default: the tutorial's "Hello, Server!")
sends it whole and prints what one recv(1024) brings back; then closes.
"""
import socket
import sys


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    messages = sys.argv[3:] or ["Hello, Server!"]
    client_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client_socket.settimeout(10)  # a test must never hang
    client_socket.connect((host, port))
    print(f"Connected to {host}:{port}", flush=True)
    for message in messages:
        client_socket.sendall(message.encode("utf-8"))
        response = client_socket.recv(1024)
        print(f"Received response: {response.decode('utf-8')}", flush=True)
    client_socket.close()


if __name__ == "__main__":
    main()
