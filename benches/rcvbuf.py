#!/usr/bin/env python3
"""Sets SO_RCVBUFFORCE on sockets of a running process, for benches/throughput.sh's RCVBUF knob.

Usage: rcvbuf.py PID BYTES INODE...

Takes a duplicate of each of PID's socket descriptors whose inode is listed (pidfd_getfd, Linux
5.6 and later; root), sets its receive buffer and prints what the kernel granted. The socket is
the process's own (a duplicate descriptor, one socket): nothing in the process changes but that
buffer. An experiment knob, not a fix: it shows what a larger receive buffer would do.
"""
import ctypes
import os
import socket
import sys

SYS_PIDFD_GETFD = 438
SO_RCVBUFFORCE = 33

libc = ctypes.CDLL(None, use_errno=True)
pid, size, inodes = int(sys.argv[1]), int(sys.argv[2]), set(sys.argv[3:])
pidfd = os.pidfd_open(pid)
for fd in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
    try:
        link = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        continue
    if not link.startswith("socket:[") or link[8:-1] not in inodes:
        continue
    dup = libc.syscall(SYS_PIDFD_GETFD, pidfd, int(fd), 0)
    if dup < 0:
        sys.exit(f"pidfd_getfd({pid}, {fd}): {os.strerror(ctypes.get_errno())}")
    s = socket.socket(fileno=dup)
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
    print(f"pid {pid} fd {fd} {link}: SO_RCVBUF {s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)}")
    s.close()
os.close(pidfd)
