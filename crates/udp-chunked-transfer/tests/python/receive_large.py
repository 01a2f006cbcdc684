"""Tutorial 4's receiver of large data, standing alone.

    python3 receive_large.py HOST PORT OUT

Port 0 lets the kernel choose; the real address is printed as
`listening on HOST:PORT`. The first datagram read gives the number of
chunks; after that only datagrams from the same address count, each kept
under its index until all have come. Then they are joined in order and
written to OUT. There is no timeout: one lost chunk and this waits for ever.
"""
import socket
import sys


def receive_large_data(sock):
    data, address = sock.recvfrom(4)
    num_chunks = int.from_bytes(data, 'big')
    chunks = {}
    while len(chunks) < num_chunks:
        data, addr = sock.recvfrom(1024 + 4)
        if addr != address:
            continue
        chunks[int.from_bytes(data[:4], 'big')] = data[4:]
    return b''.join(chunks[i] for i in range(num_chunks)), address


def main():
    host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sock = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET,
                         socket.SOCK_DGRAM)
    sock.bind((host, port))
    bound = sock.getsockname()
    print(f"listening on {bound[0]}:{bound[1]}", flush=True)
    result, address = receive_large_data(sock)
    with open(out, 'wb') as f:
        f.write(result)
    sock.close()
    print(f"received {len(result)} bytes from {address[0]}:{address[1]}", flush=True)


if __name__ == '__main__':
    main()
