#!/bin/sh
# Runs ClamAV's own mail filter, clamav-milter, as a clamd client on one file, with
# miltertest (opendkim's milter driver) playing the MTA; conformance/clients/clamav-milter.toml.
#   clamav_milter_scan.sh CLAMD_SOCKET FILE DIR
# CLAMD_SOCKET is clamav-milter's ClamdSocket value: tcp:HOST:PORT (it streams the message
# with nINSTREAM) or unix:/path (nFILDES: it spools the message to a file and passes clamd
# its descriptor). The driver writes a clamav-milter config into DIR (that ClamdSocket, the
# milter on a unix socket in DIR, Foreground, log and pid file in DIR, OnInfected Reject,
# OnFail Defer, AddHeader), starts the milter, sends one message through clamav_milter.lua
# and always stops the milter it started, by its pid, also when it is itself stopped.
# FILE goes as a base64 attachment, as mail carries files: clamd's mail parser decodes it
# back to FILE's exact bytes, so a signature on the whole file (the harness's EICAR hash)
# still matches; a bare body would be the file with CRLF line ends inside a message, and a
# binary file cannot be a body at all.
# Exit status from the milter's action, as the MTA applies it: accept/continue 0 (clean),
# reject/discard 1 (infected), tempfail or anything else 2 (error; OnFail Defer).
# It prints what the MTA saw: "milter: <action> at <stage>", "X-Virus-Status: <value>".
set -u
clamd_socket=$1 file=$2 dir=$3
here=$(cd "$(dirname "$0")" && pwd)
: "${MILTER_READ_TIMEOUT:=10}"        # clamav-milter ReadTimeout (seconds; its default is 120)
: "${MILTERTEST_TIMEOUT:=60}"         # miltertest's wait for each milter reply

sock=$dir/milter.sock
sockdir=""
# a unix socket path is limited to 108 bytes: a deep DIR gets a short directory of its own
if [ ${#sock} -gt 100 ]; then
  sockdir=$(mktemp -d /tmp/avc-milter.XXXXXX) || exit 2
  sock=$sockdir/milter.sock
fi
conf=$dir/clamav-milter.conf
log=$dir/clamav-milter.log
body=$dir/message.body
boundary="=_avc-milter-boundary"

cat >"$conf" <<CONF
MilterSocket unix:$sock
ClamdSocket $clamd_socket
Foreground yes
PidFile $dir/clamav-milter.pid
TemporaryDirectory $dir
LogFile $log
LogVerbose yes
LogInfected Basic
LogClean Basic
ReadTimeout $MILTER_READ_TIMEOUT
OnClean Accept
OnInfected Reject
OnFail Defer
AddHeader Replace
CONF

milter_pid=""
stop_milter() {
  [ -n "$milter_pid" ] || return 0
  kill -TERM "$milter_pid" 2>/dev/null
  i=0
  while kill -0 "$milter_pid" 2>/dev/null && [ $i -lt 4 ]; do sleep 0.05; i=$((i + 1)); done
  kill -KILL "$milter_pid" 2>/dev/null
  wait "$milter_pid" 2>/dev/null
  milter_pid=""
}
fail() {
  echo "ERROR: $*"
  [ -f "$log" ] && sed 's/^/clamav-milter log: /' "$log" | tail -n 20
  exit 2
}
cleanup() { stop_milter; [ -z "$sockdir" ] || rm -rf "$sockdir"; }
trap 'cleanup' EXIT
trap 'cleanup; echo "ERROR: stopped by a signal"; exit 2' INT TERM HUP

clamav-milter -c "$conf" >"$dir/clamav-milter.out" 2>&1 &
milter_pid=$!

# Wait for the milter's socket and for its first probe of clamd (nPING on a connection of
# its own). The milter listens at once, but its monitor thread probes clamd beside it, and
# until the probe has answered every clamd counts as dead: a message that arrives earlier
# is deferred (OnFail) without a scan. The probe waits up to ReadTimeout for PONG.
i=0
limit=$(((MILTER_READ_TIMEOUT + 20) * 20))
until [ -S "$sock" ] && grep -q '^Probe for slot 1 returned' "$log" 2>/dev/null; do
  kill -0 "$milter_pid" 2>/dev/null || { wait "$milter_pid"; fail "clamav-milter exited with status $? before it was ready"; }
  [ $i -lt $limit ] || fail "clamav-milter was not ready (socket and first clamd probe) within $((limit / 20)) s"
  sleep 0.05; i=$((i + 1))
done
# the probe's line is logged just before the pool's count of live clamds is updated
sleep 0.05

# the message body: one text part and FILE as a base64 attachment, CRLF line ends
{
  printf 'This is a multi-part message in MIME format.\r\n\r\n'
  printf -- '--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nSee the attachment.\r\n\r\n' "$boundary"
  printf -- '--%s\r\nContent-Type: application/octet-stream; name="input.bin"\r\n' "$boundary"
  printf 'Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="input.bin"\r\n\r\n'
  base64 -w 76 "$file" | sed 's/$/\r/'
  printf -- '\r\n--%s--\r\n' "$boundary"
} >"$body" || fail "cannot write the message body"

out=$(miltertest -s "$here/clamav_milter.lua" -D "SOCK=unix:$sock" -D "BODY=$body" \
  -D "CTYPE=multipart/mixed; boundary=\"$boundary\"" -D "TMO=$MILTERTEST_TIMEOUT" 2>&1)
rc=$?
stop_milter
printf '%s\n' "$out"
[ $rc -eq 0 ] || fail "miltertest exited with status $rc"

action=$(printf '%s\n' "$out" | sed -n 's/^milter: \([a-z]*\).*/\1/p' | head -n 1)
case $action in
  accept | continue) exit 0 ;;
  reject | discard) exit 1 ;;
  replycode)
    # a reply code the milter set: 5xx rejects the message, 4xx defers it
    if printf '%s\n' "$out" | grep -q '^smtp reply: 5'; then exit 1; fi
    fail "the milter deferred the message (reply code)" ;;
  tempfail) fail "the milter deferred the message (tempfail: OnFail Defer)" ;;
  *) fail "no milter action in miltertest's output" ;;
esac
