/* pop3.c - POP3 engine: RFC 1939 states, RFC 2449 CAPA and pipelining,
 * RFC 2595 STLS, RFC 5034 AUTH. */
#include <string.h>

#include "internal.h"

/* Phases a command is valid in. */
#define A (1u << ME_PHASE_AUTH)
#define T (1u << ME_PHASE_TRANSACTION)

/* Reply shape: single line, multi-line, or multi-line only without argument. */
enum { SINGLE, MULTI, MULTI_NOARG };

/* The command list, RFC order; X(name, phases, reply shape, explanation) */
#define POP3_COMMANDS(X)                                  \
    X(USER, A, SINGLE, TXT_POP3_USER)                     \
    X(PASS, A, SINGLE, TXT_POP3_PASS)                     \
    X(APOP, A, SINGLE, TXT_POP3_APOP)                     \
    X(AUTH, A, MULTI_NOARG, TXT_POP3_AUTH)                \
    X(CAPA, A | T, MULTI, TXT_POP3_CAPA)                  \
    X(STLS, A, SINGLE, TXT_POP3_STLS)                     \
    X(STAT, T, SINGLE, TXT_POP3_STAT)                     \
    X(LIST, T, MULTI_NOARG, TXT_POP3_LIST)                \
    X(RETR, T, MULTI, TXT_POP3_RETR)                      \
    X(DELE, T, SINGLE, TXT_POP3_DELE)                     \
    X(NOOP, T, SINGLE, TXT_POP3_NOOP)                     \
    X(RSET, T, SINGLE, TXT_POP3_RSET)                     \
    X(TOP, T, MULTI, TXT_POP3_TOP)                        \
    X(UIDL, T, MULTI_NOARG, TXT_POP3_UIDL)                \
    X(QUIT, A | T, SINGLE, TXT_POP3_QUIT)                 \
    X(LAST, T, SINGLE, TXT_POP3_LAST)

enum {
    CMD_UNKNOWN = 0,
#define X(n, ph, sh, tx) CMD_##n,
    POP3_COMMANDS(X)
#undef X
    CMD_COUNT
};

static const struct {
    const char *name;
    unsigned phases;
    int shape;
    me_text_id text;
} cmds[CMD_COUNT] = {
    {"", A | T, SINGLE, TXT_POP3_UNKNOWN_CMD},
#define X(n, ph, sh, tx) {#n, ph, sh, tx},
    POP3_COMMANDS(X)
#undef X
};

typedef struct pop3_state {
    bool greeted;
    bool in_sasl;           /* AUTH exchange running */
    bool listing;           /* server sends lines of a multi-line listing */
    int listing_cmd;
    const char *apop_ts;    /* greeting timestamp <...> */
    const char *user;       /* name given by the last USER */
} pop3_state;

static void init(me_session *s)
{
    s->st = s->a.alloc(s->a.ctx, sizeof(pop3_state));
    s->phase = ME_PHASE_AUTH;
}

static int lookup(const char *w, size_t n)
{
    int i;
    for (i = 1; i < CMD_COUNT; i++)
        if (me_ieq(w, n, cmds[i].name))
            return i;
    return CMD_UNKNOWN;
}

/* A command that will change the phase when its reply comes is still pending. */
static bool login_pending(const me_session *s)
{
    unsigned i;
    for (i = 0; i < s->pend_count; i++) {
        int c = me_pend_at(s, i)->cmd;
        if (c == CMD_PASS || c == CMD_APOP || c == CMD_AUTH)
            return true;
    }
    return false;
}

static const char *mask_rest(me_session *s, const char *keep, size_t klen)
{
    char *r = s->a.alloc(s->a.ctx, klen + 9);
    memcpy(r, keep, klen);
    memcpy(r + klen, "********", 9);
    return r;
}

static void client_line(me_session *s, pop3_state *p, const char *line, size_t n)
{
    const char *w, *rest;
    size_t wl, rl;
    int cmd;
    me_item *it;

    if (p->in_sasl) {
        me_sasl_out o;
        it = me_item_new(s, ME_CLIENT, ME_KIND_SASL);
        it->argument = me_strndup(s, line, n);
        if (s->cred) {
            me_sasl_client(&s->cred->sasl, line, n, &o);
            me_cred_apply_sasl(s, it, &o);
            if (o.password || o.token)
                it->masked = "********";
        }
        return;
    }
    me_first_word(line, n, &w, &wl, &rest, &rl);
    cmd = lookup(w, wl);
    it = me_item_new(s, ME_CLIENT, ME_KIND_COMMAND);
    it->command = me_upper(s, w, wl);
    if (rl)
        it->argument = me_strndup(s, rest, rl);
    it->explain = cmds[cmd].text;
    if (cmd == CMD_UNKNOWN && wl == 0)
        it->flags |= ME_W_MALFORMED;

    if (!p->greeted && !s->inferred) {
        /* a client speaking first: the capture began after the greeting */
        /* with the handshake captured and no greeting, we are at the start */
        me_phase guess = s->start_seen || ((cmds[cmd].phases & A) && !(cmds[cmd].phases & T))
                             ? ME_PHASE_AUTH
                             : ME_PHASE_TRANSACTION;
        me_mark_inferred(s, it, guess);
        p->greeted = true;
    }
    if (!(cmds[cmd].phases & (1u << s->phase)) && !s->inferred &&
        !(s->phase == ME_PHASE_AUTH && login_pending(s))) {
        it->flags |= ME_W_WRONG_PHASE;
        it->wrong_phase = s->phase;
    }
    /* while guessing, what the client does corrects the guess */
    if (s->inferred && s->phase == ME_PHASE_AUTH && !(cmds[cmd].phases & A))
        me_mark_inferred(s, it, ME_PHASE_TRANSACTION);
    else if (s->inferred && s->phase == ME_PHASE_TRANSACTION && !(cmds[cmd].phases & T))
        me_mark_inferred(s, it, ME_PHASE_AUTH);

    switch (cmd) {
    case CMD_USER:
        p->user = it->argument;
        if (!s->cred || s->cred->finished || strcmp(s->cred->a.mechanism, "USER-PASS") != 0 ||
            s->cred->a.password)
            me_cred_begin(s, "USER-PASS");
        s->cred->a.username = p->user;
        me_auth_snapshot(s, it);
        break;
    case CMD_PASS: {
        me_auth *a;
        if (!s->cred || s->cred->finished || strcmp(s->cred->a.mechanism, "USER-PASS") != 0 ||
            s->cred->a.password) {
            me_cred_begin(s, "USER-PASS");
            s->cred->a.username = p->user;
        }
        s->cred->a.password = it->argument ? it->argument : "";
        a = me_auth_snapshot(s, it);
        a->password = s->cred->a.password;
        it->masked = "********";
        me_note_cleartext(s, it);
        break;
    }
    case CMD_APOP: {
        const char *nw, *dg;
        size_t nl, dl;
        me_auth *a;
        me_first_word(rest, rl, &nw, &nl, &dg, &dl);
        me_cred_begin(s, "APOP");
        s->cred->a.username = me_strndup(s, nw, nl);
        a = me_auth_snapshot(s, it);
        a->digest = me_strndup(s, dg, dl);
        a->challenge = p->apop_ts;
        if (!s->tls)
            it->flags |= ME_W_HASH;
        if (!dl)
            it->flags |= ME_W_MALFORMED;
        break;
    }
    case CMD_AUTH:
        if (rl) {
            const char *mw, *ir;
            size_t ml, il;
            me_cred *c;
            me_first_word(rest, rl, &mw, &ml, &ir, &il);
            c = me_cred_begin(s, NULL);
            me_sasl_start(&c->sasl, &s->a, mw, ml);
            c->is_sasl = true;
            c->a.mechanism = c->sasl.name;
            me_auth_snapshot(s, it);
            p->in_sasl = true;
            if (il) {
                me_sasl_out o;
                me_text_id keep = it->explain;
                me_sasl_client(&c->sasl, ir, il, &o);
                me_cred_apply_sasl(s, it, &o);
                it->explain = keep;
                it->explain2 = o.explain;
                if (o.password || o.token)
                    it->masked = mask_rest(s, mw, ml + 1);
            }
        } else {
            it->explain = TXT_POP3_AUTH_LIST;
        }
        break;
    case CMD_QUIT:
        /* RFC 1939 §6: QUIT from TRANSACTION enters UPDATE; from AUTHORIZATION it just ends */
        if (s->phase == ME_PHASE_TRANSACTION)
            me_set_phase(s, ME_PHASE_UPDATE);
        break;
    default:
        break;
    }
    me_pend_push(s, it, cmd, NULL, it->argument);
}

/* Timestamp <...> of an APOP-capable greeting (RFC 1939 §7). */
static const char *apop_stamp(me_session *s, const char *line, size_t n)
{
    const char *lt = memchr(line, '<', n), *gt;
    if (!lt)
        return NULL;
    gt = memchr(lt, '>', n - (size_t)(lt - line));
    if (!gt || !memchr(lt, '@', (size_t)(gt - lt)))
        return NULL;
    return me_strndup(s, lt, (size_t)(gt - lt) + 1);
}

static void reply_for(me_session *s, pop3_state *p, me_item *it, const me_pending *pc, bool ok,
                      bool have_arg)
{
    switch (pc->cmd) {
    case CMD_USER:
        it->explain = ok ? TXT_POP3_USER_OK : TXT_POP3_USER_ERR;
        if (!ok)
            me_cred_result(s, it, ME_RESULT_FAILURE);
        break;
    case CMD_PASS:
    case CMD_APOP:
    case CMD_AUTH:
        if (pc->cmd == CMD_AUTH && !have_arg) {
            it->explain = ok ? TXT_POP3_AUTH_LIST_OK : TXT_POP3_ERR;
            if (ok) {
                p->listing = true;
                p->listing_cmd = CMD_AUTH;
            }
            break;
        }
        p->in_sasl = false;
        it->explain = ok ? TXT_POP3_LOGIN_OK : TXT_POP3_LOGIN_ERR;
        me_cred_result(s, it, ok ? ME_RESULT_SUCCESS : ME_RESULT_FAILURE);
        if (ok)
            me_set_phase(s, ME_PHASE_TRANSACTION);
        break;
    case CMD_STLS:
        it->explain = ok ? TXT_POP3_STLS_OK : TXT_POP3_ERR;
        if (ok) {
            it->flags |= ME_W_TLS_START;
            me_start_tls(s);
        }
        break;
    case CMD_QUIT:
        it->explain = s->phase == ME_PHASE_UPDATE ? TXT_POP3_QUIT_UPDATE : TXT_POP3_QUIT_OK;
        break;
    case CMD_STAT: it->explain = ok ? TXT_POP3_STAT_OK : TXT_POP3_ERR; break;
    case CMD_DELE: it->explain = ok ? TXT_POP3_DELE_OK : TXT_POP3_ERR; break;
    case CMD_RSET: it->explain = ok ? TXT_POP3_RSET_OK : TXT_POP3_ERR; break;
    case CMD_RETR:
    case CMD_TOP:
        it->explain = ok ? TXT_POP3_RETR_OK : TXT_POP3_ERR;
        if (ok)
            me_expect_dotbody(s, ME_SERVER, TXT_POP3_MESSAGE_DATA);
        break;
    case CMD_CAPA:
    case CMD_LIST:
    case CMD_UIDL:
        if (ok && (cmds[pc->cmd].shape == MULTI || !have_arg)) {
            it->explain = pc->cmd == CMD_CAPA ? TXT_POP3_CAPA_OK : TXT_POP3_LISTING_OK;
            p->listing = true;
            p->listing_cmd = pc->cmd;
        } else {
            it->explain = ok ? TXT_POP3_OK : TXT_POP3_ERR;
        }
        break;
    default:
        it->explain = ok ? TXT_POP3_OK : TXT_POP3_ERR;
        break;
    }
}

static void server_line(me_session *s, pop3_state *p, const char *line, size_t n)
{
    me_item *it;
    bool ok = me_iprefix(line, n, "+OK"), err = me_iprefix(line, n, "-ERR");

    if (p->listing && (ok || err)) {
        /* no listing line starts with a status: its "." was lost (a gap) */
        p->listing = false;
    }
    if (p->listing) {
        if (n == 1 && line[0] == '.') {
            p->listing = false;
            return;
        }
        if (p->listing_cmd == CMD_CAPA) {
            if (me_ieq(line, n, "STLS"))
                s->tls_offered = true;
        }
        /* listing lines are reply content, counted as data of this frame */
        if (!s->tail || s->tail->kind != ME_KIND_DATA) {
            it = me_item_new(s, ME_SERVER, ME_KIND_DATA);
            it->explain = TXT_POP3_LISTING_DATA;
        }
        s->tail->data_len += (uint32_t)n + 2;
        return;
    }
    if (!p->greeted) {
        p->greeted = true;
        it = me_item_new(s, ME_SERVER, ME_KIND_REPLY);
        if (n > 3)
            it->argument = me_strndup(s, line + (ok ? 4 : 0), n - (ok ? 4 : 0));
        if (ok && (s->start_seen || s->pend_count == 0)) {
            it->status = ME_STATUS_OK;
            it->explain = TXT_POP3_GREETING;
            p->apop_ts = apop_stamp(s, line, n);
            if (p->apop_ts) {
                it->explain2 = TXT_POP3_GREETING_APOP;
                it->detail = p->apop_ts;
            }
            if (!s->start_seen)
                me_mark_inferred(s, it, ME_PHASE_AUTH);
            return;
        }
        /* not a greeting: the capture began mid-session, maybe inside a listing */
        if (ok || err) {
            it->status = ok ? ME_STATUS_OK : ME_STATUS_ERROR;
            it->explain = ok ? TXT_POP3_OK : TXT_POP3_ERR;
        } else {
            it->kind = ME_KIND_DATA;
            it->explain = TXT_POP3_MESSAGE_DATA;
            me_expect_dotbody(s, ME_SERVER, TXT_POP3_MESSAGE_DATA);
        }
        me_mark_inferred(s, it, ME_PHASE_TRANSACTION);
        return;
    }
    if (p->in_sasl && n >= 1 && line[0] == '+' && !ok) {
        /* "+ base64": a SASL challenge (RFC 5034 §4) */
        me_sasl_out o;
        size_t skip = (n >= 2 && line[1] == ' ') ? 2 : 1;
        it = me_item_new(s, ME_SERVER, ME_KIND_CHALLENGE);
        it->status = ME_STATUS_CONTINUE;
        it->explain = TXT_SASL_CHALLENGE;
        it->argument = me_strndup(s, line + skip, n - skip);
        if (s->cred) {
            me_sasl_server(&s->cred->sasl, line + skip, n - skip, &o);
            me_cred_apply_sasl(s, it, &o);
            it->explain2 = o.explain == TXT_SASL_CHALLENGE ? TXT_NONE : o.explain;
            it->explain = TXT_SASL_CHALLENGE;
            if (o.decoded)
                it->detail = o.decoded;
        }
        return;
    }
    it = me_item_new(s, ME_SERVER, ok || err ? ME_KIND_REPLY : ME_KIND_UNKNOWN);
    if (!ok && !err) {
        it->explain = TXT_UNKNOWN_LINE;
        it->flags |= ME_W_MALFORMED;
        return;
    }
    it->status = ok ? ME_STATUS_OK : ME_STATUS_ERROR;
    {
        size_t k = ok ? 3 : 4;
        while (k < n && line[k] == ' ')
            k++;
        if (k < n)
            it->argument = me_strndup(s, line + k, n - k);
    }
    {
        me_pending pc;
        if (me_pend_pop(s, &pc)) {
            me_link(pc.item, it);
            reply_for(s, p, it, &pc, ok, pc.arg != NULL);
        } else {
            it->explain = ok ? TXT_POP3_OK : TXT_POP3_ERR;
            if (p->in_sasl) { /* reply to an AUTH we did not see */
                p->in_sasl = false;
                me_cred_result(s, it, ok ? ME_RESULT_SUCCESS : ME_RESULT_FAILURE);
            }
        }
    }
}

static void line(me_session *s, me_dir dir, const char *l, size_t n)
{
    pop3_state *p = s->st;
    if (dir == ME_CLIENT)
        client_line(s, p, l, n);
    else
        server_line(s, p, l, n);
}

/* message bodies need nothing at their end; POP3 has no counted data */
const me_engine me_pop3_engine = {init, line, NULL, NULL};
