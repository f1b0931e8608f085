#!/usr/bin/env python3
"""The explanation texts (plugin/texts.def, texts_smtp.def, texts_imap.def): every text
in both languages, each language's words in its own texts, one Indonesian term per
idea and one naming pattern for phases (notes/ux-review.md, issue 10 item 6), plain
words for beginners, references a student can look up.

The word lists below are the project's glossary, written by hand: a failure names the
text id and the word, so the fix is a wording change in the .def file.
"""
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILES = sorted(glob.glob(os.path.join(ROOT, "plugin", "texts*.def")))
STR = r'"((?:[^"\\]|\\.)*)"'
ENTRY = re.compile(r'T\((\w+),\s*' + STR + r',\s*' + STR + r',\s*' + STR + r'\)')

# Indonesian words that must not appear in English texts (the phase names first)
ID_WORDS = ["fase", "otorisasi", "transaksi", "belum login", "sudah login", "terpilih", "kata sandi",
            "pengguna", "klien", "kotak surat", "pesan", "balasan", "perintah", "sesi", "salam",
            "dan", "atau", "yang", "tidak", "dengan"]
# Indonesian words replaced by the glossary: word -> what to use instead
ID_BANNED = {
    "disandikan": "dikodekan (encoded; 'sandi' suggests encryption)",
    "penyandian": "pengodean (encoding)",
    "galat": "kesalahan",
    "tangkapan": "capture",
    "tertangkap": "tercapture",
    "sapaan": "salam pembuka (server) or perkenalan (client HELO/EHLO)",
    "menyalakan": "mengaktifkan",
    "dinyalakan": "diaktifkan",
    "fitur": "kemampuan (capability)",
    "dilanggan": "dilanggani (subscribed)",
    "kata sandi sendiri": "kata sandinya",
    "pesan baru benar-benar": "penghapusan sebenarnya baru terjadi",
    "rahasia yang dapat dipakai ulang": "kata sandi atau token",
    "diimplementasikan": "didukung",
    "tak tersinkron": "non-sinkron",
}
# English jargon a beginner cannot read without an explanation
EN_BANNED = ["reusable secret", "non-synchroniz", "trace information", "authorization id",
             "readable by anyone crossed", "arrived before an earlier one"]
# Indonesian phase names: "fase NAME" must carry the RFC's name in parentheses
PHASES_ID = {
    "fase otorisasi": "(AUTHORIZATION)", "fase transaksi": "(TRANSACTION)", "fase update": "(UPDATE)",
    "fase belum login": "(Not Authenticated)", "fase sudah login": "(Authenticated)",
    "fase kotak surat terpilih": "(Selected)", "fase logout": "(Logout)",
    "fase salam pembuka": "(greeting)", "fase perkenalan": "(EHLO/HELO)", "fase login": "(AUTH)",
    "fase amplop": "(MAIL/RCPT)", "fase isi pesan": "(DATA/BDAT)", "fase penutupan": "(QUIT)",
    "fase terenkripsi": "(TLS)",
}
# other words that may follow "fase" (generic use: "fase ini", "Fase baru", ...)
PHASE_GENERIC = {"ini", "baru", "diperkirakan", "yang"}

failures = checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL [texts] " + what)


entries = []
for f in FILES:
    text = open(f, encoding="utf-8").read()
    found = ENTRY.findall(text)
    # every T( entry must parse: a malformed one would hide from the checks
    check(len(found) == text.count("\nT("), "%s: %d entries parsed of %d" % (f, len(found), text.count("\nT(")))
    entries += found
check(len(entries) >= 335, "number of texts: %d" % len(entries))
ids = [e[0] for e in entries]
check(len(ids) == len(set(ids)), "duplicate ids: %s" % sorted({i for i in ids if ids.count(i) > 1}))

drafts = {}  # draft name -> texts that cite it
for tid, rfc, en, idn in entries:
    check(en.strip() != "" and idn.strip() != "", "%s: a language is empty" % tid)
    check(en != idn, "%s: the Indonesian text is a copy of the English one" % tid)
    low_en, low_id = en.lower(), idn.lower()
    for w in ID_WORDS:
        check(re.search(r"\b%s\b" % re.escape(w), low_en) is None, "%s: English text has Indonesian '%s': %s"
              % (tid, w, en))
    for w, instead in ID_BANNED.items():
        check(re.search(r"\b%s\b" % re.escape(w), low_id) is None, "%s: Indonesian text has '%s' (use %s): %s"
              % (tid, w, instead, idn))
    for w in EN_BANNED:
        check(w not in low_en, "%s: English jargon '%s': %s" % (tid, w, en))
    check(re.search(r"octets", low_en) is None or "bytes (octets)" in low_en,
          "%s: 'octets' without 'bytes': %s" % (tid, en))
    for m in re.finditer(r"\bfase\s+([^\s,;:().]+)", low_id):
        name = next((p for p in PHASES_ID if low_id.startswith(p, m.start())), None)
        if name:
            after = idn[m.start() + len(name):].lstrip()
            check(after.startswith(PHASES_ID[name]), "%s: '%s' without '%s': %s" % (tid, name, PHASES_ID[name], idn))
        else:
            check(m.group(1) in PHASE_GENERIC, "%s: unknown phase name 'fase %s': %s" % (tid, m.group(1), idn))
    # a reference a student can look up: an RFC or Microsoft's MS-* document with
    # its section, or a draft's name.  Only names and section numbers: the
    # reference is printed as it is in both languages, so a note in words
    # (what a draft became) belongs in the texts, where it is translated.
    check(rfc == "" or re.match(r"(RFC \d+|MS-[A-Z]+)( (§[\d.]+|App\. [A-Z]))?$", rfc)
          or re.match(r"draft-[a-z0-9-]+$", rfc), "%s: reference %r is not a bare name and section" % (tid, rfc))
    if rfc.startswith("draft-"):
        drafts.setdefault(rfc, []).append((en, idn))

# a draft is no standard: some text citing it says so, in both languages
for name, texts in drafts.items():
    check(any("never an RFC" in en and "tidak pernah menjadi RFC" in idn for en, idn in texts),
          "%s: no text citing it says it never became an RFC" % name)

# the texts named by the review as wrong or misleading (ux-review.md 3.1) were rewritten
by_id = {e[0]: e for e in entries}
check("enkripsi" in by_id["TXT_EI_CLEARTEXT"][3], "EI_CLEARTEXT (id) says it was sent without encryption")
check("password or token" in by_id["TXT_EI_CLEARTEXT"][2], "EI_CLEARTEXT (en) in plain words")
check("nama pengguna" in by_id["TXT_POP3_USER"][3], "POP3_USER (id): the user name, not the mailbox name")
check("belum dihapus" in by_id["TXT_POP3_DELE_OK"][3], "POP3_DELE_OK (id): marked, not yet deleted")
print("texts: %d texts, %d checks, %d failures" % (len(entries), checks, failures))
sys.exit(1 if failures else 0)
