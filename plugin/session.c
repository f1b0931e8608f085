/* session.c - the part of a session common to all protocols: reading modes
 * (lines, dot-terminated bodies, counted bytes), records, phases, pending
 * commands and credentials.  Protocol engines decide what lines mean. */
#include <zlib.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static void inflate_end(me_session *s);

static void *zalloc(me_session *s, size_t n)
{
    return s->a.alloc(s->a.ctx, n);
}

static const char *dup_in(const me_alloc *a, const char *p, size_t n)
{
    char *r = a->alloc(a->ctx, n + 1);
    memcpy(r, p, n);
    r[n] = '\0';
    return r;
}

const char *me_strndup(me_session *s, const char *p, size_t n)
{
    return dup_in(&s->a, p, n);
}

void *me_ralloc(me_session *s, size_t n)
{
    return s->rec.alloc(s->rec.ctx, n);
}

const char *me_rstrndup(me_session *s, const char *p, size_t n)
{
    return dup_in(&s->rec, p, n);
}

const char *me_strdup(me_session *s, const char *p)
{
    return p ? me_strndup(s, p, strlen(p)) : NULL;
}

const char *me_upper(me_session *s, const char *p, size_t n)
{
    char *r = (char *)me_rstrndup(s, p, n);
    size_t i;
    for (i = 0; i < n; i++)
        if (r[i] >= 'a' && r[i] <= 'z')
            r[i] = (char)(r[i] - 'a' + 'A');
    return r;
}

void me_set_command(me_session *s, me_item *it, const char *p, size_t n)
{
    size_t i;
    it->command = me_upper(s, p, n);
    for (i = 0; i < n && !(p[i] >= 'a' && p[i] <= 'z'); i++)
        ;
    it->verb = i < n ? me_rstrndup(s, p, n) : NULL;
}

/* me_item packs its enums into bit-fields (mailedu.h): they must fit. */
_Static_assert(ME_PROTO_IMAP < 4 && ME_KIND_UNKNOWN < 8 && ME_STATUS_CONTINUE < 4,
               "me_item's proto, kind and status bit-fields are too narrow");
_Static_assert(ME_PHASE_COUNT <= 32, "me_item's phase bit-fields are too narrow");
_Static_assert(TXT_COUNT <= 65536, "me_item's explanation ids are 16 bits");

me_session *me_session_new(const me_alloc *a, me_proto proto, bool tls_from_start,
                           bool start_seen)
{
    me_session *s = a->alloc(a->ctx, sizeof(*s));
    s->a = *a;
    s->rec = *a;
    s->kept = me_kept_new(a);
    s->links = me_kept_links(s->kept);
    s->proto = proto;
    s->start_seen = start_seen;
    s->tls = tls_from_start;
    s->tls_implicit = tls_from_start;
    switch (proto) {
    case ME_PROTO_POP3: s->eng = &me_pop3_engine; break;
    case ME_PROTO_SMTP: s->eng = &me_smtp_engine; break;
    case ME_PROTO_IMAP: s->eng = &me_imap_engine; break;
    default: s->eng = &me_pop3_engine; break;
    }
    s->eng->init(s);
    return s;
}

me_proto me_session_proto(const me_session *s) { return s->proto; }
me_phase me_session_phase(const me_session *s) { return s->phase; }
bool me_session_tls(const me_session *s) { return s->tls; }

/* ---- records ---- */

void me_session_use_records(me_session *s, const me_alloc *records)
{
    if (records)
        s->rec = *records;
    else
        s->rec = s->a;
}

me_item *me_item_new(me_session *s, me_dir dir, me_kind kind)
{
    me_item *it = s->rec.alloc(s->rec.ctx, sizeof(*it));
    if (s->records_frame != s->frame) {
        s->records_frame = s->frame;
        s->frame_records = 0;
        s->limit_item = NULL;
    }
    /* past ME_MAX_FRAME_RECORDS lines go to one summary: the count stays small */
    it->index = (uint16_t)(s->frame_records < UINT16_MAX ? s->frame_records : UINT16_MAX);
    s->frame_records++;
    it->frame = s->frame;
    it->proto = s->proto;
    it->dir = dir;
    it->kind = kind;
    it->tls = s->tls;
    /* without keys, encrypted packets are phase tls; once keys decrypt the
     * session, records without mail data keep the protocol's phase */
    it->phase = (s->tls && !s->decrypted && !s->keys_seen) ? ME_PHASE_TLS : s->phase;
    it->inferred = s->inferred;
    it->session_user = s->user;
    it->tls_offered = s->tls_offered;
    it->tls_refused = s->tls_refused;
    it->inflated = s->inflating;
    if (s->phase == ME_PHASE_SELECTED) /* IMAP: every record while a mailbox is selected */
        it->mailbox = s->mailbox;
    it->flags = s->d[dir].next_flags;
    s->d[dir].next_flags = 0;
    s->prev_shown = s->any_item ? s->shown : ME_PHASE_NONE;
    it->phase_start = !s->any_item || it->phase != s->shown;
    if (it->phase_start && s->any_item)
        it->flags |= ME_W_PHASE_CHANGE;
    s->shown = it->phase;
    s->any_item = true;
    if (s->tail) {
        if (s->tail == s->watch)
            s->watch_followed = true;
        s->tail->next = it;
    } else
        s->head = it;
    s->tail = it;
    return it;
}

void me_set_phase(me_session *s, me_phase ph)
{
    s->phase = ph;
    s->inferred = false; /* an observed transition makes the phase certain */
}

void me_set_phase_now(me_session *s, me_item *it, me_phase ph)
{
    s->phase = ph;
    s->inferred = false;
    if (s->tls && !s->decrypted && !s->keys_seen)
        return;
    it->phase = ph;
    it->inferred = false;
    it->phase_start = s->prev_shown == ME_PHASE_NONE || ph != s->prev_shown;
    if (it->phase_start && s->prev_shown != ME_PHASE_NONE)
        it->flags |= ME_W_PHASE_CHANGE;
    else
        it->flags &= ~(uint32_t)ME_W_PHASE_CHANGE;
    s->shown = ph;
}

/* Gives a record the phase of the command it answers without moving the
 * session's phase (pipelined commands may already have opened a later one).
 * A late reply to a pipelined command (MAIL's 250 arriving after the client
 * sent DATA) shows its command's phase but does not start a phase the
 * session has already left: mailedu.phase.start marks where phases begin. */
void me_record_phase(me_session *s, me_item *it, me_phase ph, bool inferred, bool late_ok)
{
    me_phase keep = s->phase;
    bool inf = s->inferred;
    if (ph == ME_PHASE_NONE || ph >= ME_PHASE_COUNT || (s->tls && !s->decrypted))
        return;
    if (late_ok && ph != s->phase && s->prev_shown != ME_PHASE_NONE) {
        it->phase = ph;
        it->inferred = inferred;
        it->phase_start = false;
        it->flags &= ~(uint32_t)ME_W_PHASE_CHANGE;
        s->shown = s->prev_shown;
        return;
    }
    me_set_phase_now(s, it, ph);
    s->phase = keep;
    s->inferred = inf;
    if (!(s->tls && !s->decrypted))
        it->inferred = inferred;
}

void me_mark_inferred(me_session *s, me_item *it, me_phase guess)
{
    s->phase = guess;
    s->inferred = true;
    if (it) {
        if (!(s->tls && !s->decrypted && !s->keys_seen))
            it->phase = guess;
        it->inferred = true;
        if (!s->mid_noted)
            it->flags |= ME_W_MIDSESSION;
        s->shown = it->phase;
    }
    s->mid_noted = true;
}

void me_infer_after_loss(me_session *s, me_item *it, me_phase guess)
{
    me_set_phase_now(s, it, guess); /* a phase opens here, as a guess */
    s->inferred = true;
    if (!(s->tls && !s->decrypted && !s->keys_seen))
        it->inferred = true;
    s->mid_noted = true; /* the record of the gap says what happened, not "mid-session" */
}

void me_start_tls(me_session *s)
{
    int i;
    s->tls = true;
    s->tls_upgraded = true;
    for (i = 0; i < 2; i++) {
        s->d[i].mode = ME_READ_LINES;
        s->d[i].len = s->d[i].part = 0;
        s->d[i].overflow = false;
    }
    me_pend_clear(s);
}

void me_tls_refused(me_session *s, me_item *it)
{
    s->tls_refused = true;
    it->tls_refused = 1;
}

me_ref me_ref_of(const me_item *it)
{
    me_ref r = {0, 0};
    if (it) {
        r.frame = it->frame;
        r.index = it->index;
    }
    return r;
}

/* Links are sorted by (frame, index), which is mostly the order they are
 * made in (replies come in command order, RFC 2920 §3), so an insertion
 * moves little. */
static int link_cmp(const struct me_link *l, uint32_t frame, uint32_t index)
{
    if (l->frame != frame)
        return l->frame < frame ? -1 : 1;
    return l->index < index ? -1 : l->index > index ? 1 : 0;
}

/* Position of (frame, index) in the sorted links, or where it would go. */
static uint32_t link_find(const me_links *l, uint32_t frame, uint32_t index, bool *found)
{
    uint32_t lo = 0, hi = l->n;
    *found = false;
    if (hi && link_cmp(&l->v[hi - 1], frame, index) < 0)
        return hi; /* the usual case: the newest command */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = link_cmp(&l->v[mid], frame, index);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void me_respond(me_session *s, me_ref cmd, uint32_t reply_frame)
{
    me_links *l = s->links;
    bool found;
    uint32_t at;
    if (!cmd.frame || !reply_frame)
        return;
    at = link_find(l, cmd.frame, cmd.index, &found);
    if (found)
        return; /* the first reply is the response */
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? 2 * l->cap : 8;
        struct me_link *nl = zalloc(s, cap * sizeof(*nl));
        if (l->n)
            memcpy(nl, l->v, l->n * sizeof(*nl));
        if (l->v && s->a.free)
            s->a.free(s->a.ctx, l->v);
        l->v = nl;
        l->cap = cap;
    }
    memmove(&l->v[at + 1], &l->v[at], (l->n - at) * sizeof(*l->v));
    l->v[at].frame = cmd.frame;
    l->v[at].index = cmd.index;
    l->v[at].reply = reply_frame;
    l->n++;
}

void me_link(me_session *s, me_ref cmd, me_item *reply)
{
    if (!cmd.frame || !reply)
        return;
    reply->request_in = cmd.frame;
    me_respond(s, cmd, reply->frame);
}

uint32_t me_links_response_in(const me_links *l, uint32_t frame, unsigned index)
{
    bool found;
    uint32_t at;
    if (!l)
        return 0;
    at = link_find(l, frame, index, &found);
    return found ? l->v[at].reply : 0;
}

me_kept *me_session_kept(const me_session *s)
{
    return s->kept;
}

uint32_t me_session_response_in(const me_session *s, uint32_t frame, unsigned index)
{
    return me_links_response_in(s->links, frame, index);
}

void me_session_free(me_session *s)
{
    me_alloc a;
    int i;
    if (!s || !s->a.free)
        return;
    a = s->a;
    if (s->eng->fini)
        s->eng->fini(s);
    inflate_end(s);
    for (i = 0; i < 2; i++)
        if (s->d[i].buf)
            a.free(a.ctx, s->d[i].buf);
    if (s->pend)
        a.free(a.ctx, s->pend);
    if (s->cred) /* the struct only: its strings are what snapshots point to */
        a.free(a.ctx, s->cred);
    me_kept_trim(s->kept);
    a.free(a.ctx, s);
}

/* ---- reading modes ---- */

/* The phase of the record that opens a body: the last record of this frame
 * when it came from the same side (the reply that announced the body). */
static me_phase opener_phase(const me_session *s, me_dir dir)
{
    return s->tail && s->tail->dir == dir && s->tail->frame == s->frame ? s->tail->phase
                                                                        : ME_PHASE_NONE;
}

void me_expect_dotbody(me_session *s, me_dir dir, me_text_id what)
{
    s->d[dir].body_phase = opener_phase(s, dir);
    s->d[dir].mode = ME_READ_DOTBODY;
    s->d[dir].what = what;
    s->d[dir].len = s->d[dir].part = 0;
    s->d[dir].body_midline = false;
}

void me_expect_counted(me_session *s, me_dir dir, uint64_t n, bool capture, me_text_id what)
{
    if (n == 0)
        return;
    s->d[dir].mode = ME_READ_COUNTED;
    s->d[dir].body_phase = opener_phase(s, dir);
    s->d[dir].count = n;
    s->d[dir].capture = capture;
    s->d[dir].what = what;
}

/* A DATA record of a body: in the phase of the line that opened the body. */
static me_item *body_item(me_session *s, me_dir dir)
{
    me_item *it = me_item_new(s, dir, ME_KIND_DATA);
    me_phase ph = s->d[dir].body_phase;
    if (s->d[dir].mode != ME_READ_LINES && ph != ME_PHASE_NONE && ph != it->phase)
        me_record_phase(s, it, ph, it->inferred, true);
    return it;
}

/* Adds bytes to the frame's DATA record of this direction (one per frame). */
static void data_bytes(me_session *s, me_dir dir, size_t n, me_text_id what)
{
    me_item *it = s->tail;
    if (!it || it->kind != ME_KIND_DATA || it->dir != dir || it->explain != what) {
        it = body_item(s, dir);
        it->explain = what;
    }
    it->data_len += (uint32_t)n;
}

/* ---- pending commands ---- */

/* Doubles the ring, oldest entry first.  A session that never pipelines keeps
 * ME_PEND_MIN entries, not ME_MAX_PENDING: a ring of 64 was 2.5 KiB of every
 * session (issue 13's memory per session). */
static void pend_grow(me_session *s)
{
    unsigned cap = s->pend_cap ? 2 * s->pend_cap : ME_PEND_MIN, i;
    me_pending *np = zalloc(s, cap * sizeof(*np));
    for (i = 0; i < s->pend_count; i++)
        np[i] = s->pend[(s->pend_first + i) % s->pend_cap];
    if (s->pend && s->a.free)
        s->a.free(s->a.ctx, s->pend);
    s->pend = np;
    s->pend_cap = cap;
    s->pend_first = 0;
}

/* Frees an earlier attempt no pending command holds any more. */
static void release(me_session *s, me_cred *c)
{
    if (c && c != s->cred && !c->held && s->a.free)
        s->a.free(s->a.ctx, c);
}

void me_pend_release(me_session *s, me_pending *p)
{
    if (p->cred) {
        p->cred->held = false;
        release(s, p->cred);
        p->cred = NULL;
    }
}

me_pending *me_pend_push(me_session *s, const me_item *cmd_item, int cmd, const char *tag,
                         const char *arg)
{
    me_pending *p;
    if (s->pend_count == ME_MAX_PENDING) { /* a client that never reads: forget the oldest */
        me_pend_release(s, &s->pend[s->pend_first]);
        s->pend_first = (s->pend_first + 1) % s->pend_cap;
        s->pend_count--;
    }
    if (s->pend_count == s->pend_cap)
        pend_grow(s);
    p = &s->pend[(s->pend_first + s->pend_count) % s->pend_cap];
    p->item = me_ref_of(cmd_item);
    p->cmd = cmd;
    p->tag = tag;
    p->arg = arg;
    p->aux = 0;
    p->cred = NULL;
    s->pend_count++;
    return p;
}

me_pending *me_pend_at(const me_session *s, unsigned i)
{
    if (i >= s->pend_count)
        return NULL;
    return &s->pend[(s->pend_first + i) % s->pend_cap];
}

me_pending *me_pend_newest(const me_session *s, uint64_t cmd_mask)
{
    unsigned i;
    for (i = s->pend_count; i > 0; i--) {
        me_pending *p = me_pend_at(s, i - 1);
        if (p->cmd >= 0 && p->cmd < 64 && (cmd_mask & ((uint64_t)1 << p->cmd)))
            return p;
    }
    return NULL;
}

me_pending *me_pend_with_tag(const me_session *s, const char *tag)
{
    unsigned i;
    for (i = 0; tag && i < s->pend_count; i++) {
        me_pending *p = me_pend_at(s, i);
        if (p->tag && strcmp(p->tag, tag) == 0)
            return p;
    }
    return NULL;
}

bool me_pend_any(const me_session *s, uint64_t cmd_mask)
{
    return me_pend_newest(s, cmd_mask) != NULL;
}

bool me_pend_peek(const me_session *s, me_pending *out)
{
    if (!s->pend_count)
        return false;
    *out = s->pend[s->pend_first];
    return true;
}

bool me_pend_pop(me_session *s, me_pending *out)
{
    if (!me_pend_peek(s, out))
        return false;
    s->pend_first = (s->pend_first + 1) % s->pend_cap;
    s->pend_count--;
    return true;
}

bool me_pend_take_tag(me_session *s, const char *tag, me_pending *out)
{
    unsigned i;
    for (i = 0; i < s->pend_count; i++) {
        me_pending *p = me_pend_at(s, i);
        if (p->tag && strcmp(p->tag, tag) == 0) {
            unsigned j;
            *out = *p;
            for (j = i; j + 1 < s->pend_count; j++)
                *me_pend_at(s, j) = *me_pend_at(s, j + 1);
            s->pend_count--;
            return true;
        }
    }
    return false;
}

void me_pend_clear(me_session *s)
{
    unsigned i;
    for (i = 0; i < s->pend_count; i++)
        me_pend_release(s, me_pend_at(s, i));
    s->pend_first = s->pend_count = 0;
}

/* ---- credentials ---- */

me_cred *me_cred_begin(me_session *s, const char *mechanism)
{
    me_cred *c;
    /* the attempt before is over: snapshots copied its values, not it (a
     * pending command may still hold it for its reply) */
    if (s->cred && s->a.free && !s->cred->held)
        s->a.free(s->a.ctx, s->cred);
    c = zalloc(s, sizeof(*c));
    c->a.mechanism = mechanism;
    c->a.attempt = ++s->attempts;
    s->cred = c;
    return c;
}

me_cred *me_cred_begin_sasl(me_session *s, const char *mech, size_t len)
{
    me_cred *c = me_cred_begin(s, NULL);
    me_sasl_start(&c->sasl, &s->a, mech, len);
    c->is_sasl = true;
    c->a.mechanism = c->sasl.name;
    return c;
}

static me_auth *snapshot(me_session *s, const me_cred *c, me_item *it)
{
    me_auth *a;
    if (!c)
        return NULL;
    if (it->auth)
        return it->auth;
    a = me_ralloc(s, sizeof(*a)); /* a record's part: me_keep packs it */
    a->mechanism = c->a.mechanism;
    a->username = c->a.username;
    a->attempt = c->a.attempt;
    a->domain = c->a.domain;
    a->host = c->a.host;
    a->authzid = c->a.authzid;
    it->auth = a;
    return a;
}

me_auth *me_auth_snapshot(me_session *s, me_item *it)
{
    return snapshot(s, s->cred, it);
}

void me_cred_hold(me_session *s, me_pending *p)
{
    if (s->cred) {
        s->cred->held = true;
        p->cred = s->cred;
    }
}

void me_cred_result(me_session *s, me_item *it, me_result r, me_failure why)
{
    me_cred_result_of(s, s->cred, it, r, why);
}

void me_cred_result_of(me_session *s, me_cred *c, me_item *it, me_result r, me_failure why)
{
    me_auth *a;
    if (!c || c->finished)
        return;
    if (r != ME_RESULT_FAILURE)
        why = ME_FAIL_NONE;
    else if (c->is_sasl && c->sasl.cancelled)
        why = ME_FAIL_CANCELLED; /* whatever the server then says (SMTP's 501, IMAP's BAD) */
    else if (c->is_sasl ? c->sasl.client_steps == 0
                        : !c->a.password && !c->a.token && !c->a.digest) {
        /* nothing was sent to judge, whatever the code says (Postfix
         * answers a mechanism it lacks with 535 5.7.8, Dovecot a USER on a
         * port without TLS with -ERR [AUTH]): say so instead of the
         * code's claim of invalid credentials */
        if (why == ME_FAIL_CREDENTIALS)
            it->explain2 = TXT_AUTH_NOTHING_SENT;
        why = ME_FAIL_REFUSED;
    }
    else if (why == ME_FAIL_NONE)
        why = ME_FAIL_CREDENTIALS;
    c->finished = true;
    c->a.result = r;
    c->a.failure = why;
    a = snapshot(s, c, it);
    a->result = r;
    a->failure = why;
    if (r == ME_RESULT_SUCCESS) {
        if (c->a.username)
            s->user = c->a.username;
        it->session_user = s->user;
    } else if (why == ME_FAIL_CREDENTIALS) {
        it->flags |= ME_W_LOGIN_FAILED;
    }
}

static void exposure(me_session *s, me_item *it)
{
    if (s->tls)
        return;
    if (s->tls_offered && !s->tls_warned) {
        it->flags |= ME_W_TLS_SKIPPED;
        s->tls_warned = true;
    }
}

void me_note_cleartext(me_session *s, me_item *it)
{
    if (s->tls) {
        it->flags |= ME_W_PROTECTED; /* readable only because the user gave the keys */
        return;
    }
    it->cleartext = true;
    it->flags |= ME_W_CLEARTEXT;
    exposure(s, it);
}

void me_cred_apply_sasl(me_session *s, me_item *it, const me_sasl_out *o)
{
    me_auth *a;
    me_cred *c = s->cred;
    if (!c)
        return;
    if (o->username) {
        c->a.username = o->username;
        if (s->user == NULL || !s->cred->finished)
            it->session_user = s->user ? s->user : NULL;
    }
    if (o->domain) c->a.domain = o->domain;
    if (o->host) c->a.host = o->host;
    if (o->authzid) c->a.authzid = o->authzid;
    a = me_auth_snapshot(s, it);
    a->username = c->a.username;
    a->domain = c->a.domain;
    a->host = c->a.host;
    a->authzid = c->a.authzid;
    a->password = o->password;
    a->token = o->token;
    a->challenge = o->challenge;
    a->digest = o->digest;
    a->decoded = o->decoded;
    if (o->cleartext)
        me_note_cleartext(s, it);
    if (o->empty_secret)
        it->explain2 = TXT_AUTH_EMPTY_PASSWORD;
    if (o->base64 && (o->password || o->username) && !s->tls)
        it->flags |= ME_W_BASE64;
    if (o->hash) {
        if (!s->tls)
            it->flags |= ME_W_HASH;
        exposure(s, it);
    }
    if (o->malformed)
        it->flags |= ME_W_MALFORMED;
    if (o->explain)
        it->explain = o->explain;
}

bool me_sasl_over(const me_session *s, const char *line, size_t n, bool known_cmd)
{
    if (!s->cred || !s->cred->is_sasl)
        return known_cmd && !me_is_b64(line, n);
    if (me_sasl_client_done(&s->cred->sasl))
        return true;
    return known_cmd && !me_is_b64(line, n);
}

/* ---- feeding ---- */

/* Makes room for `want` bytes of partial line (want <= ME_MAX_LINE).  The
 * buffer doubles from ME_LINE_BUF_MIN as the line grows, so that a session
 * whose lines arrive in pieces costs what its lines need, not 16 KiB per side;
 * the old buffer is returned when the allocator can take it back. */
static void reserve(me_session *s, me_dirstate *d, size_t want)
{
    size_t cap = d->cap ? d->cap : ME_LINE_BUF_MIN;
    char *nb;
    if (d->buf && want <= d->cap)
        return;
    while (cap < want)
        cap *= 2;
    if (cap > ME_MAX_LINE)
        cap = ME_MAX_LINE;
    nb = zalloc(s, cap);
    if (d->buf) {
        memcpy(nb, d->buf, d->len);
        if (s->a.free)
            s->a.free(s->a.ctx, d->buf);
    }
    d->buf = nb;
    d->cap = cap;
}

/* The frame reached ME_MAX_FRAME_RECORDS: a line of n bytes is counted into
 * the frame's summary record instead of being interpreted. */
static void left_out(me_session *s, me_dir dir, size_t n)
{
    me_item *it = s->limit_item;
    if (!it) {
        it = me_item_new(s, dir, ME_KIND_DATA);
        it->explain = TXT_LIMIT_LINES;
        it->flags |= ME_W_LIMIT;
        s->limit_item = it;
        s->limit_lines = 0;
    }
    it->data_len += (uint32_t)n;
    s->limit_lines++;
}

/* Writes the summary's line count once per feed (not once per line). */
static void left_out_detail(me_session *s)
{
    char *d;
    if (!s->limit_item || s->records_frame != s->frame)
        return;
    d = zalloc(s, 64);
    snprintf(d, 64, "%u lines left out", (unsigned)s->limit_lines);
    s->limit_item->detail = d;
}

static bool over_limit(const me_session *s, const me_dirstate *d)
{
    /* bodies, literals and chunks add to one record per frame: never left out */
    return d->mode == ME_READ_LINES && s->records_frame == s->frame &&
           s->frame_records >= ME_MAX_FRAME_RECORDS;
}

/* Appends to the partial line, keeping at most `cap` bytes. */
static void keep(me_session *s, me_dirstate *d, const uint8_t *p, size_t n, size_t cap)
{
    size_t room;
    d->part += n;
    reserve(s, d, d->len + n < cap ? d->len + n : cap);
    room = cap > d->len ? cap - d->len : 0;
    if (n > room) {
        /* too long: keep the head, and slide the line's last bytes into the
         * end of the buffer, where an IMAP literal marker {N} would be */
        size_t rn = n - room, t = rn < ME_LINE_TAIL ? rn : ME_LINE_TAIL;
        memcpy(d->buf + d->len, p, room);
        d->len = cap;
        d->overflow = true;
        if (cap >= 2 * ME_LINE_TAIL) {
            memmove(d->buf + cap - ME_LINE_TAIL, d->buf + cap - ME_LINE_TAIL + t, ME_LINE_TAIL - t);
            memcpy(d->buf + cap - t, p + n - t, t);
        }
        return;
    }
    memcpy(d->buf + d->len, p, n);
    d->len += n;
}

/* A line ended: `line` holds its n kept bytes (without the LF), `sent` the
 * bytes it had on the wire with its LF. */
static void one_line(me_session *s, me_dir dir, const char *line, size_t n, size_t sent)
{
    me_dirstate *d = &s->d[dir];
    if (n && line[n - 1] == '\r')
        n--;
    if (d->gap) {
        /* the head of this line was lost: never guess a command from its tail */
        d->gap = false;
        data_bytes(s, dir, sent, TXT_GAP_DATA);
        return;
    }
    if (d->mode == ME_READ_DOTBODY) {
        bool midline = d->body_midline;
        d->body_midline = false;
        if (!midline && !d->overflow && n == 1 && line[0] == '.') {
            d->mode = ME_READ_LINES;
            d->body_ended = true;
            if (s->eng->body_end)
                s->eng->body_end(s, dir);
        } else {
            data_bytes(s, dir, sent, d->what);
        }
        return;
    }
    if (d->overflow)
        d->next_flags |= ME_W_OVERLONG;
    s->eng->line(s, dir, line, n);
}

/* Length of a readable text line at p (up to and with its LF), or 0: printable
 * ASCII, tab and CR only.  A TLS record starts with a content type byte
 * 0x14-0x17 (RFC 8446 §5.1) or 0x80 (SSLv2 hello), never with text. */
static size_t readable_line(const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n && i < ME_MAX_LINE; i++) {
        if (p[i] == '\n')
            return i >= 2 ? i + 1 : 0;
        if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\r') || p[i] >= 0x7f)
            return 0;
    }
    return 0;
}

/* A TLS handshake record header at a line start (RFC 8446 §5.1: type 22,
 * version 3.x): on an implicit-TLS port where the other side spoke in clear,
 * the TLS attempt of this side, shown as TLS bytes, not as malformed lines. */
static bool tls_record(const me_session *s, me_dir dir, const uint8_t *p, size_t n)
{
    return n >= 3 && p[0] == 0x16 && p[1] == 0x03 && p[2] <= 0x04 &&
           s->d[dir].mode == ME_READ_LINES && s->d[dir].len == 0;
}

/* On an implicit-TLS port, a side that sends a readable line instead of a TLS
 * record speaks in clear (a server greeting "220 ... ESMTP" after the
 * client's ClientHello): the session is not encrypted, read it as text. */
/* Returns true when this feed showed the session is in clear. */
static bool implicit_tls_check(me_session *s, me_dir dir, const uint8_t *data, size_t len)
{
    if (!s->tls_implicit || len == 0 || s->keys_seen)
        return false;
    if (readable_line(data, len)) {
        s->tls_implicit = false;
        s->tls = false;
        s->clear_on_tls_port = true;
        return true;
    }
    if (dir == ME_SERVER)
        s->tls_implicit = false; /* the server answered in TLS: it is TLS */
    return false;
}

/* Readable lines in the rest of a segment that carried the STARTTLS OK: sent
 * before TLS began, so the receiver must discard them (RFC 3207 §4.2, RFC
 * 9051 §6.2.1, RFC 2595 §4).  One record each, flagged; returns bytes used. */
static size_t plain_before_tls(me_session *s, me_dir dir, const uint8_t *p, size_t n)
{
    size_t used = 0, l;
    while (used < n && (l = readable_line(p + used, n - used)) > 0) {
        me_item *it;
        size_t t = l - 1;
        s->tls = false; /* the record describes clear bytes */
        it = me_item_new(s, dir, ME_KIND_UNKNOWN);
        s->tls = true;
        if (t && p[used + t - 1] == '\r')
            t--;
        it->argument = me_rstrndup(s, (const char *)p + used, t);
        it->explain = TXT_PLAIN_BEFORE_TLS;
        it->flags |= ME_W_PLAIN_BEFORE_TLS;
        it->data_len = (uint32_t)l;
        used += l;
    }
    return used;
}

/* Reads a segment's bytes in the direction's current mode: lines to the
 * engine, dot-body lines, counted bytes; stops where TLS begins. */
/* ---- DEFLATE (IMAP COMPRESS, RFC 4978) ---- */

struct me_inflate {
    z_stream z;
    bool broken; /* bytes were lost or were no DEFLATE: no more inflating */
    me_text_id why; /* TXT_COMPRESSED_LOST or TXT_COMPRESSED_BAD */
};

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    me_session *s = opaque;
    return s->a.alloc(s->a.ctx, (size_t)items * size);
}

static void z_free(voidpf opaque, voidpf p)
{
    me_session *s = opaque;
    if (s->a.free)
        s->a.free(s->a.ctx, p);
}

void me_start_compress(me_session *s)
{
    int i;
    for (i = 0; i < 2; i++) {
        struct me_inflate *zin;
        if (s->d[i].zin)
            return;
        zin = zalloc(s, sizeof(*zin));
        zin->z.zalloc = z_alloc;
        zin->z.zfree = z_free;
        zin->z.opaque = s;
        /* RFC 4978 §2: raw DEFLATE, no zlib header (negative window bits) */
        zin->broken = inflateInit2(&zin->z, -15) != Z_OK;
        s->d[i].zin = zin;
    }
}

static void inflate_end(me_session *s)
{
    int i;
    for (i = 0; i < 2; i++)
        if (s->d[i].zin && !s->d[i].zin->broken)
            inflateEnd(&s->d[i].zin->z);
}

/* Compressed bytes that are not read: counted in a record of their own. */
static void compressed_bytes(me_session *s, me_dir dir, size_t len)
{
    me_item *it = me_item_new(s, dir, ME_KIND_DATA);
    it->explain = s->d[dir].zin->why ? s->d[dir].zin->why : TXT_COMPRESSED_LOST;
    it->data_len = (uint32_t)len;
}

static void read_bytes(me_session *s, me_dir dir, const uint8_t *data, size_t len, bool decrypted);

/* Inflates LEN compressed bytes of DIR and reads what they hold. */
static void inflate_bytes(me_session *s, me_dir dir, const uint8_t *data, size_t len, bool decrypted)
{
    struct me_inflate *zin = s->d[dir].zin;
    uint8_t out[4096];
    size_t total = 0;
    if (zin->broken) {
        compressed_bytes(s, dir, len);
        return;
    }
    zin->z.next_in = (Bytef *)(uintptr_t)data;
    zin->z.avail_in = (uInt)len;
    s->inflating = true;
    for (;;) {
        int rc;
        zin->z.next_out = out;
        zin->z.avail_out = sizeof out;
        rc = inflate(&zin->z, Z_SYNC_FLUSH);
        if (zin->z.avail_out < sizeof out)
            read_bytes(s, dir, out, sizeof out - zin->z.avail_out, decrypted);
        total += sizeof out - zin->z.avail_out;
        if (total > ME_MAX_INFLATE && (zin->z.avail_in || !zin->z.avail_out)) {
            /* a decompression bomb's shape (DEFLATE inflates up to 1032
             * times): reading on would cost without bound */
            inflateEnd(&zin->z);
            zin->broken = true;
            zin->why = TXT_COMPRESSED_LIMIT;
            compressed_bytes(s, dir, zin->z.avail_in); /* says so, even when
                                                         * no byte is left */
            break;
        }
        if (rc == Z_STREAM_END || (rc != Z_OK && rc != Z_BUF_ERROR)) {
            /* no DEFLATE (a capture that began inside the compressed
             * stream) or a final block, which RFC 4978 never sends */
            inflateEnd(&zin->z);
            zin->broken = true;
            zin->why = TXT_COMPRESSED_BAD;
            if (zin->z.avail_in)
                compressed_bytes(s, dir, zin->z.avail_in);
            break;
        }
        if (zin->z.avail_in == 0 && zin->z.avail_out != 0)
            break; /* all read, all flushed */
    }
    s->inflating = false;
}

static void read_bytes(me_session *s, me_dir dir, const uint8_t *data, size_t len, bool decrypted)
{
    me_dirstate *d = &s->d[dir];
    size_t i = 0;
    while (i < len) {
        const uint8_t *nl;
        size_t end;
        if (d->mode == ME_READ_COUNTED) {
            size_t take = len - i;
            if (take > d->count)
                take = (size_t)d->count;
            d->count -= take;
            if (d->count == 0)
                d->mode = ME_READ_LINES;
            data_bytes(s, dir, take, d->what);
            if (s->eng->counted)
                s->eng->counted(s, dir, d->capture ? data + i : NULL, take, d->count == 0);
            i += take;
            continue;
        }
        nl = memchr(data + i, '\n', len - i);
        end = nl ? (size_t)(nl - data) : len;
        if (!nl) {
            /* a partial line: keep it (bodies need only their first bytes) */
            keep(s, d, data + i, end - i, d->mode == ME_READ_DOTBODY ? 2 : ME_MAX_LINE);
            if (d->mode == ME_READ_DOTBODY && d->len == 0)
                d->body_midline = true;
            /* a body line's bytes count in the frame they came in, unless
             * they may still be the closing ".CRLF" (RFC 1939 §3, RFC 5321
             * §4.1.1.4): "." or ".\r" held until the next bytes decide */
            if (d->mode == ME_READ_DOTBODY && d->part &&
                !(d->part == d->len && !d->body_midline && d->buf[0] == '.' &&
                  (d->len == 1 || d->buf[1] == '\r'))) {
                data_bytes(s, dir, d->part, d->what);
                d->part = 0;
            }
            break;
        }
        if (over_limit(s, d)) {
            left_out(s, dir, d->part + end + 1 - i);
            d->len = d->part = 0;
            d->overflow = false;
        } else if (d->len || d->overflow || (d->mode == ME_READ_LINES && end - i > ME_MAX_LINE)) {
            /* a line too long is cut the same way whether it came in pieces
             * or in one segment (where it used to go whole to the engine) */
            keep(s, d, data + i, end - i, d->mode == ME_READ_DOTBODY ? 2 : ME_MAX_LINE);
            one_line(s, dir, d->buf, d->len, d->part + 1);
            d->len = d->part = 0;
            d->overflow = false;
        } else {
            one_line(s, dir, (const char *)data + i, end - i, end - i + 1);
        }
        i = end + 1;
        /* an engine may have switched on compression (COMPRESS reply): the
         * rest is DEFLATE */
        if (d->zin && !s->inflating && i < len) {
            inflate_bytes(s, dir, data + i, len - i, decrypted);
            break;
        }
        /* an engine may have switched to TLS (STARTTLS reply): the rest is encrypted */
        if (s->tls && !decrypted && i < len && s->tls_upgraded)
            i += plain_before_tls(s, dir, data + i, len - i);
        if (s->tls && !decrypted && i < len) {
            me_item *it = me_item_new(s, dir, ME_KIND_TLS);
            it->explain = TXT_TLS_DATA;
            it->data_len = (uint32_t)(len - i);
            break;
        }
    }
}

me_item *me_session_feed(me_session *s, me_dir dir, const uint8_t *data, size_t len,
                         uint32_t frame, bool decrypted)
{
    me_dirstate *d = &s->d[dir];
    bool clear;
    s->head = s->tail = NULL;
    s->watch = NULL; /* records of earlier feeds may be gone */
    d->body_ended = false;
    s->frame = frame;
    s->cur_dir = dir;
    s->decrypted = decrypted;
    if (s->tls_upgraded && len > 0) {
        /* The first bytes after STARTTLS must be a TLS record (handshake 0x16,
         * alert 0x15, or an SSLv2 hello).  Readable commands that the server
         * answers mean the capture was taken after decryption (a TLS proxy,
         * an export of decrypted data): annotate it as a decrypted session. */
        s->tls_upgraded = false;
        if (!decrypted && data[0] != 0x16 && data[0] != 0x15 && data[0] != 0x80) {
            s->predecrypted = true;
            d->next_flags |= ME_W_TLS_NOT_STARTED;
        }
    }
    if (s->predecrypted)
        s->decrypted = decrypted = true;
    clear = !decrypted && implicit_tls_check(s, dir, data, len);
    if (decrypted)
        s->keys_seen = true;
    if ((s->tls && !decrypted) || (s->clear_on_tls_port && tls_record(s, dir, data, len))) {
        me_item *it = me_item_new(s, dir, ME_KIND_TLS);
        it->explain = TXT_TLS_DATA;
        it->data_len = (uint32_t)len;
        return s->head;
    }
    if (d->zin)
        inflate_bytes(s, dir, data, len, decrypted);
    else
        read_bytes(s, dir, data, len, decrypted);
    left_out_detail(s);
    if (!s->head) {
        /* nothing complete in this frame: part of a line or of a body, a
         * held "." that may close the body, or the closing line itself
         * (an engine without body_end makes no record of it) */
        me_item *it = body_item(s, dir);
        it->explain = d->body_ended                                        ? TXT_BODY_END
                      : d->mode == ME_READ_DOTBODY && d->len && d->part    ? TXT_PARTIAL_LINE
                      : d->mode == ME_READ_DOTBODY || d->mode == ME_READ_COUNTED ? d->what
                                                                              : TXT_PARTIAL_LINE;
        if (!it->explain)
            it->explain = TXT_PARTIAL_LINE;
        it->data_len = (uint32_t)len;
    }
    if (clear)
        s->head->explain2 = TXT_CLEAR_ON_TLS_PORT;
    return s->head;
}

void me_session_unseen(me_session *s, me_dir dir, size_t len)
{
    if (!len || !s->start_seen || s->unseen[dir] || (s->tls && !s->decrypted))
        return;
    s->unseen[dir] = true;
    s->d[!dir].next_flags |= ME_W_GAP;
}

void me_session_seen(me_session *s, me_dir dir)
{
    s->side_seen[dir] = true;
}

me_item *me_session_gap(me_session *s, me_dir dir, size_t len, uint32_t frame)
{
    me_dirstate *d = &s->d[dir];
    s->head = s->tail = NULL;
    s->watch = NULL; /* records of earlier feeds may be gone */
    s->frame = frame;
    if (s->tls && !s->decrypted)
        return NULL;
    s->lost[dir] = true;
    if (d->zin && !d->zin->broken) {
        /* a DEFLATE stream cannot skip bytes: the rest cannot be inflated */
        inflateEnd(&d->zin->z);
        d->zin->broken = true;
        d->zin->why = TXT_COMPRESSED_LOST;
    }
    if (d->mode == ME_READ_COUNTED) {
        /* the count still tells where the literal ends */
        if (s->eng->gap)
            s->eng->gap(s, dir, true, len > d->count);
        if (len >= d->count) {
            d->count = 0;
            d->mode = ME_READ_LINES;
        } else {
            d->count -= len;
        }
        d->next_flags |= ME_W_GAP; /* the next record tells bytes are missing before it */
        return s->head;
    }
    if (d->mode == ME_READ_DOTBODY) {
        /* the body goes on (its closing line is still to come), and the
         * reader is told bytes of it are missing (helper 19: a lost
         * segment of a pipelined body was not flagged) */
        d->body_midline = true;
        d->len = d->part = 0;
        d->next_flags |= ME_W_GAP;
        return s->head;
    }
    /* The partial line is incomplete: drop it.  Servers and clients write
     * whole lines, so the next segment most likely starts a line; the next
     * record is marked so the reader knows bytes are missing before it. */
    if (s->eng->gap)
        s->eng->gap(s, dir, false, true);
    d->len = d->part = 0;
    d->overflow = false;
    d->next_flags |= ME_W_GAP;
    return s->head;
}

me_item *me_session_note(me_session *s, me_dir dir, size_t len, uint32_t frame, me_text_id what)
{
    me_item *it;
    s->head = s->tail = NULL;
    s->watch = NULL; /* records of earlier feeds may be gone */
    s->frame = frame;
    it = me_item_new(s, dir, what == TXT_DUPLICATE ? ME_KIND_DUPLICATE : ME_KIND_DATA);
    if (s->tls && !s->keys_seen)
        it->kind = ME_KIND_TLS;
    it->explain = what;
    it->data_len = (uint32_t)len;
    return it;
}

/* ---- names ---- */

const char *me_proto_name(me_proto p)
{
    switch (p) {
    case ME_PROTO_POP3: return "pop3";
    case ME_PROTO_SMTP: return "smtp";
    case ME_PROTO_IMAP: return "imap";
    default: return "";
    }
}

const char *me_phase_name(me_phase p)
{
    static const char *const names[ME_PHASE_COUNT] = {
        "", "auth", "transaction", "update", "greeting", "hello", "envelope", "data", "quit",
        "authenticated", "selected", "logout", "tls"};
    return (unsigned)p < ME_PHASE_COUNT ? names[p] : "";
}

const char *me_status_name(me_status st)
{
    switch (st) {
    case ME_STATUS_OK: return "ok";
    case ME_STATUS_ERROR: return "error";
    case ME_STATUS_CONTINUE: return "continue";
    default: return "";
    }
}

const char *me_result_name(me_result r)
{
    switch (r) {
    case ME_RESULT_SUCCESS: return "success";
    case ME_RESULT_FAILURE: return "failure";
    default: return "";
    }
}

const char *me_failure_name(me_failure f)
{
    switch (f) {
    case ME_FAIL_CREDENTIALS: return "credentials";
    case ME_FAIL_AUTHORIZATION: return "authorization";
    case ME_FAIL_REFUSED: return "refused";
    case ME_FAIL_CANCELLED: return "cancelled";
    default: return NULL;
    }
}

const char *me_dir_name(me_dir d)
{
    return d == ME_SERVER ? "server" : "client";
}
