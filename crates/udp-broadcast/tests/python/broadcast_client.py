"""A sender in the tutorial's style, for the interop tests in ../tutorial.rs.
The tutorial shows only the server side of broadcast; this is the client it
implies: a UDP socket with SO_BROADCAST switched on, one sendto, then
recvfrom(1024) for each reply.

usage: python3 broadcast_client.py HOST PORT [MESSAGE [REPLIES]]

It sends MESSAGE (default "hello") once to HOST:PORT and prints each reply as
`Received from ('IP', PORT): TEXT` until REPLIES of them (default 1) have
come. If 5 seconds pass without a reply it says so and exits 1.
"""

import socket
import sys


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    message = sys.argv[3] if len(sys.argv) > 3 else "hello"
    wanted = int(sys.argv[4]) if len(sys.argv) > 4 else 1

    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # Without this the kernel refuses a send to a broadcast address.
    client.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    # The deadline for each reply, so a missing server cannot hang a test.
    client.settimeout(5.0)
    client.sendto(message.encode(), (host, port))

    got = 0
    try:
        while got < wanted:
            data, address = client.recvfrom(1024)
            print(f"Received from {address}: {data.decode()}", flush=True)
            got += 1
    except socket.timeout:
        print(f"no more replies after {got}", file=sys.stderr)
        sys.exit(1)
    finally:
        client.close()


if __name__ == "__main__":
    main()
