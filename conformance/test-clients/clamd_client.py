#!/usr/bin/env python3
"""A small clamd INSTREAM client for the conformance harness's own tests.

Default mode is a correct client (IDSESSION + zINSTREAM, 4-byte big-endian chunks, zero
terminator, END; exit 0 clean / 1 infected / 2 error, fail closed).  The --defect flags
turn it into one of the deliberately broken clients the harness must catch:

  clean-on-error     reports clean whenever the daemon errors, closes or cannot be reached
  no-terminator      never sends the zero-length chunk (half-closes instead)
  unprefixed         sends legacy commands without the z/n prefix
  ignore-size-limit  treats `INSTREAM size limit exceeded` as clean
  no-end             leaves IDSESSION without END
  pairs-by-position  (directory mode) pairs a session's replies with its requests by
                     position instead of by their `<id>:` number (CLAMD-CLIENT-9)

Given a directory, it scans every file in it in one IDSESSION: all INSTREAMs, a PING as a
liveness check and END in one write, then one clamdscan-style line per file.

Usage: clamd_client.py [--defect NAME] [--chunk N] [--timeout S] HOST:PORT FILE|DIR
"""
import argparse
import os
import socket
import struct
import sys

MAX_REPLIES = 1 << 20


def scan_dir(a, host, port):
    names = sorted(n for n in os.listdir(a.file) if os.path.isfile(os.path.join(a.file, n)))
    paths = [os.path.join(a.file, n) for n in names]
    batch = b"zIDSESSION\0"
    for p in paths:
        data = open(p, "rb").read()
        batch += b"zINSTREAM\0"
        for i in range(0, len(data), a.chunk):
            part = data[i:i + a.chunk]
            batch += struct.pack(">I", len(part)) + part
        batch += b"\0\0\0\0"
    batch += b"zPING\0zEND\0"  # request n+1 is the PING
    got = b""
    try:
        s = socket.create_connection((host.strip("[]"), int(port)), timeout=a.timeout)
        s.sendall(batch)
        while len(got) < MAX_REPLIES:
            b = s.recv(65536)
            if not b:
                break
            got += b
        s.close()
    except OSError as e:
        print("ERROR: %s" % e)  # fail closed: files without a reply are errors below
    # whole replies only: bytes after the last terminator are a reply cut short (CLAMD-CLIENT-3)
    records = [r.decode("utf-8", "replace") for r in got.split(b"\0")[:-1] if r]
    by_file = {}
    if a.defect == "pairs-by-position":
        # the defect: the k-th reply is taken for the k-th request
        for i, r in enumerate(records[:len(paths)]):
            by_file[i] = r.split(": ", 1)[-1]
    else:
        for r in records:
            num, _, text = r.partition(": ")
            if num.isdigit() and 1 <= int(num) <= len(paths):
                by_file[int(num) - 1] = text
    infected = errors = 0
    for i, p in enumerate(paths):
        text = by_file.get(i)
        if text is None:
            print("%s: no reply ERROR" % p)
            errors += 1
            continue
        text = text[len("stream: "):] if text.startswith("stream: ") else text
        if text.endswith(" FOUND"):
            print("%s: %s" % (p, text))
            infected += 1
        elif text.endswith(" ERROR"):
            print("%s: %s" % (p, text))
            errors += 1
        else:
            print("%s: OK" % p)
    sys.exit(2 if errors else (1 if infected else 0))


def fail(msg, clean_on_error):
    if clean_on_error:
        print("OK (assumed)")
        sys.exit(0)
    print("ERROR: " + msg)
    sys.exit(2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--defect", default="")
    ap.add_argument("--chunk", type=int, default=8192)
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument("--no-session", action="store_true")
    ap.add_argument("addr")
    ap.add_argument("file")
    a = ap.parse_args()
    coe = a.defect == "clean-on-error"
    host, _, port = a.addr.rpartition(":")
    if os.path.isdir(a.file):
        scan_dir(a, host, port)
    data = open(a.file, "rb").read()
    try:
        s = socket.create_connection((host.strip("[]"), int(port)), timeout=a.timeout)
    except OSError as e:
        fail("connect: %s" % e, coe)
    s.settimeout(a.timeout)
    session = not a.no_session and a.defect != "unprefixed"
    out = b""
    try:
        if a.defect == "unprefixed":
            s.sendall(b"INSTREAM\n")
        else:
            if session:
                s.sendall(b"zIDSESSION\0")
            s.sendall(b"zINSTREAM\0")
        for i in range(0, len(data), a.chunk):
            part = data[i:i + a.chunk]
            s.sendall(struct.pack(">I", len(part)) + part)
        if a.defect == "no-terminator":
            s.shutdown(socket.SHUT_WR)
        else:
            s.sendall(b"\0\0\0\0")
    except OSError:
        pass  # the daemon may have answered and closed (size limit): read the reply
    try:
        while not out.endswith(b"\0") and not out.endswith(b"\n"):
            b = s.recv(4096)
            if not b:
                break
            out += b
    except OSError as e:
        if not out:
            fail("read: %s" % e, coe)
    if session and a.defect != "no-end":
        try:
            s.sendall(b"zEND\0")
        except OSError:
            pass
    s.close()
    if out and not (out.endswith(b"\0") or out.endswith(b"\n")):
        # CLAMD-CLIENT-3: a reply cut before its terminator is no verdict (`stream: OK` may be
        # the start of `stream: OK.Name FOUND`)
        fail("reply cut before its terminator: %r" % out, coe)
    reply = out.rstrip(b"\0\n").decode("utf-8", "replace")
    if reply.split(": ", 1)[0].isdigit():
        reply = reply.split(": ", 1)[1]
    if reply.endswith(" FOUND"):
        print(a.file + ": " + reply)
        sys.exit(1)
    if reply == "stream: OK":
        print(a.file + ": OK")
        sys.exit(0)
    if a.defect == "ignore-size-limit" and "size limit" in reply:
        print(a.file + ": OK")
        sys.exit(0)
    fail("daemon replied %r" % reply, coe)


if __name__ == "__main__":
    main()
