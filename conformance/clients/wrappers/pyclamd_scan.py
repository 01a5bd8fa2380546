#!/usr/bin/env python3
"""Scans one file with PyPI `pyclamd` (pip install pyclamd) for the conformance harness.

Reports what the library says, as its documentation defines it; it does not fix the
library's bugs. `ClamdNetworkSocket.scan_stream()` returns None for "no virus found", a
dict {name: ("FOUND", virus)} or {name: ("ERROR", reason)} otherwise, and raises
BufferTooLongError / ConnectionError (and, undocumented, anything its parser trips on).

Exit 0 clean, 1 infected, 2 error (clamdscan's convention).
Usage: pyclamd_scan.py HOST PORT FILE
"""
from library_scan import main, require

TIMEOUT_SECS = 5.0

pyclamd = require("pyclamd", "pyclamd")


def scan(host, port, path):
    cd = pyclamd.ClamdNetworkSocket(host=host, port=port, timeout=TIMEOUT_SECS)
    with open(path, "rb") as f:
        return cd.scan_stream(f)


def judge(result):
    if result is None:  # documented: "None: if no virus found"
        return "OK", None
    if "FOUND" in [v[0] for v in result.values()]:
        return "FOUND", "; ".join(v[1] for v in result.values())
    return "ERROR", "%r" % (result,)


if __name__ == "__main__":
    main(scan, judge)
