#!/usr/bin/env python3
"""Splits a `perf record -g` profile of dmvpn-node into where its time goes, for
benches/throughput.sh (PERF=1). Each sample goes to the first category its call chain matches,
in this order; the output is a markdown table of shares.

Usage: perf-categories.py PERF.DATA
"""
import collections
import subprocess
import sys

CATEGORIES = [
    ("zeroing of the 64 KiB read buffer (Pool::take's resize: memset)",
     lambda s, leaf: "memset" in leaf),
    ("AES-GCM seal/open",
     lambda s, leaf: any(k in s for k in ("AesGcm", "aes::", "polyval", "ghash"))),
    ("sendto: the receive path run inline (veth to the other namespace's softirq)",
     lambda s, leaf: "__libc_sendto" in s and ("net_rx_action" in s or "netif_receive_skb" in s)),
    ("TUN write: the kernel's IP/TCP receive run inline",
     lambda s, leaf: "libc_write" in s and ("net_rx_action" in s or "netif_receive_skb" in s)),
    ("sendto: syscall, route lookup, IP output, veth xmit",
     lambda s, leaf: "__libc_sendto" in s),
    ("TUN write: syscall, copy, skb",
     lambda s, leaf: "libc_write" in s),
    ("recvfrom (raw ESP / UDP sockets)",
     lambda s, leaf: "__libc_recvfrom" in s),
    ("TUN read",
     lambda s, leaf: " read |" in s or "tun_chr_read_iter" in s),
    ("epoll_wait / runtime park",
     lambda s, leaf: "epoll_wait" in s or "park" in s),
    ("mpsc channel hop and buffer pool (but the zeroing)",
     lambda s, leaf: any(k in s for k in ("mpsc", "batch_semaphore", "AtomicWaker", "Pool::"))),
    ("the rest of the node (GRE, NHRP, SA lookup, ESP framing, copies)",
     lambda s, leaf: any(k in s for k in ("handle_input", "Daemon::", "dmvpn_"))),
    ("context switches", lambda s, leaf: "finish_task_switch" in s or "schedule" in s),
    ("other (runtime, kernel entry and exit)", lambda s, leaf: True),
]

out = subprocess.run(["perf", "script", "-i", sys.argv[1], "-F", "ip,sym", "--no-inline"],
                     capture_output=True, text=True, check=True).stdout
counts = collections.Counter()
stack = []
for line in out.splitlines() + [""]:
    line = line.strip()
    if line:
        parts = line.split(None, 1)
        stack.append(parts[1] if len(parts) > 1 else parts[0])
        continue
    if stack:
        s = "| " + " | ".join(stack) + " |"
        counts[next(name for name, match in CATEGORIES if match(s, stack[0]))] += 1
    stack = []
total = sum(counts.values()) or 1
print("| where | share of samples |")
print("|---|---|")
for name, n in counts.most_common():
    print(f"| {name} | {100 * n / total:.1f} % |")
print(f"| (samples) | {total} |")
