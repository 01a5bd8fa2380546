#!/usr/bin/env python3
"""Scans one file with PyPI `aioclamd` (pip install aioclamd) for the conformance harness.

Reports what the library says, as its documentation defines it; it does not fix the
library's bugs. `ClamdAsyncClient.instream()` is documented to return
{name: (status, virus)} and to raise BufferTooLongError / ClamdConnectionError /
ConnectionTimeoutError; when the daemon closes without a reply it returns None instead,
which the documentation does not define, so it is shown as an error ("no result").

Exit 0 clean, 1 infected, 2 error (clamdscan's convention).
Usage: aioclamd_scan.py HOST PORT FILE
"""
import asyncio

from library_scan import main, require

TIMEOUT_SECS = 5.0

aioclamd = require("aioclamd", "aioclamd")


async def instream(host, port, path):
    client = aioclamd.ClamdAsyncClient(host=host, port=port, timeout=TIMEOUT_SECS)
    with open(path, "rb") as f:
        return await client.instream(f)


def scan(host, port, path):
    return asyncio.run(instream(host, port, path))


def judge(result):
    if not isinstance(result, dict) or len(result) != 1:
        return "ERROR", "no result from the library: %r" % (result,)
    (status, virus), = result.values()
    if status in ("FOUND", "OK"):
        return status, virus
    return "ERROR", "%s %s" % (status, virus)


if __name__ == "__main__":
    main(scan, judge)
