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

static const char *const cmd_names[CMD_COUNT] = {
    "",
#define X(n, ph, sh, tx) #n,
    POP3_COMMANDS(X)
#undef X
};

static const struct {
    unsigned phases;
    int shape;
    me_text_id text;
} cmds[CMD_COUNT] = {
    {A | T, SINGLE, TXT_POP3_UNKNOWN_CMD},
#define X(n, ph, sh, tx) {ph, sh, tx},
    POP3_COMMANDS(X)
#undef X
};

/* Pending entry aux: the phase the command was sent in (low byte) and flags. */
#define AUX_PHASE(a) ((me_phase)((a) & 0xffu))
#define AUX_LOGIN 0x100u     /* the command tries to log in (sent in AUTHORIZATION) */
#define AUX_INFERRED 0x200u  /* the command's phase was inferred */
#define AUX_ATTEMPT 0x400u   /* the command is part of a login attempt, in any phase */
#define LOGIN_CMDS ((1u << CMD_PASS) | (1u << CMD_APOP) | (1u << CMD_AUTH))

typedef struct pop3_state {
    bool greeted;
    bool in_sasl;           /* AUTH exchange running */
    bool listing;           /* server sends lines of a multi-line listing */
    int listing_cmd;
    me_phase listing_phase; /* phase of the reply that opened the listing */
    const char *apop_ts;    /* greeting timestamp <...> */
    const char *user;       /* name given by the last USER */
    bool client_seen;       /* the client sent a line */
    bool unmatched_ok;      /* the last server line was a +OK no command waited for */
} pop3_state;

static void init(me_session *s)
{
    s->st = s->a.alloc(s->a.ctx, sizeof(pop3_state));
    s->phase = ME_PHASE_AUTH;
}

/* A command that will change the phase when its reply comes is still pending. */
static bool login_pending(const me_session *s)
{
    unsigned i;
    for (i = 0; i < s->pend_count; i++) {
        const me_pending *q = me_pend_at(s, i);
        if ((q->aux & AUX_LOGIN) && ((1u << q->cmd) & LOGIN_CMDS))
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

/* A client line inside an AUTH exchange: a SASL response (RFC 5034 §4). */
static void sasl_response(me_session *s, const char *line, size_t n)
{
    me_sasl_out o;
    me_item *it = me_item_new(s, ME_CLIENT, ME_KIND_SASL);
    it->argument = me_strndup(s, line, n);
    if (s->cred) {
        me_sasl_client(&s->cred->sasl, line, n, &o);
        me_cred_apply_sasl(s, it, &o);
        if (o.password || o.token)
            it->masked = "********";
    }
}

/* The phase of a command record.  A transaction command pipelined after
 * PASS/APOP/AUTH (RFC 2449 §6.6) runs in TRANSACTION if the login succeeds:
 * with the server's side captured it stays in AUTHORIZATION, unflagged, and
 * its reply shows where it ran (a failed login leaves the session there,
 * RFC 1939 §4); in a capture of the client's side alone, which has no reply
 * to wait for, it is recorded in TRANSACTION as if the login had succeeded.
 * Flags commands not valid where they are.  Returns the state the command
 * runs in, which its reply is recorded in (reply_for). */
static me_phase command_phase(me_session *s, pop3_state *p, me_item *it, int cmd)
{
    unsigned ph = cmds[cmd].phases;
    bool behind_login;
    if (!p->greeted && s->start_seen && s->unseen[ME_SERVER]) {
        /* the client acknowledged server bytes the capture lacks: the
         * greeting was sent, only not captured, and the session is where
         * it puts it, in AUTHORIZATION (RFC 1939 §4): nothing to infer */
        p->greeted = true;
    }
    if (!p->greeted && !s->inferred) {
        /* a client speaking first: the capture began after the greeting;
         * with the handshake captured and no greeting, we are at the start */
        me_phase guess = s->start_seen || ((ph & A) && !(ph & T)) ? ME_PHASE_AUTH
                                                                  : ME_PHASE_TRANSACTION;
        me_mark_inferred(s, it, guess);
        p->greeted = true;
    }
    behind_login = !s->inferred && s->phase == ME_PHASE_AUTH && (ph & T) && cmd != CMD_UNKNOWN &&
                   login_pending(s);
    if (behind_login && s->unseen[ME_SERVER]) {
        me_set_phase_now(s, it, ME_PHASE_TRANSACTION);
        behind_login = false;
    }
    if (!(ph & (1u << s->phase)) && !s->inferred && !behind_login && (s->unseen[ME_CLIENT] || s->lost[ME_CLIENT]) &&
        cmd != CMD_UNKNOWN) {
        me_infer_after_loss(s, it, (ph & T) ? ME_PHASE_TRANSACTION : ME_PHASE_AUTH);
    } else if (!(ph & (1u << s->phase)) && !s->inferred && !behind_login) {
        it->flags |= ME_W_WRONG_PHASE;
        it->wrong_phase = s->phase;
    }
    /* while guessing, what the client does corrects the guess */
    if (s->inferred && s->phase == ME_PHASE_AUTH && !(ph & A))
        me_mark_inferred(s, it, ME_PHASE_TRANSACTION);
    else if (s->inferred && s->phase == ME_PHASE_TRANSACTION && !(ph & T))
        me_mark_inferred(s, it, ME_PHASE_AUTH);
    return behind_login ? ME_PHASE_TRANSACTION : s->phase;
}

/* The USER-PASS attempt PASS belongs to: the one USER opened, else a new one. */
static me_cred *userpass_attempt(me_session *s, const pop3_state *p, bool from_user)
{
    if (!s->cred || s->cred->finished || strcmp(s->cred->a.mechanism, "USER-PASS") != 0 ||
        s->cred->a.password) {
        me_cred_begin(s, "USER-PASS");
        if (!from_user)
            s->cred->a.username = p->user;
    }
    return s->cred;
}

static void pass_cmd(me_session *s, pop3_state *p, me_item *it)
{
    me_auth *a;
    it->masked = "********";
    userpass_attempt(s, p, false)->a.password = it->argument ? it->argument : "";
    a = me_auth_snapshot(s, it);
    a->password = s->cred->a.password;
    if (!it->argument || !*it->argument) {
        it->explain2 = TXT_AUTH_EMPTY_PASSWORD; /* nothing secret was readable */
        return;
    }
    me_note_cleartext(s, it);
}

static void apop_cmd(me_session *s, pop3_state *p, me_item *it, const char *rest, size_t rl)
{
    const char *nw, *dg;
    size_t nl, dl;
    me_auth *a;
    me_first_word(rest, rl, &nw, &nl, &dg, &dl);
    me_cred_begin(s, "APOP");
    s->cred->a.username = me_strndup(s, nw, nl);
    a = me_auth_snapshot(s, it);
    a->digest = s->cred->a.digest = me_strndup(s, dg, dl);
    a->challenge = p->apop_ts;
    if (!s->tls)
        it->flags |= ME_W_HASH;
    if (!dl)
        it->flags |= ME_W_MALFORMED;
}

static void auth_cmd(me_session *s, pop3_state *p, me_item *it, const char *rest, size_t rl)
{
    const char *mw, *ir;
    size_t ml, il;
    me_cred *c;
    if (!rl) {
        it->explain = TXT_POP3_AUTH_LIST;
        return;
    }
    me_first_word(rest, rl, &mw, &ml, &ir, &il);
    c = me_cred_begin_sasl(s, mw, ml);
    me_auth_snapshot(s, it);
    p->in_sasl = true;
    if (il) {
        me_sasl_out o;
        me_text_id keep = it->explain;
        me_sasl_client(&c->sasl, ir, il, &o);
        me_cred_apply_sasl(s, it, &o);
        it->explain = keep;
        it->explain2 = o.empty_secret ? TXT_AUTH_EMPTY_PASSWORD : o.explain;
        if (o.password || o.token)
            it->masked = mask_rest(s, mw, ml + 1);
    }
}

static void client_line(me_session *s, pop3_state *p, const char *line, size_t n)
{
    const char *w, *rest;
    size_t wl, rl;
    int cmd;
    bool login, attempt;
    me_phase runs_in;
    me_item *it;
    me_pending *q;

    p->client_seen = true;
    me_first_word(line, n, &w, &wl, &rest, &rl);
    cmd = me_lookup(cmd_names, CMD_COUNT, w, wl);
    if (p->in_sasl) {
        if (!me_sasl_over(s, line, n, cmd != CMD_UNKNOWN)) {
            sasl_response(s, line, n);
            return;
        }
        p->in_sasl = false; /* the server's verdict was not captured */
    }
    it = me_item_new(s, ME_CLIENT, ME_KIND_COMMAND);
    me_set_command(s, it, w, wl);
    if (rl)
        it->argument = me_strndup(s, rest, rl);
    it->explain = cmds[cmd].text;
    if (cmd == CMD_UNKNOWN && wl == 0)
        it->flags |= ME_W_MALFORMED;
    runs_in = command_phase(s, p, it, cmd);
    /* Only a command sent in AUTHORIZATION can log in and change the phase
     * (RFC 1939 §4); the server refuses one sent later.  One that carries a
     * secret (PASS, APOP, AUTH with a mechanism) is an attempt all the same:
     * the secret crossed the wire, as with IMAP's LOGIN or SMTP's AUTH in a
     * later state, and the reply says how the server took it.  A late USER
     * carries none: refusing it fails no login (issue 12, fault 7). */
    login = s->phase == ME_PHASE_AUTH || s->inferred;
    attempt = true;
    switch (cmd) {
    case CMD_USER:
        p->user = it->argument; /* the name a later PASS goes with */
        if (!(attempt = login))
            break;
        userpass_attempt(s, p, true)->a.username = p->user;
        me_auth_snapshot(s, it);
        break;
    case CMD_PASS: pass_cmd(s, p, it); break;
    case CMD_APOP: apop_cmd(s, p, it, rest, rl); break;
    case CMD_AUTH:
        attempt = rl > 0; /* without a mechanism it asks for the list */
        auth_cmd(s, p, it, rest, rl);
        break;
    default: attempt = false; break;
    }
    q = me_pend_push(s, it, cmd, NULL, it->argument);
    q->aux = (uint32_t)runs_in | (login ? AUX_LOGIN : 0) | (attempt ? AUX_ATTEMPT : 0) |
             (s->inferred ? AUX_INFERRED : 0);
    /* RFC 1939 §6: QUIT from TRANSACTION enters UPDATE; from AUTHORIZATION it just ends */
    if (cmd == CMD_QUIT && s->phase == ME_PHASE_TRANSACTION)
        me_set_phase(s, ME_PHASE_UPDATE);
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

/* The response code a -ERR starts with (RFC 2449 §8: "[" code "]"), those
 * that tell why a login failed (RFC 2449 §8.1, RFC 3206 §4): its text goes
 * to EXPLAIN (TXT_NONE for none), and what it says of the secret is
 * returned; ME_FAIL_NONE when no code says (a plain -ERR: the credentials). */
static me_failure login_code(const me_item *it, me_text_id *explain)
{
    static const struct { const char *code; me_text_id text; me_failure why; } codes[] = {
        {"[AUTH]", TXT_POP3_CODE_AUTH, ME_FAIL_CREDENTIALS},
        {"[IN-USE]", TXT_POP3_CODE_IN_USE, ME_FAIL_AUTHORIZATION},
        {"[LOGIN-DELAY]", TXT_POP3_CODE_LOGIN_DELAY, ME_FAIL_REFUSED},
        {"[SYS/TEMP]", TXT_POP3_CODE_SYS_TEMP, ME_FAIL_REFUSED},
        {"[SYS/PERM]", TXT_POP3_CODE_SYS_PERM, ME_FAIL_REFUSED}};
    const char *a = it->argument;
    size_t i;
    *explain = TXT_NONE;
    if (!a || it->status != ME_STATUS_ERROR)
        return ME_FAIL_NONE;
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (me_iprefix(a, strlen(a), codes[i].code)) {
            *explain = codes[i].text;
            return codes[i].why;
        }
    return ME_FAIL_NONE;
}

/* The attempt's verdict on reply IT: its response code explained, then the
 * result, which may explain more (me_cred_result).  REFUSED: the command
 * itself was out of place, so its -ERR judged no secret. */
static void verdict(me_session *s, me_item *it, bool ok, bool refused)
{
    me_text_id code;
    me_failure why = login_code(it, &code);
    if (code != TXT_NONE)
        it->explain2 = code;
    me_cred_result(s, it, ok ? ME_RESULT_SUCCESS : ME_RESULT_FAILURE,
                   refused ? ME_FAIL_REFUSED : why);
}

/* A reply to PASS, APOP or AUTH: the verdict of a login (RFC 1939 §7, RFC 5034 §4). */
static void login_reply(me_session *s, pop3_state *p, me_item *it, const me_pending *pc, bool ok)
{
    p->in_sasl = false;
    /* RFC 1939 §7: PASS is valid only in AUTHORIZATION, right after a USER
     * the server accepted; sent after the login, or with no user name, its
     * -ERR refuses the command, not the secret */
    if (pc->aux & AUX_ATTEMPT)
        verdict(s, it, ok, !(pc->aux & AUX_LOGIN) ||
                               (pc->cmd == CMD_PASS && s->cred && !s->cred->finished &&
                                !s->cred->a.username));
    if (!(pc->aux & AUX_LOGIN)) {
        /* sent after the login: it changes no phase, so the login texts
         * ("stays in AUTHORIZATION") would be wrong */
        it->explain = ok ? TXT_POP3_OK : TXT_POP3_ERR;
        return;
    }
    it->explain = ok ? TXT_POP3_LOGIN_OK : TXT_POP3_LOGIN_ERR;
    if (ok && s->phase == ME_PHASE_AUTH)
        me_set_phase(s, ME_PHASE_TRANSACTION);
    else if (!ok && s->phase != ME_PHASE_AUTH && !login_pending(s))
        me_set_phase(s, ME_PHASE_AUTH); /* pipelined commands assumed a success */
}

/* A +OK that opens a multi-line listing (CAPA, LIST, UIDL, AUTH without argument). */
static void listing_reply(pop3_state *p, me_item *it, const me_pending *pc, bool ok, bool have_arg)
{
    if (ok && (cmds[pc->cmd].shape == MULTI || !have_arg)) {
        it->explain = pc->cmd == CMD_CAPA   ? TXT_POP3_CAPA_OK
                      : pc->cmd == CMD_AUTH ? TXT_POP3_AUTH_LIST_OK
                                            : TXT_POP3_LISTING_OK;
        p->listing = true;
        p->listing_cmd = pc->cmd;
        p->listing_phase = it->phase;
    } else {
        it->explain = ok ? TXT_POP3_OK : TXT_POP3_ERR;
    }
}

static void reply_for(me_session *s, pop3_state *p, me_item *it, const me_pending *pc, bool ok,
                      bool have_arg)
{
    /* a command pipelined behind a login runs in TRANSACTION only if the
     * login succeeded: after a failed one its reply is in AUTHORIZATION */
    me_phase ran = AUX_PHASE(pc->aux) == ME_PHASE_TRANSACTION && s->phase == ME_PHASE_AUTH
                       ? ME_PHASE_AUTH
                       : AUX_PHASE(pc->aux);
    if (pc->cmd != CMD_QUIT) /* QUIT's reply is in the phase QUIT opened */
        me_record_phase(s, it, ran, (pc->aux & AUX_INFERRED) != 0, true);
    else if (ran == ME_PHASE_TRANSACTION && s->phase == ME_PHASE_TRANSACTION)
        me_set_phase_now(s, it, ME_PHASE_UPDATE); /* sent behind a login that succeeded (RFC 1939 §6) */
    switch (pc->cmd) {
    case CMD_USER:
        it->explain = ok ? TXT_POP3_USER_OK : TXT_POP3_USER_ERR;
        if (!ok && (pc->aux & AUX_ATTEMPT))
            verdict(s, it, false, false);
        break;
    case CMD_AUTH:
        if (!have_arg) {
            listing_reply(p, it, pc, ok, have_arg);
            break;
        }
        login_reply(s, p, it, pc, ok);
        break;
    case CMD_PASS:
    case CMD_APOP: login_reply(s, p, it, pc, ok); break;
    case CMD_STLS:
        it->explain = ok ? TXT_POP3_STLS_OK : TXT_POP3_STLS_ERR;
        if (ok) {
            it->flags |= ME_W_TLS_START;
            me_start_tls(s);
        } else {
            me_tls_refused(s, it);
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
    case CMD_UIDL: listing_reply(p, it, pc, ok, have_arg); break;
    default:
        it->explain = ok ? TXT_POP3_OK : TXT_POP3_ERR;
        break;
    }
}

/* A line of a multi-line listing (RFC 1939 §3); false when the listing is over. */
static bool listing_line(me_session *s, pop3_state *p, const char *line, size_t n, bool status)
{
    me_item *it;
    if (status) /* no listing line starts with a status: its "." was lost (a gap) */
        p->listing = false;
    if (!p->listing)
        return false;
    if (n == 1 && line[0] == '.') {
        p->listing = false;
        return true;
    }
    if (p->listing_cmd == CMD_CAPA && me_ieq(line, n, "STLS"))
        s->tls_offered = true;
    /* listing lines are reply content, counted as data of this frame */
    if (!s->tail || s->tail->kind != ME_KIND_DATA) {
        it = me_item_new(s, ME_SERVER, ME_KIND_DATA);
        it->explain = TXT_POP3_LISTING_DATA;
        if (p->listing_phase != ME_PHASE_NONE && p->listing_phase != it->phase)
            me_record_phase(s, it, p->listing_phase, it->inferred, true);
    }
    s->tail->data_len += (uint32_t)n + 2;
    return true;
}

/* The first server line: the greeting (RFC 1939 §4), or, when the capture
 * began mid-session, a reply or message content. */
static void first_server_line(me_session *s, pop3_state *p, const char *line, size_t n, bool ok,
                              bool err)
{
    me_item *it = me_item_new(s, ME_SERVER, ME_KIND_REPLY);
    p->greeted = true;
    if (n > 3)
        it->argument = me_rstrndup(s, line + (ok ? 4 : 0), n - (ok ? 4 : 0));
    if (ok && (s->start_seen || s->pend_count == 0)) {
        it->status = ME_STATUS_OK;
        it->explain = TXT_POP3_GREETING;
        p->apop_ts = apop_stamp(s, line, n);
        if (p->apop_ts) {
            it->explain2 = TXT_POP3_GREETING_APOP;
            it->detail = p->apop_ts;
        }
        if (!s->start_seen) {
            /* a guess: a capture begun mid-session may start with the +OK
             * of a multi-line reply, which its next lines then show */
            me_mark_inferred(s, it, ME_PHASE_AUTH);
            p->unmatched_ok = true;
        }
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
}

/* "+ base64": a SASL challenge (RFC 5034 §4) */
static void challenge(me_session *s, const char *line, size_t n)
{
    me_sasl_out o;
    size_t skip = (n >= 2 && line[1] == ' ') ? 2 : 1;
    me_item *it = me_item_new(s, ME_SERVER, ME_KIND_CHALLENGE);
    it->status = ME_STATUS_CONTINUE;
    it->explain = TXT_SASL_CHALLENGE;
    it->argument = me_rstrndup(s, line + skip, n - skip);
    if (s->cred) {
        me_sasl_server(&s->cred->sasl, line + skip, n - skip, &o);
        me_cred_apply_sasl(s, it, &o);
        it->explain2 = o.explain == TXT_SASL_CHALLENGE ? TXT_NONE : o.explain;
        it->explain = TXT_SASL_CHALLENGE;
        if (o.decoded)
            it->detail = o.decoded;
    }
}

static void status_reply(me_session *s, pop3_state *p, const char *line, size_t n, bool ok)
{
    me_pending pc;
    size_t k = ok ? 3 : 4;
    me_item *it = me_item_new(s, ME_SERVER, ME_KIND_REPLY);
    it->status = ok ? ME_STATUS_OK : ME_STATUS_ERROR;
    while (k < n && line[k] == ' ')
        k++;
    if (k < n)
        it->argument = me_rstrndup(s, line + k, n - k);
    if (me_pend_pop(s, &pc)) {
        me_link(s, pc.item, it);
        reply_for(s, p, it, &pc, ok, pc.arg != NULL);
        return;
    }
    it->explain = ok ? TXT_POP3_OK : TXT_POP3_ERR;
    p->unmatched_ok = ok && !p->client_seen;
    if (p->in_sasl) { /* reply to an AUTH we did not see */
        p->in_sasl = false;
        verdict(s, it, ok, false);
    }
}

static void server_line(me_session *s, pop3_state *p, const char *line, size_t n)
{
    bool ok = me_iprefix(line, n, "+OK"), err = me_iprefix(line, n, "-ERR");
    me_item *it;
    if (listing_line(s, p, line, n, ok || err))
        return;
    if (!p->greeted) {
        first_server_line(s, p, line, n, ok, err);
        return;
    }
    if (p->in_sasl && n >= 1 && line[0] == '+' && !ok) {
        challenge(s, line, n);
        return;
    }
    if (ok || err) {
        p->unmatched_ok = false;
        status_reply(s, p, line, n, ok);
        return;
    }
    if (p->unmatched_ok) {
        /* server side only: a line after a +OK is a multi-line reply (RFC 1939
         * §3), read up to its "." like a message; content means TRANSACTION */
        me_item *ok_rec = s->tail;
        p->unmatched_ok = false;
        if (ok_rec && ok_rec->kind == ME_KIND_REPLY && ok_rec->explain == TXT_POP3_GREETING &&
            ok_rec->inferred) {
            /* the +OK taken for the greeting of a capture begun mid-session,
             * in this same segment, opens a multi-line reply: a greeting is
             * one line (RFC 1939 §4), and listings come in TRANSACTION
             * (helper 19: a capture starting at a UIDL reply) */
            ok_rec->explain = TXT_POP3_OK;
            ok_rec->explain2 = TXT_NONE;
            ok_rec->detail = NULL;
            p->apop_ts = NULL;
            me_mark_inferred(s, ok_rec, ME_PHASE_TRANSACTION);
        }
        it = me_item_new(s, ME_SERVER, ME_KIND_DATA);
        it->explain = TXT_POP3_LISTING_DATA;
        it->data_len = (uint32_t)n + 2;
        if (s->phase == ME_PHASE_AUTH) {
            me_mark_inferred(s, it, ME_PHASE_TRANSACTION);
            it->phase_start = true;
        }
        if (n != 1 || line[0] != '.')
            me_expect_dotbody(s, ME_SERVER, TXT_POP3_LISTING_DATA);
        return;
    }
    it = me_item_new(s, ME_SERVER, ME_KIND_UNKNOWN);
    /* the bytes themselves are what the reader must see, as far as a line
     * summary goes: the first 256 (SMTP's bad replies keep as many) */
    it->argument = me_rstrndup(s, line, n > 256 ? 256 : n);
    it->explain = TXT_UNKNOWN_LINE;
    it->flags |= ME_W_MALFORMED;
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
static void fini(me_session *s)
{
    s->a.free(s->a.ctx, s->st);
}

const me_engine me_pop3_engine = {init, line, NULL, NULL, fini, NULL};
