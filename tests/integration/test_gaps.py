#!/usr/bin/env python3
"""Bytes missing from the capture (the layout issue's two gap shapes).

1. POP3, field/pop3-lost-client-segment.pcap: USER/PASS accepted, the client's
   STAT segment was never captured (the server's "+OK 2 720" answers it and
   acknowledges it), then RETR 1 with its message, QUIT, +OK.  Bytes read by
   hand: 4 "+OK POP3 ready", 6 "USER lena", 8 "+OK", 10 "PASS Plum-Tree-3",
   12 "+OK logged in", 14 "+OK 2 720", 16 "RETR 1", 18 "+OK 320 octets" +
   a 3-line message ended by ".", 20 "QUIT", 22 "+OK bye".
   RFC 1939 §4: the greeting opens AUTHORIZATION; after PASS +OK, TRANSACTION;
   after QUIT +OK in TRANSACTION, UPDATE (§6).
2. SMTP BDAT (RFC 3030 §2): public smtp-bdat-pipelined-8bitmime.pcap with frame
   25 removed: the last 205 bytes of the second "BDAT 8757 LAST" chunk
   (client seq 13251..13455) are missing; the server's next ACK (13456)
   acknowledges them.  The chunk ends inside the lost bytes, so what follows is
   in command state: the client's QUIT is a command (phase quit), the 221
   reply too.
"""
import os
import subprocess

from mailedu_test import temp_dir, PUBLIC, SHARED, Checker, fields, frames

c = Checker("gaps")
FIELD = os.path.join(SHARED, "captures", "field")
TMP = temp_dir("mailedu-gaps-")
os.chmod(TMP, 0o755)

ROW = ["frame.number", "mailedu.direction", "mailedu.phase", "mailedu.command",
       "mailedu.status", "mailedu.reply_code"]


def table(cap):
    return {int(r[0]): r[1:] for r in fields(cap, ROW, "mailedu") if r and r[0]}


def check_both_passes(cap, name):
    c.eq(fields(cap, ROW + ["mailedu.gap", "mailedu.explain"], "mailedu", two_pass=True),
         fields(cap, ROW + ["mailedu.gap", "mailedu.explain"], "mailedu"), name + ": -2 == one pass")


# ---- 1. POP3: a lost client segment acknowledged by the server ----
pop = os.path.join(FIELD, "pop3-lost-client-segment.pcap")
t = table(pop)
want = {
    4: ["server", "auth", "", "ok", ""],
    6: ["client", "auth", "USER", "", ""],
    8: ["server", "auth", "", "ok", ""],
    10: ["client", "auth", "PASS", "", ""],
    12: ["server", "auth", "", "ok", ""],
    14: ["server", "transaction", "", "ok", ""],
    16: ["client", "transaction", "RETR", "", ""],
    18: ["server", "transaction", "", "ok", ""],
    20: ["client", "transaction", "QUIT", "", ""],
    22: ["server", "update", "", "ok", ""],
}
c.eq(sorted(t), sorted(want), "pop3 lost segment: frames with records")
for f, w in want.items():
    c.eq(t.get(f), w, "pop3 lost segment: frame %d" % f)
c.eq(frames(pop, "mailedu.phase.start"), [4, 14, 22], "pop3 lost segment: phase starts")
c.eq(frames(pop, "mailedu.gap"), [16],
     "pop3 lost segment: one gap note, on RETR")
c.eq(frames(pop, "mailedu.explain contains \"arrived before an earlier one\""), [],
     "pop3 lost segment: nothing left waiting for missing bytes")
c.eq(frames(pop, "mailedu.data_len && mailedu.direction == \"server\""), [18],
     "pop3 lost segment: the RETR reply is read as a message")
c.eq(frames(pop, "mailedu.malformed"), [], "pop3 lost segment: no malformed lines")
c.eq(frames(pop, "mailedu.auth.result == \"success\""), [12], "pop3 lost segment: login result")
check_both_passes(pop, "pop3 lost segment")

# ---- 2. SMTP: a BDAT chunk that ends inside lost bytes ----
src = os.path.join(PUBLIC, "smtp-bdat-pipelined-8bitmime.pcap")
bdat = os.path.join(TMP, "smtp-bdat-lost-chunk-end.pcap")
subprocess.run(["editcap", src, bdat, "25"], check=True, stdout=subprocess.DEVNULL)
os.chmod(bdat, 0o644)
# after removing frame 25, the original frames 26.. are numbered one less
t = table(bdat)
c.eq(t.get(29), ["client", "quit", "QUIT", "", ""], "bdat gap: QUIT read as a command")
c.eq(t.get(31), ["server", "quit", "", "ok", "221"], "bdat gap: 221 reply")
c.eq(t.get(27), ["server", "data", "", "ok", "250"], "bdat gap: the chunk's 250 reply")
c.eq(frames(bdat, "mailedu.gap"), [29],
     "bdat gap: one gap note, on the line after the gap")
c.eq(frames(bdat, "mailedu.explain contains \"arrived before an earlier one\""), [],
     "bdat gap: nothing left waiting")
c.eq(frames(bdat, "mailedu.phase.start && mailedu.phase == \"quit\""), [29], "bdat gap: quit starts at QUIT")
check_both_passes(bdat, "bdat gap")

c.done()
