"""Copy detection between submissions of different students: identical
files, and files that share TCP segments (same addresses, ports, sequence
numbers and lengths, with capture timestamps that differ by one constant:
one capture trimmed, re-saved or time-shifted (editcap -t) from the other).
Two students using the same lab server share the server address and port
but never the client port and sequence numbers together; and if a lab tool
made them repeat (fixed initial sequence numbers), two separate runs never
keep every timestamp a constant distance apart, to the microsecond."""
import datetime
import ipaddress

from .texts import tr

MIN_SHARED = 3  # segments in common that make a copy (or all of the smaller capture)


def _endpoint(addr):
    """An address as written before ":port": IPv6 in brackets (RFC 3986 §3.2.2)."""
    a = ipaddress.ip_address(addr)
    return "[%s]" % a if a.version == 6 else str(a)


def _seg_text(seg, lang):
    """One shared segment, as the evidence's example, in the report's language."""
    src, sport, dst, dport, seq, us, length = seg
    when = datetime.datetime.fromtimestamp(us / 1e6, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    return tr(lang, "copy_segment", src=_endpoint(src), sport=sport, dst=_endpoint(dst),
              dport=dport, seq=seq, n=length, when=when)


def find(results, lang):
    """Pairs of copies among result dicts (their '_files' with sha256 and
    segments).  Returns a list of {a, b, files: [fa, fb], kind, evidence}
    and adds each pair to both results' 'copies'."""
    owners, by_sha, by_seg = [], {}, {}
    for r in results:
        for f in r.get("_files", []):
            idx = len(owners)
            owners.append((r, f))
            if f.get("sha256"):
                by_sha.setdefault(f["sha256"], []).append(idx)
            for seg in f.get("segments", ()):
                # (src, sport, dst, dport, seq, length): the time is compared per pair
                by_seg.setdefault(seg[:5] + seg[6:], []).append((idx, seg))
    by_shift = {}  # (file a, file b) -> {a's time - b's time: a's shared segments}
    for holders in by_seg.values():
        for i in range(len(holders)):
            for j in range(i + 1, len(holders)):
                (ia, sa), (ib, sb) = sorted((holders[i], holders[j]))
                if ia != ib:
                    by_shift.setdefault((ia, ib), {}).setdefault(sa[5] - sb[5], []).append(sa)
    shared, shift = {}, {}
    for key, deltas in by_shift.items():
        shift[key], shared[key] = max(deltas.items(), key=lambda d: len(d[1]))
    identical = set()
    for idxs in by_sha.values():
        identical.update((idxs[i], idxs[j]) for i in range(len(idxs)) for j in range(i + 1, len(idxs)))
    pairs = []
    for key in sorted(identical | set(shared)):
        (ra, fa), (rb, fb) = owners[key[0]], owners[key[1]]
        if ra is rb:
            continue  # one student's own files
        segs = sorted(shared.get(key, []), key=lambda s: s[5])
        smaller = min(len(fa.get("segments", ())), len(fb.get("segments", ())))
        if key in identical:
            kind, ev = "identical", tr(lang, "copy_identical", sha=fa["sha256"][:16])
        elif len(segs) >= MIN_SHARED or (segs and len(segs) >= smaller):
            kind = "same_sessions"
            ev = (tr(lang, "copy_shifted", n=len(segs), shift="%+.6f" % (shift[key] / 1e6), eg=_seg_text(segs[0], lang))
                  if shift[key] else tr(lang, "copy_segments", n=len(segs), eg=_seg_text(segs[0], lang)))
        else:
            continue
        pair = {"a": ra["student"], "b": rb["student"], "files": [fa["name"], fb["name"]], "kind": kind,
                "evidence": ev, "shared_segments": len(segs)}
        pairs.append(pair)
        ra["copies"].append(pair)
        rb["copies"].append(pair)
    return pairs
