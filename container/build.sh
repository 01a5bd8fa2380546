#!/bin/sh
# Builds the FROM scratch image of the fakes (issue 16 part 6) and checks it without
# starting a container: the binaries are static and run, the image holds the entrypoint,
# port and health check, `podman export` holds the files, and the same binary with the same
# clamd.conf answers PING outside the container. Not part of `cargo xtask test`.
#
#   container/build.sh [IMAGE]          (default av-conformance/fake-clamd:dev; needs podman)
set -eu
image=${1:-av-conformance/fake-clamd:dev}
root=$(cd "$(dirname "$0")/.." && pwd)
triple=x86_64-unknown-linux-gnu
ctx=$root/target/image/context
cd "$root"

RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --release --target "$triple" -p fake-clamd -p fake-vfindd -p fave --bins
rm -rf "$ctx" && mkdir -p "$ctx/bin" "$ctx/run-clamav"
for b in fake-clamd fake-vfindd fave-scan; do
  cp "target/$triple/release/$b" "$ctx/bin/"
  # static: no program interpreter, no shared libraries (a scratch image has neither)
  if readelf -l "$ctx/bin/$b" | grep -q 'Requesting program interpreter'; then
    echo "$b is dynamically linked" >&2; exit 1
  fi
  "$ctx/bin/$b" --version >/dev/null
done
cp container/Containerfile container/clamd.conf "$ctx/"
: > "$ctx/healthcheck.empty"
: > "$ctx/run-clamav/.keep"

# the same binary and conf (ports moved to loopback/ephemeral) answer PING and a scan
tmp=$(mktemp -d)
sed -e 's/^TCPSocket .*/TCPSocket 0/' -e 's/^TCPAddr .*/TCPAddr 127.0.0.1/' \
    -e "s#^LocalSocket .*#LocalSocket $tmp/clamd.sock#" container/clamd.conf > "$tmp/clamd.conf"
"$ctx/bin/fake-clamd" -c "$tmp/clamd.conf" > "$tmp/out" 2>"$tmp/err" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
i=0
until grep -q '^LISTENING tcp' "$tmp/out"; do
  i=$((i+1)); [ $i -lt 100 ] || { cat "$tmp/err" >&2; exit 1; }; sleep 0.05
done
addr=$(sed -n 's/^LISTENING tcp //p' "$tmp/out")
python3 - "$addr" "$tmp/clamd.sock" <<'PY'
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
for fam, target in ((socket.AF_INET, (host, int(port))), (socket.AF_UNIX, sys.argv[2])):
    s = socket.socket(fam, socket.SOCK_STREAM); s.settimeout(5); s.connect(target)
    s.sendall(b"zPING\0"); reply = s.recv(64); s.close()
    assert reply == b"PONG\0", reply
print("PING answered over TCP and", sys.argv[2])
PY
"$ctx/bin/fave-scan" --clamd "$addr" "$ctx/healthcheck.empty"

podman build --format docker -t "$image" -f "$ctx/Containerfile" "$ctx"
podman image inspect "$image" --format '{{json .Config.Entrypoint}} {{json .Config.ExposedPorts}} {{json .Config.Healthcheck.Test}}' \
  | tee "$tmp/inspect"
grep -q '"/usr/local/bin/fake-clamd","-c","/etc/clamav/clamd.conf"' "$tmp/inspect"
grep -q '3310/tcp' "$tmp/inspect"
grep -q 'fave-scan' "$tmp/inspect"
cid=$(podman create "$image")
podman export "$cid" | tar -t > "$tmp/files"
podman rm "$cid" >/dev/null
for f in usr/local/bin/fake-clamd usr/local/bin/fake-vfindd usr/local/bin/fave-scan \
         etc/clamav/clamd.conf run/clamav/ usr/local/share/fake-clamd/healthcheck.empty; do
  grep -qx "$f" "$tmp/files" || { echo "missing in the image: $f" >&2; exit 1; }
done
echo "image $image: ok"
