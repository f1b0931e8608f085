/* fuzz_common.h - what the libFuzzer targets share: an allocator whose memory
 * is released after each input (so leaks and use-after-free between inputs
 * are found) and a reader of length-prefixed chunks.  Test code only. */
#ifndef MAILEDU_FUZZ_COMMON_H
#define MAILEDU_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "mailedu.h"

/* Every block of one input, freed by fz_free_all(). */
typedef struct fz_block {
    struct fz_block *next, *prev;
} fz_block;

static fz_block fz_head = {&fz_head, &fz_head};

static inline void *fz_alloc(void *ctx, size_t n)
{
    fz_block *b = calloc(1, sizeof(fz_block) + n);
    (void)ctx;
    if (!b)
        abort(); /* the engines' contract: never NULL */
    b->next = fz_head.next;
    b->prev = &fz_head;
    fz_head.next->prev = b;
    fz_head.next = b;
    return b + 1;
}

/* Early frees are exercised too (the glue's wmem allocator supports them). */
static inline void fz_free(void *ctx, void *p)
{
    fz_block *b;
    (void)ctx;
    if (!p)
        return;
    b = (fz_block *)p - 1;
    b->prev->next = b->next;
    b->next->prev = b->prev;
    free(b);
}

static inline void fz_free_all(void)
{
    while (fz_head.next != &fz_head)
        fz_free(NULL, fz_head.next + 1);
}

static const me_alloc fz_allocator = {fz_alloc, NULL, fz_free};

/* Input cursor. */
typedef struct fz_in {
    const uint8_t *p;
    size_t n;
} fz_in;

static inline int fz_byte(fz_in *in)
{
    if (!in->n)
        return -1;
    in->n--;
    return *in->p++;
}

static inline uint32_t fz_u32(fz_in *in)
{
    uint32_t v = 0;
    int i, b;
    for (i = 0; i < 4 && (b = fz_byte(in)) >= 0; i++)
        v = v << 8 | (uint32_t)b;
    return v;
}

/* A chunk of at most max bytes: a 2-byte length then the bytes (fewer if the
 * input ends).  Returns its length; *out points into the input. */
static inline size_t fz_chunk(fz_in *in, const uint8_t **out, size_t max)
{
    size_t len = (size_t)(fz_byte(in) & 0xff) << 8;
    len |= (size_t)(fz_byte(in) & 0xff);
    if (len > max)
        len = max;
    if (len > in->n)
        len = in->n;
    *out = in->p;
    in->p += len;
    in->n -= len;
    return len;
}

/* Reads every field of every record, as the tree and the taps do, so a
 * dangling or unterminated string is found here and not in Wireshark. */
static inline size_t fz_walk(const me_item *it)
{
    size_t total = 0;
    for (; it; it = it->next) {
        const char *s[] = {it->command, it->argument, it->masked, it->tag, it->enhanced,
                           it->detail, it->session_user, it->mail_from, it->rcpt, it->mailbox,
                           me_text(it->explain, ME_LANG_EN), me_text(it->explain2, ME_LANG_ID)};
        size_t i;
        for (i = 0; i < sizeof s / sizeof s[0]; i++)
            total += s[i] ? __builtin_strlen(s[i]) : 0;
        if (it->auth) {
            const char *a[] = {it->auth->mechanism, it->auth->username, it->auth->password,
                               it->auth->token, it->auth->challenge, it->auth->digest,
                               it->auth->authzid, it->auth->domain, it->auth->host,
                               it->auth->decoded};
            for (i = 0; i < sizeof a / sizeof a[0]; i++)
                total += a[i] ? __builtin_strlen(a[i]) : 0;
        }
        total += me_phase_name(it->phase)[0] + me_status_name(it->status)[0];
    }
    return total;
}

#endif
