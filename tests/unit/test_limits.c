/* test_limits.c - the bounds of issue 14, as transcripts.  Expected values are
 * counted by hand from the bytes fed:
 *   - a frame gets at most ME_MAX_FRAME_RECORDS records; the lines after the
 *     bound are summed up in one record flagged ME_W_LIMIT;
 *   - a partial line kept across many segments comes out whole (its buffer
 *     grows as it does);
 *   - an IMAP literal length that is no number64 (RFC 9051 §4.3) gives no
 *     credential; a literal of 2^32-1 bytes is read as a literal. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "internal.h" /* ME_MAX_LINE */

static size_t count(const me_item *it)
{
    size_t n = 0;
    for (; it; it = it->next)
        n++;
    return n;
}

static const me_item *with_flag(const me_item *it, uint32_t flag)
{
    for (; it; it = it->next)
        if (it->flags & flag)
            return it;
    return NULL;
}

static void records_per_frame(void)
{
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    size_t n = 65536, lines = n / 2;
    char *crlf = malloc(n);
    me_item *it;
    const me_item *lim;
    size_t i;
    for (i = 0; i < n; i += 2)
        memcpy(crlf + i, "\r\n", 2);
    h_s(&h, "+OK POP3 ready\r\n");
    it = h_feed(&h, ME_CLIENT, crlf, n);
    /* one record per empty line up to the bound, then one summary */
    CHECK(count(it) == ME_MAX_FRAME_RECORDS + 1);
    lim = with_flag(it, ME_W_LIMIT);
    CHECK(lim != NULL);
    if (lim) {
        CHECK(lim->data_len == (lines - ME_MAX_FRAME_RECORDS) * 2);
        CHECK_STR(lim->detail, "31768 lines left out");
        CHECK(lim->explain == TXT_LIMIT_LINES);
    }
    /* the next frame is read again */
    it = h_c(&h, "QUIT\r\n");
    CHECK(it && it->command && strcmp(it->command, "QUIT") == 0);
    CHECK(with_flag(it, ME_W_LIMIT) == NULL);
    free(crlf);
}

static void bodies_are_not_cut(void)
{
    /* a body of many short lines adds to one record: the bound never applies */
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    char body[6 * 3000 + 3];
    me_item *it;
    size_t i;
    for (i = 0; i < 3000; i++)
        memcpy(body + 6 * i, "line\r\n", 6);
    memcpy(body + 6 * 3000, ".\r\n", 3);
    h_pop3_login(&h);
    h_c(&h, "RETR 1\r\n");
    h_s(&h, "+OK message follows\r\n");
    it = h_feed(&h, ME_SERVER, body, sizeof body);
    CHECK(with_flag(it, ME_W_LIMIT) == NULL);
    CHECK(it && it->kind == ME_KIND_DATA && it->data_len == 6 * 3000);
    it = h_c(&h, "QUIT\r\n");
    CHECK(it && it->command && strcmp(it->command, "QUIT") == 0);
}

static uint32_t data_bytes(me_item *it)
{
    uint32_t n = 0;
    for (; it; it = it->next)
        if (it->kind == ME_KIND_DATA)
            n += it->data_len;
    return n;
}

/* A body's size is the bytes sent, however its lines fall into segments: a
 * line cut by a segment boundary used to count only the 2 bytes kept of it
 * (plus 2), and a bare-LF line one byte too many.  The terminating "." line
 * is not content (RFC 5321 §4.5.2). */
static void body_lines_across_segments(void)
{
    static const char *const pieces[] = {"Subject: x\r\n\r\nhello wor", "ld, a longer line\r\nbare",
                                         " LF line\n", ".\r\n"};
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    uint32_t sum = 0;
    size_t i;
    h_s(&h, "220 mx\r\n");
    h_c(&h, "HELO x\r\n");
    h_s(&h, "250 ok\r\n");
    h_c(&h, "MAIL FROM:<a@b>\r\n");
    h_s(&h, "250 ok\r\n");
    h_c(&h, "RCPT TO:<c@d>\r\n");
    h_s(&h, "250 ok\r\n");
    h_c(&h, "DATA\r\n");
    h_s(&h, "354 go\r\n");
    for (i = 0; i < 4; i++)
        sum += data_bytes(h_c(&h, pieces[i]));
    /* "Subject: x" CRLF 12, CRLF 2, "hello world, a longer line" CRLF 28,
     * "bare LF line" LF 13: 55 bytes before the "." line */
    if (sum != 55)
        fprintf(stderr, "body bytes: %u\n", (unsigned)sum);
    CHECK(sum == 55);
    CHECK(h_s(&h, "250 queued\r\n")->phase == ME_PHASE_DATA);
}

static void long_partial_line(void)
{
    /* "USER " and 10000 'a' in 100-byte segments, then CRLF */
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    char piece[100];
    me_item *it;
    int i;
    memset(piece, 'a', sizeof piece);
    h_s(&h, "+OK ready\r\n");
    h_c(&h, "USER ");
    for (i = 0; i < 100; i++)
        h_feed(&h, ME_CLIENT, piece, sizeof piece);
    it = h_c(&h, "\r\n");
    CHECK(it && it->command && strcmp(it->command, "USER") == 0);
    CHECK(it && it->argument && strlen(it->argument) == 10000);
    CHECK(it && it->argument && it->argument[0] == 'a' && it->argument[9999] == 'a');
    CHECK(it && !(it->flags & ME_W_OVERLONG));
}

/* A line over ME_MAX_LINE is cut and flagged the same way whether it came in
 * one segment or in pieces: the limit is the line's, not the segment's. */
static void overlong_line_one_segment(void)
{
    static const size_t sizes[] = {ME_MAX_LINE + 100, 60000};
    size_t k;
    char *line = malloc(5 + 60000 + 2);
    for (k = 0; k < 2; k++) {
        size_t len = 5 + sizes[k] + 2, piece;
        me_item *one, *split = NULL;
        h_sess a = h_new(ME_PROTO_POP3, false, true), b = h_new(ME_PROTO_POP3, false, true);
        memcpy(line, "USER ", 5);
        memset(line + 5, 'u', sizes[k]);
        memcpy(line + 5 + sizes[k], "\r\n", 2);
        h_s(&a, "+OK ready\r\n");
        h_s(&b, "+OK ready\r\n");
        one = h_feed(&a, ME_CLIENT, line, len);
        for (piece = 0; piece < len; piece += 1400) {
            me_item *it = h_feed(&b, ME_CLIENT, line + piece, len - piece < 1400 ? len - piece : 1400);
            if (it && it->kind == ME_KIND_COMMAND)
                split = it;
        }
        CHECK(one && one->kind == ME_KIND_COMMAND && (one->flags & ME_W_OVERLONG));
        CHECK(split && (split->flags & ME_W_OVERLONG));
        CHECK(one && one->argument && strlen(one->argument) < ME_MAX_LINE);
        CHECK(one && split && one->argument && split->argument &&
              strcmp(one->argument, split->argument) == 0);
        CHECK(one && one->auth && one->auth->username && strlen(one->auth->username) < ME_MAX_LINE);
    }
    free(line);
}

static void imap_absurd_literal(void)
{
    h_sess h = h_new(ME_PROTO_IMAP, false, true);
    me_item *it;
    h_s(&h, "* OK IMAP4rev1 ready\r\n");
    it = h_c(&h, "a1 LOGIN {99999999999999999999999}\r\n");
    CHECK(with_flag(it, ME_W_MALFORMED) != NULL);
    for (; it; it = it->next)
        CHECK(it->auth == NULL);
    for (it = h_s(&h, "a1 OK done\r\n"); it; it = it->next) {
        CHECK(it->auth == NULL);
        CHECK(it->session_user == NULL);
    }
}

static void imap_huge_literal(void)
{
    /* {4294967295} is a number64: the server's "+" starts 2^32-1 bytes of literal */
    h_sess h = h_new(ME_PROTO_IMAP, false, true);
    me_item *it;
    h_s(&h, "* OK IMAP4rev1 ready\r\n");
    h_c(&h, "a1 LOGIN {4294967295}\r\n");
    h_s(&h, "+ go ahead\r\n");
    it = h_c(&h, "a2 LOGOUT\r\n"); /* literal bytes, not a command */
    CHECK(it && it->kind == ME_KIND_DATA && it->data_len == 11);
    CHECK(it && !it->command);
}

static void pending_ring(void)
{
    /* 70 NOOPs pipelined one per frame (RFC 2449 §6.6), then 70 replies: the
     * ring grows from 4 to 64 entries, the 6 oldest commands are forgotten, so
     * reply 1 answers NOOP 7 and reply 65 answers none */
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    uint32_t noop_frame[70];
    me_item *it;
    int i;
    h_pop3_login(&h);
    for (i = 0; i < 70; i++) {
        it = h_c(&h, "NOOP\r\n");
        noop_frame[i] = it ? it->frame : 0;
    }
    for (i = 0; i < 70; i++) {
        it = h_s(&h, "+OK\r\n");
        if (i < 64)
            CHECK(it && it->request_in == noop_frame[i + 6]);
        else
            CHECK(it && it->request_in == 0);
    }
}

int main(void)
{
    pending_ring();
    records_per_frame();
    bodies_are_not_cut();
    body_lines_across_segments();
    long_partial_line();
    overlong_line_one_segment();
    imap_absurd_literal();
    imap_huge_literal();
    return h_done("test_limits");
}
