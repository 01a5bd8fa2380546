-- miltertest script: plays the MTA for one message against clamav-milter and prints what
-- the milter decided: one "milter: <action> at <stage>" line, then the X-Virus-Status
-- header the milter set at end-of-message (AddHeader), if any.
-- Globals from miltertest -D: SOCK (milter socket), BODY (file holding the message body,
-- CRLF lines), CTYPE (the Content-Type header value), TMO (reply timeout, seconds).
-- Exit status: 0 with a "milter:" line, 3 when the conversation with the milter failed.
mt.set_timeout(tonumber(TMO))

local names = {
  [SMFIR_ACCEPT] = "accept", [SMFIR_CONTINUE] = "continue", [SMFIR_REJECT] = "reject",
  [SMFIR_DISCARD] = "discard", [SMFIR_TEMPFAIL] = "tempfail",
  [SMFIR_REPLYCODE] = "replycode", [SMFIR_SKIP] = "skip",
}

local function die(msg)
  mt.echo("miltertest: " .. msg)
  os.exit(3)
end

local conn = mt.connect(SOCK, 50, 0.1)
if conn == nil then die("cannot connect to the milter at " .. SOCK) end

local function finish(stage, r)
  local name = names[r] or string.format("unknown reply 0x%02x", math.floor(r))
  mt.echo("milter: " .. name .. " at " .. stage)
  if r == SMFIR_REPLYCODE then
    for _, code in ipairs({ "421", "450", "451", "452", "550", "551", "552", "553", "554" }) do
      if mt.eom_check(conn, MT_SMTPREPLY, code) then mt.echo("smtp reply: " .. code) end
    end
  end
  if stage == "eom" then
    local status = mt.getheader(conn, "X-Virus-Status", 0)
    if status ~= nil then mt.echo("X-Virus-Status: " .. status) end
    if mt.eom_check(conn, MT_QUARANTINE) then mt.echo("quarantined") end
  end
  pcall(mt.disconnect, conn)
  os.exit(0)
end

-- One step of the SMTP transaction. A reply other than continue ends the transaction
-- there, as an MTA would end it: clamav-milter returns its OnFail action from the header
-- or body callback when clamd fails early. A step the milter negotiated away
-- (SMFIP_NOEOH, ...) is skipped, as an MTA skips it.
local function step(stage, fn, ...)
  local ok, err = pcall(fn, conn, ...)
  if not ok then
    if string.find(tostring(err), "negotiated SMFIP_NO", 1, true) then return end
    die(stage .. " failed: " .. tostring(err))
  end
  if err ~= nil then die(stage .. " failed: " .. tostring(err)) end
  local r = mt.getreply(conn)
  if r ~= SMFIR_CONTINUE or stage == "eom" then finish(stage, r) end
end

-- a client outside LocalNet, so the message is scanned
step("connect", mt.conninfo, "client.example", "192.0.2.10")
step("mail", mt.mailfrom, "<sender@example.org>")
step("rcpt", mt.rcptto, "<rcpt@example.net>")
for _, h in ipairs({
  { "From", "<sender@example.org>" }, { "To", "<rcpt@example.net>" },
  { "Subject", "av-conformance input" }, { "Date", "Sun, 06 Dec 2026 12:00:00 +0000" },
  { "Message-ID", "<avc-conformance@example.org>" }, { "MIME-Version", "1.0" },
  { "Content-Type", CTYPE },
}) do
  step("header " .. h[1], mt.header, h[1], h[2])
end
step("eoh", mt.eoh)
-- The body in 32 KiB chunks: mt.bodyfile sends 65535-byte chunks, which clamav-milter's
-- libmilter refuses (it drops the connection: 65535 bytes and the command byte make a
-- 65536-byte packet).
local f = io.open(BODY, "rb")
if f == nil then die("cannot open " .. BODY) end
while true do
  local chunk = f:read(32768)
  if chunk == nil then break end
  step("body", mt.bodystring, chunk)
end
f:close()
step("eom", mt.eom)
