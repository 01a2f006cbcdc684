"""Run a program at a terminal (a pseudo-terminal), answer its prompt with
Ctrl+D, and print everything it showed on that terminal.

Usage: python3 at_a_terminal.py PROMPT PROGRAM [ARG ...]

Waits (at most 10 s) for PROMPT to appear, types Ctrl+D (end of input),
reads until the program exits, writes the screen's bytes to stdout and
exits with the program's exit code.
"""
import os
import pty
import select
import sys
import time


def read_some(fd, deadline):
    ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.time()))
    if not ready:
        sys.exit("timed out")
    try:
        return os.read(fd, 4096)
    except OSError:  # EIO: the program closed the terminal
        return b""


def main():
    prompt = sys.argv[1].encode()
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(sys.argv[2], sys.argv[2:])
    deadline = time.time() + 10
    screen = b""
    while prompt not in screen:
        data = read_some(fd, deadline)
        if not data:
            break
        screen += data
    os.write(fd, b"\x04")
    while True:
        data = read_some(fd, deadline)
        if not data:
            break
        screen += data
    _, status = os.waitpid(pid, 0)
    sys.stdout.buffer.write(screen)
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
