#!/usr/bin/env python3
"""Reports (issue 9): -z mailedu,sessions[,json] / transcript / hashes / tree and
the feed of Wireshark's credentials tap, with the real tshark and the built
plugin.  Expected values come from each scenario's expected.json (what the
client did and what the server answered), from SOURCES.md for the public
captures, and hashes are recomputed from the scenario's password with Python's
hashlib/hmac, never taken from mailedu's output."""
import base64
import glob
import hashlib
import hmac
import json
import os
import subprocess

from mailedu_test import (BUILD, CAPTURES, CUT_SHORT_EXIT, PUBLIC, ROOT, Checker, _stage, decode_args, tshark,
                          tshark_cmd)

c = Checker("reports")
IMPLICIT = (11995, 11993, 11465)
SCHEMA_KEYS = {"stream", "protocol", "client", "server", "first_frame", "last_frame", "first_time",
               "last_time", "tls", "phases", "phases_inferred", "user", "logins", "cleartext",
               "commands", "replies", "warnings", "mail_from", "rcpt_to", "rcpt_accepted",
               "mailboxes", "lines", "lines_truncated"}
LOGIN_KEYS = {"attempt", "mechanism", "username", "password", "token", "challenge", "digest",
              "result", "failure", "start_frame", "secret_frame", "result_frame", "cleartext", "tls"}


def run(args):
    """tshark's exit status and its standard output as bytes (not decoded)."""
    p = subprocess.run(tshark_cmd(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def section(out, title):
    """The text between '=== mailedu TITLE ===' and '=== end ==='."""
    start = out.index("=== mailedu %s ===\n" % title) + len("=== mailedu %s ===\n" % title)
    return out[start:out.index("=== end ===", start)]


def sessions(cap, args=(), two_pass=False, filt=None):
    z = "mailedu,sessions,json" + ("," + filt if filt else "")
    out = tshark(["-n", "-r", cap, "-q", "-z", z] + (["-2"] if two_pass else []) + list(args))
    return json.loads(section(out, "sessions (json)"))


ALL_REPORTS = ["-z", "mailedu,sessions,json", "-z", "mailedu,transcript", "-z", "mailedu,hashes",
               "-z", "mailedu,sessions"]


def reports(cap, args=(), two_pass=False):
    """Every report of one run (one tshark per capture: the machine is shared)."""
    return tshark(["-n", "-r", cap, "-q"] + ALL_REPORTS + (["-2"] if two_pass else []) + list(args))


def capture_args(f, exp):
    keys = f.rsplit(".", 1)[0] + ".keys"
    args = ["-o", "tls.keylog_file:" + keys] if os.path.exists(keys) else []
    if exp.get("server_port") in IMPLICIT:
        return args + ["-d", "tcp.port==%d,tls" % exp["server_port"]]
    if "tunnel" in exp:  # Wireshark's SOCKS/HTTP dissector hands the tunnel to SMTP itself
        return args
    return args + (decode_args(exp) if exp.get("protocol") in ("pop3", "smtp", "imap") else [])


def sent(login):
    """A credential crossed the wire (expected.json's convention, test-captures/README.md)."""
    return (login["password"] is not None or login["token"] or login["digest"]
            or (login["username"] and login["result"]))


def merged_phases(phs):
    out = []
    for p in phs:
        if p != "tls" and (not out or out[-1] != p):
            out.append(p)
    return out


def verbs(sess):
    got = []
    for ln in sess["lines"]:
        if ln["dir"] == "C" and ln["kind"] == "command":
            w = ln["text"].split()
            v = w[1] if sess["protocol"] == "imap" and len(w) > 1 else w[0]
            if v.upper() != "DONE":  # the end of IMAP IDLE is no command (RFC 2177)
                got.append(v.upper())
    return got


def check_capture(f, exp, two_pass):
    name = os.path.basename(f)
    args = capture_args(f, exp)
    out = reports(f, args)
    doc = json.loads(section(out, "sessions (json)"))
    if two_pass:
        c.eq(out == reports(f, args, two_pass=True), True, name + ": every report identical with -2")
    c.eq((doc["schema_version"], doc["capture"]), (1, name), name + ": schema_version, capture")
    if exp["protocol"] == "none":
        c.eq(doc["sessions"], [], name + ": no mail, no session")
        return
    ss = [s for s in doc["sessions"] if s["server"]["port"] == exp["server_port"]]
    if not c.eq(len(ss), 1, name + ": one session on the server port"):
        return
    s = ss[0]
    c.eq(set(s) >= SCHEMA_KEYS, True, name + ": every schema key, missing %s" % (SCHEMA_KEYS - set(s)))
    c.eq(s["protocol"], exp["protocol"], name + ": protocol")
    got = [(x["mechanism"], x["username"], x["password"], x["result"]) for x in s["logins"] if sent(x)]
    want = [(w["mechanism"], w["username"], w.get("password"), w["result"]) for w in exp.get("credentials", [])]
    c.eq(got, want, name + ": logins in order")
    got = [x["failure"] for x in s["logins"] if sent(x)]
    want = [w.get("failure") for w in exp.get("credentials", [])]
    if any(want):
        c.eq(got, want, name + ": why each failed login failed")
    if "auth_verdicts" in exp:
        # every AUTH, a credential sent or not, with what its reply says of
        # the secret (the scenario's record of the server's reply codes)
        c.eq([(x["mechanism"], x["result"], x["failure"]) for x in s["logins"]],
             [(v["mechanism"], "success" if v["failure"] is None else "failure", v["failure"])
              for v in exp["auth_verdicts"]], name + ": every AUTH's outcome")
    for x in s["logins"]:
        c.eq(set(x), LOGIN_KEYS, name + ": login keys")
        # the other scenarios' failures are a wrong password (fail-retry, read
        # from the servers' logs) or the client's "*" (cancel)
        if x["result"] == "failure" and "auth_verdicts" not in exp:
            c.eq(x["failure"], "cancelled" if "cancel" in name else "credentials",
                 name + ": why attempt %d failed" % x["attempt"])
        elif x["result"] != "failure":
            c.eq(x["failure"], None, name + ": no failure kind without a failure")
        if x["result"]:
            c.check(x["start_frame"] <= (x["secret_frame"] or x["start_frame"]) <= x["result_frame"],
                    name + ": login frames in order %r" % x)
    if "phases" in exp:
        phs = [p["phase"] for p in s["phases"]]
        c.eq(merged_phases(phs) if exp.get("tls") else phs, exp["phases"], name + ": phases")
    mode = "none" if not exp.get("tls") else "implicit" if exp["server_port"] in IMPLICIT else "starttls"
    c.eq((s["tls"]["mode"], s["tls"]["decrypted"]), (mode, bool(exp.get("tls"))), name + ": tls")
    if "commands" in exp:
        c.eq(verbs(s), [w["command"].split()[0] for w in exp["commands"]], name + ": commands")
    c.check(not any(x["cleartext"] for x in s["logins"]) or not exp.get("tls"), name + ": no cleartext in TLS")


# 1. every generated capture agrees with its scenario, in one pass and with -2
files = sorted(glob.glob(os.path.join(CAPTURES, "*.pcapng")))
c.check(len(files) >= 40, "test captures found: %d" % len(files))
for i, f in enumerate(files):
    exp = json.load(open(f.rsplit(".", 1)[0] + ".expected.json"))
    # -2 on every third capture and on every TLS one (keys change the most between passes)
    check_capture(f, exp, i % 3 == 0 or exp.get("tls"))

# 2. by hand from the bytes: envelope, mailboxes, user, masking, skipped STARTTLS
d = sessions(os.path.join(CAPTURES, "smtp-auth-fail-retry.pcapng"), ["-d", "tcp.port==11587,smtp"])
s = d["sessions"][0]
c.eq((s["mail_from"], s["rcpt_to"], s["rcpt_accepted"], s["user"]),
     (["alice@example.test"], ["bob@example.test"], ["bob@example.test"], "bob"), "SMTP envelope and user")
c.eq((s["tls"]["offered"], s["tls"]["skipped"], s["cleartext"]), (True, True, True), "SMTP STARTTLS offered, skipped")
c.eq(s["warnings"].get("login_failed"), 1, "one failed login counted")
d = sessions(os.path.join(CAPTURES, "imap-select-fail.pcapng"), ["-d", "tcp.port==11143,imap"])
c.eq(d["sessions"][0]["mailboxes"], ["INBOX"], "IMAP mailboxes: only the one selected")
d = sessions(os.path.join(CAPTURES, "pop3-userpass-fail-retry.pcapng"),
             ["-d", "tcp.port==11110,pop", "-o", "mailedu.mask_passwords:TRUE"])
c.eq(d["mask_passwords"], True, "mask_passwords in the document")
c.eq([x["password"] for x in d["sessions"][0]["logins"]], ["********", "********"], "passwords masked")
c.check(all("b0b pass" not in ln["text"] for ln in d["sessions"][0]["lines"]), "no password in masked lines")

# 3. the tap filter keeps only matching frames; -Y with -2 too
f = os.path.join(PUBLIC, "pop3-userpass-authplain-5sess.pcap")
all_streams = [s["stream"] for s in sessions(f)["sessions"]]
c.check(len(all_streams) >= 2, "5sess: several sessions")
c.eq([s["stream"] for s in sessions(f, filt="tcp.stream == %d" % all_streams[1])["sessions"]],
     [all_streams[1]], "tap filter: one stream")
c.eq([s["stream"] for s in sessions(f, ["-R", "tcp.stream == %d" % all_streams[0]], two_pass=True)["sessions"]],
     [all_streams[0]], "-2 -R: one stream")

# 4. no mail: empty reports, exit 0
f = os.path.join(CAPTURES, "negative-http.pcapng")
rc, out, err = run(["-n", "-r", f, "-q", "-z", "mailedu,sessions", "-z", "mailedu,transcript",
                    "-z", "mailedu,hashes", "-z", "mailedu,sessions,json"])
out = out.decode()
c.eq(rc, 0, "no-mail capture: exit 0 (%s)" % err.strip())
c.eq(json.loads(section(out, "sessions (json)"))["sessions"], [], "no-mail: JSON sessions empty")
c.eq(section(out, "hashes"), "", "no-mail: no hashes")
c.check("No mail session" in section(out, "transcript"), "no-mail: transcript says so")

# 5. bad arguments get a clear message and a failure status
for z in ("mailedu,transcript,abc", "mailedu,sessions,json,tcp.port ==", "mailedu,sessionsx"):
    rc, out, err = run(["-n", "-r", f, "-q", "-z", z])
    c.check(rc != 0 and "invalid -z argument" in err, "%s: rejected clearly (%d, %s)" % (z, rc, err.strip()[:120]))

# 6. Wireshark's credentials tap: mailedu adds what the builtins miss
f = os.path.join(PUBLIC, "pop3-apop.pcapng")
rc, out, _ = run(["-n", "-r", f, "-q", "-z", "credentials"])
c.check(b"billcl" in out, "-z credentials lists the APOP user billcl")
rc, out, _ = run(["-n", "-r", f, "-q", "-z", "credentials", "--disable-protocol", "mailedu"])
c.check(b"billcl" not in out, "without mailedu, Wireshark lists no billcl")
f = os.path.join(PUBLIC, "imap-login-caps.pcap")
rc, out, _ = run(["-n", "-r", f, "-q", "-z", "credentials"])
rows = [ln for ln in out.decode().splitlines() if "mailedu" in ln]
c.check(len(rows) == 1 and "samir" in rows[0] and "password: pfres" in rows[0],
        "-z credentials: IMAP LOGIN samir with the full password pfres: %r" % rows)


# 7. hashes, recomputed from the scenario's password (alice / alicepw)
def hashes(cap, args=(), two_pass=False):
    rc, raw, err = run(["-n", "-r", cap, "-q", "-z", "mailedu,hashes"] + (["-2"] if two_pass else []) + list(args))
    c.check(rc in (0,) + CUT_SHORT_EXIT, "%s: hashes run (%d %s)" % (cap, rc, err.strip()[:100]))
    out = raw.decode()
    return [ln for ln in section(out, "hashes").splitlines() if ln and not ln.startswith("#")]


for name, port, proto in (("pop3-auth-cram-md5", 11110, "pop"), ("imap-auth-cram-md5", 11143, "imap"),
                          ("smtp-auth-cram-md5", 11587, "smtp")):
    f = os.path.join(CAPTURES, name + ".pcapng")
    lines = hashes(f, ["-d", "tcp.port==%d,%s" % (port, proto)])
    c.eq(lines, hashes(f, ["-d", "tcp.port==%d,%s" % (port, proto)], two_pass=True), name + ": -2 identical")
    ok = False
    for ln in lines:
        parts = ln.split("$")  # $cram_md5$<b64 challenge>$<b64 "user digest">
        if len(parts) == 4 and parts[1] == "cram_md5":
            chal = base64.b64decode(parts[2])
            user, digest = base64.b64decode(parts[3]).decode().split(" ")
            ok = user == "alice" and digest == hmac.new(b"alicepw", chal, hashlib.md5).hexdigest()
    c.check(ok, name + ": hashcat 10200 line is HMAC-MD5(alicepw, challenge): %r" % lines)
for f, password, user in ((os.path.join(CAPTURES, "pop3-apop.pcapng"), "alicepw", "alice"),
                          (os.path.join(PUBLIC, "pop3-apop.pcapng"), "pass123", "billcl")):
    lines = hashes(f, ["-d", "tcp.port==11110,pop"])
    ok = len(lines) == 1 and ":" in lines[0]
    if ok:  # hashcat 20: md5($salt.$pass), the line is digest:salt
        digest, salt = lines[0].split(":", 1)
        ok = digest == hashlib.md5((salt + password).encode()).hexdigest() and salt.startswith("<")
    c.check(ok, "%s: APOP line is MD5(timestamp + %s): %r" % (os.path.basename(f), password, lines))

# 8. the transcript of every public capture: exit 0, valid UTF-8, every session
for f in sorted(glob.glob(os.path.join(PUBLIC, "*.pcap*"))):
    name = os.path.basename(f)
    # one run: the streams of mailedu packets as fields, then the reports
    rc, raw, err = run(["-n", "-r", f, "-T", "fields", "-e", "tcp.stream", "-Y", "mailedu",
                        "-z", "mailedu,transcript", "-z", "mailedu,sessions,json"])
    c.check(rc in (0,) + CUT_SHORT_EXIT and b"=== end ===" in raw, name + ": transcript runs (%d %s)" % (rc, err.strip()[:100]))
    try:
        out = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        c.check(False, name + ": transcript is not UTF-8: %s" % e)
        continue
    want = sorted(set(int(ln) for ln in out[:out.index("=== mailedu")].split() if ln.isdigit()))
    got = sorted(int(ln.split()[1].rstrip(":")) for ln in section(out, "transcript").splitlines()
                 if ln.startswith("Session "))
    c.eq(got, want, name + ": a transcript section for every mail stream")
    c.eq(sorted(s["stream"] for s in json.loads(section(out, "sessions (json)"))["sessions"]), want,
         name + ": a JSON session for every mail stream")
f = os.path.join(PUBLIC, "pop3-userpass-authplain-5sess.pcap")
one = tshark(["-n", "-r", f, "-q", "-z", "mailedu,transcript", "-z", "mailedu,sessions"])
c.eq(one, tshark(["-n", "-r", f, "-q", "-2", "-z", "mailedu,transcript", "-z", "mailedu,sessions"]),
     "transcript and table identical with -2")
# the client wrote "pass" (the bytes; commands are case-insensitive, RFC 1939
# §3): the transcript prints the line as sent
c.check("--- TRANSACTION state - transaction ---" in one and "C: pass pippozzo" in one, "transcript: phase heading and PASS line")
# in Bahasa Indonesia: a STARTTLS session without keys (smtp-starttls-auth: frames 11-29
# are TLS records after the 220 to STARTTLS at 10, tshark -x) counts its bytes in Indonesian
tid = section(tshark(["-n", "-r", os.path.join(CAPTURES, "smtp-starttls-auth.pcapng"), "-q",
                      "-o", "mailedu.language:id", "-z", "mailedu,transcript"]), "transcript")
c.check("      11 C: [517 byte data TLS]" in tid and "bytes of" not in tid,
        "transcript in id: TLS records counted in Indonesian")
c.check("(tidak didekripsi), ditawarkan oleh server" in tid and
        "--- fase salam pembuka (greeting) - greeting ---" in tid,
        "transcript in id: TLS state and phase headings in Indonesian")
st = [s for s in sessions(f)["sessions"]][0]["stream"]
part = section(tshark(["-n", "-r", f, "-q", "-z", "mailedu,transcript,%d" % st]), "transcript")
c.eq([ln.split()[1] for ln in part.splitlines() if ln.startswith("Session ")], ["%d:" % st], "transcript,STREAM")

# 9. the stats tree
out = tshark(["-n", "-r", os.path.join(CAPTURES, "pop3-userpass-fail-retry.pcapng"), "-d", "tcp.port==11110,pop",
              "-q", "-z", "mailedu,tree"])
rows = {ln.split()[0]: ln.split()[1] for ln in out.splitlines() if len(ln.split()) > 1}
c.check("USER-PASS" in rows and rows.get("failure") == "1" and rows.get("success") == "1" and
        rows.get("credentials") == "1", "tree: one failed (credentials) and one successful USER-PASS login")

# 10. A run that only reports skips mailedu's rendering, but Wireshark's expert tap
# (-z expert, Analyze -> Expert Information) still gets the warnings as the tree
# shows them: alice's PASS at 9 is refused at 11, bob's PASS at 15 and the
# transitions after 17 (+OK Logged in) and 20 (QUIT) (tshark -V on this capture).
fr = os.path.join(CAPTURES, "pop3-userpass-fail-retry.pcapng")
ex = tshark(["-n", "-r", fr, "-d", "tcp.port==11110,pop", "-q", "-z", "expert",
             "-z", "mailedu,sessions"])


def expert_rows(out):
    """The summaries of mailedu's rows in -z expert's tables (count, group, protocol, summary)."""
    return sorted(" ".join(ln.split()[3:]) for ln in out.splitlines()
                  if len(ln.split()) > 3 and ln.split()[2] == "mailedu")


mine = expert_rows(ex)
c.check("Login attempt failed (alice)" in mine, "-z expert: the failed login names its user")
c.check("New phase: TRANSACTION state - transaction" in mine, "-z expert: the phase change names the phase")
c.eq(mine, expert_rows(tshark(["-n", "-r", fr, "-d", "tcp.port==11110,pop", "-q", "-z", "expert",
                                "-Y", "mailedu"])),
     "-z expert: the same warnings with and without a filter on mailedu")
# in Bahasa Indonesia, -q -z expert (tshark's own table, as the ungrouped
# Analyze -> Expert Information) lists the messages in the reader's language,
# with or without a tree (texts.def TXT_EI_CLEARTEXT, TXT_EI_BASE64)
sa = os.path.join(CAPTURES, "smtp-auth-login.pcapng")
mine = expert_rows(tshark(["-n", "-r", sa, "-q", "-o", "mailedu.language:id", "-z", "expert"]))
c.check("Kata sandi atau token terkirim tanpa enkripsi: siapa pun yang menyadap jaringan dapat membacanya" in mine and
        not any("Cleartext" in m or "unencrypted" in m for m in mine), "-z expert in id: the cleartext warning in Indonesian")
c.eq(mine, expert_rows(tshark(["-n", "-r", sa, "-q", "-o", "mailedu.language:id", "-z", "expert", "-Y", "mailedu"])),
     "-z expert in id: the same with a tree")
# scripts/mailedu-transcript, the thin wrapper: --stream anywhere after the
# capture, the other options handed to tshark (not with the sanitized plugin,
# whose runtime the wrapper's tshark does not preload)
if not os.environ.get("MAILEDU_PRELOAD"):
    script = os.path.join(ROOT, "scripts", "mailedu-transcript")
    env = dict(os.environ, MAILEDU_PLUGIN_DIR=_stage(os.path.join(BUILD, "plugins")))
    cap = _stage(os.path.join(CAPTURES, "pop3-userpass-ok.pcapng"))
    p = subprocess.run([script, cap, "-o", "mailedu.language:id", "--stream", "0"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    c.check(p.returncode == 0 and "Sesi 0: POP3" in p.stdout and "=== end ===" not in p.stdout,
            "mailedu-transcript with --stream after -o: %r %r" % (p.stdout[:200], p.stderr[-200:]))
    p = subprocess.run([script, cap, "--stream", "x"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    c.check(p.returncode != 0 and "--stream needs a tcp.stream number" in p.stderr,
            "mailedu-transcript --stream x: a clear message")
c.done()
