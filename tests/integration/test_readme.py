#!/usr/bin/env python3
"""The README's "who logged in" example runs as printed (its tshark command with the
built plugin, piped into its awk program) and prints one line per login attempt with
user, password and result: those of the scenario that made the capture
(pop3-userpass-fail-retry.expected.json), and the output the README shows."""
import json
import os
import re
import shlex
import subprocess

from mailedu_test import CAPTURES, ROOT, Checker, tshark_cmd

c = Checker("readme")
readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
block = next(b for b in re.findall(r"```sh\n(.*?)```", readme, re.S) if "who logged in" in b)
lines = block.split("\n")
start = next(i for i, l in enumerate(lines) if l.startswith("tshark "))
end = next(i for i in range(start, len(lines)) if lines[i].rstrip().endswith("|"))
ts = " ".join(l.rstrip().rstrip("\\|") for l in lines[start:end + 1])
awk = lines[end + 1]
shown = [l[2:] for l in lines[end + 2:] if l.startswith("# session")]
args = shlex.split(ts)[1:]
args = [os.path.join(ROOT, a) if a.startswith("test-captures/") else a for a in args]
out = subprocess.run(tshark_cmd(args), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
got = subprocess.run(shlex.split(awk), input=out, stdout=subprocess.PIPE).stdout.decode().splitlines()

exp = json.load(open(os.path.join(CAPTURES, "pop3-userpass-fail-retry.expected.json")))
want = ["session 0: %s / %s -> %s" % (a["username"], a["password"], a["result"]) for a in exp["credentials"]]
c.eq(got, want, "who logged in: user / password -> result, per attempt")
c.eq(shown, want, "the output the README shows")
c.done()
