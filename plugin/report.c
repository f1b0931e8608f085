/* report.c - session summaries from the engines' records (see report.h):
 * the text buffer, and me_report_add(), which folds each frame's records into
 * the summary of its TCP session.  Printing lives in report_json.c,
 * report_text.c and report_hash.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"
#include "util.h"

/* ---- memory ---- */

void *rep_xalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) {
        fputs("mailedu: out of memory\n", stderr);
        abort();
    }
    return p;
}

/* Makes room for `want` elements of `elem` bytes in p (capacity *cap). */
void *rep_xgrow(void *p, size_t *cap, size_t want, size_t elem)
{
    size_t n = *cap ? *cap : 8;
    if (want <= *cap)
        return p;
    while (n < want)
        n *= 2;
    p = realloc(p, n * elem);
    if (!p) {
        fputs("mailedu: out of memory\n", stderr);
        abort();
    }
    memset((char *)p + *cap * elem, 0, (n - *cap) * elem);
    *cap = n;
    return p;
}

char *rep_xstrdup(const char *s)
{
    size_t n;
    char *r;
    if (!s)
        return NULL;
    n = strlen(s);
    r = rep_xalloc(n + 1);
    memcpy(r, s, n);
    return r;
}

/* ---- text buffer ---- */

static void buf_add(me_buf *b, const char *s, size_t n)
{
    b->p = rep_xgrow(b->p, &b->cap, b->len + n + 1, 1);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void me_buf_putn(me_buf *b, const char *s, size_t n)
{
    buf_add(b, s, n);
}

void me_buf_puts(me_buf *b, const char *s)
{
    if (s)
        buf_add(b, s, strlen(s));
}

void me_buf_printf(me_buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    int n;
    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        buf_add(b, small, (size_t)n);
        return;
    }
    b->p = rep_xgrow(b->p, &b->cap, b->len + (size_t)n + 1, 1);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void me_buf_free(me_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Appends s as valid UTF-8; json: escape as a JSON string body.  Bytes that
 * stay as they are go out in runs, one append each. */
static void utf8_out(me_buf *b, const char *s, bool json)
{
    const unsigned char *p = (const unsigned char *)s, *run = p, *end = p + strlen(s);
    while (p < end) {
        size_t n = me_utf8_seq(p, (size_t)(end - p));
        bool ctl = n == 1 && (*p < 0x20 || *p == 0x7f);
        if (n > 1 || (n == 1 && !ctl && !(json && (*p == '"' || *p == '\\')))) {
            p += n;
            continue;
        }
        if (p > run)
            buf_add(b, (const char *)run, (size_t)(p - run));
        if (n == 0)
            buf_add(b, "\xef\xbf\xbd", 3); /* U+FFFD REPLACEMENT CHARACTER */
        else if (ctl && json)
            me_buf_printf(b, "\\u%04x", *p);
        else if (ctl)
            buf_add(b, "?", 1);
        else {
            buf_add(b, "\\", 1);
            buf_add(b, (const char *)p, 1);
        }
        run = ++p;
    }
    if (p > run) /* an empty string adds nothing, not even the buffer */
        buf_add(b, (const char *)run, (size_t)(p - run));
}

void me_buf_utf8(me_buf *b, const char *s)
{
    if (s)
        utf8_out(b, s, false);
}

void me_buf_json_str(me_buf *b, const char *s)
{
    if (!s) {
        me_buf_puts(b, "null");
        return;
    }
    buf_add(b, "\"", 1);
    utf8_out(b, s, true);
    buf_add(b, "\"", 1);
}

/* ---- names ---- */

const char *rep_kind_name(me_kind k)
{
    switch (k) {
    case ME_KIND_COMMAND: return "command";
    case ME_KIND_REPLY: return "reply";
    case ME_KIND_CHALLENGE: return "challenge";
    case ME_KIND_SASL: return "sasl";
    case ME_KIND_DATA: return "data";
    case ME_KIND_TLS: return "tls";
    default: return "note";
    }
}

char *rep_endpoint(char *buf, size_t n, const char *addr, unsigned port)
{
    if (!addr)
        addr = "?";
    snprintf(buf, n, strchr(addr, ':') ? "[%s]:%u" : "%s:%u", addr, port);
    return buf;
}

void rep_none_found(const me_report *r, const me_rep_opts *o, me_buf *b)
{
    const rep_session *s;
    bool id = o->lang == ME_LANG_ID;
    size_t n = 0;
    if (o->stream < 0 || !r->count) {
        me_buf_puts(b, id ? "Tidak ada sesi email dalam capture ini." : "No mail session in this capture.");
        return;
    }
    me_buf_printf(b, id ? "Tidak ada sesi email di tcp.stream %ld. Sesi email ada pada stream:"
                        : "No mail session in tcp.stream %ld. Mail sessions are in streams:",
                  o->stream);
    REP_FOREACH(r, s) {
        if (n++ == 10) {
            me_buf_puts(b, " ...");
            break;
        }
        me_buf_printf(b, " %u", s->stream);
    }
    me_buf_puts(b, ".");
}

const char *rep_tls_mode(const rep_session *s)
{
    return s->first_tls ? "implicit" : s->any_tls ? "starttls" : "none";
}

const char *rep_secret(const me_rep_opts *o, const char *v)
{
    return v && o->mask ? "********" : v;
}

bool rep_login_sent(const rep_login *l)
{
    return l->password || l->token || l->digest || (l->username && l->result != ME_RESULT_NONE);
}

/* ---- the report ---- */

me_report *me_report_new(size_t max_lines)
{
    me_report *r = rep_xalloc(sizeof *r);
    r->max_lines = max_lines;
    return r;
}

void rep_strs_free(rep_strs *l)
{
    size_t i;
    for (i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static void session_free(rep_session *s)
{
    size_t i;
    for (i = 0; i < s->nlogins; i++) {
        rep_login *l = &s->logins[i];
        free(l->mechanism); free(l->username); free(l->password); free(l->token);
        free(l->challenge); free(l->digest); free(l->domain);
    }
    for (i = 0; i < s->nlines; i++) {
        rep_line *l = &s->lines[i];
        free(l->text); free(l->masked); free(l->detail);
        free(l->username); free(l->password); free(l->token);
    }
    rep_strs_free(&s->mail_from);
    rep_strs_free(&s->rcpt_to);
    rep_strs_free(&s->rcpt_ok);
    rep_strs_free(&s->mailboxes);
    rep_facts_free(&s->facts);
    free(s->logins);
    free(s->lines);
    free(s->phases);
    free(s->client);
    free(s->server);
    free(s->user);
    free(s);
}

void me_report_reset(me_report *r)
{
    size_t i;
    for (i = 0; i < r->nslots; i++)
        if (r->by_stream[i])
            session_free(r->by_stream[i]);
    free(r->by_stream);
    r->by_stream = NULL;
    r->nslots = r->count = 0;
}

void me_report_free(me_report *r)
{
    if (!r)
        return;
    me_report_reset(r);
    free(r);
}

size_t me_report_sessions(const me_report *r)
{
    return r->count;
}

bool me_report_has_session(const me_report *r, uint32_t stream)
{
    return stream < r->nslots && r->by_stream[stream];
}

static rep_session *session_of(me_report *r, const me_rep_frame *f, const me_item *it)
{
    rep_session *s;
    if (f->stream >= r->nslots)
        r->by_stream = rep_xgrow(r->by_stream, &r->nslots, (size_t)f->stream + 1,
                                 sizeof(*r->by_stream));
    s = r->by_stream[f->stream];
    if (!s) {
        /* the server is the side that greets and answers */
        bool from_server = it->dir == ME_SERVER;
        s = r->by_stream[f->stream] = rep_xalloc(sizeof *s);
        s->stream = f->stream;
        s->proto = it->proto;
        s->first_frame = f->frame;
        s->first_secs = f->secs;
        s->first_usecs = f->usecs;
        s->first_tls = it->tls;
        s->client = rep_xstrdup(from_server ? f->dst : f->src);
        s->server = rep_xstrdup(from_server ? f->src : f->dst);
        s->cport = from_server ? f->dport : f->sport;
        s->sport = from_server ? f->sport : f->dport;
        r->count++;
    }
    s->last_frame = f->frame;
    s->last_secs = f->secs;
    s->last_usecs = f->usecs;
    return s;
}

void rep_strs_add(rep_strs *l, const char *v, bool unique)
{
    size_t i;
    if (unique)
        for (i = 0; i < l->n; i++)
            if (strcmp(l->v[i], v) == 0)
                return;
    l->v = rep_xgrow(l->v, &l->cap, l->n + 1, sizeof(*l->v));
    l->v[l->n++] = rep_xstrdup(v);
}

static void set_str(char **dst, const char *v)
{
    if (!v)
        return;
    free(*dst);
    *dst = rep_xstrdup(v);
}

/* The attempt's credential facts carried by one record. */
static void add_login(rep_session *s, const me_item *it)
{
    const me_auth *a = it->auth;
    rep_login *l = NULL;
    size_t i;
    for (i = s->nlogins; i-- > 0;)
        if (s->logins[i].attempt == a->attempt) {
            l = &s->logins[i];
            break;
        }
    if (!l) {
        s->logins = rep_xgrow(s->logins, &s->caplogins, s->nlogins + 1, sizeof(*s->logins));
        l = &s->logins[s->nlogins++];
        l->attempt = a->attempt;
        l->start_frame = a->start_frame ? a->start_frame : it->frame;
        l->tls = it->tls;
    }
    set_str(&l->mechanism, a->mechanism);
    set_str(&l->username, a->username);
    set_str(&l->domain, a->domain);
    set_str(&l->challenge, a->challenge);
    if (a->password || a->token || a->digest) {
        set_str(&l->password, a->password);
        set_str(&l->token, a->token);
        set_str(&l->digest, a->digest);
        if (!l->secret_frame)
            l->secret_frame = a->secret_frame ? a->secret_frame : it->frame;
    }
    if (a->result != ME_RESULT_NONE) {
        l->result = a->result;
        l->failure = a->failure;
        l->result_frame = it->frame;
    }
    if (it->cleartext)
        l->cleartext = true;
}

/* ---- dialogue lines ---- */

static const char *imap_word(const me_item *it)
{
    if (it->status == ME_STATUS_ERROR)
        return it->bad ? "BAD" : "NO";
    return it->status == ME_STATUS_OK ? "OK" : "";
}

/* The reply's status as the protocol writes it: +OK, 250, a1 OK, *. */
static void reply_head(me_buf *b, const me_item *it, const char *arg)
{
    switch (it->proto) {
    case ME_PROTO_POP3:
        if (arg && (strncmp(arg, "+OK", 3) == 0 || strncmp(arg, "-ERR", 4) == 0))
            return;
        me_buf_puts(b, it->status == ME_STATUS_ERROR ? "-ERR" : "+OK");
        break;
    case ME_PROTO_SMTP:
        if (it->reply_code)
            me_buf_printf(b, "%u", it->reply_code);
        break;
    default:
        if (it->tag)
            me_buf_printf(b, "%s %s", it->tag, it->verb ? it->verb : imap_word(it)); /* as sent */
        else
            me_buf_puts(b, "*");
        break;
    }
}

/* A record whose line is shown as its byte count: bodies, literals, TLS and
 * retransmitted bytes, unless an argument says more. */
static bool byte_count_line(const me_item *it)
{
    return (it->kind == ME_KIND_DATA || it->kind == ME_KIND_TLS || it->kind == ME_KIND_DUPLICATE) &&
           (it->data_len || !it->argument);
}

char *me_line_text(const me_item *it, bool mask)
{
    me_buf b = {0};
    const char *arg = mask && it->masked ? it->masked : it->argument;
    switch (it->kind) {
    case ME_KIND_COMMAND:
        if (it->tag)
            me_buf_printf(&b, "%s ", it->tag);
        me_buf_puts(&b, it->verb ? it->verb : it->command); /* as sent */
        break;
    case ME_KIND_REPLY:
        reply_head(&b, it, arg);
        break;
    case ME_KIND_CHALLENGE:
        if (it->proto == ME_PROTO_SMTP)
            me_buf_printf(&b, "%u", it->reply_code ? it->reply_code : 334u);
        else
            me_buf_puts(&b, "+");
        break;
    case ME_KIND_DATA:
    case ME_KIND_TLS:
    case ME_KIND_DUPLICATE:
        if (byte_count_line(it)) {
            me_buf_printf(&b, "[%u bytes%s]", it->data_len,
                          it->kind == ME_KIND_TLS ? " of TLS" :
                          it->kind == ME_KIND_DUPLICATE ? ", retransmitted" : " of data");
            arg = NULL;
        }
        break;
    default:
        break;
    }
    if (arg && *arg) {
        if (b.len)
            me_buf_puts(&b, " ");
        me_buf_puts(&b, arg);
    }
    if (!b.p)
        me_buf_puts(&b, "");
    return b.p;
}

static void add_line(me_report *r, rep_session *s, const me_item *it)
{
    rep_line *l;
    if (s->nlines >= r->max_lines) {
        s->truncated = true;
        return;
    }
    s->lines = rep_xgrow(s->lines, &s->caplines, s->nlines + 1, sizeof(*s->lines));
    l = &s->lines[s->nlines++];
    l->frame = it->frame;
    l->dir = it->dir;
    l->phase = it->phase;
    /* SMTP's end-of-data "." is a record of kind command without a verb: it
     * ends the content and is no command (docs/sessions-schema.md) */
    l->kind = it->kind == ME_KIND_COMMAND && !it->command ? ME_KIND_UNKNOWN : it->kind;
    l->data_len = it->data_len;
    l->counted = byte_count_line(it);
    l->text = me_line_text(it, false);
    if (it->masked)
        l->masked = me_line_text(it, true);
    l->explain = it->explain;
    l->explain2 = it->explain2;
    l->detail = rep_xstrdup(it->detail);
    l->flags = it->flags;
    if (it->auth) {
        const me_auth *a = it->auth;
        l->attempt = a->attempt;
        l->result = a->result;
        l->failure = a->failure;
        l->password = rep_xstrdup(a->password);
        l->token = rep_xstrdup(a->token);
        if (a->password || a->token || a->digest || a->result != ME_RESULT_NONE)
            l->username = rep_xstrdup(a->username);
    }
}

/* What one record tells about its session. */
static void add_item(me_report *r, rep_session *s, const me_item *it)
{
    unsigned i;
    if (it->passed != ME_PHASE_NONE && (!s->nphases || s->phases[s->nphases - 1].phase != it->passed)) {
        s->phases = rep_xgrow(s->phases, &s->capphases, s->nphases + 1, sizeof(*s->phases));
        s->phases[s->nphases].phase = it->passed;
        s->phases[s->nphases++].frame = it->frame;
    }
    if (it->phase_start && (!s->nphases || s->phases[s->nphases - 1].phase != it->phase)) {
        s->phases = rep_xgrow(s->phases, &s->capphases, s->nphases + 1, sizeof(*s->phases));
        s->phases[s->nphases].phase = it->phase;
        s->phases[s->nphases++].frame = it->frame;
    }
    s->inferred |= it->inferred;
    if (it->explain2 == TXT_CLEAR_ON_TLS_PORT) {
        /* the session on an implicit-TLS port turned out clear (a server
         * greeting in text after the client's ClientHello): the TLS records
         * before were an attempt, nothing was encrypted (helper 18) */
        s->first_tls = false;
        s->any_tls = false;
    }
    /* the OK to STARTTLS/STLS upgrades the session even when the capture
     * ends before the first TLS record */
    s->any_tls |= it->tls || (it->flags & ME_W_TLS_START);
    s->offered |= it->tls_offered;
    s->refused |= it->tls_refused;
    if (it->tls && (it->kind == ME_KIND_COMMAND || it->kind == ME_KIND_REPLY ||
                    it->kind == ME_KIND_CHALLENGE || it->kind == ME_KIND_SASL))
        s->decrypted = true; /* mail lines inside TLS: the user's keys opened it */
    s->skipped |= (it->flags & ME_W_TLS_SKIPPED) != 0;
    s->cleartext |= it->cleartext;
    free(s->user);
    s->user = rep_xstrdup(it->session_user);
    s->commands += it->kind == ME_KIND_COMMAND && it->command;
    s->replies += it->kind == ME_KIND_REPLY;
    for (i = 0; i < REP_NWARN; i++)
        if (it->flags & (1u << i))
            s->warn[i]++;
    if (it->auth && it->auth->attempt)
        add_login(s, it);
    if (it->kind == ME_KIND_COMMAND && it->mail_from)
        rep_strs_add(&s->mail_from, it->mail_from, false);
    if (it->kind == ME_KIND_COMMAND && it->rcpt)
        rep_strs_add(&s->rcpt_to, it->rcpt, false);
    if (it->kind == ME_KIND_REPLY && it->rcpt && it->status == ME_STATUS_OK)
        rep_strs_add(&s->rcpt_ok, it->rcpt, false);
    if (it->kind == ME_KIND_REPLY && it->mailbox && it->status == ME_STATUS_OK)
        rep_strs_add(&s->mailboxes, it->mailbox, true);
    rep_facts_add(s, it);
    add_line(r, s, it);
}

void me_report_add(me_report *r, const me_rep_frame *f, const me_item *items)
{
    rep_session *s;
    const me_item *it;
    if (!items || items->proto == ME_PROTO_NONE)
        return;
    s = session_of(r, f, items);
    for (it = items; it; it = it->next)
        add_item(r, s, it);
}
