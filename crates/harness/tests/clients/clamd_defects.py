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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--defect", default="")
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
        # refused or unreachable: fail closed
        print("ERROR: connect: %s" % e)
        sys.exit(2)
    try:
        if not (data == b"" and a.defect == "empty-terminator-only"):
            s.sendall(b"zINSTREAM\0")
        for i in range(0, len(data), 4096):
            part = data[i:i + 4096]
            s.sendall(struct.pack(">I", len(part)) + part)
        s.sendall(b"\0\0\0\0")
    except ConnectionResetError as e:
        if a.defect == "clean-after-reset":
            print("OK (connection reset, assumed clean)")
            sys.exit(0)
        print("ERROR: send: %s" % e)
        sys.exit(2)
    except OSError:
        pass  # the daemon may have answered and closed (size limit): read the reply
    try:
        while not reply.endswith(b"\0") and len(reply) < MAX_REPLY:
            b = s.recv(4096)
            if not b:
                break
            reply += b
    except ConnectionResetError as e:
        if a.defect == "clean-after-reset":
            print("OK (connection reset, assumed clean)")
            sys.exit(0)
        print("ERROR: read: %s" % e)
        sys.exit(2)
    except OSError as e:
        print("ERROR: read: %s" % e)
        sys.exit(2)
    s.close()
    if not reply.endswith(b"\0"):
        print("ERROR: no complete reply: %r" % reply[:80])
        sys.exit(2)
    text = reply[:-1].decode("utf-8", "replace")
    if text.startswith("stream: ") and text.endswith(" FOUND"):
        print(text)
        sys.exit(1)
    if text == "stream: OK":
        print(text)
        sys.exit(0)
    print("ERROR: %s" % text)
    sys.exit(2)


if __name__ == "__main__":
    main()
