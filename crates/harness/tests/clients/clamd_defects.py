#!/usr/bin/env python3
"""A small clamd INSTREAM client with one optional defect, for the harness's property
tests (crates/harness/tests/proptest_finds.rs). Without --defect it is correct: one
zINSTREAM per connection, 4-byte big-endian chunks, the zero-length terminator, a read
until the reply's NUL, and fail closed (exit 0 clean, 1 infected, 2 error).

  --defect empty-terminator-only   for an empty file sends only the terminator \\0\\0\\0\\0,
                                   without the zINSTREAM command (CLAMD-CLIENT-2)
  --defect clean-after-reset       reports clean when the connection is reset (CLAMD-CLIENT-3)

Usage: clamd_defects.py [--defect NAME] [--timeout S] HOST:PORT FILE
"""
import argparse
import socket
import struct
import sys

MAX_REPLY = 64 * 1024
DEFECTS = ["", "empty-terminator-only", "clean-after-reset"]


def fail(msg):
    """Fails closed: an error verdict."""
    print("ERROR: %s" % msg)
    sys.exit(2)


def reset(defect, during, e):
    """The connection was reset while `during` (send/read)."""
    if defect == "clean-after-reset":
        print("OK (connection reset, assumed clean)")
        sys.exit(0)
    fail("%s: %s" % (during, e))


def main():
    ap = argparse.ArgumentParser()
    # a misspelt defect must not quietly run the correct client
    ap.add_argument("--defect", choices=DEFECTS, default="")
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("addr")
    ap.add_argument("file")
    a = ap.parse_args()
    host, _, port = a.addr.rpartition(":")
    with open(a.file, "rb") as f:
        data = f.read()
    reply = b""
    try:
        s = socket.create_connection((host, int(port)), timeout=a.timeout)
    except OSError as e:
        fail("connect: %s" % e)  # refused or unreachable
    try:
        if not (data == b"" and a.defect == "empty-terminator-only"):
            s.sendall(b"zINSTREAM\0")
        for i in range(0, len(data), 4096):
            part = data[i:i + 4096]
            s.sendall(struct.pack(">I", len(part)) + part)
        s.sendall(b"\0\0\0\0")
    except ConnectionResetError as e:
        reset(a.defect, "send", e)
    except OSError:
        pass  # the daemon may have answered and closed (size limit): read the reply
    try:
        while not reply.endswith(b"\0") and len(reply) < MAX_REPLY:
            b = s.recv(4096)
            if not b:
                break
            reply += b
    except ConnectionResetError as e:
        reset(a.defect, "read", e)
    except OSError as e:
        fail("read: %s" % e)
    s.close()
    if not reply.endswith(b"\0"):
        fail("no complete reply: %r" % reply[:80])
    text = reply[:-1].decode("utf-8", "replace")
    if text.startswith("stream: ") and text.endswith(" FOUND"):
        print(text)
        sys.exit(1)
    if text == "stream: OK":
        print(text)
        sys.exit(0)
    fail(text)


if __name__ == "__main__":
    main()
