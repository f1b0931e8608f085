#!/usr/bin/env python3
"""segtool - rewrite the TCP segments of a real capture to make the hostile
cases mailedu must survive, from captures of real servers:

  segtool.py OP IN OUT [ARG]
    split N      every TCP payload cut into segments of N bytes (N=1: a byte per segment)
    dup          every payload segment sent twice (retransmissions)
    reorder      back-to-back segments of one direction swapped in pairs (out of order)
    v6           IPv4 packets rewritten as IPv6 (fd00::1 / fd00::2)
    multiply K   K copies of the conversation on other client ports, interleaved
    port A B     TCP port A rewritten as B (move a lab server to its standard port)

IN may be pcapng (converted with editcap); OUT is classic pcap.  Checksums are
not recomputed (Wireshark does not check them by default).  For snaplen cuts
and mid-session starts, use Wireshark's editcap (-s N, or a packet range).
Python 3 standard library only."""
import os
import struct
import subprocess
import sys
import tempfile


def read_pcap(path):
    data = open(path, "rb").read()
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        # pcapng: editcap writes classic pcap into a directory removed after
        # reading (one file per call otherwise stayed in /tmp for good)
        with tempfile.TemporaryDirectory() as d:
            tmp = os.path.join(d, "in.pcap")
            subprocess.run(["editcap", "-F", "pcap", path, tmp], check=True)
            data = open(tmp, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    hdr = data[:24]
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    pkts, off = [], 24
    while off + 16 <= len(data):
        ts, tus, incl, orig = struct.unpack(endian + "IIII", data[off:off + 16])
        pkts.append([ts, tus, orig, data[off + 16:off + 16 + incl]])
        off += 16 + incl
    return endian, hdr, linktype, pkts


def write_pcap(path, endian, hdr, pkts):
    with open(path, "wb") as f:
        f.write(hdr)
        for ts, tus, orig, b in pkts:
            f.write(struct.pack(endian + "IIII", ts, tus, len(b), max(orig, len(b))))
            f.write(b)


def l2len(linktype):
    return {1: 14, 113: 16, 0: 4, 101: 0, 228: 0}.get(linktype)


def parse(b, linktype):
    """(l2, ip header bytes, version, tcp header bytes, payload) or None."""
    n = l2len(linktype)
    if n is None or len(b) < n + 20:
        return None
    ip = b[n:]
    v = ip[0] >> 4
    if v == 4:
        ihl = (ip[0] & 15) * 4
        if ip[9] != 6:
            return None
        total = struct.unpack(">H", ip[2:4])[0]
        iph, rest = ip[:ihl], ip[ihl:total]
    elif v == 6:
        if ip[6] != 6:
            return None
        plen = struct.unpack(">H", ip[4:6])[0]
        iph, rest = ip[:40], ip[40:40 + plen]
    else:
        return None
    thl = (rest[12] >> 4) * 4
    return b[:n], iph, v, rest[:thl], rest[thl:]


def build(l2, iph, v, tcph, payload, seq=None, sport=None, dport=None):
    tcph = bytearray(tcph)
    if seq is not None:
        tcph[4:8] = struct.pack(">I", seq & 0xFFFFFFFF)
    if sport is not None:
        tcph[0:2] = struct.pack(">H", sport)
    if dport is not None:
        tcph[2:4] = struct.pack(">H", dport)
    iph = bytearray(iph)
    if v == 4:
        iph[2:4] = struct.pack(">H", len(iph) + len(tcph) + len(payload))
    else:
        iph[4:6] = struct.pack(">H", len(tcph) + len(payload))
    return bytes(l2) + bytes(iph) + bytes(tcph) + payload


def op_split(pkts, lt, n):
    out = []
    for p in pkts:
        r = parse(p[3], lt)
        if not r or len(r[4]) <= n:
            out.append(p)
            continue
        l2, iph, v, tcph, pay = r
        seq = struct.unpack(">I", tcph[4:8])[0]
        for i in range(0, len(pay), n):
            out.append([p[0], p[1], 0, build(l2, iph, v, tcph, pay[i:i + n], seq=seq + i)])
    return out


def op_dup(pkts, lt):
    out = []
    for p in pkts:
        out.append(p)
        r = parse(p[3], lt)
        if r and r[4]:
            out.append(list(p))
    return out


def op_reorder(pkts, lt):
    """Swaps two payload segments of one direction when they were sent back to
    back (no payload from the other side between them), as a network does; a
    reply never moves before the command it answers."""
    out = list(pkts)
    prev = None  # index in out of the previous payload segment
    i = 0
    while i < len(out):
        r = parse(out[i][3], lt)
        if r and r[4]:
            if prev is not None and parse(out[prev][3], lt)[3][0:4] == r[3][0:4]:
                out[prev], out[i] = out[i], out[prev]
                prev = None  # each segment moves once
            else:
                prev = i
        i += 1
    return out


def op_v6(pkts, lt):
    out = []
    for p in pkts:
        r = parse(p[3], lt)
        if not r or r[2] != 4:
            out.append(p)
            continue
        l2, iph, v, tcph, pay = r
        src, dst = iph[12:16], iph[16:20]
        a6 = lambda a: b"\xfd\x00" + b"\x00" * 13 + bytes([1 if a == min(src, dst) else 2])
        ip6 = struct.pack(">IHBB", 6 << 28, len(tcph) + len(pay), 6, 64) + a6(src) + a6(dst)
        l2 = bytearray(l2)
        if lt == 1:
            l2[12:14] = b"\x86\xdd"
        out.append([p[0], p[1], 0, bytes(l2) + ip6 + bytes(tcph) + pay])
    return out


def op_multiply(pkts, lt, k):
    out = []
    for i in range(k):
        for j, p in enumerate(pkts):
            r = parse(p[3], lt)
            b = p[3]
            if r:
                l2, iph, v, tcph, pay = r
                sp, dp = struct.unpack(">HH", tcph[0:4])
                # the client is the side with the higher port
                if sp > dp:
                    b = build(l2, iph, v, tcph, pay, sport=(sp + i * 7) % 65536 or 1)
                else:
                    b = build(l2, iph, v, tcph, pay, dport=(dp + i * 7) % 65536 or 1)
            out.append((j, i, [p[0], p[1], 0, b]))
    out.sort(key=lambda x: (x[0], x[1]))  # packet j of every copy, then j+1...
    return [x[2] for x in out]


def op_port(pkts, lt, a, b):
    out = []
    for p in pkts:
        r = parse(p[3], lt)
        if not r:
            out.append(p)
            continue
        l2, iph, v, tcph, pay = r
        sp, dp = struct.unpack(">HH", tcph[0:4])
        out.append([p[0], p[1], 0, build(l2, iph, v, tcph, pay, sport=b if sp == a else sp,
                                         dport=b if dp == a else dp)])
    return out


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    op, src, dst = sys.argv[1:4]
    arg = int(sys.argv[4]) if len(sys.argv) > 4 else None
    arg2 = int(sys.argv[5]) if len(sys.argv) > 5 else None
    endian, hdr, lt, pkts = read_pcap(src)
    if l2len(lt) is None:
        sys.exit("segtool: link type %d not supported" % lt)
    if op == "split":
        pkts = op_split(pkts, lt, arg or 1)
    elif op == "dup":
        pkts = op_dup(pkts, lt)
    elif op == "reorder":
        pkts = op_reorder(pkts, lt)
    elif op == "v6":
        pkts = op_v6(pkts, lt)
    elif op == "port":
        pkts = op_port(pkts, lt, arg, arg2)
    elif op == "multiply":
        pkts = op_multiply(pkts, lt, arg or 100)
    else:
        sys.exit("segtool: unknown operation " + op)
    write_pcap(dst, endian, hdr, pkts)


if __name__ == "__main__":
    main()
