"""Tutorial 4's sender of large data, standing alone.

    python3 send_large.py HOST PORT FILE

The count of chunks goes first (4 bytes, big-endian), then each chunk of
at most 1024 bytes behind its own 4-byte big-endian index. Nothing comes
back, so this program cannot know whether anything arrived.
"""
import socket
import sys


def send_large_data(sock, data, address, chunk_size=1024):
    num_chunks = (len(data) + chunk_size - 1) // chunk_size
    sock.sendto(num_chunks.to_bytes(4, 'big'), address)
    for i in range(num_chunks):
        piece = data[i * chunk_size:(i + 1) * chunk_size]
        sock.sendto(i.to_bytes(4, 'big') + piece, address)


def main():
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(path, 'rb') as f:
        data = f.read()
    sock = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET,
                         socket.SOCK_DGRAM)
    send_large_data(sock, data, (host, port))
    sock.close()
    print(f"sent {len(data)} bytes to {host}:{port}", flush=True)


if __name__ == '__main__':
    main()
