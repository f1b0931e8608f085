/* fuzz_stream.c - libFuzzer target: TCP ordering (plugin/stream.c) with any
 * sequence numbers, lengths and acknowledgements, wrap-around and distances of
 * exactly 2^31 included (RFC 9293 §3.4).  Input: an initial sequence number
 * (4 bytes), then operations: one byte (0 segment, 1 ack, 2 flush, 3 segment
 * not held; higher bits pick a sequence offset relative to the next expected
 * byte or an absolute value), a 4-byte number, and for segments a chunk of
 * payload and a 2-byte extra length (SEG.LEN beyond the captured bytes).
 * Checks: every delivery is non-empty, and the stream never delivers more
 * bytes than were fed (each byte at most once). */
#include "fuzz_common.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    uint64_t delivered, gaps;
} fz_count;

static void on_data(void *ctx, const uint8_t *p, size_t n)
{
    fz_count *c = (fz_count *)ctx;
    volatile uint8_t x;
    if (n == 0)
        __builtin_trap();
    x = p[0];
    x = p[n - 1]; /* the bytes must be readable */
    (void)x;
    c->delivered += n;
}

static void on_gap(void *ctx, uint64_t n)
{
    if (n == 0)
        __builtin_trap();
    ((fz_count *)ctx)->gaps += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {data, size};
    fz_count c = {0, 0};
    me_stream_sink sink = {on_data, on_gap, &c};
    me_stream *st = me_stream_new(&fz_allocator);
    uint64_t fed = 0;
    int op, steps = 0;

    if (in.n >= 4 && (in.p[0] & 1))
        me_stream_start(st, fz_u32(&in));
    while ((op = fz_byte(&in)) >= 0 && steps++ < 1024) {
        uint32_t v = fz_u32(&in);
        /* bit 2: v is relative to the next expected byte (so that distances of
         * 2^31, 2^32-1, 0 and 1 are reached often) */
        if ((op & 4) && me_stream_started(st))
            v += me_stream_next(st);
        switch (op & 3) {
        case 1:
            me_stream_ack(st, v, &sink);
            break;
        case 2:
            me_stream_flush(st, &sink);
            break;
        default: {
            const uint8_t *p;
            size_t n = fz_chunk(&in, &p, 65535);
            uint32_t extra = (uint32_t)(fz_byte(&in) & 0xff) << 8;
            extra |= (uint32_t)(fz_byte(&in) & 0xff);
            me_stream_segment(st, v, (uint32_t)n + extra, n ? p : NULL, (uint32_t)n, (op & 3) == 0,
                              &sink);
            fed += n;
            break;
        }
        }
        if (me_stream_held_bytes(st) > ME_STREAM_MAX_HELD_BYTES)
            __builtin_trap(); /* the documented bound */
    }
    me_stream_flush(st, &sink);
    if (c.delivered > fed)
        __builtin_trap(); /* a byte delivered twice */
    fz_free_all();
    return 0;
}
