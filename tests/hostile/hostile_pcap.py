"""hostile_pcap - writes classic pcap files of TCP conversations (Ethernet,
IPv4, TCP), Python standard library only, for the hostile-shapes test.

A Conn tracks both sides' sequence and acknowledgement numbers (RFC 9293
§3.4) so that the shapes can be written as dialogues, and lets a shape send
a segment with any sequence number, hold segments back, or cut a frame
shorter than its length on the wire.
"""
import os
import struct

MSS = 65000  # IPv4's total length is 16 bits: a segment's payload stays below it


class Pcap:
    """A classic pcap file (RFC-like format of libpcap, link type 1)."""

    def __init__(self, path, snaplen=262144):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1))
        self.t = 1_700_000_000_000_000  # microseconds
        self.count = 0

    def frame(self, data, orig_len=None):
        """Writes one frame; orig_len > len(data) makes it 'longer than captured'."""
        self.t += 100
        self.f.write(struct.pack("<IIII", self.t // 1_000_000, self.t % 1_000_000, len(data),
                                 orig_len if orig_len is not None else len(data)))
        self.f.write(data)
        self.count += 1

    def close(self):
        self.f.close()


def _csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp_frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    """Ethernet + IPv4 + TCP bytes of one segment (TCP checksum left 0:
    Wireshark does not check it by default)."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4,
                      flags, 65535, 0, 0)
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, bytes(src), bytes(dst))
    ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
    eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
    return eth + ip + tcp + payload


FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16


class Conn:
    """One TCP conversation between a client and a server."""

    def __init__(self, pcap, cport, sport, n=0, cisn=1000, sisn=5000):
        self.p = pcap
        self.cip = [10, 0, (n >> 8) & 255, n & 255]
        self.sip = [10, 1, 0, 1]
        self.cport, self.sport = cport, sport
        self.seq = {"c": cisn, "s": sisn}

    def _ends(self, side):
        if side == "c":
            return self.cip, self.sip, self.cport, self.sport, "s"
        return self.sip, self.cip, self.sport, self.cport, "c"

    def raw(self, side, seq, payload, flags=PSH | ACK, caplen=None):
        """A segment with an explicit sequence number (does not move the side)."""
        src, dst, sp, dp, peer = self._ends(side)
        ack = self.seq[peer] if flags & ACK else 0
        f = tcp_frame(src, dst, sp, dp, seq, ack, flags, payload)
        if caplen is not None and caplen < len(f):
            self.p.frame(f[:caplen], len(f))
        else:
            self.p.frame(f)

    def handshake(self):
        self.raw("c", self.seq["c"] - 1, b"", SYN)
        self.raw("s", self.seq["s"] - 1, b"", SYN | ACK)
        self.raw("c", self.seq["c"], b"", ACK)

    def send(self, side, data, caplen=None):
        """Sends data in order, in segments of at most MSS bytes."""
        for i in range(0, len(data), MSS):
            part = data[i:i + MSS]
            self.raw(side, self.seq[side], part, caplen=caplen)
            self.seq[side] += len(part)

    def c(self, data):
        self.send("c", data)

    def s(self, data):
        self.send("s", data)

    def fin(self):
        self.raw("c", self.seq["c"], b"", FIN | ACK)
        self.raw("s", self.seq["s"], b"", FIN | ACK)


def dialogue_capture(path, port, dialogue, make=Pcap):
    """Writes one conversation to PATH (a classic pcap, mode 0644 for tshark
    run as nobody) with MAKE(path): the handshake, then each (side, bytes) of
    DIALOGUE in order ("c" client, "s" server; one frame each up to MSS), then
    the FINs.  Frames 1-3 are the handshake.  Returns PATH."""
    p = make(path)
    conn = Conn(p, 40000, port)
    conn.handshake()
    for side, data in dialogue:
        conn.send(side, data)
    conn.fin()
    p.close()
    os.chmod(path, 0o644)
    return path
