"""Run a program on a pseudo-terminal, press Ctrl+D at its first prompt,
and print (repr) everything it wrote to the terminal.

usage: python3 ctrl_d.py PROMPT PROGRAM [ARGS...]
"""
import os
import pty
import select
import sys
import time

prompt = sys.argv[1].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])

seen = b""
deadline = time.monotonic() + 10
sent = False
while time.monotonic() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.1)
    if ready:
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # the program has exited and closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    if not sent and seen.endswith(prompt):
        os.write(fd, b"\x04")  # Ctrl+D: end of input
        sent = True
_, status = os.waitpid(pid, 0)
print(repr(seen))
print("exit", os.waitstatus_to_exitcode(status))
