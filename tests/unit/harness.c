/* harness.c - see harness.h */
#include "harness.h"

#include <stdlib.h>

int h_failures, h_checks;

typedef struct block {
    struct block *next;
} block;
static block *arena; /* test-only: the plugin itself keeps no global state */

static void *h_zalloc(void *ctx, size_t n)
{
    block *b = calloc(1, sizeof(block) + n + 16);
    (void)ctx;
    if (!b) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    b->next = arena;
    arena = b;
    return (char *)b + sizeof(block);
}

const me_alloc h_alloc = {h_zalloc, NULL, NULL};

h_sess h_new(me_proto p, bool tls, bool start_seen)
{
    h_sess h;
    h.s = me_session_new(&h_alloc, p, tls, start_seen);
    h.frame = 0;
    return h;
}

/* As the glue does: the frame's records are kept, and what the tests see is
 * the kept form unpacked, so every check also checks plugin/pack.c. */
me_item *h_feed(h_sess *h, me_dir dir, const void *data, size_t len)
{
    me_item *made = me_session_feed(h->s, dir, data, len, ++h->frame, false);
    me_kept *k = me_session_kept(h->s);
    if (!made)
        return NULL;
    if (!me_keep(k, h->frame, made))
        return made;
    return me_kept_unpack(k, h->frame, &h_alloc);
}

uint32_t h_response_in(const h_sess *h, const me_item *cmd)
{
    return me_session_response_in(h->s, cmd->frame, cmd->index);
}

me_item *h_c(h_sess *h, const char *text) { return h_feed(h, ME_CLIENT, text, strlen(text)); }
me_item *h_s(h_sess *h, const char *text) { return h_feed(h, ME_SERVER, text, strlen(text)); }

me_item *h_nth(me_item *it, int n)
{
    while (it && n-- > 0)
        it = it->next;
    return it;
}

int h_done(const char *name)
{
    while (arena) {
        block *n = arena->next;
        free(arena);
        arena = n;
    }
    printf("%s: %d checks, %d failures\n", name, h_checks, h_failures);
    return h_failures ? 1 : 0;
}

void h_pop3_login(h_sess *h)
{
    h_s(h, "+OK ready\r\n");
    h_c(h, "USER a\r\n");
    h_s(h, "+OK\r\n");
    h_c(h, "PASS b\r\n");
    h_s(h, "+OK\r\n");
}
