#!/usr/bin/env python3
"""Negative integration tests: real protocols that are not mail (FTP, HTTP, SSH,
a made-up binary protocol; test-captures/negative-*, made by scripts/make-captures)
must not be claimed by mailedu, and the plugin must leave the rest of their
dissection exactly as tshark has it without the plugin.  Also checks the phase
changes of pop3-rfc1939 (RFC 1939 section 10 replayed against dovecot) at the
frames the scenario's own record and the raw TCP bytes point to."""
import atexit
import glob
import json
import os
import shutil
import subprocess
import tempfile

from mailedu_test import CAPTURES, Checker, decode_args, fields, frames, tshark, tshark_cmd

c = Checker("negative")

# An empty plugin folder: tshark then loads no plugin at all (mailedu included).
_no_plugins = tempfile.mkdtemp(prefix="mailedu-noplugins-")
os.chmod(_no_plugins, 0o755)
atexit.register(shutil.rmtree, _no_plugins, True)
_SANITIZER_ENV = ("LD_PRELOAD=", "ASAN_OPTIONS=", "UBSAN_OPTIONS=")


def tshark_without_plugin(args):
    """The helper's tshark command (run as nobody when we are root, same HOME,
    TZ and locale) with WIRESHARK_PLUGIN_DIR pointing to an empty folder."""
    cmd = []
    for a in tshark_cmd(args):
        if a.startswith("WIRESHARK_PLUGIN_DIR="):
            a = "WIRESHARK_PLUGIN_DIR=" + _no_plugins
        elif a.startswith(_SANITIZER_ENV):
            continue    # the sanitizer runtime is for the sanitized plugin only
        cmd.append(a)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise AssertionError("tshark (no plugins) %s failed (%d): %s"
                             % (" ".join(args), p.returncode, p.stderr.decode("utf-8", "replace")))
    return p.stdout.decode("utf-8", "replace")


# --- the comparison is only meaningful if the plugin loads in one run and not the other ---
with_p = tshark(["-G", "protocols"])
without_p = tshark_without_plugin(["-G", "protocols"])
c.check("\tmailedu\t" in with_p, "mailedu is not registered with the plugin folder of the build")
c.check("\tmailedu\t" not in without_p, "mailedu is registered with an empty plugin folder")

SUMMARY = ["-n", "-T", "fields", "-E", "separator=\t", "-e", "frame.number",
           "-e", "frame.protocols", "-e", "_ws.col.Protocol", "-e", "_ws.col.Info"]


def first_difference(a, b):
    la, lb = a.splitlines(), b.splitlines()
    for i, (x, y) in enumerate(zip(la, lb)):
        if x != y:
            return "line %d:\n  with plugin:    %s\n  without plugin: %s" % (i + 1, x, y)
    return "with plugin %d lines, without %d lines" % (len(la), len(lb))


# --- every negative capture: nothing is mail, and nothing else changes ---
negatives = sorted(glob.glob(os.path.join(CAPTURES, "negative-*.pcapng")))
c.check(len(negatives) >= 5, "negative captures in test-captures/: %d" % len(negatives))
for f in negatives:
    name = os.path.basename(f)
    exp = json.load(open(f.rsplit(".", 1)[0] + ".expected.json"))
    c.eq(exp.get("protocol"), "none", name + ": expected protocol")
    want = exp.get("mail_packets", 0)
    total = frames(f, "frame")
    c.check(len(total) > 5, name + ": the capture has packets (%d)" % len(total))
    claimed = frames(f, "mailedu")
    if not c.eq(len(claimed), want, name + ": packets matching 'mailedu' (one pass)"):
        for r in fields(f, ["frame.number", "mailedu.proto", "_ws.col.Info"], "mailedu"):
            print("    " + "\t".join(r))
    claimed2 = frames(f, "mailedu", two_pass=True)
    c.eq(len(claimed2), want, name + ": packets matching 'mailedu' (-2)")
    for two in (False, True):
        args = ["-r", f] + (["-2"] if two else []) + SUMMARY
        got = tshark(args)
        ref = tshark_without_plugin(args)
        c.check(ref.strip() != "", name + ": tshark without plugin printed nothing")
        c.check(got == ref, "%s%s: dissection differs with the plugin: %s"
                % (name, " (-2)" if two else "", first_difference(got, ref)))

# --- pop3-rfc1939: where the phases start, from the scenario and the raw bytes ---
f = os.path.join(CAPTURES, "pop3-rfc1939.pcapng")
exp_path = os.path.join(CAPTURES, "pop3-rfc1939.expected.json")
if c.check(os.path.exists(f) and os.path.exists(exp_path), "pop3-rfc1939 capture present"):
    exp = json.load(open(exp_path))
    port = exp["server_port"]
    c.eq(exp["phases"], ["auth", "transaction", "update"], "pop3-rfc1939: recorded phases")
    c.eq([x["command"] for x in exp["commands"]],
         ["APOP", "STAT", "LIST", "RETR", "RETR", "DELE", "DELE", "QUIT"],
         "pop3-rfc1939: recorded commands")
    # The TCP payloads, read without the plugin: (frame, from_server, bytes).
    segs = []
    out = tshark_without_plugin(["-n", "-r", f, "-T", "fields", "-E", "separator=\t",
                                 "-e", "frame.number", "-e", "tcp.srcport", "-e", "tcp.payload",
                                 "-Y", "tcp.len > 0"])
    for line in out.splitlines():
        fr, sport, payload = (line.split("\t") + ["", "", ""])[:3]
        segs.append((int(fr), int(sport) == port, bytes.fromhex(payload.replace(":", ""))))
    client = [(fr, data) for fr, srv, data in segs if not srv]
    server = [(fr, data) for fr, srv, data in segs if srv]
    # one command per segment, in the recorded order
    verbs = [data.split(b" ", 1)[0].strip().decode("ascii", "replace").upper()
             for _fr, data in client]
    c.eq(verbs, [x["command"] for x in exp["commands"]], "pop3-rfc1939: client segments")

    def reply_after(frame):
        return next((fr for fr, _d in server if fr > frame), None)

    greeting = server[0][0] if server else None
    # the phase changes the record names: login accepted (APOP) -> transaction,
    # QUIT sent in transaction -> update, taking effect with the server's reply
    login = next(i for i, x in enumerate(exp["commands"]) if x["command"] == "APOP")
    apop_frame = client[login][0]
    apop_ok = reply_after(apop_frame)
    first_tx = next(fr for fr, _d in client if fr > apop_ok)
    quit_i = max(i for i, x in enumerate(exp["commands"]) if x["command"] == "QUIT")
    c.eq(exp["commands"][login + 1]["phase"], exp["phases"][1], "first command after APOP")
    c.eq(exp["commands"][quit_i]["phase"], exp["phases"][1], "QUIT sent in transaction")
    quit_reply = reply_after(client[quit_i][0])
    c.check(server and server[0][1].startswith(b"+OK"), "pop3-rfc1939: greeting is +OK")
    c.check(any(fr == apop_ok and d.startswith(b"+OK") for fr, d in server),
            "pop3-rfc1939: APOP answered +OK")
    want = [[str(greeting), exp["phases"][0]], [str(first_tx), exp["phases"][1]],
            [str(quit_reply), exp["phases"][2]]]
    args = decode_args(exp)
    for two in (False, True):
        got = fields(f, ["frame.number", "mailedu.phase"], "mailedu.phase.start == 1", args,
                     two_pass=two)
        c.eq(got, want, "pop3-rfc1939%s: packets where a phase starts" % (" (-2)" if two else ""))
        tx = frames(f, 'mailedu.phase == "transaction"', args, two_pass=two)
        c.check(tx and all(fr > apop_ok for fr in tx),
                "pop3-rfc1939%s: transaction packets %s all after the APOP +OK (frame %d)"
                % (" (-2)" if two else "", tx, apop_ok))
        c.check(first_tx in tx, "pop3-rfc1939: STAT (frame %d) is in transaction" % first_tx)

c.done()
