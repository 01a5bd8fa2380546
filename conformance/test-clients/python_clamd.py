#!/usr/bin/env python3
"""Wrapper that scans one file with the `clamd` package from PyPI (pip install clamd),
so the harness can check that library. Exit 0 clean, 1 infected, 2 error (clamdscan's
convention). Usage: python_clamd.py HOST PORT FILE
"""
import os
import sys

# the wrappers' shared part (conformance/clients/wrappers/library_scan.py)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "wrappers"))
from library_scan import main, require  # noqa: E402

clamd = require("clamd", "clamd")


def scan(host, port, path):
    # the library raises its own and socket errors
    cd = clamd.ClamdNetworkSocket(host=host, port=port, timeout=10)
    with open(path, "rb") as f:
        return cd.instream(f)


def judge(result):
    status, name = (result or {}).get("stream", (None, None))
    if status in ("FOUND", "OK"):
        return status, name
    return "ERROR", "unexpected result %r" % (result,)


if __name__ == "__main__":
    main(scan, judge)
