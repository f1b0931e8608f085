/* pack.c - records as they are kept between looks at a frame (issue 13).
 *
 * A made record (me_item) has a slot for every field, 128 bytes; most are
 * empty (a reply has no argument, a body chunk no command).  Kept, the
 * records of all a session's frames are one byte array, about 20 bytes a
 * record plus its texts, and an index of (frame, offset) pairs:
 *
 *   per frame: record count (varint), then per record:
 *   present-mask (varint, common fields in the low bits), packed enums and
 *   flags (varint), then only the fields whose mask bit is set, in mask-bit
 *   order: numbers as varints (request_in as the distance back from the
 *   frame), the record's texts inline with their NUL, the credential
 *   snapshot as a mask, its attempt and result and its strings' pointers
 *   (8 bytes, LP64), the session user and the mailbox
 *   as an index into the kept strings (they repeat on every record of a
 *   session and live in the session's allocator).
 *
 * Bytes are read and written one at a time or with memcpy, so nothing needs
 * alignment.  Unpacked texts point into the kept bytes: a record is used
 * while its frame is looked at, and consumers that keep a text (reports,
 * the credentials tap) copy it.  response_in is not packed (the reply comes in
 * a later frame): the links answer it (me_link). */
#include <string.h>

#include "internal.h"

/* Mask bits, the fields most records have first (a varint's first byte holds
 * seven). */
enum {
    P_EXPLAIN, P_COMMAND, P_ARGUMENT, P_SESSION_USER, P_MAILBOX, P_REQUEST_IN, P_DATA_LEN,
    P_FLAGS, P_TAG, P_MASKED, P_ENHANCED, P_DETAIL, P_AUTH, P_MAIL_FROM, P_RCPT,
    P_REPLY_CODE, P_EXPLAIN2, P_INDEX, P_VERB,
    P_COUNT
};

/* How long a kept-strings scan looks back for a repeated value: a session
 * that selects thousands of mailboxes costs a few duplicates, not a square. */
#define KEPT_SCAN 8u

struct me_kept {
    me_links links;
    me_alloc a;
    uint8_t *bytes;
    uint32_t len, cap;
    struct kept_frame {
        uint32_t frame, off;
    } *frames;
    uint32_t nframes, frames_cap;
    const char **strs; /* session users and mailboxes */
    uint32_t nstrs, strs_cap;
};

me_kept *me_kept_new(const me_alloc *a)
{
    me_kept *k = a->alloc(a->ctx, sizeof(*k));
    k->a = *a;
    return k;
}

me_links *me_kept_links(me_kept *k)
{
    return &k->links;
}

/* Grows *p (n used elements of size sz, capacity *cap) to hold `need`. */
static void *grow(const me_alloc *a, void *p, uint32_t n, uint32_t *cap, uint32_t need, size_t sz)
{
    uint32_t c = *cap ? *cap : 16;
    void *np;
    if (need <= *cap)
        return p;
    while (c < need)
        c *= 2;
    np = a->alloc(a->ctx, (size_t)c * sz);
    if (n)
        memcpy(np, p, (size_t)n * sz);
    if (p && a->free)
        a->free(a->ctx, p);
    *cap = c;
    return np;
}

/* Shrinks array p (n used elements of sz bytes, capacity *cap) to n. */
static void *shrink(const me_alloc *a, void *p, uint32_t n, uint32_t *cap, size_t sz)
{
    void *np;
    if (n >= *cap || !a->free)
        return p;
    np = a->alloc(a->ctx, (n ? n : 1) * sz);
    if (n)
        memcpy(np, p, (size_t)n * sz);
    a->free(a->ctx, p);
    *cap = n;
    return np;
}

void me_kept_trim(me_kept *k)
{
    /* a finished session keeps exactly what it wrote: doubling left up to
     * half of each array unused */
    k->bytes = shrink(&k->a, k->bytes, k->len, &k->cap, 1);
    k->frames = shrink(&k->a, k->frames, k->nframes, &k->frames_cap, sizeof(*k->frames));
    k->links.v = shrink(&k->a, k->links.v, k->links.n, &k->links.cap, sizeof(*k->links.v));
    k->strs = shrink(&k->a, (void *)k->strs, k->nstrs, &k->strs_cap, sizeof(*k->strs));
}

/* ---- writing ---- */

static void put(me_kept *k, const void *p, size_t n)
{
    k->bytes = grow(&k->a, k->bytes, k->len, &k->cap, k->len + (uint32_t)n, 1);
    memcpy(k->bytes + k->len, p, n);
    k->len += (uint32_t)n;
}

/* LEB128: 7 bits a byte, low first, the high bit set on all but the last.
 * Written in place after one capacity check (a record is mostly varints). */
static void put_varint(me_kept *k, uint64_t v)
{
    uint8_t *b;
    k->bytes = grow(&k->a, k->bytes, k->len, &k->cap, k->len + 10, 1);
    b = k->bytes + k->len;
    for (; v >= 0x80; v >>= 7)
        *b++ = (uint8_t)(v | 0x80);
    *b++ = (uint8_t)v;
    k->len = (uint32_t)(b - k->bytes);
}

static void put_ptr(me_kept *k, const void *p)
{
    put(k, &p, sizeof p);
}

/* The credential snapshot's strings, in mask-bit order (they live in the
 * session's allocator: the attempt and the SASL decoder hold them too). */
static const char **auth_field(me_auth *a, unsigned i)
{
    switch (i) {
    case 0: return &a->mechanism;
    case 1: return &a->username;
    case 2: return &a->password;
    case 3: return &a->token;
    case 4: return &a->challenge;
    case 5: return &a->digest;
    case 6: return &a->authzid;
    case 7: return &a->domain;
    case 8: return &a->host;
    default: return &a->decoded;
    }
}
#define AUTH_FIELDS 10u
#define AUTH_SECRET_FRAME (1u << AUTH_FIELDS)        /* mask bit: a secret_frame follows */
#define AUTH_START_FRAME (1u << (AUTH_FIELDS + 1)) /* and a start_frame */

/* A snapshot: mask of its strings, attempt, result, then the strings'
 * pointers (about 30 bytes; the struct is 88). */
static void put_auth(me_kept *k, const me_auth *a)
{
    uint32_t m = 0;
    unsigned i;
    for (i = 0; i < AUTH_FIELDS; i++)
        if (*auth_field((me_auth *)(uintptr_t)a, i))
            m |= 1u << i;
    if (a->secret_frame)
        m |= AUTH_SECRET_FRAME;
    if (a->start_frame)
        m |= AUTH_START_FRAME;
    put_varint(k, m);
    put_varint(k, a->attempt);
    put_varint(k, (uint32_t)a->result | (uint32_t)a->failure << 2); /* one byte still */
    if (a->secret_frame)
        put_varint(k, a->secret_frame);
    if (a->start_frame)
        put_varint(k, a->start_frame);
    for (i = 0; i < AUTH_FIELDS; i++)
        if (m & (1u << i))
            put_ptr(k, *auth_field((me_auth *)(uintptr_t)a, i));
}

/* A record's own text goes into the kept bytes, its NUL included: the
 * engines made it with the frame's records (me_rstrndup), so this copy is
 * the only one kept, without an allocation and a pointer of its own. */
static void put_str(me_kept *k, const char *s)
{
    put(k, s, strlen(s) + 1);
}

/* Index of string pointer p among the kept strings, added if new. */
static uint32_t str_index(me_kept *k, const char *p)
{
    uint32_t i;
    for (i = 0; i < k->nstrs && i < KEPT_SCAN; i++)
        if (k->strs[k->nstrs - 1 - i] == p)
            return k->nstrs - 1 - i;
    k->strs = grow(&k->a, (void *)k->strs, k->nstrs, &k->strs_cap, k->nstrs + 1, sizeof(*k->strs));
    k->strs[k->nstrs] = p;
    return k->nstrs++;
}

static uint32_t bits_of(const me_item *it)
{
    return (uint32_t)it->proto | (uint32_t)it->dir << 2 | (uint32_t)it->kind << 3 |
           (uint32_t)it->phase << 6 | (uint32_t)it->status << 11 |
           (uint32_t)it->phase_start << 13 | (uint32_t)it->inferred << 14 |
           (uint32_t)it->tls << 15 | (uint32_t)it->cleartext << 16 |
           (uint32_t)it->tls_offered << 17 | (uint32_t)it->wrong_phase << 18 |
           (uint32_t)it->tls_refused << 23 | (uint32_t)it->bad << 24 |
           (uint32_t)it->inflated << 25 | (uint32_t)it->passed << 26;
}

static void set_bits(me_item *it, uint32_t b)
{
    it->proto = b & 3u;
    it->dir = (b >> 2) & 1u;
    it->kind = (b >> 3) & 7u;
    it->phase = (b >> 6) & 31u;
    it->status = (b >> 11) & 3u;
    it->phase_start = (b >> 13) & 1u;
    it->inferred = (b >> 14) & 1u;
    it->tls = (b >> 15) & 1u;
    it->cleartext = (b >> 16) & 1u;
    it->tls_offered = (b >> 17) & 1u;
    it->wrong_phase = (b >> 18) & 31u;
    it->tls_refused = (b >> 23) & 1u;
    it->bad = (b >> 24) & 1u;
    it->inflated = (b >> 25) & 1u;
    it->passed = (b >> 26) & 31u;
}

static uint32_t mask_of(const me_item *it, unsigned pos)
{
    uint32_t m = 0;
#define HAS(bit, cond) \
    if (cond)          \
    m |= 1u << (bit)
    HAS(P_EXPLAIN, it->explain);
    HAS(P_COMMAND, it->command);
    HAS(P_ARGUMENT, it->argument);
    HAS(P_SESSION_USER, it->session_user);
    HAS(P_MAILBOX, it->mailbox);
    HAS(P_REQUEST_IN, it->request_in);
    HAS(P_DATA_LEN, it->data_len);
    HAS(P_FLAGS, it->flags);
    HAS(P_TAG, it->tag);
    HAS(P_MASKED, it->masked);
    HAS(P_ENHANCED, it->enhanced);
    HAS(P_DETAIL, it->detail);
    HAS(P_AUTH, it->auth);
    HAS(P_MAIL_FROM, it->mail_from);
    HAS(P_RCPT, it->rcpt);
    HAS(P_REPLY_CODE, it->reply_code);
    HAS(P_EXPLAIN2, it->explain2);
    HAS(P_INDEX, it->index != pos);
    HAS(P_VERB, it->verb);
#undef HAS
    return m;
}

bool me_keep(me_kept *k, uint32_t frame, const me_item *items)
{
    const me_item *it;
    unsigned pos = 0, count = 0;
    if (!items || (k->nframes && k->frames[k->nframes - 1].frame >= frame))
        return false; /* frames are kept once each, in order (the first pass) */
    k->frames = grow(&k->a, k->frames, k->nframes, &k->frames_cap, k->nframes + 1,
                     sizeof(*k->frames));
    k->frames[k->nframes].frame = frame;
    k->frames[k->nframes].off = k->len;
    k->nframes++;
    for (it = items; it; it = it->next)
        count++;
    put_varint(k, count);
    for (it = items; it; it = it->next, pos++) {
        uint32_t m = mask_of(it, pos);
        put_varint(k, m);
        put_varint(k, bits_of(it));
        if (m & (1u << P_EXPLAIN)) put_varint(k, it->explain);
        if (m & (1u << P_COMMAND)) put_str(k, it->command);
        if (m & (1u << P_ARGUMENT)) put_str(k, it->argument);
        if (m & (1u << P_SESSION_USER)) put_varint(k, str_index(k, it->session_user));
        if (m & (1u << P_MAILBOX)) put_varint(k, str_index(k, it->mailbox));
        /* a reply's command is usually a few frames back: a small distance */
        if (m & (1u << P_REQUEST_IN)) put_varint(k, (uint32_t)(frame - it->request_in));
        if (m & (1u << P_DATA_LEN)) put_varint(k, it->data_len);
        if (m & (1u << P_FLAGS)) put_varint(k, it->flags);
        if (m & (1u << P_TAG)) put_str(k, it->tag);
        if (m & (1u << P_MASKED)) put_str(k, it->masked);
        if (m & (1u << P_ENHANCED)) put_str(k, it->enhanced);
        if (m & (1u << P_DETAIL)) put_str(k, it->detail);
        if (m & (1u << P_AUTH)) put_auth(k, it->auth);
        if (m & (1u << P_MAIL_FROM)) put_str(k, it->mail_from);
        if (m & (1u << P_RCPT)) put_str(k, it->rcpt);
        if (m & (1u << P_REPLY_CODE)) put_varint(k, it->reply_code);
        if (m & (1u << P_EXPLAIN2)) put_varint(k, it->explain2);
        if (m & (1u << P_INDEX)) put_varint(k, it->index);
        if (m & (1u << P_VERB)) put_str(k, it->verb);
    }
    return true;
}

/* ---- reading ---- */

static uint64_t get_varint(const uint8_t **p)
{
    uint64_t v = 0;
    unsigned shift = 0;
    uint8_t b;
    do {
        b = *(*p)++;
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
    } while (b & 0x80);
    return v;
}

/* Points into the kept bytes: valid while the frame is looked at (a later
 * me_keep may move them), which is as long as a record is used. */
static const char *get_str(const uint8_t **p)
{
    const char *v = (const char *)*p;
    *p += strlen(v) + 1;
    return v;
}

static const void *get_ptr(const uint8_t **p)
{
    const void *v;
    memcpy(&v, *p, sizeof v);
    *p += sizeof v;
    return v;
}

static me_auth *get_auth(const uint8_t **p, const me_alloc *al)
{
    me_auth *a = al->alloc(al->ctx, sizeof(*a));
    uint32_t m = (uint32_t)get_varint(p), v;
    unsigned i;
    a->attempt = (uint32_t)get_varint(p);
    v = (uint32_t)get_varint(p);
    a->result = (me_result)(v & 3u);
    a->failure = (me_failure)(v >> 2);
    if (m & AUTH_SECRET_FRAME)
        a->secret_frame = (uint32_t)get_varint(p);
    if (m & AUTH_START_FRAME)
        a->start_frame = (uint32_t)get_varint(p);
    for (i = 0; i < AUTH_FIELDS; i++)
        if (m & (1u << i))
            *auth_field(a, i) = get_ptr(p);
    return a;
}

me_item *me_kept_unpack(const me_kept *k, uint32_t frame, const me_alloc *a)
{
    uint32_t lo = 0, hi, count, i;
    const uint8_t *p;
    me_item *items;
    if (!k)
        return NULL;
    hi = k->nframes;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (k->frames[mid].frame < frame)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == k->nframes || k->frames[lo].frame != frame)
        return NULL;
    p = k->bytes + k->frames[lo].off;
    count = (uint32_t)get_varint(&p);
    if (!count)
        return NULL;
    items = a->alloc(a->ctx, count * sizeof(*items));
    for (i = 0; i < count; i++) {
        me_item *it = &items[i];
        uint32_t m = (uint32_t)get_varint(&p);
        set_bits(it, (uint32_t)get_varint(&p));
        it->next = i + 1 < count ? &items[i + 1] : NULL;
        it->frame = frame;
        it->index = (uint16_t)i;
        if (m & (1u << P_EXPLAIN)) it->explain = (uint16_t)get_varint(&p);
        if (m & (1u << P_COMMAND)) it->command = get_str(&p);
        if (m & (1u << P_ARGUMENT)) it->argument = get_str(&p);
        if (m & (1u << P_SESSION_USER)) it->session_user = k->strs[get_varint(&p)];
        if (m & (1u << P_MAILBOX)) it->mailbox = k->strs[get_varint(&p)];
        if (m & (1u << P_REQUEST_IN)) it->request_in = frame - (uint32_t)get_varint(&p);
        if (m & (1u << P_DATA_LEN)) it->data_len = (uint32_t)get_varint(&p);
        if (m & (1u << P_FLAGS)) it->flags = (uint32_t)get_varint(&p);
        if (m & (1u << P_TAG)) it->tag = get_str(&p);
        if (m & (1u << P_MASKED)) it->masked = get_str(&p);
        if (m & (1u << P_ENHANCED)) it->enhanced = get_str(&p);
        if (m & (1u << P_DETAIL)) it->detail = get_str(&p);
        if (m & (1u << P_AUTH)) it->auth = get_auth(&p, a);
        if (m & (1u << P_MAIL_FROM)) it->mail_from = get_str(&p);
        if (m & (1u << P_RCPT)) it->rcpt = get_str(&p);
        if (m & (1u << P_REPLY_CODE)) it->reply_code = (uint16_t)get_varint(&p);
        if (m & (1u << P_EXPLAIN2)) it->explain2 = (uint16_t)get_varint(&p);
        if (m & (1u << P_INDEX)) it->index = (uint16_t)get_varint(&p);
        if (m & (1u << P_VERB)) it->verb = get_str(&p);
        it->response_in = me_links_response_in(&k->links, frame, it->index);
    }
    return items;
}

size_t me_kept_bytes(const me_kept *k)
{
    return k ? k->cap + (size_t)k->frames_cap * sizeof(*k->frames) +
                   (size_t)k->strs_cap * sizeof(*k->strs) : 0;
}
