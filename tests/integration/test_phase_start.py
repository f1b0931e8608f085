#!/usr/bin/env python3
"""`mailedu.phase.start` and `mailedu.tls` behave like Wireshark's own flags: present
only when true, so the bare filter `mailedu.phase.start` matches exactly the first
packet of each phase (SPEC, display-filter fields; issue 10 item 5).

Expected frames, found by hand from the bytes of test-captures/pop3-rfc1939.pcapng
(tshark -x, no plugin) and RFC 1939:
  4  "+OK mailedu test server ready. <...>"  the greeting opens AUTHORIZATION (§4)
  6  "APOP alice ..."  8 "+OK Logged in."   still AUTHORIZATION: the line that causes
                                              the transition belongs to the old phase
  9  "STAT"                                   first line of TRANSACTION (§5)
  26 "QUIT"                                   sent in TRANSACTION, causes UPDATE (§6)
  28 "+OK Logging out, messages deleted."    first line of UPDATE
The session is clear text (port 11110, no STLS), so `mailedu.tls` matches nothing.

"""
import os

from mailedu_test import CAPTURES, Checker, frames

c = Checker("phase-start")
cap = os.path.join(CAPTURES, "pop3-rfc1939.pcapng")

c.eq(frames(cap, "mailedu.phase.start"), [4, 9, 28], "filter mailedu.phase.start")
c.eq(frames(cap, "mailedu.phase.start == 1"), [4, 9, 28], "filter mailedu.phase.start == 1")
c.eq(frames(cap, "mailedu.phase.start == 0"), [], "mailedu.phase.start is never present and false")
c.eq(frames(cap, "mailedu.tls"), [], "filter mailedu.tls on a clear-text session")
c.eq(frames(cap, "mailedu && !mailedu.phase.start"),
     [6, 8, 10, 11, 13, 14, 16, 17, 19, 20, 22, 23, 25, 26], "mail packets that start no phase")
c.done()
