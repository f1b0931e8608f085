/* stream.h - in-order delivery of one direction of a TCP byte stream.
 *
 * The first step of a byte's path: TCP segment -> stream (order, gaps) ->
 * session (lines) -> engine (records).  A me_stream is fed every segment of
 * one direction as the capture shows it: sequence number, segment length
 * (RFC 9293 §3.4: SEG.SEQ, SEG.LEN) and the bytes that were captured (fewer
 * than the segment length when the snapshot length cut the frame).  It
 * delivers new bytes to a sink in sequence order, exactly once:
 *   - retransmitted and overlapping bytes are dropped;
 *   - a segment that starts beyond the next expected byte is held (up to
 *     ME_STREAM_MAX_HELD segments and ME_STREAM_MAX_HELD_BYTES bytes) until
 *     the missing bytes arrive;
 *   - missing bytes that are not coming are reported as a gap of N bytes and
 *     delivery resumes after them.  They are known not to be coming when the
 *     peer acknowledges bytes that were never seen (Wireshark's "ACKed segment
 *     that wasn't captured"), when the hold bound is reached, or when the
 *     caller says the stream has ended (FIN/RST, end of the capture).
 * Sequence numbers are compared modulo 2^32 (RFC 9293 §3.4): a number less
 * than 2^31 ahead is "after", anything else is "before"; no arithmetic here
 * can overflow a signed type.
 *
 * No Wireshark types: unit-tested alone (tests/unit/test_stream.c).
 */
#ifndef MAILEDU_STREAM_H
#define MAILEDU_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailedu.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ME_STREAM_MAX_HELD 8u             /* early segments kept per direction */
#define ME_STREAM_MAX_HELD_BYTES 262144u  /* and their captured bytes at most */

/* Where delivered bytes go.  data: bytes in order (n > 0).  gap: n bytes
 * (n > 0) are missing at this point of the stream.  The pointers passed to
 * data() are valid only during the call. */
typedef struct me_stream_sink {
    void (*data)(void *ctx, const uint8_t *p, size_t n);
    void (*gap)(void *ctx, uint64_t n);
    void *ctx;
} me_stream_sink;

/* What happened to a segment. */
typedef enum {
    ME_STREAM_DELIVERED = 0, /* some of its bytes (or a gap) were delivered now */
    ME_STREAM_HELD,          /* early: kept until the missing bytes arrive or are given up */
    ME_STREAM_DUPLICATE,     /* every byte was delivered before (retransmission) */
    ME_STREAM_EMPTY          /* no payload (pure ACK, SYN, FIN) */
} me_stream_verdict;

typedef struct me_stream me_stream;

/* A new stream whose first byte is not known yet: the first segment fed, or
 * me_stream_start(), sets it.  Memory comes from a (held segments are
 * returned with a->free when it is set).  Never NULL. */
me_stream *me_stream_new(const me_alloc *a);

/* The first data byte's sequence number (the SYN's sequence number + 1,
 * RFC 9293 §3.4).  Ignored once bytes were fed. */
void me_stream_start(me_stream *st, uint32_t next);
/* Returns the stream and what it holds to its allocator (if that frees);
 * NULL is allowed.  st must not be used after. */
void me_stream_free(me_stream *st);

/* True once the first byte's position is known. */
bool me_stream_started(const me_stream *st);

/* Feeds one segment: seq and seglen as in the TCP header, p/caplen the
 * captured payload (caplen <= seglen; p may be NULL when caplen is 0).
 * hold: when false, a segment after missing bytes is delivered at once after
 * a gap report instead of being held (for TLS, whose own dissector reorders).
 * Delivers to out whatever becomes in-order, including held segments this one
 * makes contiguous.  Returns what happened to this segment. */
me_stream_verdict me_stream_segment(me_stream *st, uint32_t seq, uint32_t seglen,
                                    const uint8_t *p, uint32_t caplen, bool hold,
                                    const me_stream_sink *out);

/* The peer acknowledged everything before `ack` (RFC 9293 §3.4).  Bytes
 * before ack that were never seen are lost from the capture: a later segment
 * inside the acknowledged range is delivered after a gap report instead of
 * being held, and held segments are released when the acknowledgement covers
 * some of their bytes (an acknowledgement that stops before them may be a
 * reordering seen by the capture, the missing segment still to come).
 * Returns true when something was delivered. */
bool me_stream_ack(me_stream *st, uint32_t ack, const me_stream_sink *out);

/* True when the stream has started and a segment of seglen bytes at seq
 * carries bytes at or after the next one expected (not only old bytes). */
bool me_stream_reaches(const me_stream *st, uint32_t seq, uint32_t seglen);

/* Bytes of a side of which no byte was delivered yet that the peer
 * acknowledged (RFC 9293 §3.4: an acknowledgement covers only bytes
 * received): sent, and missing from the capture, as when a capture filter
 * kept one direction.  Counted from the stream's start, or without one from
 * the peer's first acknowledgement, which after a captured handshake is this
 * side's first byte.  0 once a byte was delivered (a lost segment between
 * delivered ones is told by the gap report), or while segments are held
 * (their hole may still be filled). */
uint32_t me_stream_unseen(const me_stream *st);

/* The stream ended (FIN or RST seen, or the capture ended): every held segment
 * is delivered in order, with a gap report for each hole.  Returns true when
 * something was delivered. */
bool me_stream_flush(me_stream *st, const me_stream_sink *out);

/* Bytes currently held (for memory limits and tests). */
size_t me_stream_held_bytes(const me_stream *st);

/* Next expected sequence number (valid once started). */
uint32_t me_stream_next(const me_stream *st);

#ifdef __cplusplus
}
#endif

#endif /* MAILEDU_STREAM_H */
