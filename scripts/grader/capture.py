"""Reads capture files without tshark: what kind of file it is, whether it was
cut in the middle of a packet, and the TCP segments it holds (for copy
detection).  pcap (libpcap, any byte order, micro- or nanosecond) and pcapng
(SHB/IDB/EPB/PB/SPB blocks) are understood; anything else is left to tshark."""
import struct

PCAP_MAGICS = {b"\xd4\xc3\xb2\xa1": ("<", 6), b"\xa1\xb2\xc3\xd4": (">", 6),
               b"\x4d\x3c\xb2\xa1": ("<", 9), b"\xa1\xb2\x3c\x4d": (">", 9)}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"


def sniff(head):
    """Kind of a file from its first bytes (at least 4): 'pcap', 'pcapng',
    'gzip', 'zip', 'empty' or 'other'."""
    if not head:
        return "empty"
    if head[:4] in PCAP_MAGICS:
        return "pcap"
    if head[:4] == PCAPNG_MAGIC:
        return "pcapng"
    if head[:2] == GZIP_MAGIC:
        return "gzip"
    if head[:4] == ZIP_MAGIC:
        return "zip"
    return "other"


class Scan:
    """What a capture holds: packets read, whether it ends inside a packet,
    and the TCP segments with payload as (src, sport, dst, dport, seq,
    microseconds, length) tuples."""

    def __init__(self):
        self.packets = 0
        self.truncated = False
        self.error = None
        self.segments = set()


def _pcap_records(data, scan):
    """Yields (linktype, ts_us, frame bytes) of a libpcap file (RFC 9... the
    tcpdump file format: 24-byte header, 16-byte record headers)."""
    endian, digits = PCAP_MAGICS[data[:4]]
    if len(data) < 24:
        scan.truncated = True
        return
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    off = 24
    while off < len(data):
        if off + 16 > len(data):
            scan.truncated = True
            return
        sec, frac, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        if off + 16 + incl > len(data):
            scan.truncated = True
            return
        us = sec * 1000000 + (frac // 1000 if digits == 9 else frac)
        yield linktype, us, data[off + 16:off + 16 + incl]
        off += 16 + incl


def _idb(body, endian):
    """Link type and timestamp units per second of a pcapng Interface
    Description Block body (if_tsresol option, code 9)."""
    linktype = struct.unpack(endian + "H", body[:2])[0]
    units, off = 1000000, 8
    while off + 4 <= len(body):
        code, olen = struct.unpack(endian + "HH", body[off:off + 4])
        if code == 0:
            break
        if code == 9 and olen >= 1:
            r = body[off + 4]
            units = 2 ** (r & 0x7F) if r & 0x80 else 10 ** r
        off += 4 + (olen + 3) // 4 * 4
    return linktype, units


def _pcapng_records(data, scan):
    """Yields (linktype, ts_us, frame bytes) of a pcapng file."""
    off, endian, ifaces = 0, "<", []
    while off < len(data):
        if off + 12 > len(data):
            scan.truncated = True
            return
        btype = data[off:off + 4]
        if btype == PCAPNG_MAGIC:
            endian = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        blen = struct.unpack(endian + "I", data[off + 4:off + 8])[0]
        if blen < 12 or off + blen > len(data):
            scan.truncated = True
            return
        body = data[off + 8:off + blen - 4]
        code = struct.unpack(endian + "I", btype)[0]
        if code == 1:
            ifaces.append(_idb(body, endian))
        elif code in (6, 2) and len(body) >= 20:
            if code == 6:
                iface, hi, lo, cap = struct.unpack(endian + "IIII", body[:16])
            else:
                iface, _, hi, lo, cap = struct.unpack(endian + "HHIII", body[:16])
            if iface < len(ifaces):
                linktype, units = ifaces[iface]
                yield linktype, ((hi << 32) | lo) * 1000000 // units, body[20:20 + cap]
        elif code == 3 and ifaces:
            scan.packets += 1  # no timestamp: counted, not fingerprinted
        off += blen


def _ip_payload(linktype, frame):
    """(ip version, ip packet) of a frame, or None for other link layers."""
    if linktype == 1 and len(frame) >= 14:
        etype, off = struct.unpack(">H", frame[12:14])[0], 14
        while etype in (0x8100, 0x88A8) and len(frame) >= off + 4:
            etype, off = struct.unpack(">H", frame[off + 2:off + 4])[0], off + 4
        return {0x0800: (4, frame[off:]), 0x86DD: (6, frame[off:])}.get(etype)
    if linktype in (0, 108) and len(frame) >= 4:
        af = frame[0] if frame[0] else frame[3]
        return (4, frame[4:]) if af == 2 else (6, frame[4:]) if af in (10, 24, 28, 30) else None
    if linktype == 113 and len(frame) >= 16:
        return {0x0800: (4, frame[16:]), 0x86DD: (6, frame[16:])}.get(struct.unpack(">H", frame[14:16])[0])
    if linktype == 276 and len(frame) >= 20:
        return {0x0800: (4, frame[20:]), 0x86DD: (6, frame[20:])}.get(struct.unpack(">H", frame[0:2])[0])
    if linktype in (12, 14, 101, 228, 229) and frame:
        return (frame[0] >> 4, frame)
    return None


def _tcp_segment(ip, ts_us):
    """The fingerprint tuple of a TCP segment with payload, or None."""
    version, pkt = ip
    if version == 4 and len(pkt) >= 20 and pkt[9] == 6:
        ihl = (pkt[0] & 0x0F) * 4
        if struct.unpack(">H", pkt[6:8])[0] & 0x1FFF:
            return None  # a later fragment carries no TCP header
        total = min(struct.unpack(">H", pkt[2:4])[0], len(pkt))
        src, dst, tcp = pkt[12:16], pkt[16:20], pkt[ihl:total]
    elif version == 6 and len(pkt) >= 40 and pkt[6] == 6:
        src, dst, tcp = pkt[8:24], pkt[24:40], pkt[40:40 + struct.unpack(">H", pkt[4:6])[0]]
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport, seq = struct.unpack(">HHI", tcp[:8])
    length = len(tcp) - (tcp[12] >> 4) * 4
    if length <= 0:
        return None
    return (src, sport, dst, dport, seq, ts_us, length)


def scan(data):
    """Scans the bytes of a pcap or pcapng file (already decompressed).
    Returns a Scan; a record cut short sets .truncated and stops the scan."""
    s = Scan()
    kind = sniff(data[:4])
    try:
        records = _pcap_records(data, s) if kind == "pcap" else _pcapng_records(data, s)
        for linktype, ts_us, frame in records:
            s.packets += 1
            ip = _ip_payload(linktype, frame)
            seg = _tcp_segment(ip, ts_us) if ip else None
            if seg:
                s.segments.add(seg)
    except (struct.error, IndexError, ValueError) as e:
        s.error = str(e)
    return s
