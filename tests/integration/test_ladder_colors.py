#!/usr/bin/env python3
"""The ladder's phase bands (plugin/report_ladder.c) use the background colours
of the profile's coloring rules (profile/mailedu/colorfilters), so a student
sees the same colour for a phase in the packet list and in the diagram."""
import os
import re

from mailedu_test import ROOT, Checker

c = Checker("ladder-colors")
rules = open(os.path.join(ROOT, "profile", "mailedu", "colorfilters"), encoding="utf-8").read()
profile = {}
for m in re.finditer(r'@[^@]*@mailedu\.phase == "(\w+)"(?: && mailedu\.proto == "(\w+)")?@\[(\d+),(\d+),(\d+)\]', rules):
    profile[(m.group(2), m.group(1))] = "#%02x%02x%02x" % tuple(int(x) // 257 for x in m.group(3, 4, 5))
src = open(os.path.join(ROOT, "plugin", "report_ladder.c"), encoding="utf-8").read()
table = src[src.index("phase_color[4][ME_PHASE_COUNT]"):]
table = table[:table.index("};")]
ladder = {}
for block in re.finditer(r"\[ME_PROTO_(\w+)\] = \{(.*?)\}", table, re.S):
    for m in re.finditer(r'\[ME_PHASE_(\w+)\] = "(#[0-9a-f]{6})"', block.group(2)):
        ladder[(block.group(1).lower(), m.group(1).lower())] = m.group(2)
c.check(len(ladder) >= 16, "ladder colour table parsed: %d entries" % len(ladder))
for (proto, phase), colour in sorted(ladder.items()):
    want = profile.get((proto, phase)) or profile.get((None, phase))
    c.eq(colour, want, "%s %s band colour" % (proto, phase))
c.done()
