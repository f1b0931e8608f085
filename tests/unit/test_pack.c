/* test_pack.c - records as they are kept (plugin/pack.c) and a session's
 * release (me_session_free).  Every other unit test already reads records
 * through a pack and an unpack (harness.c); this one checks the form itself:
 *   - each field comes back, whatever is set or not, with an index that is
 *     not the record's place in its list;
 *   - the packed size is what the layout says, counted by hand;
 *   - a command's response_in comes from the session's links, also when it
 *     was packed before its reply and after the session was freed;
 *   - freeing a session returns its working state and keeps what records
 *     point to (run under ASan in the sanitized build). */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* ---- an allocator that frees for real and can free everything at the end ---- */

typedef struct blk {
    struct blk *prev, *next;
    size_t size;
} blk;

typedef struct heap {
    blk head;
    size_t live;
    size_t freed;
} heap;

static void *heap_alloc(void *ctx, size_t n)
{
    heap *h = ctx;
    blk *b = calloc(1, sizeof(blk) + n);
    if (!b)
        abort();
    b->size = n;
    b->next = h->head.next;
    b->prev = &h->head;
    if (h->head.next)
        h->head.next->prev = b;
    h->head.next = b;
    h->live++;
    return b + 1;
}

static void heap_free(void *ctx, void *p)
{
    heap *h = ctx;
    blk *b = (blk *)p - 1;
    b->prev->next = b->next;
    if (b->next)
        b->next->prev = b->prev;
    h->live--;
    h->freed++;
    free(b);
}

static void heap_free_all(heap *h)
{
    while (h->head.next)
        heap_free(h, h->head.next + 1);
}

/* ---- the layout ---- */

static void round_trip(void)
{
    static me_auth auth = {.mechanism = "PLAIN", .username = "alice", .password = "secret",
                           .attempt = 2, .result = ME_RESULT_FAILURE,
                           .failure = ME_FAIL_CREDENTIALS, .secret_frame = 699998,
                           .start_frame = 699997};
    me_item a, b, c, *u;
    heap hp;
    me_alloc al = {heap_alloc, NULL, heap_free};
    me_session *s;
    me_kept *k;
    size_t before;
    memset(&hp, 0, sizeof hp);
    al.ctx = &hp;
    s = me_session_new(&al, ME_PROTO_IMAP, false, true);
    k = me_session_kept(s);
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&c, 0, sizeof c);
    a.next = &b;
    a.command = "LOGIN";
    a.argument = "alice secret";
    a.masked = "alice ********";
    a.tag = "a1";
    a.enhanced = "5.7.8";
    a.detail = "detail";
    a.auth = &auth;
    a.session_user = "alice";
    a.mail_from = "<a@example.test>";
    a.rcpt = "<b@example.test>";
    a.mailbox = "INBOX";
    a.frame = 700000;
    a.request_in = 5; /* far back: a long varint */
    a.response_in = 9; /* not packed: links answer it */
    a.data_len = 70000;
    a.flags = ME_W_CLEARTEXT | ME_W_GAP;
    a.reply_code = 535;
    a.explain = 300;
    a.explain2 = 301;
    a.index = 4; /* not its place (0): kept */
    a.proto = ME_PROTO_IMAP;
    a.dir = ME_CLIENT;
    a.kind = ME_KIND_UNKNOWN;
    a.phase = ME_PHASE_TLS;
    a.wrong_phase = ME_PHASE_SELECTED;
    a.status = ME_STATUS_CONTINUE;
    a.phase_start = 1;
    a.inferred = 1;
    a.tls = 1;
    a.cleartext = 1;
    a.tls_offered = 1;
    a.tls_refused = 1;
    b.frame = 700000;
    b.index = 1; /* its place: not kept */
    b.proto = ME_PROTO_SMTP;
    b.dir = ME_SERVER;
    b.kind = ME_KIND_REPLY;
    b.explain = 12;
    b.session_user = "alice"; /* the same pointer: one kept string */
    b.mailbox = a.mailbox;

    CHECK(me_keep(k, 700000, &a));
    CHECK(!me_keep(k, 700000, &a)); /* once per frame */
    CHECK(!me_keep(k, 699999, &a)); /* in order */
    CHECK(!me_keep(k, 700001, NULL));
    CHECK(me_kept_unpack(k, 699999, &h_alloc) == NULL);
    CHECK(me_kept_unpack(k, 700001, &h_alloc) == NULL);
    CHECK(me_kept_unpack(NULL, 700000, &h_alloc) == NULL);
    u = me_kept_unpack(k, 700000, &h_alloc);
    CHECK(u && u->next && !u->next->next);
    CHECK_STR(u->command, "LOGIN");
    CHECK_STR(u->argument, "alice secret");
    CHECK_STR(u->masked, "alice ********");
    CHECK_STR(u->tag, "a1");
    CHECK_STR(u->enhanced, "5.7.8");
    CHECK_STR(u->detail, "detail");
    CHECK(u->auth && u->auth != &auth && u->auth->mechanism == auth.mechanism &&
          u->auth->username == auth.username && u->auth->password == auth.password);
    CHECK(u->auth && u->auth->failure == ME_FAIL_CREDENTIALS && u->auth->secret_frame == 699998 &&
          u->auth->start_frame == 699997);
    CHECK(u->auth && u->auth->attempt == 2 && u->auth->result == ME_RESULT_FAILURE &&
          !u->auth->token && !u->auth->challenge && !u->auth->digest && !u->auth->decoded);
    CHECK_STR(u->session_user, "alice");
    CHECK_STR(u->mail_from, "<a@example.test>");
    CHECK_STR(u->rcpt, "<b@example.test>");
    CHECK_STR(u->mailbox, "INBOX");
    CHECK(u->frame == 700000 && u->request_in == 5 && u->response_in == 0);
    CHECK(u->data_len == 70000 && u->flags == (ME_W_CLEARTEXT | ME_W_GAP));
    CHECK(u->reply_code == 535 && u->explain == 300 && u->explain2 == 301 && u->index == 4);
    CHECK(u->proto == ME_PROTO_IMAP && u->dir == ME_CLIENT && u->kind == ME_KIND_UNKNOWN);
    CHECK(u->phase == ME_PHASE_TLS && u->wrong_phase == ME_PHASE_SELECTED);
    CHECK(u->status == ME_STATUS_CONTINUE && u->phase_start && u->inferred && u->tls &&
          u->cleartext && u->tls_offered && u->tls_refused);
    u = u->next;
    CHECK(u->command == NULL && u->argument == NULL && u->auth == NULL);
    CHECK(u->session_user == a.session_user && u->mailbox == a.mailbox);
    CHECK(u->frame == 700000 && u->index == 1 && u->request_in == 0 && u->data_len == 0);
    CHECK(u->flags == 0 && u->reply_code == 0 && u->explain == 12 && u->explain2 == 0);
    CHECK(u->proto == ME_PROTO_SMTP && u->dir == ME_SERVER && u->kind == ME_KIND_REPLY);
    CHECK(u->phase == ME_PHASE_NONE && !u->phase_start && !u->tls && !u->cleartext &&
          !u->tls_offered && !u->tls_refused);

    /* sizes, counted by hand from the layout in pack.c: a body chunk of
     * 300 bytes is count 1, mask 1 (explain, data_len: bits 0 and 6), enums
     * 1 (kind 4 << 3 = 32), explain 1 (12), data_len 2 (300) = 6 bytes */
    c.frame = 700002;
    c.kind = ME_KIND_DATA;
    c.explain = 12;
    c.data_len = 300;
    before = me_kept_bytes(k);
    CHECK(me_keep(k, 700002, &c));
    u = me_kept_unpack(k, 700002, &h_alloc);
    CHECK(u && u->kind == ME_KIND_DATA && u->data_len == 300 && u->explain == 12 && !u->next);
    CHECK(me_kept_bytes(k) >= before);
    me_session_free(s); /* trims the kept arrays to what they hold */
    /* Frame 700000: count 1; record a: mask 3 (18 bits), enums 4 (tls_refused
     * 1 << 23 needs 24 bits), explain 2 (300), "LOGIN" 6 and "alice secret"
     * 13 with their NUL, user and mailbox indexes 1 + 1, request_in 3
     * (700000 - 5 = 699995), data_len 3 (70000), flags 2 (bits 0 and 11), tag
     * 3, masked 15, enhanced 6, detail 7, the snapshot 34 (mask 2: bits 0-2,
     * 10 and 11; attempt 1; result and failure 1 (1 | 1 << 2); secret_frame
     * and start_frame 3 each; three pointers), mail_from 17, rcpt 17,
     * reply_code 2, explain2 2, index 1 = 142; record b: mask 1 (bits 0, 3,
     * 4), enums 1 (14), explain 1, indexes 1 + 1 = 5: 148 bytes.
     * Frame 700002: 6.  Index: two (frame, offset) pairs of 8 bytes; kept
     * strings: the pointers to alice and INBOX. */
    CHECK(me_kept_bytes(k) == 154 + 2 * 8 + 2 * sizeof(char *));
    u = me_kept_unpack(k, 700000, &h_alloc); /* still there after the session */
    CHECK(u && u->next && u->request_in == 5 && u->next->mailbox == a.mailbox);
    heap_free_all(&hp);
}

/* ---- response_in through the links, before and after the session is freed ---- */

static void feed_keep(me_session *s, me_dir dir, const char *text, uint32_t frame)
{
    me_item *made = me_session_feed(s, dir, (const uint8_t *)text, strlen(text), frame, false);
    CHECK(me_keep(me_session_kept(s), frame, made));
}

static void links_and_free(void)
{
    heap hp;
    me_alloc a;
    me_session *s;
    me_kept *k;
    me_item *u;
    size_t live_before;
    memset(&hp, 0, sizeof hp);
    a.alloc = heap_alloc;
    a.ctx = &hp;
    a.free = heap_free;
    s = me_session_new(&a, ME_PROTO_POP3, false, true);
    k = me_session_kept(s);
    feed_keep(s, ME_SERVER, "+OK ready\r\n", 4);
    /* three pipelined commands in one frame (RFC 2449 PIPELINING): indexes 0-2 */
    feed_keep(s, ME_CLIENT, "USER alice\r\nPASS secret\r\nSTAT\r\n", 6);
    u = me_kept_unpack(k, 6, &h_alloc);
    CHECK(u && u->next && u->next->next && u->response_in == 0); /* no reply yet */
    feed_keep(s, ME_SERVER, "+OK\r\n", 8);
    feed_keep(s, ME_SERVER, "+OK logged in\r\n+OK 2 320\r\n", 9);
    /* a partial line and a body kept in the session's buffers */
    feed_keep(s, ME_CLIENT, "RETR 1\r\nLI", 10);
    feed_keep(s, ME_SERVER, "+OK 120 octets\r\nSubject: x\r\n", 11);
    u = me_kept_unpack(k, 6, &h_alloc);
    CHECK_STR(u->command, "USER");
    CHECK(u->response_in == 8 && u->next->response_in == 9 && u->next->next->response_in == 9);
    u = me_kept_unpack(k, 9, &h_alloc);
    CHECK(u->request_in == 6 && u->next && u->next->request_in == 6 && u->next->index == 1);
    CHECK(me_kept_unpack(k, 8, &h_alloc)->request_in == 6);

    live_before = hp.live;
    me_session_free(s);
    CHECK(hp.freed >= 4 && hp.live < live_before); /* state, buffers, pending ring, session */
    /* records stay readable: their strings, snapshots and links were not freed */
    u = me_kept_unpack(k, 6, &h_alloc);
    CHECK_STR(u->command, "USER");
    CHECK_STR(u->next->auth ? u->next->auth->password : NULL, "secret");
    CHECK(u->response_in == 8 && u->next->next->response_in == 9);
    u = me_kept_unpack(k, 11, &h_alloc);
    CHECK(u && u->request_in == 10);
    heap_free_all(&hp);
}

int main(void)
{
    round_trip();
    links_and_free();
    return h_done("test_pack");
}
