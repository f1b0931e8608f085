/* imap_server.c - the server side of the IMAP engine: greeting, tagged and
 * untagged responses, continuation requests, response codes (RFC 9051 §7)
 * and what they do to the session (phases, credentials, TLS).  The client
 * side (commands, literals) is in imap.c; both share imap_int.h. */
#include <string.h>

#include "imap_int.h"

/* Response codes, RFC 9051 §7.1 and extensions. */
static const struct {
    const char *name;
    me_text_id text;
} codes[] = {
    {"ALERT", TXT_IMAP_CODE_ALERT},
    {"CAPABILITY", TXT_IMAP_CODE_CAPABILITY},
    {"READ-WRITE", TXT_IMAP_CODE_READ_WRITE},
    {"READ-ONLY", TXT_IMAP_CODE_READ_ONLY},
    {"UIDVALIDITY", TXT_IMAP_CODE_UIDVALIDITY},
    {"UIDNEXT", TXT_IMAP_CODE_UIDNEXT},
    {"UNSEEN", TXT_IMAP_CODE_UNSEEN},
    {"PERMANENTFLAGS", TXT_IMAP_CODE_PERMANENTFLAGS},
    {"AUTHENTICATIONFAILED", TXT_IMAP_CODE_AUTHENTICATIONFAILED},
    {"AUTHORIZATIONFAILED", TXT_IMAP_CODE_AUTHORIZATIONFAILED},
    {"EXPIRED", TXT_IMAP_CODE_EXPIRED},
    {"PRIVACYREQUIRED", TXT_IMAP_CODE_PRIVACYREQUIRED},
    {"CONTACTADMIN", TXT_IMAP_CODE_CONTACTADMIN},
    {"TRYCREATE", TXT_IMAP_CODE_TRYCREATE},
    {"NONEXISTENT", TXT_IMAP_CODE_NONEXISTENT},
    {"ALREADYEXISTS", TXT_IMAP_CODE_ALREADYEXISTS},
    {"NOPERM", TXT_IMAP_CODE_NOPERM},
    {"INUSE", TXT_IMAP_CODE_INUSE},
    {"OVERQUOTA", TXT_IMAP_CODE_OVERQUOTA},
    {"LIMIT", TXT_IMAP_CODE_LIMIT},
    {"UNAVAILABLE", TXT_IMAP_CODE_UNAVAILABLE},
    {"SERVERBUG", TXT_IMAP_CODE_SERVERBUG},
    {"CLIENTBUG", TXT_IMAP_CODE_CLIENTBUG},
    {"CANNOT", TXT_IMAP_CODE_CANNOT},
    {"PARSE", TXT_IMAP_CODE_PARSE},
    {"BADCHARSET", TXT_IMAP_CODE_BADCHARSET},
    {"EXPUNGEISSUED", TXT_IMAP_CODE_EXPUNGEISSUED},
    {"CORRUPTION", TXT_IMAP_CODE_CORRUPTION},
    {"APPENDUID", TXT_IMAP_CODE_APPENDUID},
    {"COPYUID", TXT_IMAP_CODE_COPYUID},
    {"UIDNOTSTICKY", TXT_IMAP_CODE_UIDNOTSTICKY},
    {"CLOSED", TXT_IMAP_CODE_CLOSED},
    {"HASCHILDREN", TXT_IMAP_CODE_HASCHILDREN},
    {"HIGHESTMODSEQ", TXT_IMAP_CODE_HIGHESTMODSEQ},
    {"NOMODSEQ", TXT_IMAP_CODE_NOMODSEQ},
    {"REFERRAL", TXT_IMAP_CODE_REFERRAL},
};

/* Untagged data responses: X(name, explanation, command that asks for it) */
#define IMAP_DATA(X)                                         \
    X("CAPABILITY", TXT_IMAP_CAPABILITY_DATA, CMD_CAPABILITY) \
    X("ENABLED", TXT_IMAP_ENABLED_DATA, CMD_ENABLE)          \
    X("LIST", TXT_IMAP_LIST_DATA, CMD_LIST)                  \
    X("XLIST", TXT_IMAP_LIST_DATA, CMD_XLIST)                \
    X("LSUB", TXT_IMAP_LSUB_DATA, CMD_LSUB)                  \
    X("NAMESPACE", TXT_IMAP_NAMESPACE_DATA, CMD_NAMESPACE)   \
    X("STATUS", TXT_IMAP_STATUS_DATA, CMD_STATUS)            \
    X("ESEARCH", TXT_IMAP_ESEARCH_DATA, CMD_SEARCH)          \
    X("SEARCH", TXT_IMAP_SEARCH_DATA, CMD_SEARCH)            \
    X("FLAGS", TXT_IMAP_FLAGS_DATA, CMD_SELECT)              \
    X("ID", TXT_IMAP_ID_DATA, CMD_ID)                        \
    X("SORT", TXT_IMAP_SORT_DATA, CMD_SORT)                  \
    X("THREAD", TXT_IMAP_SORT_DATA, CMD_THREAD)              \
    X("QUOTA", TXT_IMAP_QUOTA_DATA, CMD_GETQUOTA)            \
    X("QUOTAROOT", TXT_IMAP_QUOTA_DATA, CMD_GETQUOTAROOT)    \
    X("VANISHED", TXT_IMAP_VANISHED_DATA, CMD_UNKNOWN)

static const struct {
    const char *name;
    me_text_id text;
    int cmd;
} data_resps[] = {
#define X(n, tx, c) {n, tx, c},
    IMAP_DATA(X)
#undef X
};

/* ---- capabilities and response codes ---- */

/* Reads a capability list; returns what matters to the student. */
static me_text_id capabilities(me_session *s, imap_state *st, const char *p, size_t n)
{
    bool starttls = false, disabled = false;
    while (n) {
        const char *w, *rest;
        size_t wl, rl;
        me_first_word(p, n, &w, &wl, &rest, &rl);
        if (me_ieq(w, wl, "STARTTLS"))
            starttls = true;
        else if (me_ieq(w, wl, "LOGINDISABLED"))
            disabled = true;
        if (!wl && rl == n)
            break;
        p = rest;
        n = rl;
    }
    if (starttls && !s->tls)
        s->tls_offered = true;
    if (s->phase == ME_PHASE_AUTH)
        st->login_disabled = disabled && !s->tls;
    return disabled ? TXT_IMAP_CAP_LOGINDISABLED : starttls ? TXT_IMAP_CAP_STARTTLS : TXT_NONE;
}

/* "[CODE args] text" at the start of resp-text: explains the code in explain2.
 * Returns the code's index in codes[], or -1. */
static int resp_code(me_session *s, imap_state *st, me_item *it, const char *p, size_t n)
{
    const char *end, *name, *args;
    size_t nl, al, i;
    if (n < 2 || p[0] != '[')
        return -1;
    end = memchr(p, ']', n);
    if (!end) {
        it->flags |= ME_W_MALFORMED;
        return -1;
    }
    me_first_word(p + 1, (size_t)(end - p - 1), &name, &nl, &args, &al);
    it->explain2 = TXT_IMAP_CODE_OTHER;
    if (al)
        it->detail = me_imap_disp(s, p + 1, (size_t)(end - p - 1));
    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        if (me_ieq(name, nl, codes[i].name)) {
            it->explain2 = codes[i].text;
            if (codes[i].text == TXT_IMAP_CODE_CAPABILITY) {
                capabilities(s, st, args, al);
            } else if (codes[i].text == TXT_IMAP_CODE_ALERT) {
                const char *t = end + 1;
                size_t tl = n - (size_t)(t - p);
                while (tl && *t == ' ')
                    t++, tl--;
                if (tl)
                    it->detail = me_imap_disp(s, t, tl);
            }
            return (int)i;
        }
    }
    return -1;
}

static bool code_is(int code, me_text_id t)
{
    return code >= 0 && codes[code].text == t;
}

/* ---- server side ---- */

/* Mid-session: the server speaks; guess the phase from what it says.
 * strong: the response exists only in that phase (message data). */
static void srv_infer(me_session *s, imap_state *st, me_item *it, me_phase guess, bool strong)
{
    if (!st->mid)
        return;
    st->srv_synced = true;
    if (!s->mid_noted)
        me_mark_inferred(s, it, guess); /* the first line of a mid-session capture */
    else if (s->inferred && strong && me_imap_rank(s->phase) < me_imap_rank(guess))
        me_mark_inferred(s, it, guess); /* the guess was too shallow */
}

/* The states each command is valid in (imap_int.h's list). */
static const unsigned cmd_phases[CMD_COUNT] = {
    PH_ANY,
#define X(n, ph, tx) ph,
    IMAP_COMMANDS(X)
#undef X
};

/* A response only a logged-in session gets (to a command not valid in Not
 * Authenticated, RFC 9051 §6.3-6.4) while the session is still Not
 * Authenticated and no command of the client waits for it: the login was
 * not captured (only the server's side was, or its segment was lost).  The
 * state is inferred from it, as POP3 infers TRANSACTION from a listing. */
static void srv_logged_in(me_session *s, imap_state *st, me_item *it, me_phase guess)
{
    if (st->mid || s->inferred || s->phase != ME_PHASE_AUTH || s->pend_count ||
        (s->tls && !s->decrypted))
        return;
    me_mark_inferred(s, it, guess);
}

/* A command valid only once logged in completed OK while a LOGIN or
 * AUTHENTICATE sent before it still waits for its reply: a server finishes a
 * login before it runs the commands behind it (RFC 9051 §5.5) and refuses
 * them in Not Authenticated (§3, §6.2), so the login succeeded and its reply
 * was lost.  That attempt gets its verdict on IT, the reply that proves it,
 * and Authenticated opens there as a guess. */
static void login_reply_lost(me_session *s, imap_state *st, me_item *it)
{
    me_pending *w = me_pend_newest(s, (1ull << CMD_LOGIN) | (1ull << CMD_AUTHENTICATE));
    me_pending lp;
    if (!w || !w->tag || !me_pend_take_tag(s, w->tag, &lp))
        return;
    if (lp.cred)
        me_cred_result_of(s, lp.cred, it, ME_RESULT_SUCCESS, ME_FAIL_NONE);
    me_pend_release(s, &lp);
    if (lp.cmd == CMD_AUTHENTICATE)
        st->in_sasl = false;
    st->authed = true;
    if (me_imap_rank(s->phase) < me_imap_rank(ME_PHASE_AUTHENTICATED))
        me_infer_after_loss(s, it, ME_PHASE_AUTHENTICATED);
}

static void after_tls(imap_state *st)
{
    me_imap_reset_lines(st);
    st->login_disabled = false; /* RFC 9051 §6.2.1: capabilities are asked again */
}

/* What a failed LOGIN or AUTHENTICATE's reply says of the secret (RFC 9051
 * §7.1, RFC 5530 §3): BAD is no verdict (the command was not carried out),
 * AUTHORIZATIONFAILED a right secret for an identity that may not be used,
 * and the codes of temporary, policy and TLS refusals judged nothing;
 * AUTHENTICATIONFAILED or a plain NO is the credentials (ME_FAIL_NONE). */
static me_failure login_failure(const me_item *it, int code)
{
    static const me_text_id refused[] = {
        TXT_IMAP_CODE_UNAVAILABLE, TXT_IMAP_CODE_PRIVACYREQUIRED, TXT_IMAP_CODE_CANNOT,
        TXT_IMAP_CODE_EXPIRED,     TXT_IMAP_CODE_CONTACTADMIN,    TXT_IMAP_CODE_LIMIT,
        TXT_IMAP_CODE_INUSE,       TXT_IMAP_CODE_SERVERBUG,       TXT_IMAP_CODE_CLIENTBUG};
    size_t i;
    if (it->bad)
        return ME_FAIL_REFUSED;
    if (code_is(code, TXT_IMAP_CODE_AUTHORIZATIONFAILED))
        return ME_FAIL_AUTHORIZATION;
    for (i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (code_is(code, refused[i]))
            return ME_FAIL_REFUSED;
    return ME_FAIL_NONE;
}

/* Records a server line in the state its command was read in (AUX, the
 * pending command's aux): a late reply to a command pipelined behind later
 * ones is shown where it was, starting no phase the session has left.  A
 * state the session never reached (the login ahead failed) is not shown. */
static void command_state(me_session *s, me_item *it, uint32_t aux)
{
    me_phase ph = AUX_PHASE(aux);
    if (ph != ME_PHASE_NONE && me_imap_rank(ph) <= me_imap_rank(s->phase))
        me_record_phase(s, it, ph, (aux & AUX_INFERRED) != 0, true);
}

static void reply_for(me_session *s, imap_state *st, me_item *it, const me_pending *pc,
                      me_status status, int code)
{
    bool ok = status == ME_STATUS_OK, late, was_authed, others;
    switch (pc->cmd) {
    case CMD_LOGIN:
    case CMD_AUTHENTICATE:
        if (pc->cmd == CMD_AUTHENTICATE && st->sasl_tag && pc->tag &&
            strcmp(st->sasl_tag, pc->tag) == 0)
            st->in_sasl = false;
        /* sent once logged in (RFC 9051 §6.2: only valid in Not
         * Authenticated; flagged then), a refusal judges the command, not
         * the secret */
        /* or pipelined behind a login that succeeded: the server refuses
         * it as sent once logged in (§6.2.3), whatever the password */
        was_authed = st->authed;
        late = (pc->aux & 1u) != 0 || was_authed;
        if (it->bad && pc->cmd == CMD_AUTHENTICATE && pc->cred && pc->cred->is_sasl &&
            pc->cred->sasl.cancelled)
            it->explain = TXT_IMAP_AUTH_CANCELLED; /* the BAD a cancel must get */
        else if (it->bad || (!ok && (late || s->phase == ME_PHASE_LOGOUT)))
            ; /* not carried out, or after the server's BYE: the tagged BAD/NO
               * text says so, and no state is claimed */
        else if (pc->cmd == CMD_LOGIN)
            it->explain = ok ? TXT_IMAP_LOGIN_OK : TXT_IMAP_LOGIN_NO;
        else
            it->explain = ok ? TXT_IMAP_AUTH_OK : TXT_IMAP_AUTH_NO;
        /* LOGINDISABLED in force outside TLS (RFC 9051 §6.2.3): the server
         * refuses LOGIN without looking at the password */
        if (pc->cmd == CMD_LOGIN && st->login_disabled && !s->tls)
            late = true;
        if (pc->cred) /* none: the command began no attempt (malformed) */
            me_cred_result_of(s, pc->cred, it, ok ? ME_RESULT_SUCCESS : ME_RESULT_FAILURE,
                              late ? ME_FAIL_REFUSED : login_failure(it, code));
        if (ok)
            st->authed = true;
        if (ok && me_imap_rank(s->phase) < me_imap_rank(ME_PHASE_AUTHENTICATED))
            me_set_phase(s, ME_PHASE_AUTHENTICATED); /* not back from later pipelined states */
        else if (!ok && !(pc->aux & 1u) && !was_authed && s->phase != ME_PHASE_AUTH &&
                 s->phase != ME_PHASE_LOGOUT &&
                 !me_imap_login_pending(s)) {
            /* commands pipelined behind it assumed a success (RFC 9051 §6.2.3:
             * a NO leaves the session Not Authenticated) */
            me_set_phase_now(s, it, ME_PHASE_AUTH);
            s->mailbox = NULL;
        }
        break;
    case CMD_SELECT:
    case CMD_EXAMINE:
        /* another SELECT/EXAMINE still waiting may be the one the [CLOSED]
         * belongs to (replies can come out of order, helper 22) */
        others = me_pend_any(s, (1ull << CMD_SELECT) | (1ull << CMD_EXAMINE));
        if (ok) {
            it->explain = pc->cmd == CMD_SELECT && !code_is(code, TXT_IMAP_CODE_READ_ONLY)
                              ? TXT_IMAP_SELECT_OK
                              : TXT_IMAP_EXAMINE_OK;
            it->mailbox = pc->arg;
            s->mailbox = pc->arg;
            if (s->phase != ME_PHASE_LOGOUT) /* RFC 9051 §3: no way back from Logout */
                me_set_phase(s, ME_PHASE_SELECTED);
        } else if (!it->bad || (st->mailbox_closed && !others)) {
            /* RFC 9051 §6.3.2: a failed SELECT leaves no mailbox selected;
             * a BAD too once the server said [CLOSED] (§7.1): the old
             * mailbox is closed and no new one opened */
            it->explain = TXT_IMAP_SELECT_NO;
            if (s->phase == ME_PHASE_SELECTED)
                me_set_phase(s, ME_PHASE_AUTHENTICATED);
            s->mailbox = NULL;
        }
        if (!others)
            st->mailbox_closed = false;
        break;
    case CMD_CLOSE:
    case CMD_UNSELECT:
        if (ok) {
            it->explain = pc->cmd == CMD_CLOSE ? TXT_IMAP_CLOSE_OK : TXT_IMAP_UNSELECT_OK;
            if (s->phase == ME_PHASE_SELECTED)
                me_set_phase(s, ME_PHASE_AUTHENTICATED);
            s->mailbox = NULL;
        }
        break;
    case CMD_LOGOUT:
        if (ok) {
            it->explain = TXT_IMAP_LOGOUT_OK;
            if (s->phase != ME_PHASE_LOGOUT) /* pipelined, with no BYE seen */
                me_set_phase_now(s, it, ME_PHASE_LOGOUT);
        }
        break;
    case CMD_COMPRESS:
        if (ok) {
            it->explain = TXT_IMAP_COMPRESS_OK;
            me_start_compress(s);
        }
        break;
    case CMD_STARTTLS:
        if (ok) {
            it->explain = TXT_IMAP_STARTTLS_OK;
            it->flags |= ME_W_TLS_START;
            me_start_tls(s);
            after_tls(st);
        } else {
            it->explain = TXT_IMAP_STARTTLS_REFUSED;
            me_tls_refused(s, it);
        }
        break;
    case CMD_IDLE:
        st->idle = false;
        if (ok)
            it->explain = TXT_IMAP_IDLE_OK;
        me_respond(s, st->done_item, it->frame);
        st->done_item = me_ref_of(NULL);
        break;
    case CMD_APPEND:
        if (ok)
            it->explain = TXT_IMAP_APPEND_OK;
        break;
    default:
        break;
    }
}

static me_status status_word(const char *w, size_t wl)
{
    if (me_ieq(w, wl, "OK"))
        return ME_STATUS_OK;
    if (me_ieq(w, wl, "NO") || me_ieq(w, wl, "BAD"))
        return ME_STATUS_ERROR;
    return ME_STATUS_NONE;
}

static void tagged(me_session *s, imap_state *st, const char *l, size_t n)
{
    const char *tag, *after, *w, *rest;
    size_t tl, al, wl, rl, i;
    me_status status;
    me_pending pc;
    me_item *it;
    int code;

    me_first_word(l, n, &tag, &tl, &after, &al);
    me_first_word(after, al, &w, &wl, &rest, &rl);
    status = status_word(w, wl);
    if (!me_imap_valid_tag(tag, tl) || status == ME_STATUS_NONE) {
        if (st->mid && !st->srv_synced) {
            /* inside a literal that began before the capture */
            it = me_imap_new_item(s, st, ME_SERVER, ME_KIND_DATA);
            it->explain = TXT_IMAP_MIDSESSION_DATA;
            it->data_len = (uint32_t)n + 2;
            if (!s->inferred)
                me_mark_inferred(s, it, ME_PHASE_SELECTED);
            return;
        }
        it = me_imap_new_item(s, st, ME_SERVER, ME_KIND_UNKNOWN);
        it->explain = me_imap_valid_tag(tag, tl) && wl ? TXT_IMAP_BAD_STATUS : TXT_IMAP_BAD_RESPONSE;
        it->flags |= ME_W_MALFORMED;
        if (n)
            it->argument = me_imap_disp(s, l, n);
        return;
    }
    /* The server completes a command the client's side is still assembling
     * (RFC 9051 §2.2.2: a server answers whole commands): the rest of the
     * client's line was lost, and the gap is not known yet on that side (an
     * acknowledgement that runs ahead waits for the client's next segment).
     * The command ends here, before its reply (helper 22). */
    if (st->c.active && !st->c.sync_wait && st->c.tag && strlen(st->c.tag) == tl &&
        memcmp(st->c.tag, tag, tl) == 0 && !me_pend_with_tag(s, st->c.tag))
        me_imap_end_cut_line(s, st);
    it = me_imap_new_item(s, st, ME_SERVER, ME_KIND_REPLY);
    it->tag = me_rstrndup(s, tag, tl);
    it->status = status;
    it->bad = me_ieq(w, wl, "BAD");
    for (i = 0; i < wl && !(w[i] >= 'a' && w[i] <= 'z'); i++)
        ;
    if (i < wl) /* "a2 ok": the line as sent (helper 22) */
        it->verb = me_rstrndup(s, w, wl);
    it->explain = status == ME_STATUS_OK          ? TXT_IMAP_TAGGED_OK
                  : me_ieq(w, wl, "NO")            ? TXT_IMAP_TAGGED_NO
                                                   : TXT_IMAP_TAGGED_BAD;
    if (rl)
        it->argument = me_imap_disp(s, rest, rl);
    code = resp_code(s, st, it, rest, rl);
    srv_infer(s, st, it, ME_PHASE_AUTHENTICATED, false);

    if (st->c.sync_wait && st->c.tag && strcmp(st->c.tag, it->tag) == 0) {
        /* the server refused a synchronizing literal: its bytes never come */
        st->c.sync_wait = false;
        st->c.active = false;
        if (!it->explain2)
            it->explain2 = TXT_IMAP_LITERAL_REFUSED;
        if (st->c.first)
            it->request_in = st->c.first;
        return;
    }
    if (me_pend_take_tag(s, it->tag, &pc)) {
        me_link(s, pc.item, it);
        /* a late reply to a pipelined command shows its command's state,
         * starting no phase the session has left */
        command_state(s, it, pc.aux);
        if (status == ME_STATUS_OK && !st->authed && pc.cmd >= 0 && !(cmd_phases[pc.cmd] & PH_N))
            login_reply_lost(s, st, it);
        reply_for(s, st, it, &pc, status, code);
        me_pend_release(s, &pc);
        return;
    }
    /* a command we did not see (capture began later) */
    if (st->in_sasl && st->sasl_tag && strcmp(st->sasl_tag, it->tag) == 0 && s->cred &&
        !s->cred->held) { /* not an attempt a seen command still waits to have judged */
        st->in_sasl = false;
        me_cred_result(s, it, status == ME_STATUS_OK ? ME_RESULT_SUCCESS : ME_RESULT_FAILURE,
                       login_failure(it, code));
        if (status == ME_STATUS_OK)
            me_set_phase(s, ME_PHASE_AUTHENTICATED);
    } else if (status == ME_STATUS_OK && (code_is(code, TXT_IMAP_CODE_READ_WRITE) ||
                                          code_is(code, TXT_IMAP_CODE_READ_ONLY))) {
        me_set_phase(s, ME_PHASE_SELECTED); /* the completion of a SELECT/EXAMINE */
    }
}

/* The server's BYE opens Logout on its own line (RFC 9051 §3.4).  A state
 * entered by a reply just before (a login's or a pipelined EXAMINE's OK,
 * whose next line would have shown it) is kept as passed through, so the
 * reports list every state the session reached. */
static void enter_logout(me_session *s, me_item *it)
{
    if (it->phase_start && it->phase != ME_PHASE_LOGOUT && it->phase != s->prev_shown)
        it->passed = it->phase;
    me_set_phase_now(s, it, ME_PHASE_LOGOUT);
}

/* "* OK/NO/BAD/BYE/PREAUTH text" (RFC 9051 §7.1). */
static void untagged_status(me_session *s, imap_state *st, me_item *it, const char *w, size_t wl,
                            const char *rest, size_t rl)
{
    int code = resp_code(s, st, it, rest, rl);
    it->status = status_word(w, wl);
    srv_infer(s, st, it,
              code_is(code, TXT_IMAP_CODE_UIDVALIDITY) || code_is(code, TXT_IMAP_CODE_UIDNEXT) ||
                      code_is(code, TXT_IMAP_CODE_UNSEEN) ||
                      code_is(code, TXT_IMAP_CODE_PERMANENTFLAGS)
                  ? ME_PHASE_SELECTED
                  : ME_PHASE_AUTHENTICATED,
              false);
    if (me_ieq(w, wl, "OK")) {
        it->explain = TXT_IMAP_UNTAGGED_OK;
        if (code_is(code, TXT_IMAP_CODE_CLOSED))
            st->mailbox_closed = true;
    } else if (me_ieq(w, wl, "NO")) {
        it->explain = TXT_IMAP_UNTAGGED_NO;
    } else if (me_ieq(w, wl, "BAD")) {
        it->explain = TXT_IMAP_UNTAGGED_BAD;
    } else if (me_ieq(w, wl, "PREAUTH")) {
        it->explain = TXT_IMAP_PREAUTH_LATE;
        it->flags |= ME_W_MALFORMED;
    } else if (st->logout_sent) {
        it->explain = TXT_IMAP_BYE_LOGOUT;
        if (s->phase != ME_PHASE_LOGOUT) /* a pipelined LOGOUT's effect */
            enter_logout(s, it);
    } else {
        /* RFC 9051 §7.1.5: an unsolicited BYE ends the session; §3.4: the
         * server's own action enters Logout, so the BYE is its first line,
         * as the BYE that answers a LOGOUT is (often no line comes after) */
        it->explain = TXT_IMAP_BYE;
        if (s->phase != ME_PHASE_LOGOUT)
            enter_logout(s, it);
    }
}

/* "* n EXISTS", "* n FETCH (...)": message data (RFC 9051 §7.4, §7.5). */
static void untagged_numbered(me_session *s, imap_state *st, me_item *it, const char *w,
                              size_t wl, const char *rest, size_t rl)
{
    const char *w2, *r2;
    size_t w2l, r2l;
    uint64_t num;
    uint32_t c = 0;
    me_first_word(rest, rl, &w2, &w2l, &r2, &r2l);
    if (!me_parse_u64(w, wl, &num))
        it->flags |= ME_W_MALFORMED;
    if (me_ieq(w2, w2l, "EXISTS")) {
        c = me_imap_pending_of(s, CMD_SELECT, CMD_EXAMINE);
        it->explain = TXT_IMAP_EXISTS;
    } else if (me_ieq(w2, w2l, "RECENT")) {
        it->explain = TXT_IMAP_RECENT;
    } else if (me_ieq(w2, w2l, "EXPUNGE")) {
        c = me_imap_pending_of(s, CMD_EXPUNGE, CMD_MOVE);
        it->explain = TXT_IMAP_EXPUNGE_DATA;
    } else if (me_ieq(w2, w2l, "FETCH")) {
        c = me_imap_pending_of(s, CMD_FETCH, CMD_STORE);
        it->explain = TXT_IMAP_FETCH_DATA;
    } else {
        it->explain = TXT_IMAP_UNTAGGED_OTHER;
        if (!w2l)
            it->flags |= ME_W_MALFORMED;
    }
    if (c)
        it->request_in = c;
    srv_infer(s, st, it, ME_PHASE_SELECTED, true);
    if (it->explain != TXT_IMAP_UNTAGGED_OTHER) /* mailbox data: a mailbox is selected */
        srv_logged_in(s, st, it, ME_PHASE_SELECTED);
}

/* "* CAPABILITY ...", "* LIST ...": data named by its first word (RFC 9051 §7.2-7.3). */
static void untagged_data(me_session *s, imap_state *st, me_item *it, const char *w, size_t wl,
                          const char *rest, size_t rl)
{
    size_t i;
    it->explain = TXT_IMAP_UNTAGGED_OTHER;
    if (!wl)
        it->flags |= ME_W_MALFORMED;
    int cmd = CMD_UNKNOWN;
    for (i = 0; i < sizeof(data_resps) / sizeof(data_resps[0]); i++) {
        if (me_ieq(w, wl, data_resps[i].name)) {
            cmd = data_resps[i].cmd;
            uint32_t c = data_resps[i].cmd != CMD_UNKNOWN
                             ? me_imap_pending_of(s, data_resps[i].cmd,
                                                  data_resps[i].cmd == CMD_SELECT ? CMD_EXAMINE
                                                                                  : CMD_UNKNOWN)
                             : 0;
            it->explain = data_resps[i].text;
            if (c)
                it->request_in = c;
            break;
        }
    }
    if (it->explain == TXT_IMAP_CAPABILITY_DATA)
        it->explain2 = capabilities(s, st, rest, rl);
    srv_infer(s, st, it,
              it->explain == TXT_IMAP_FLAGS_DATA || it->explain == TXT_IMAP_SEARCH_DATA
                  ? ME_PHASE_SELECTED
                  : ME_PHASE_AUTHENTICATED,
              it->explain == TXT_IMAP_SEARCH_DATA);
    if (cmd != CMD_UNKNOWN && !(cmd_phases[cmd] & PH_N))
        srv_logged_in(s, st, it,
                      it->explain == TXT_IMAP_FLAGS_DATA || it->explain == TXT_IMAP_SEARCH_DATA
                          ? ME_PHASE_SELECTED
                          : ME_PHASE_AUTHENTICATED);
}

static void untagged(me_session *s, imap_state *st, const char *l, size_t n)
{
    const char *w, *rest;
    size_t wl, rl;
    me_item *it = me_imap_new_item(s, st, ME_SERVER, ME_KIND_REPLY);
    uint64_t num;
    bool plus, bad = false;
    size_t mark;

    me_pending head;

    /* the data of the oldest pending command, which the server is working
     * on (it answers in order, RFC 9051 §5.5): in that command's state, as
     * if it had been sent alone, whatever was pipelined behind it */
    if (!st->mid && me_pend_peek(s, &head))
        command_state(s, it, head.aux);
    me_first_word(l + 2, n - 2, &w, &wl, &rest, &rl);
    if (st->mid && !st->srv_synced && !s->pend_count && me_ieq(w, wl, "BYE")) {
        /* before the server's side is in step, a "* BYE" is as likely a line
         * of a literal that began before the capture (a quoted mail) as the
         * end of the session: the lines after it decide, not it */
        it->kind = ME_KIND_DATA;
        it->explain = TXT_IMAP_MIDSESSION_DATA;
        it->data_len = (uint32_t)n + 2;
        if (!s->inferred)
            me_mark_inferred(s, it, ME_PHASE_SELECTED);
        return;
    }
    it->argument = me_imap_disp(s, l + 2, n - 2);
    if (status_word(w, wl) != ME_STATUS_NONE || me_ieq(w, wl, "BYE") ||
        me_ieq(w, wl, "PREAUTH")) {
        untagged_status(s, st, it, w, wl, rest, rl);
        return;
    }
    if (wl && w[0] >= '0' && w[0] <= '9')
        untagged_numbered(s, st, it, w, wl, rest, rl);
    else
        untagged_data(s, st, it, w, wl, rest, rl);
    /* data responses may carry literals (FETCH bodies, LIST names) */
    if (me_imap_literal_end(l, n, &num, &plus, &mark, &bad)) {
        st->srv_cont = true;
        me_expect_counted(s, ME_SERVER, num, false, TXT_IMAP_LITERAL);
    } else if (bad) {
        it->flags |= ME_W_MALFORMED;
    }
}

/* The rest of a server line after one of its literals. */
static void server_rest(me_session *s, imap_state *st, const char *l, size_t n)
{
    uint64_t num;
    bool plus, bad = false;
    size_t mark;
    if (!s->head) {
        me_item *it = me_imap_new_item(s, st, ME_SERVER, ME_KIND_DATA);
        it->explain = TXT_IMAP_LINE_REST;
        it->data_len = (uint32_t)n + 2;
    }
    if (me_imap_literal_end(l, n, &num, &plus, &mark, &bad)) {
        me_expect_counted(s, ME_SERVER, num, false, TXT_IMAP_LITERAL);
        return;
    }
    st->srv_cont = false;
    if (bad && s->tail)
        s->tail->flags |= ME_W_MALFORMED;
}

static void continuation(me_session *s, imap_state *st, const char *l, size_t n)
{
    size_t skip = (n >= 2 && l[1] == ' ') ? 2 : 1;
    me_item *it = me_imap_new_item(s, st, ME_SERVER, ME_KIND_CHALLENGE);
    it->status = ME_STATUS_CONTINUE;
    it->argument = me_rstrndup(s, "", 0);
    if (n > skip)
        it->argument = me_imap_disp(s, l + skip, n - skip);
    srv_infer(s, st, it, s->phase, false);
    if (st->c.sync_wait) {
        /* go-ahead for the client's synchronizing literal */
        st->c.sync_wait = false;
        it->explain = TXT_IMAP_CONT_LITERAL;
        if (st->c.first)
            it->request_in = st->c.first;
        me_expect_counted(s, ME_CLIENT, st->c.sync_n, st->c.capture, TXT_IMAP_LITERAL);
        return;
    }
    if (st->in_sasl && s->cred && s->cred->is_sasl) {
        /* "+ base64": a SASL challenge (RFC 9051 §6.2.2) */
        me_sasl_out o;
        uint32_t c = me_imap_pending_tag(s, st->sasl_tag);
        me_sasl_server(&s->cred->sasl, l + skip, n > skip ? n - skip : 0, &o);
        me_cred_apply_sasl(s, it, &o);
        it->explain = TXT_SASL_CHALLENGE;
        it->explain2 = o.explain == TXT_SASL_CHALLENGE ? TXT_NONE : o.explain;
        if (o.decoded)
            it->detail = o.decoded;
        if (c)
            it->request_in = c;
        return;
    }
    if (st->idle) {
        uint32_t c = me_imap_pending_tag(s, st->idle_tag);
        it->explain = TXT_IMAP_CONT_IDLE;
        if (c)
            it->request_in = c;
        return;
    }
    it->explain = TXT_IMAP_CONT;
    resp_code(s, st, it, l + skip, n > skip ? n - skip : 0);
}

/* The first server line: the greeting (RFC 9051 §7.1.1, §7.1.4, §7.1.5).
 * Returns false when it is not one (the capture began mid-session). */
static bool greeting(me_session *s, imap_state *st, const char *l, size_t n)
{
    const char *w, *rest;
    size_t wl, rl;
    me_item *it;
    me_phase ph;
    me_text_id text;

    st->greeted = true;
    if (n < 2 || l[0] != '*' || l[1] != ' ') {
        st->mid = true;
        return false;
    }
    me_first_word(l + 2, n - 2, &w, &wl, &rest, &rl);
    if (me_ieq(w, wl, "OK")) {
        ph = ME_PHASE_AUTH;
        text = TXT_IMAP_GREETING;
    } else if (me_ieq(w, wl, "PREAUTH")) {
        ph = ME_PHASE_AUTHENTICATED;
        text = TXT_IMAP_GREETING_PREAUTH;
    } else if (me_ieq(w, wl, "BYE")) {
        ph = ME_PHASE_LOGOUT;
        text = TXT_IMAP_GREETING_BYE;
    } else {
        st->mid = true;
        return false;
    }
    if (!s->start_seen && ph == ME_PHASE_AUTH &&
        (me_iprefix(rest, rl, "[UIDVALIDITY") || me_iprefix(rest, rl, "[UIDNEXT") ||
         me_iprefix(rest, rl, "[UNSEEN") || me_iprefix(rest, rl, "[PERMANENTFLAGS") ||
         me_iprefix(rest, rl, "[READ-") || me_iprefix(rest, rl, "[HIGHESTMODSEQ"))) {
        st->mid = true; /* the * OK of a SELECT seen mid-session */
        return false;
    }
    it = me_imap_new_item(s, st, ME_SERVER, ME_KIND_REPLY);
    it->status = ph == ME_PHASE_LOGOUT ? ME_STATUS_ERROR : ME_STATUS_OK;
    it->explain = text;
    /* the whole line after "* ", as for every untagged response: the status
     * word (OK, PREAUTH, BYE) is what decides the first state (§7.1) */
    it->argument = me_imap_disp(s, l + 2, n - 2);
    me_set_phase_now(s, it, ph);
    resp_code(s, st, it, rest, rl);
    if (!s->start_seen)
        me_mark_inferred(s, it, ph); /* no handshake: the greeting is our best guess */
    return true;
}

void me_imap_server_line(me_session *s, imap_state *st, const char *l, size_t n)
{
    if (st->srv_cont) {
        server_rest(s, st, l, n);
        return;
    }
    if (!st->greeted && greeting(s, st, l, n))
        return;
    if (n >= 1 && l[0] == '+') {
        continuation(s, st, l, n);
        return;
    }
    if (n >= 2 && l[0] == '*' && l[1] == ' ') {
        untagged(s, st, l, n);
        return;
    }
    tagged(s, st, l, n);
}
