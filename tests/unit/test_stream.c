/* test_stream.c - TCP ordering (plugin/stream.c) as transcripts: segments in,
 * the delivered text out, with gaps written as "<gap N>".  Expected outputs
 * are written by hand from the sequence numbers (RFC 9293 §3.4). */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "stream.h"

typedef struct {
    char out[1024];
    size_t len;
} sink_buf;

static void on_data(void *ctx, const uint8_t *p, size_t n)
{
    sink_buf *b = (sink_buf *)ctx;
    if (b->len + n < sizeof b->out) {
        memcpy(b->out + b->len, p, n);
        b->len += n;
        b->out[b->len] = 0;
    }
}

static void on_gap(void *ctx, uint64_t n)
{
    sink_buf *b = (sink_buf *)ctx;
    b->len += (size_t)snprintf(b->out + b->len, sizeof b->out - b->len, "<gap %llu>",
                               (unsigned long long)n);
}

typedef struct {
    me_stream *st;
    sink_buf buf;
    me_stream_sink sink;
} fixture;

static void fx_init(fixture *f, uint32_t isn_next)
{
    memset(&f->buf, 0, sizeof f->buf);
    f->st = me_stream_new(&h_alloc);
    me_stream_start(f->st, isn_next);
    f->sink.data = on_data;
    f->sink.gap = on_gap;
    f->sink.ctx = &f->buf;
}

/* A whole segment carrying text. */
static me_stream_verdict seg(fixture *f, uint32_t seq, const char *text)
{
    uint32_t n = (uint32_t)strlen(text);
    return me_stream_segment(f->st, seq, n, (const uint8_t *)text, n, true, &f->sink);
}

static void in_order(void)
{
    fixture f;
    fx_init(&f, 1000);
    CHECK(seg(&f, 1000, "USER a\r\n") == ME_STREAM_DELIVERED);
    CHECK(seg(&f, 1008, "PASS b\r\n") == ME_STREAM_DELIVERED);
    CHECK_STR(f.buf.out, "USER a\r\nPASS b\r\n");
    CHECK(me_stream_segment(f.st, 1016, 0, NULL, 0, true, &f.sink) == ME_STREAM_EMPTY);
}

static void reorder(void)
{
    fixture f;
    fx_init(&f, 1000);
    CHECK(seg(&f, 1005, "world\r\n") == ME_STREAM_HELD);
    CHECK_STR(f.buf.out, "");
    CHECK(me_stream_held_bytes(f.st) == 7);
    CHECK(seg(&f, 1000, "hello") == ME_STREAM_DELIVERED);
    CHECK_STR(f.buf.out, "helloworld\r\n");
    CHECK(me_stream_held_bytes(f.st) == 0);
    /* three segments in reverse order */
    fx_init(&f, 0);
    CHECK(seg(&f, 4, "ef") == ME_STREAM_HELD);
    CHECK(seg(&f, 2, "cd") == ME_STREAM_HELD);
    CHECK(seg(&f, 0, "ab") == ME_STREAM_DELIVERED);
    CHECK_STR(f.buf.out, "abcdef");
}

static void duplicate_and_overlap(void)
{
    fixture f;
    fx_init(&f, 100);
    seg(&f, 100, "abcd");
    CHECK(seg(&f, 100, "abcd") == ME_STREAM_DUPLICATE);
    CHECK(seg(&f, 101, "bc") == ME_STREAM_DUPLICATE);
    CHECK(seg(&f, 102, "cdEF") == ME_STREAM_DELIVERED); /* overlap: only EF is new */
    CHECK_STR(f.buf.out, "abcdEF");
    /* a held segment that a later one overlaps */
    fx_init(&f, 0);
    seg(&f, 4, "efgh");
    seg(&f, 0, "abcdef"); /* covers e,f of the held one */
    CHECK_STR(f.buf.out, "abcdefgh");
}

static void wrap_around(void)
{
    fixture f;
    fx_init(&f, 0xfffffffcu);
    CHECK(seg(&f, 0xfffffffcu, "ab") == ME_STREAM_DELIVERED);
    CHECK(seg(&f, 0x00000000u, "ef") == ME_STREAM_HELD); /* 2 bytes (cd) missing across 2^32 */
    CHECK(seg(&f, 0xfffffffeu, "cd") == ME_STREAM_DELIVERED);
    CHECK_STR(f.buf.out, "abcdef");
    CHECK(me_stream_next(f.st) == 2u);
    CHECK(seg(&f, 0xfffffffeu, "cd") == ME_STREAM_DUPLICATE);
    /* exactly 2^31 away is "before": a duplicate, never undefined arithmetic */
    fx_init(&f, 0x80000010u);
    CHECK(seg(&f, 0x00000010u, "zz") == ME_STREAM_DUPLICATE);
    CHECK_STR(f.buf.out, "");
}

static void snaplen_cut(void)
{
    fixture f;
    fx_init(&f, 0);
    /* a 10-byte segment of which 4 were captured */
    CHECK(me_stream_segment(f.st, 0, 10, (const uint8_t *)"RETR", 4, true, &f.sink) ==
          ME_STREAM_DELIVERED);
    CHECK(seg(&f, 10, "QUIT\r\n") == ME_STREAM_DELIVERED);
    CHECK_STR(f.buf.out, "RETR<gap 6>QUIT\r\n");
}

/* The POP3 shape of the layout issue: the client's STAT segment was never
 * captured; the server's reply acknowledges it; RETR and QUIT follow. */
static void lost_acked_by_peer(void)
{
    fixture f;
    fx_init(&f, 1);
    seg(&f, 1, "USER a\r\n");          /* 1..8 */
    seg(&f, 9, "PASS b\r\n");          /* 9..16 */
    /* STAT\r\n (17..22) lost; the server acks 23 with its +OK */
    CHECK(me_stream_ack(f.st, 23, &f.sink) == false); /* nothing held yet */
    CHECK(seg(&f, 23, "RETR 1\r\n") == ME_STREAM_DELIVERED); /* inside acked range: not held */
    CHECK(seg(&f, 31, "QUIT\r\n") == ME_STREAM_DELIVERED);
    CHECK_STR(f.buf.out, "USER a\r\nPASS b\r\n<gap 6>RETR 1\r\nQUIT\r\n");
    /* the other order: RETR held first, then the ack releases it */
    fx_init(&f, 17);
    CHECK(seg(&f, 23, "RETR 1\r\n") == ME_STREAM_HELD);
    CHECK(me_stream_ack(f.st, 31, &f.sink) == true);
    CHECK_STR(f.buf.out, "<gap 6>RETR 1\r\n");
    CHECK(me_stream_held_bytes(f.st) == 0);
    /* an ack short of the held segment releases nothing, but the bytes it
     * covers are known lost when the next segment comes */
    fx_init(&f, 0);
    CHECK(seg(&f, 10, "later") == ME_STREAM_HELD);
    CHECK(me_stream_ack(f.st, 4, &f.sink) == false);
    CHECK_STR(f.buf.out, "");
    CHECK(seg(&f, 4, "456789") == ME_STREAM_DELIVERED);
    CHECK_STR(f.buf.out, "<gap 4>456789later");
    /* reordering seen by the capture: B, the peer's ACK of A, then A */
    fx_init(&f, 0);
    CHECK(seg(&f, 7, "BBBBBBB") == ME_STREAM_HELD);
    CHECK(me_stream_ack(f.st, 7, &f.sink) == false);
    CHECK(seg(&f, 0, "AAAAAAA") == ME_STREAM_DELIVERED);
    CHECK_STR(f.buf.out, "AAAAAAABBBBBBB");
    /* loss with pipelining: B held, then the peer acks past B */
    fx_init(&f, 0);
    CHECK(seg(&f, 7, "BBBBBBB") == ME_STREAM_HELD);
    CHECK(me_stream_ack(f.st, 14, &f.sink) == true);
    CHECK_STR(f.buf.out, "<gap 7>BBBBBBB");
}

static void lost_at_end(void)
{
    fixture f;
    fx_init(&f, 0);
    seg(&f, 0, "a\r\n");
    CHECK(seg(&f, 10, "b\r\n") == ME_STREAM_HELD);
    CHECK(seg(&f, 20, "c\r\n") == ME_STREAM_HELD);
    CHECK(me_stream_flush(f.st, &f.sink) == true);
    CHECK_STR(f.buf.out, "a\r\n<gap 7>b\r\n<gap 7>c\r\n");
    CHECK(me_stream_flush(f.st, &f.sink) == false);
}

static void hold_bound(void)
{
    fixture f;
    unsigned i;
    char text[4] = "x\r\n";
    fx_init(&f, 0);
    /* segment 0 is lost; 1..8 are held; the 9th exceeds the bound: give up */
    for (i = 1; i <= ME_STREAM_MAX_HELD; i++)
        CHECK(seg(&f, i * 3, text) == ME_STREAM_HELD);
    CHECK(seg(&f, (ME_STREAM_MAX_HELD + 1) * 3, "y\r\n") == ME_STREAM_DELIVERED);
    CHECK(strncmp(f.buf.out, "<gap 3>x\r\nx\r\n", 13) == 0);
    CHECK(strstr(f.buf.out, "y\r\n") != NULL);
    CHECK(me_stream_held_bytes(f.st) == 0);
    /* no hold (TLS): delivered at once after a gap */
    fx_init(&f, 0);
    CHECK(me_stream_segment(f.st, 5, 2, (const uint8_t *)"zz", 2, false, &f.sink) ==
          ME_STREAM_DELIVERED);
    CHECK_STR(f.buf.out, "<gap 5>zz");
}

static void starts_at_first_segment(void)
{
    sink_buf b = {{0}, 0};
    me_stream_sink sink = {on_data, on_gap, &b};
    me_stream *st = me_stream_new(&h_alloc);
    CHECK(!me_stream_started(st));
    CHECK(me_stream_segment(st, 5000, 3, (const uint8_t *)"abc", 3, true, &sink) ==
          ME_STREAM_DELIVERED);
    CHECK(me_stream_started(st));
    CHECK_STR(b.out, "abc");
}

/* What the peer acknowledged of a side the capture never showed: counted
 * from the stream's start, or without one from the peer's first
 * acknowledgement (RFC 9293 §3.4); nothing once a byte was delivered. */
static void unseen(void)
{
    fixture f;
    me_stream *st = me_stream_new(&h_alloc);
    me_stream_sink none = {on_data, on_gap, NULL};
    sink_buf b = {{0}, 0};
    none.ctx = &b;
    /* not started: the third segment of the handshake acks 5001, then 5050 */
    CHECK(me_stream_unseen(st) == 0);
    me_stream_ack(st, 5001, &none);
    CHECK(me_stream_unseen(st) == 0);
    me_stream_ack(st, 5050, &none);
    CHECK(me_stream_unseen(st) == 49);
    me_stream_ack(st, 5040, &none); /* an older acknowledgement changes nothing */
    CHECK(me_stream_unseen(st) == 49);
    me_stream_free(st);
    /* started at 1000: the peer acks 22 bytes of it, none captured */
    fx_init(&f, 1000);
    me_stream_ack(f.st, 1022, &f.sink);
    CHECK(me_stream_unseen(f.st) == 22);
    /* once a byte is delivered, a later loss is the gap report's to tell */
    CHECK(seg(&f, 1000, "EHLO x\r\n") == ME_STREAM_DELIVERED);
    me_stream_ack(f.st, 1100, &f.sink);
    CHECK(me_stream_unseen(f.st) == 0);
}

/* Whether a segment carries bytes at or after the next one expected. */
static void reaches(void)
{
    fixture f;
    me_stream *st = me_stream_new(&h_alloc);
    CHECK(!me_stream_reaches(st, 100, 10)); /* not started */
    me_stream_free(st);
    fx_init(&f, 1000);
    CHECK(me_stream_reaches(f.st, 1000, 1));
    CHECK(!me_stream_reaches(f.st, 990, 10)); /* ends where the stream goes on: all old */
    CHECK(me_stream_reaches(f.st, 990, 11));
    CHECK(me_stream_reaches(f.st, 1500, 5)); /* after a hole */
    CHECK(!me_stream_reaches(f.st, 1000, 0));
}

int main(void)
{
    in_order();
    reorder();
    duplicate_and_overlap();
    wrap_around();
    snaplen_cut();
    lost_acked_by_peer();
    lost_at_end();
    hold_bound();
    starts_at_first_segment();
    unseen();
    reaches();
    return h_done("stream");
}
