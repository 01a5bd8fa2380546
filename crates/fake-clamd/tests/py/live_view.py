#!/usr/bin/env python3
"""Issue 16 part 2: a client in another language asserts on what fake-clamd received,
over the admin API (urllib, JSON content type, loopback Host), standard library only.

Usage: live_view.py FAKE_CLAMD_BINARY   (env AVC_EICAR_HEX: the EICAR bytes in hex, so
that this file never holds them)
"""
import json
import os
import socket
import struct
import subprocess
import sys
import urllib.request

TIMEOUT = 5


def admin(base, method, path):
    # urllib sends Host: 127.0.0.1:PORT (loopback); writes carry the JSON content type
    req = urllib.request.Request(base + path, method=method,
                                 data=b"" if method != "GET" else None)
    if method != "GET":
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
        assert r.status == 200, r.status
        return json.loads(r.read().decode())


def talk(addr, data):
    with socket.create_connection(addr, timeout=TIMEOUT) as s:
        s.sendall(data)
        out = b""
        while True:
            b = s.recv(4096)
            if not b:
                return out
            out += b


def main():
    binary = sys.argv[1]
    eicar = bytes.fromhex(os.environ["AVC_EICAR_HEX"])
    proc = subprocess.Popen([binary, "--tcp-port", "0", "--admin", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        tcp = base = None
        while tcp is None or base is None:
            line = proc.stdout.readline()
            assert line, "fake-clamd exited before listening"
            if line.startswith("LISTENING tcp "):
                host, port = line.split()[2].rsplit(":", 1)
                tcp = (host, int(port))
            elif line.startswith("ADMIN "):
                base = "http://" + line.split()[1]

        assert talk(tcp, b"zPING\0") == b"PONG\0"
        stream = b"zINSTREAM\0" + struct.pack(">I", len(eicar)) + eicar + b"\0\0\0\0"
        reply = talk(tcp, stream)
        assert reply.endswith(b" FOUND\0"), reply

        cmds = admin(base, "GET", "/commands")["commands"]
        assert [c["name"] for c in cmds] == ["PING", "INSTREAM"], cmds
        assert all(c["framing"] == "z" for c in cmds), cmds

        ts = admin(base, "GET", "/transcripts")["transcripts"]
        assert len(ts) == 2, ts
        assert ts[0]["received"] == "zPING\\0" and ts[0]["sent"] == "PONG\\0", ts[0]
        assert "<EICAR, 68 bytes>" in ts[1]["received"], ts[1]
        assert ts[1]["bytes_received"] == len(stream), ts[1]
        assert eicar.decode() not in json.dumps(ts), "EICAR body in /transcripts"

        admin(base, "POST", "/reset")
        assert admin(base, "GET", "/commands")["commands"] == []
        print("live_view.py: ok")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
