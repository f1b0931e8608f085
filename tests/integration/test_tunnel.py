#!/usr/bin/env python3
"""Mail inside a tunnel (issue 12, fault 2): SMTP through SOCKS5 and HTTP
CONNECT proxies, where no port says mail and Wireshark's own SOCKS/HTTP
dissectors hand the tunnelled bytes to its SMTP dissector.

mailedu must annotate the mail frames with the right direction (the proxy's
side is the server's, whatever the builtin dissector thinks), phases,
commands, reply codes, credentials and results; the tunnel's own frames
(SOCKS handshake, CONNECT and its 200 reply) carry no mailedu record; -2
agrees with one pass.

Expected values: the field capture's by hand from its bytes (tshark -x; see
/work/shared/captures/field/SOURCES.md), the generated captures' from what
the scenario did (NAME.expected.json, scripts/captures/tunnel.py) and from
who sent each frame (the proxy's port is the server side).

Run: MAILEDU_BUILD=build python3 tests/integration/test_tunnel.py"""
import binascii
import json
import os

from mailedu_test import CAPTURES, SHARED, Checker, check_expected, fields

c = Checker("tunnel")
FIELD = os.path.join(SHARED, "captures", "field")

NAMES = ["frame.number", "tcp.srcport", "tcp.payload", "mailedu.proto", "mailedu.direction",
         "mailedu.phase", "mailedu.phase.start", "mailedu.command", "mailedu.argument",
         "mailedu.status", "mailedu.reply_code", "mailedu.auth.mechanism",
         "mailedu.auth.username", "mailedu.auth.password", "mailedu.auth.attempt",
         "mailedu.auth.result", "mailedu.auth.cleartext", "mailedu.session.user"]
MAILEDU = [n for n in NAMES if n.startswith("mailedu.")]


def view(f, two_pass=False):
    """{frame number: {field: value}} for every frame ('' when absent, '|' between values)."""
    out = {}
    for r in fields(f, NAMES, two_pass=two_pass):
        r = r + [""] * (len(NAMES) - len(r))
        d = dict(zip(NAMES, r))
        # a dissector that adds a second tcp.payload (SOCKS does) repeats the same bytes
        d["tcp.payload"] = d["tcp.payload"].split("|")[0]
        out[int(d["frame.number"])] = d
    return out


def mail_frames(v):
    return [n for n, d in sorted(v.items()) if d["mailedu.proto"]]


def record(v, n):
    """The mailedu fields of frame n, without the empty ones."""
    return {k: v[n][k] for k in MAILEDU if v[n][k]}


def same_passes(f, v, name):
    two = view(f, two_pass=True)
    c.eq({n: record(two, n) for n in two}, {n: record(v, n) for n in v},
         name + ": -2 and one pass agree")


# --------------------------------------------------------------------------- 1. field SOCKS5
# smtp-via-socks5.pcap, read by hand: 10.0.0.2:53709 -> SOCKS proxy 10.0.0.1:1080.
#  5 (and its retransmission 6)  05 01 00         greeting: one method, no authentication
#  8                             05 00            method chosen
#  9                             05 01 00 03 0e "010.000.00.003" 00 19   CONNECT name:25
# 11                             05 00 00 01 0a 00 00 01 d1 cd           succeeded
# then SMTP through the tunnel, the proxy's side (1080) being the server:
# 13 S "220 xxxxxxxx.xxxxxxxxxx.xx ESMTP Exim 4.80 ..."   14 C "EHLO User"
# 16 S "250-..." (6 lines, no AUTH offered)               17 C "AUTH LOGIN"
# 19 S "503 AUTH command used when not advertised"        20 RST from the client
f = os.path.join(FIELD, "smtp-via-socks5.pcap")
name = "smtp-via-socks5"
if not os.path.exists(f):
    c.check(False, "missing field capture " + f)
else:
    v = view(f)
    c.eq(mail_frames(v), [13, 14, 16, 17, 19], name + ": mail frames")
    for n in (5, 6, 8, 9, 11):
        c.eq(record(v, n), {}, "%s frame %d (SOCKS handshake): no mailedu record" % (name, n))
    want = {
        13: {"mailedu.proto": "smtp", "mailedu.direction": "server", "mailedu.phase": "greeting",
             "mailedu.phase.start": "1", "mailedu.status": "ok", "mailedu.reply_code": "220"},
        14: {"mailedu.proto": "smtp", "mailedu.direction": "client", "mailedu.phase": "hello",
             "mailedu.phase.start": "1", "mailedu.command": "EHLO", "mailedu.argument": "User"},
        16: {"mailedu.proto": "smtp", "mailedu.direction": "server", "mailedu.phase": "hello",
             "mailedu.status": "ok", "mailedu.reply_code": "250"},
        17: {"mailedu.proto": "smtp", "mailedu.direction": "client", "mailedu.phase": "auth",
             "mailedu.phase.start": "1", "mailedu.command": "AUTH", "mailedu.argument": "LOGIN",
             "mailedu.auth.mechanism": "LOGIN", "mailedu.auth.attempt": "1"},
        # 503: bad sequence of commands (RFC 5321 §4.2.4): the AUTH failed, nothing was sent
        19: {"mailedu.proto": "smtp", "mailedu.direction": "server", "mailedu.phase": "auth",
             "mailedu.status": "error", "mailedu.reply_code": "503",
             "mailedu.auth.mechanism": "LOGIN", "mailedu.auth.attempt": "1",
             "mailedu.auth.result": "failure"},
    }
    keys = ["mailedu.proto", "mailedu.direction", "mailedu.phase", "mailedu.phase.start",
            "mailedu.command", "mailedu.status", "mailedu.reply_code", "mailedu.auth.mechanism",
            "mailedu.auth.username", "mailedu.auth.password", "mailedu.auth.attempt",
            "mailedu.auth.result", "mailedu.auth.cleartext"]
    for n, w in want.items():
        got = {k: v[n][k] for k in keys + ["mailedu.argument"] if v[n][k]}
        if "mailedu.argument" not in w:
            got.pop("mailedu.argument", None)     # a reply's text is not checked here
        c.eq(got, w, "%s frame %d" % (name, n))
    same_passes(f, v, name)


# --------------------------------------------------------------------------- 2. generated
def tunnel_frames(v, hexbytes, side_is_server, proxy_port):
    """Frames of one side whose payload lies inside that side's handshake
    bytes (HEXBYTES, as the scenario sent them), and the frame, if any, where
    the handshake ends and tunnelled bytes follow in the same segment."""
    done, inside, mixed = "", [], None
    for n, d in sorted(v.items()):
        if (d["tcp.srcport"] == str(proxy_port)) != side_is_server or not d["tcp.payload"]:
            continue
        if len(done) >= len(hexbytes):
            break
        p = d["tcp.payload"]
        if hexbytes.startswith(done + p):
            inside.append(n)
            done += p
        elif p.startswith(hexbytes[len(done):]):
            mixed = n
            done = hexbytes
        else:
            c.check(False, "frame %d does not continue the scenario's handshake bytes" % n)
            break
    c.eq(done, hexbytes, "the handshake bytes are in the capture")
    return inside, mixed


def check_generated(stem):
    f = os.path.join(CAPTURES, stem + ".pcapng")
    exp_path = os.path.join(CAPTURES, stem + ".expected.json")
    if not (os.path.exists(f) and os.path.exists(exp_path)):
        c.check(False, "missing %s (.pcapng and .expected.json, scripts/make-captures)" % stem)
        return
    exp = json.load(open(exp_path))
    tun = exp["tunnel"]
    port = tun["proxy_port"]
    v = view(f)
    mail = mail_frames(v)
    c.check(len(mail) >= 12, "%s: mail frames annotated (%d)" % (stem, len(mail)))

    # the tunnel's own frames carry nothing
    cl_inside, cl_mixed = tunnel_frames(v, tun["client_handshake"], False, port)
    sv_inside, sv_mixed = tunnel_frames(v, tun["proxy_handshake"], True, port)
    c.eq(cl_mixed, None, stem + ": the client waits for the proxy before speaking SMTP")
    for n in cl_inside + sv_inside:
        c.eq(record(v, n), {}, "%s frame %d (tunnel handshake): no mailedu record" % (stem, n))
    c.check(cl_inside and (sv_inside or sv_mixed), stem + ": handshake frames found in both directions")

    # every mail frame: who sent it, from the TCP ports
    for n in mail:
        who = "server" if v[n]["tcp.srcport"] == str(port) else "client"
        c.eq(v[n]["mailedu.direction"], who, "%s frame %d direction" % (stem, n))
        c.eq(v[n]["mailedu.proto"], "smtp", "%s frame %d proto" % (stem, n))
    # and every frame with SMTP bytes after the handshake is a mail frame
    last = max(cl_inside + sv_inside + [sv_mixed or 0])
    data = [n for n, d in sorted(v.items()) if n > last and d["tcp.payload"]]
    c.eq([n for n in data if n not in mail], [], stem + ": tunnelled data frames all annotated")

    # the greeting: the server's first tunnelled bytes, '220', phase greeting
    greeting = sv_mixed or min(n for n in data if v[n]["tcp.srcport"] == str(port))
    g = v[greeting]
    want = {"mailedu.direction": "server", "mailedu.phase": "greeting",
            "mailedu.phase.start": "1", "mailedu.reply_code": "220", "mailedu.status": "ok"}
    got = {k: g[k] for k in want}
    c.eq(bool(sv_mixed), stem.endswith("-coalesced"),
         stem + ": the proxy's reply and the greeting share a segment only in the coalesced shape")
    # with sv_mixed, the proxy's reply and the greeting share a segment: Wireshark
    # hands the bytes after the reply to no SMTP dissector (HTTP reads them as the
    # 200's body, SOCKS ignores them); mailedu finds where the reply ends (RFC 9112
    # §2.1 for CONNECT, RFC 1928 §6 for SOCKS5) and reads the greeting there
    c.eq(got, want, "%s frame %d: greeting" % (stem, greeting))

    # credentials, commands in their phases, phases in order (as the scenario recorded)
    exp_check = dict(exp, server_port=None)  # no Decode As: the tunnel decides
    check_expected(c, f, exp_check)
    # the password frame says the secret is readable; the user is known afterwards
    cred = exp["credentials"][0]
    pw = [n for n in mail if v[n]["mailedu.auth.password"]]
    c.eq([v[n]["mailedu.auth.password"] for n in pw], [cred["password"]], stem + ": password frame")
    c.eq([v[n]["mailedu.auth.cleartext"] for n in pw], ["1"], stem + ": cleartext flagged")
    c.eq([v[n]["mailedu.direction"] for n in pw], ["client"], stem + ": password from the client")
    after = [n for n in mail if n > pw[0]] if pw else []
    c.check(after and all(v[n]["mailedu.session.user"] == cred["username"] for n in after),
            stem + ": session user on every frame after the login")
    same_passes(f, v, stem)


for stem in ("tunnel-http-connect", "tunnel-http-connect-coalesced", "tunnel-socks5",
             "tunnel-socks5-coalesced"):
    check_generated(stem)
c.done()
