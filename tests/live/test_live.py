#!/usr/bin/env python3
"""Live test: regenerate POP3 captures from the real dovecot right now and check
mailedu against what the scenario did, so the real-server path cannot rot."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration"))
from mailedu_test import temp_dir, ROOT, Checker, check_expected  # noqa: E402

c = Checker("live")
if os.geteuid() != 0:
    print("live: skipped, capturing on lo needs root")
    sys.exit(0)
out = temp_dir("mailedu-live-")
os.chmod(out, 0o755)
names = ["pop3-userpass-fail-retry", "pop3-auth-plain-2step"]
p = subprocess.run([os.path.join(ROOT, "scripts", "make-captures"), "--only", ",".join(names), "--out", out],
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
c.check(p.returncode == 0, "make-captures failed: " + p.stdout.decode(errors="replace")[-2000:])
for n in names:
    cap = os.path.join(out, n + ".pcapng")
    if c.check(os.path.exists(cap), n + ": capture written"):
        os.chmod(cap, 0o644)
        check_expected(c, cap, json.load(open(os.path.join(out, n + ".expected.json"))))
c.done()
