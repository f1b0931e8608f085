#!/usr/bin/env python3
"""mailedu reads the same in every locale.  Protocol words (commands, replies,
capability and mechanism names) compare without regard to ASCII case (RFC 5234
§2.3), never by the C library's tolower(), which follows the locale Wireshark
takes from the environment: in Turkish (tr_TR.UTF-8) tolower('I') is 'I', and
13 of the 95 captures below once gave other sessions there (QUIT, LIST, MAIL
FROM ... unknown).  Every capture (test-captures/, ../shared public and field)
is read in C.UTF-8, in tr_TR.UTF-8 and in id_ID.UTF-8 (the users' own), the two
built here with localedef from Debian's locales package; the sessions JSON
(every line with its phase, explanation and warnings, every login attempt)
must be the same in all three, and in Bahasa Indonesia too, where numbers are
written with a decimal comma: the JSON must stay JSON."""
import concurrent.futures
import glob
import json
import os
import shutil
import subprocess
import tempfile
import atexit

from mailedu_test import CAPTURES, SHARED, Checker, tshark_cmd

c = Checker("locale")
LOCALES = ("C.UTF-8", "tr_TR.UTF-8", "id_ID.UTF-8")

locpath = tempfile.mkdtemp(prefix="mailedu-locales-")
atexit.register(shutil.rmtree, locpath, True)
for name in LOCALES[1:]:
    lang, charset = name.split(".")
    p = subprocess.run(["localedef", "-i", lang, "-f", charset, os.path.join(locpath, name)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if not os.path.isdir(os.path.join(locpath, name)):
        raise SystemExit("test_locale: localedef could not build %s (Debian's locales package, which "
                         "scripts/install-deps --tests installs, has its sources): %s" % (name, p.stdout))
for d, _, files in os.walk(locpath):
    os.chmod(d, 0o755)
    for f in files:
        os.chmod(os.path.join(d, f), 0o644)

# The hazard is real here: in the Turkish locale just built, the C library
# does not fold 'I' to 'i' (else this test could not fail).
probe = subprocess.run(["env", "LOCPATH=" + locpath, "LC_ALL=tr_TR.UTF-8", "python3", "-c",
                        "import ctypes, locale; locale.setlocale(locale.LC_ALL, '');"
                        "print(ctypes.CDLL(None).tolower(ord('I')))"],
                       stdout=subprocess.PIPE, text=True)
c.eq(probe.stdout.strip(), str(ord("I")), "tolower('I') in tr_TR.UTF-8 (the locale is in effect)")


def run(capture, loc, args):
    cmd = [("LC_ALL=" + loc) if a.startswith("LC_ALL=") else a
           for a in tshark_cmd(["-r", capture] + args)]
    i = cmd.index("env") + 1
    cmd.insert(i, "LOCPATH=" + locpath)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.stdout


captures = sorted(glob.glob(os.path.join(CAPTURES, "*.pcap*")) +
                  glob.glob(os.path.join(SHARED, "captures", "public", "*.pcap*")) +
                  glob.glob(os.path.join(SHARED, "captures", "field", "*.pcap*")))
c.check(len(captures) >= 90, "captures found: %d" % len(captures))


def one(capture):
    return capture, [run(capture, loc, ["-q", "-z", "mailedu,sessions,json"]) for loc in LOCALES]


with concurrent.futures.ThreadPoolExecutor(2) as ex:
    for capture, (ref, tr, ind) in ex.map(one, captures):
        name = os.path.basename(capture)
        c.check(b'"schema_version"' in ref, "%s: a sessions report in C.UTF-8" % name)
        c.check(tr == ref, "%s: tr_TR.UTF-8 differs from C.UTF-8" % name)
        c.check(ind == ref, "%s: id_ID.UTF-8 differs from C.UTF-8" % name)
        try:
            json.loads(ind[ind.index(b"{"):ind.rindex(b"}") + 1])
        except ValueError as e:
            c.check(False, "%s: the id_ID.UTF-8 report is not JSON: %s" % (name, e))
c.done()
