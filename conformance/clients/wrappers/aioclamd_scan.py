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
import sys

TIMEOUT_SECS = 5.0

try:
    import aioclamd
except ImportError:
    print("ERROR: the python `aioclamd` package is not installed (pip install aioclamd)")
    sys.exit(2)


async def scan(host, port, path):
    client = aioclamd.ClamdAsyncClient(host=host, port=port, timeout=TIMEOUT_SECS)
    with open(path, "rb") as f:
        return await client.instream(f)


def main():
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    try:
        result = asyncio.run(scan(host, port, path))
    except Exception as e:  # the library's own errors, socket errors, parser errors
        print("ERROR: %s: %s" % (type(e).__name__, e))
        sys.exit(2)
    if not isinstance(result, dict) or len(result) != 1:
        print("ERROR: no result from the library: %r" % (result,))
        sys.exit(2)
    (status, virus), = result.values()
    if status == "FOUND":
        print("%s: %s FOUND" % (path, virus))
        sys.exit(1)
    if status == "OK":
        print("%s: OK" % path)
        sys.exit(0)
    print("ERROR: %s %s" % (status, virus))
    sys.exit(2)


if __name__ == "__main__":
    main()
