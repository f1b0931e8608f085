/* stream.c - in-order delivery of one TCP direction (see stream.h). */
#include <string.h>

#include "stream.h"

typedef struct held_seg {
    uint32_t seq;     /* sequence number of the segment's first byte */
    uint32_t len;     /* segment length (SEG.LEN) */
    uint32_t caplen;  /* bytes captured, <= len */
    uint8_t *data;    /* caplen bytes, or NULL */
} held_seg;

struct me_stream {
    me_alloc a;
    bool started;
    bool acked_valid;
    bool delivered;   /* some byte of this side was delivered */
    uint32_t next;    /* next byte expected */
    uint32_t acked;   /* highest acknowledgement of the peer */
    uint32_t first_acked; /* the peer's first acknowledgement (after a handshake:
                           * this side's first byte) */
    held_seg *held;   /* ME_STREAM_MAX_HELD slots, allocated at the first early
                       * segment: most streams never hold one, and the slots
                       * were 190 of a stream's 250 bytes (issue 13) */
    unsigned nheld;
    size_t held_bytes;
};

/* ---- sequence space (RFC 9293 §3.4): unsigned only ---- */

/* Distance from b forward to a, modulo 2^32. */
static uint32_t seq_dist(uint32_t a, uint32_t b)
{
    return a - b;
}

/* a comes after b (less than 2^31 ahead). */
static bool seq_after(uint32_t a, uint32_t b)
{
    uint32_t d = seq_dist(a, b);
    return d != 0 && d < 0x80000000u;
}

me_stream *me_stream_new(const me_alloc *a)
{
    me_stream *st = (me_stream *)a->alloc(a->ctx, sizeof *st);
    st->a = *a;
    return st;
}

static void release(me_stream *st, unsigned i);

void me_stream_free(me_stream *st)
{
    if (!st || !st->a.free)
        return;
    while (st->nheld)
        release(st, 0);
    if (st->held)
        st->a.free(st->a.ctx, st->held);
    st->a.free(st->a.ctx, st);
}

void me_stream_start(me_stream *st, uint32_t next)
{
    if (st->started)
        return;
    st->started = true;
    st->next = next;
}

bool me_stream_started(const me_stream *st)
{
    return st->started;
}

size_t me_stream_held_bytes(const me_stream *st)
{
    return st->held_bytes;
}

uint32_t me_stream_next(const me_stream *st)
{
    return st->next;
}

/* Delivers the part of [seq, seq+len) not delivered yet; caplen of those
 * bytes were captured, the rest (snaplen cut) is a gap.  The segment must not
 * start after st->next. */
static void deliver(me_stream *st, uint32_t seq, uint32_t len, const uint8_t *p, uint32_t caplen,
                    const me_stream_sink *out)
{
    uint32_t skip = seq_dist(st->next, seq); /* bytes already delivered */
    if (skip >= len)
        return;
    st->delivered = true;
    if (skip < caplen)
        out->data(out->ctx, p + skip, caplen - skip);
    if (caplen < len)
        out->gap(out->ctx, len - (skip > caplen ? skip : caplen));
    st->next = seq + len;
}

static void release(me_stream *st, unsigned i)
{
    held_seg h = st->held[i];
    st->held[i] = st->held[--st->nheld];
    st->held_bytes -= h.caplen;
    if (h.data && st->a.free)
        st->a.free(st->a.ctx, h.data);
}

/* Index of the held segment that starts first, or nheld. */
static unsigned earliest(const me_stream *st)
{
    unsigned i, best = st->nheld;
    for (i = 0; i < st->nheld; i++)
        if (best == st->nheld || seq_after(st->held[best].seq, st->held[i].seq))
            best = i;
    return best;
}

/* Delivers held segments that are now in order.  limit: missing bytes before
 * this sequence number are given up (reported as gaps); with give_up_all,
 * every hole is. */
static bool drain(me_stream *st, bool give_up_all, uint32_t limit, const me_stream_sink *out)
{
    bool any = false;
    for (;;) {
        unsigned i = earliest(st);
        held_seg h;
        if (i == st->nheld)
            return any;
        h = st->held[i];
        if (seq_after(h.seq, st->next)) {
            if (!give_up_all && !seq_after(limit, st->next))
                return any;
            if (!give_up_all && seq_after(h.seq, limit)) {
                /* lost up to limit; the held segment is still early */
                out->gap(out->ctx, seq_dist(limit, st->next));
                st->next = limit;
                return true;
            }
            out->gap(out->ctx, seq_dist(h.seq, st->next));
            st->next = h.seq;
        }
        deliver(st, h.seq, h.len, h.data, h.caplen, out);
        release(st, i);
        any = true;
    }
}

static bool hold(me_stream *st, uint32_t seq, uint32_t seglen, const uint8_t *p, uint32_t caplen)
{
    held_seg *h;
    if (st->nheld >= ME_STREAM_MAX_HELD || st->held_bytes + caplen > ME_STREAM_MAX_HELD_BYTES)
        return false;
    if (!st->held)
        st->held = (held_seg *)st->a.alloc(st->a.ctx, ME_STREAM_MAX_HELD * sizeof *st->held);
    h = &st->held[st->nheld++];
    h->seq = seq;
    h->len = seglen;
    h->caplen = caplen;
    h->data = NULL;
    if (caplen) {
        h->data = (uint8_t *)st->a.alloc(st->a.ctx, caplen);
        memcpy(h->data, p, caplen);
    }
    st->held_bytes += caplen;
    return true;
}

me_stream_verdict me_stream_segment(me_stream *st, uint32_t seq, uint32_t seglen,
                                    const uint8_t *p, uint32_t caplen, bool hold_early,
                                    const me_stream_sink *out)
{
    if (caplen > seglen)
        caplen = seglen; /* padding is not payload */
    if (seglen == 0)
        return ME_STREAM_EMPTY;
    if (!st->started)
        me_stream_start(st, seq);
    if (seq_after(seq, st->next)) {
        /* bytes are missing before this segment: early (reordered) or lost */
        bool known_lost = st->acked_valid && !seq_after(seq, st->acked);
        if (hold_early && !known_lost && hold(st, seq, seglen, p, caplen))
            return ME_STREAM_HELD;
        /* lost for sure, or no room: what is held before it is given up too */
        drain(st, false, seq, out);
        if (seq_after(seq, st->next)) {
            out->gap(out->ctx, seq_dist(seq, st->next));
            st->next = seq;
        }
    } else if (!seq_after(seq + seglen, st->next)) {
        return ME_STREAM_DUPLICATE;
    }
    deliver(st, seq, seglen, p, caplen, out);
    drain(st, false, st->next, out);
    return ME_STREAM_DELIVERED;
}

bool me_stream_ack(me_stream *st, uint32_t ack, const me_stream_sink *out)
{
    if (!st->acked_valid)
        st->first_acked = ack;
    if (!st->acked_valid || seq_after(ack, st->acked)) {
        st->acked = ack;
        st->acked_valid = true;
    }
    if (!st->started || st->nheld == 0 || !seq_after(ack, st->next))
        return false;
    /* Only an acknowledgement that covers held bytes proves the missing ones
     * lost: one that stops before them may come from a capture point that
     * saw the segments reordered (B, ACK of A, A), and A is still coming.
     * A later segment inside the acknowledged range is not held (above). */
    if (!seq_after(ack, st->held[earliest(st)].seq))
        return false;
    return drain(st, false, ack, out);
}

bool me_stream_reaches(const me_stream *st, uint32_t seq, uint32_t seglen)
{
    return st->started && seglen && seq_after(seq + seglen, st->next);
}

uint32_t me_stream_unseen(const me_stream *st)
{
    uint32_t base;
    if (!st->acked_valid || st->delivered || (st->started && st->nheld))
        return 0;
    base = st->started ? st->next : st->first_acked;
    return seq_after(st->acked, base) ? seq_dist(st->acked, base) : 0;
}

bool me_stream_flush(me_stream *st, const me_stream_sink *out)
{
    return drain(st, true, 0, out);
}
