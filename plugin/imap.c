/* imap.c - IMAP engine: RFC 9051 / RFC 3501 states and tags, literals
 * (RFC 9051 §4.3, LITERAL+ RFC 7888), AUTHENTICATE with SASL-IR (RFC 4959),
 * IDLE (RFC 2177), UNSELECT (RFC 3691), MOVE (RFC 6851), ENABLE (RFC 5161).
 *
 * Lines and literals.  A line that ends in {N} or {N+} is followed by exactly
 * N bytes, then the SAME logical line goes on.  The session core reads those
 * bytes by count (me_expect_counted) so that a message body is never taken
 * for commands.  The client's logical line is assembled here: its pieces and
 * the kept bytes of its literals (only for LOGIN/AUTHENTICATE/SELECT/EXAMINE,
 * at most LIT_KEEP bytes each) go into one buffer, and the command's record is
 * made when the line ends.  A synchronizing literal {N} is read only once the
 * server said "+" (a server may refuse it with a tagged NO/BAD, and then the
 * bytes never come).  A server response gets its record where it begins; the
 * rest of its line after a literal is absorbed. */
#include <string.h>

#include "imap_int.h"

static const struct {
    const char *name;
    unsigned phases;
    me_text_id text;
} cmds[CMD_COUNT] = {
    {"", PH_ANY, TXT_IMAP_UNKNOWN_CMD},
#define X(n, ph, tx) {#n, ph, tx},
    IMAP_COMMANDS(X)
#undef X
};


static void init(me_session *s)
{
    s->st = s->a.alloc(s->a.ctx, sizeof(imap_state));
    s->phase = ME_PHASE_AUTH;
}

/* ---- small helpers ---- */

me_item *me_imap_new_item(me_session *s, imap_state *st, me_dir dir, me_kind kind)
{
    (void)st; /* the core puts the selected mailbox (s->mailbox) on every record */
    return me_item_new(s, dir, kind);
}

/* A copy of bytes fit for display: control bytes escaped. */
const char *me_imap_disp(me_session *s, const char *p, size_t n)
{
    size_t i;
    char *r;
    for (i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
            break;
    if (i == n)
        return me_rstrndup(s, p, n);
    r = me_ralloc(s, 4 * n + 1);
    return me_printable((const uint8_t *)p, n, r);
}

/* ATOM-CHAR minus "+" (RFC 9051 §9: tag = 1*<any ASTRING-CHAR except "+">) */
static bool tag_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("(){%*\"\\+", c);
}

bool me_imap_valid_tag(const char *p, size_t n)
{
    size_t i;
    if (n == 0)
        return false;
    for (i = 0; i < n; i++)
        if (!tag_char((unsigned char)p[i]))
            return false;
    return true;
}

static bool valid_verb(const char *p, size_t n)
{
    size_t i;
    if (n == 0 || !((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z')))
        return false;
    for (i = 1; i < n; i++)
        if (!tag_char((unsigned char)p[i]) || p[i] == ']')
            return false;
    return true;
}

static int lookup(const char *w, size_t n)
{
    int i;
    for (i = 1; i < CMD_COUNT; i++)
        if (me_ieq(w, n, cmds[i].name))
            return i;
    return CMD_UNKNOWN;
}

/* Ranks for "a deeper phase": inference only moves forward. */
int me_imap_rank(me_phase p)
{
    switch (p) {
    case ME_PHASE_AUTH: return 1;
    case ME_PHASE_AUTHENTICATED: return 2;
    case ME_PHASE_SELECTED: return 3;
    case ME_PHASE_LOGOUT: return 4;
    default: return 0;
    }
}

/* The phase a command suggests when the capture began mid-session. */
static me_phase guess_for(int cmd)
{
    unsigned ph = cmds[cmd].phases;
    if (ph == PH_S)
        return ME_PHASE_SELECTED;
    if (ph == PH_N)
        return ME_PHASE_AUTH;
    return ME_PHASE_AUTHENTICATED;
}

/* A line ending in {N} or {N+}.  *bad: it looks like one but the count is absurd. */
bool me_imap_literal_end(const char *l, size_t n, uint64_t *num, bool *plus, size_t *mark, bool *bad)
{
    size_t e, i;
    if (n < 3 || l[n - 1] != '}')
        return false;
    e = n - 1;
    *plus = l[e - 1] == '+';
    if (*plus)
        e--;
    i = e;
    while (i > 0 && l[i - 1] >= '0' && l[i - 1] <= '9')
        i--;
    if (i == e || i == 0 || l[i - 1] != '{')
        return false;
    *mark = i - 1;
    if (!me_parse_u64(l + i, e - i, num) || *num > LIT_MAX) {
        *bad = true;
        return false;
    }
    return true;
}

/* The newest pending command of the given kind (for untagged data), or NULL. */
uint32_t me_imap_pending_of(const me_session *s, int cmd, int alt)
{
    uint64_t mask = ((uint64_t)1 << cmd) | (alt != CMD_UNKNOWN ? (uint64_t)1 << alt : 0);
    const me_pending *p = me_pend_newest(s, mask);
    return p ? p->item.frame : 0;
}

uint32_t me_imap_pending_tag(const me_session *s, const char *tag)
{
    const me_pending *p = me_pend_with_tag(s, tag);
    return p ? p->item.frame : 0;
}

/* One walk of the pending commands, in order, as if each succeeds (RFC 9051
 * §3): LOGIN and AUTHENTICATE open Authenticated, SELECT and EXAMINE open
 * Selected, CLOSE and UNSELECT go back to Authenticated.  With cmd < 0,
 * returns the state the walk ends in; else the last state on the way,
 * current state excluded, that cmd is valid in (RFC 9051 §6), or
 * ME_PHASE_NONE when no pending command makes it valid. */
static me_phase walk_pending(const me_session *s, int cmd)
{
    unsigned i;
    me_phase ph = s->phase, valid = ME_PHASE_NONE;
    for (i = 0; i < s->pend_count; i++) {
        int c = me_pend_at(s, i)->cmd;
        if ((c == CMD_LOGIN || c == CMD_AUTHENTICATE) && ph == ME_PHASE_AUTH)
            ph = ME_PHASE_AUTHENTICATED;
        else if ((c == CMD_SELECT || c == CMD_EXAMINE) && ph != ME_PHASE_AUTH)
            ph = ME_PHASE_SELECTED;
        else if ((c == CMD_CLOSE || c == CMD_UNSELECT) && ph == ME_PHASE_SELECTED)
            ph = ME_PHASE_AUTHENTICATED;
        else
            continue;
        if (cmd >= 0 && (cmds[cmd].phases & (1u << ph)))
            valid = ph;
    }
    return cmd < 0 ? ph : valid;
}

/* The state a command pipelined behind pending commands runs in (RFC 9051
 * §5.5), when one of them makes it valid; else ME_PHASE_NONE. */
static me_phase reachable(const me_session *s, int cmd)
{
    return walk_pending(s, cmd);
}

/* The state the session is in once every pending command has succeeded, in
 * order: where a command sent now runs. */
static me_phase projected(const me_session *s)
{
    return walk_pending(s, -1);
}

/* A LOGIN or AUTHENTICATE still waits for its reply. */
bool me_imap_login_pending(const me_session *s)
{
    return me_pend_any(s, ((uint64_t)1 << CMD_LOGIN) | ((uint64_t)1 << CMD_AUTHENTICATE));
}

void me_imap_reset_lines(imap_state *st)
{
    st->c.active = st->c.sync_wait = st->c.cur_lit = false;
    st->c.len = 0;
    st->c.nlit = 0;
    st->srv_cont = false;
    st->in_sasl = false;
    st->idle = false;
}

/* ---- client side ---- */

/* Room for n more bytes (at most up to BUF_CAP): the buffer doubles as the
 * logical line grows, so a session of short lines costs little (issue 14). */
static void reserve(me_session *s, imap_cline *c, size_t n)
{
    size_t want = c->len + (n < BUF_CAP - c->len ? n : BUF_CAP - c->len) + 1, cap;
    char *nb;
    if (c->buf && want <= c->cap)
        return;
    for (cap = c->cap ? c->cap : 256u; cap < want; cap *= 2)
        ;
    if (cap > BUF_CAP + 1)
        cap = BUF_CAP + 1;
    nb = s->a.alloc(s->a.ctx, cap);
    if (c->buf) {
        memcpy(nb, c->buf, c->len);
        if (s->a.free)
            s->a.free(s->a.ctx, c->buf);
    }
    c->buf = nb;
    c->cap = cap;
}

static void append(me_session *s, imap_cline *c, const char *p, size_t n)
{
    reserve(s, c, n);
    if (n > BUF_CAP - c->len) {
        n = BUF_CAP - c->len;
        c->overflow = true;
    }
    memcpy(c->buf + c->len, p, n);
    c->len += n;
}

/* Bytes of the literal being read (kept only when the line wants them). */
static void lit_bytes(me_session *s, imap_cline *c, const char *p, size_t n)
{
    imap_lit *L;
    size_t room;
    if (!c->capture || !c->cur_lit || !c->nlit)
        return;
    L = &c->lits[c->nlit - 1];
    if (!L->frame && n)
        L->frame = s->frame;
    room = L->kept < LIT_KEEP ? LIT_KEEP - L->kept : 0;
    if (n > room)
        n = room;
    reserve(s, c, n);
    if (n > BUF_CAP - c->len) {
        n = BUF_CAP - c->len;
        c->overflow = true;
    }
    memcpy(c->buf + c->len, p, n);
    c->len += n;
    L->kept += n;
}

/* Reads an astring (atom, quoted string with its escapes resolved, or
 * literal) of the logical line at *pos.  NULL at the end of the line.
 * [*b, *e) is the span it covers in the buffer. */
static const char *astring(me_session *s, const imap_cline *c, size_t *pos, size_t *b, size_t *e,
                           bool *bad)
{
    const char *p = c->buf;
    size_t n = c->len, i = *pos;
    unsigned k;
    while (i < n && p[i] == ' ')
        i++;
    *b = i;
    if (i >= n) {
        *pos = *e = i;
        return NULL;
    }
    if (p[i] == '"') {
        char *v = s->a.alloc(s->a.ctx, n - i + 1);
        size_t o = 0;
        for (i++; i < n && p[i] != '"'; i++) {
            if (p[i] == '\\' && i + 1 < n)
                i++;
            v[o++] = p[i];
        }
        if (i >= n)
            *bad = true; /* unterminated quoted string */
        else
            i++;
        v[o] = '\0';
        *pos = *e = i;
        return v;
    }
    for (k = 0; k < c->nlit; k++) {
        if (c->lits[k].mark == i) {
            *pos = *e = c->lits[k].start + c->lits[k].kept;
            /* bytes never captured: the value is unknown, not what was kept */
            return c->lits[k].lost ? NULL : me_strndup(s, p + c->lits[k].start, c->lits[k].kept);
        }
    }
    while (i < n && p[i] != ' ')
        i++;
    *pos = *e = i;
    return me_strndup(s, p + *b, i - *b);
}

/* The frame where the literal at buffer position B (an astring's start)
 * began, if earlier than FRAME: the bytes crossed there, not where the
 * command's line ended (RFC 9051 §4.3).  0 otherwise. */
static uint32_t literal_frame(const imap_cline *c, size_t b, uint32_t frame)
{
    unsigned k;
    for (k = 0; k < c->nlit; k++)
        if (c->lits[k].mark == b)
            return c->lits[k].frame && c->lits[k].frame != frame ? c->lits[k].frame : 0;
    return 0;
}

/* Is the literal being read LOGIN's second argument, the password (RFC 9051
 * §6.2.3: LOGIN SP userid SP password)?  Asked when its first bytes come,
 * which can be frames before the line ends and LOGIN is read. */
static bool literal_is_password(me_session *s, const imap_cline *c)
{
    const char *tag, *after, *w, *rest;
    size_t tl, al, wl, rl, pos, b, e;
    unsigned args = 0;
    bool bad = false;
    me_first_word(c->buf, c->len, &tag, &tl, &after, &al);
    me_first_word(after, al, &w, &wl, &rest, &rl);
    if (!me_ieq(w, wl, "LOGIN"))
        return false;
    pos = (size_t)(rest - c->buf);
    while (astring(s, c, &pos, &b, &e, &bad)) {
        if (b == c->lits[c->nlit - 1].mark)
            return args == 1;
        args++;
    }
    return false;
}

/* Is the literal at buffer position B one whose bytes were lost? */
static bool literal_lost(const imap_cline *c, size_t b)
{
    unsigned k;
    for (k = 0; k < c->nlit; k++)
        if (c->lits[k].mark == b)
            return c->lits[k].lost;
    return false;
}

static void cmd_login(me_session *s, imap_state *st, me_item *it, size_t argpos)
{
    imap_cline *c = &st->c;
    size_t pos = argpos, ub, ue, pb, pe, xb, xe;
    bool bad = false;
    const char *user, *pass;
    me_auth *a;
    if (c->bad_lit) {
        /* "{99...9}" is no literal (RFC 9051 §4.3: number64), nor a user name:
         * the line is malformed and no credential was sent */
        it->flags |= ME_W_MALFORMED;
        return;
    }
    user = astring(s, c, &pos, &ub, &ue, &bad);
    pass = astring(s, c, &pos, &pb, &pe, &bad);
    /* a password literal whose bytes were lost is unknown, not missing */
    if (astring(s, c, &pos, &xb, &xe, &bad) || (!pass && !literal_lost(c, pb)) || bad)
        it->flags |= ME_W_MALFORMED;
    me_cred_begin(s, "IMAP-LOGIN");
    s->cred->a.username = user;
    s->cred->a.password = pass;
    a = me_auth_snapshot(s, it);
    a->password = pass;
    a->secret_frame = literal_frame(c, pb, it->frame);
    if (c->first && c->first != it->frame)
        a->start_frame = c->first; /* the line began frames before (its literals) */
    if (pass) {
        const char *before = me_imap_disp(s, c->buf + argpos, pb - argpos);
        const char *after = me_imap_disp(s, c->buf + pe, c->len - pe);
        size_t bl = strlen(before), al = strlen(after);
        char *m = s->a.alloc(s->a.ctx, bl + 8 + al + 1);
        memcpy(m, before, bl);
        memcpy(m + bl, "********", 8);
        memcpy(m + bl + 8, after, al);
        it->masked = m;
        if (a->secret_frame)
            it->cleartext = !s->tls; /* for the attempt's report; the packet of
                                      * the literal has the warnings (counted) */
        else
            me_note_cleartext(s, it);
    }
    if (st->login_disabled && !s->tls)
        it->flags |= ME_W_LOGIN_DISABLED;
}

static void cmd_authenticate(me_session *s, imap_state *st, me_item *it, const char *tag,
                             const char *rest, size_t rl)
{
    const char *mw, *ir;
    size_t ml, il;
    me_cred *c;
    me_first_word(rest, rl, &mw, &ml, &ir, &il);
    if (!ml) {
        it->flags |= ME_W_MALFORMED;
        return;
    }
    c = me_cred_begin_sasl(s, mw, ml);
    me_auth_snapshot(s, it);
    st->in_sasl = true;
    st->sasl_tag = tag;
    if (il) { /* SASL-IR: the initial response on the command line (RFC 4959 §3) */
        me_sasl_out o;
        me_text_id keep = it->explain;
        me_sasl_client(&c->sasl, ir, il, &o);
        me_cred_apply_sasl(s, it, &o);
        it->explain = keep;
        it->explain2 = o.explain;
        if (o.password || o.token) {
            char *m = (char *)me_strndup(s, mw, ml + 9);
            memcpy(m + ml, " ********", 9);
            it->masked = m;
        }
    }
}

static void done_line(me_session *s, imap_state *st, const char *l, size_t n)
{
    me_item *it = me_imap_new_item(s, st, ME_CLIENT, ME_KIND_COMMAND);
    me_set_command(s, it, l, n);
    it->explain = TXT_IMAP_DONE;
    st->idle = false;
    st->done_item = me_ref_of(it);
    if (st->mid && !st->cli_synced) {
        st->cli_synced = true;
        if (!s->inferred || me_imap_rank(s->phase) < me_imap_rank(ME_PHASE_AUTHENTICATED))
            me_mark_inferred(s, it, ME_PHASE_AUTHENTICATED);
    }
}

/* A complete logical line from the client: one command. */
/* Mid-session: until a line is clearly IMAP, lines are taken for the content
 * of a literal that began before the capture.  Returns true when it took one. */
static bool midsession_line(me_session *s, imap_state *st, size_t n, bool ok, int cmd)
{
    me_item *it;
    if (!st->mid || st->cli_synced)
        return false;
    if (ok && cmd != CMD_UNKNOWN) {
        st->cli_synced = true;
        return false;
    }
    it = me_imap_new_item(s, st, ME_CLIENT, ME_KIND_DATA);
    it->explain = TXT_IMAP_MIDSESSION_DATA;
    it->data_len = (uint32_t)n + 2;
    if (!s->inferred)
        me_mark_inferred(s, it, ME_PHASE_AUTHENTICATED);
    return true;
}

/* A line that is no command (no tag, or no verb): malformed, yet answered. */
static void bad_line(me_session *s, imap_state *st, const char *l, size_t n, const char *tag,
                     size_t tl)
{
    me_item *it = me_imap_new_item(s, st, ME_CLIENT, ME_KIND_UNKNOWN);
    it->flags |= ME_W_MALFORMED;
    it->explain = n ? TXT_IMAP_BAD_LINE : TXT_IMAP_EMPTY_LINE;
    if (n)
        it->argument = me_imap_disp(s, l, n);
    if (me_imap_valid_tag(tag, tl)) {
        it->tag = me_strndup(s, tag, tl);
        me_pend_push(s, it, CMD_UNKNOWN, it->tag, NULL);
    }
}

/* "UID FETCH ...": two words, explained by the second (RFC 9051 §6.4.9).
 * Returns the command the reply answers; *argpos moves past the second word. */
static int uid_command(me_session *s, me_item *it, const char *l, const char *w, size_t wl,
                       const char *rest, size_t rl, size_t *argpos)
{
    const char *w2, *r2;
    size_t w2l, r2l;
    int sub;
    me_first_word(rest, rl, &w2, &w2l, &r2, &r2l);
    sub = lookup(w2, w2l);
    if (w2l && (sub == CMD_FETCH || sub == CMD_STORE || sub == CMD_COPY || sub == CMD_MOVE ||
                sub == CMD_SEARCH || sub == CMD_EXPUNGE || sub == CMD_SORT ||
                sub == CMD_THREAD)) {
        me_set_command(s, it, w, (size_t)(w2 + w2l - w));
        it->explain = cmds[sub].text;
        it->explain2 = TXT_IMAP_UID;
        *argpos = (size_t)(r2 - l);
        return sub;
    }
    if (w2l && valid_verb(w2, w2l)) {
        /* an extension (UID REPLACE, ...): two words, not known here */
        me_set_command(s, it, w, (size_t)(w2 + w2l - w));
        it->explain = TXT_IMAP_UNKNOWN_CMD;
        it->explain2 = TXT_IMAP_UID;
        *argpos = (size_t)(r2 - l);
        return CMD_UNKNOWN;
    }
    me_set_command(s, it, w, wl);
    it->flags |= ME_W_MALFORMED;
    return CMD_UID;
}

/* RFC 9051 §6: states a command is valid in; guesses while mid-session. */
static void command_phase(me_session *s, imap_state *st, me_item *it, int cmd)
{
    if (st->mid && !s->mid_noted) {
        me_mark_inferred(s, it, guess_for(cmd)); /* first command of a mid-session capture */
    } else if (s->inferred) {
        if (!(cmds[cmd].phases & (1u << s->phase)))
            me_mark_inferred(s, it, guess_for(cmd)); /* the guess was wrong: refine it */
    } else if (!(cmds[cmd].phases & (1u << s->phase)) && (s->unseen[ME_CLIENT] || s->lost[ME_CLIENT]) &&
               cmd != CMD_UNKNOWN && reachable(s, cmd) == ME_PHASE_NONE) {
        me_infer_after_loss(s, it, guess_for(cmd)); /* a LOGIN or SELECT may have been lost */
    } else if (!(cmds[cmd].phases & (1u << s->phase))) {
        me_phase to = reachable(s, cmd);
        if (to != ME_PHASE_NONE) {
            /* pipelined behind the command that opens its state (RFC 9051
             * §5.5): valid there.  When the capture lacks the server's side,
             * whose replies would open that state, it is recorded there, as
             * if the reply had come (a failed login takes it back) */
            if (s->unseen[ME_SERVER])
                me_set_phase_now(s, it, to);
        } else {
            it->flags |= ME_W_WRONG_PHASE;
            it->wrong_phase = s->phase;
        }
    }
}

/* What a command's arguments do; returns the argument kept for its reply. */
static const char *command_args(me_session *s, imap_state *st, me_item *it, int cmd,
                                const char *tagstr, size_t argpos)
{
    imap_cline *c = &st->c;
    const char *l = c->buf ? c->buf : "", *arg = NULL;
    size_t pos = argpos, b, e;
    bool bad = false;
    switch (cmd) {
    case CMD_LOGIN:
        cmd_login(s, st, it, argpos);
        break;
    case CMD_AUTHENTICATE:
        cmd_authenticate(s, st, it, tagstr, l + argpos, c->len - argpos);
        break;
    case CMD_SELECT:
    case CMD_EXAMINE:
        arg = astring(s, c, &pos, &b, &e, &bad);
        if (!arg || bad)
            it->flags |= ME_W_MALFORMED;
        if (arg && strchr(arg, '&')) {
            /* the name the user sees in the mail client, not its wire form
             * (RFC 3501 §5.1.3); kept as sent when it is no modified UTF-7 */
            char *u = s->a.alloc(s->a.ctx, 2 * strlen(arg) + 1);
            if (me_mutf7_decode(arg, u) >= 0)
                arg = u;
            else if (s->a.free)
                s->a.free(s->a.ctx, u);
        }
        it->mailbox = arg;
        break;
    case CMD_IDLE:
        st->idle = true;
        st->idle_tag = tagstr;
        st->done_item = me_ref_of(NULL);
        break;
    case CMD_LOGOUT:
        /* RFC 9051 §3.4: the session is in the Logout state once LOGOUT is sent */
        st->logout_sent = true;
        if (!s->pend_count || s->unseen[ME_SERVER])
            me_set_phase(s, ME_PHASE_LOGOUT);
        /* else pipelined: the commands ahead of it run first (RFC 9051
         * §6.1.3), so Logout begins with its BYE or its reply */
        break;
    default:
        break;
    }
    return arg;
}

static void command(me_session *s, imap_state *st)
{
    imap_cline *c = &st->c;
    const char *l = c->buf ? c->buf : "", *tag, *after, *w, *rest, *tagstr, *arg;
    size_t n = c->len, tl, al, wl, rl, argpos;
    int cmd, pend_cmd;
    me_pending *p;
    me_phase ahead;
    me_item *it;
    bool ok;

    me_first_word(l, n, &tag, &tl, &after, &al);
    me_first_word(after, al, &w, &wl, &rest, &rl);
    ok = me_imap_valid_tag(tag, tl) && valid_verb(w, wl);
    cmd = ok ? lookup(w, wl) : CMD_UNKNOWN;
    if (midsession_line(s, st, n, ok, cmd))
        return;
    if (!ok) {
        bad_line(s, st, l, n, tag, tl);
        return;
    }
    it = me_imap_new_item(s, st, ME_CLIENT, ME_KIND_COMMAND);
    it->tag = tagstr = me_strndup(s, tag, tl);
    it->explain = cmds[cmd].text;
    if (c->overflow)
        it->flags |= ME_W_OVERLONG;
    pend_cmd = cmd;
    argpos = (size_t)(rest - l);
    if (cmd == CMD_UID)
        pend_cmd = uid_command(s, it, l, w, wl, rest, rl, &argpos);
    else
        me_set_command(s, it, w, wl);
    if (argpos < n)
        it->argument = me_imap_disp(s, l + argpos, n - argpos);
    command_phase(s, st, it, cmd);
    arg = command_args(s, st, it, cmd, tagstr, argpos);
    /* aux: the command was not valid in the state it was sent in, which its
     * reply then judges (a LOGIN once logged in) */
    ahead = projected(s);
    p = me_pend_push(s, it, pend_cmd, tagstr, arg);
    /* the state the command runs in once the commands ahead of it have
     * succeeded, which its replies are recorded in (command_state) */
    p->aux = ((it->flags & ME_W_WRONG_PHASE) ? 1u : 0u) |
             AUX_PHASE_OF(cmd == CMD_LOGOUT ? ME_PHASE_LOGOUT : ahead) |
             (s->inferred ? AUX_INFERRED : 0u);
    if ((cmd == CMD_LOGIN || cmd == CMD_AUTHENTICATE) && it->auth)
        me_cred_hold(s, p); /* its tagged reply judges this attempt, not a later one */
}

/* Does the logical line starting in buf want its literals' bytes?  A login's
 * (LOGIN, AUTHENTICATE) do, and are secret: c->secret_at gets where the verb
 * ends in buf, for the masked form of its pieces; 0 for other lines. */
static bool wants_capture(imap_cline *c)
{
    const char *tag, *after, *w, *rest;
    size_t tl, al, wl, rl;
    me_first_word(c->buf, c->len, &tag, &tl, &after, &al);
    me_first_word(after, al, &w, &wl, &rest, &rl);
    c->secret_at = me_ieq(w, wl, "LOGIN") || me_ieq(w, wl, "AUTHENTICATE") ? (size_t)(w + wl - c->buf) : 0;
    return c->secret_at || me_ieq(w, wl, "SELECT") || me_ieq(w, wl, "EXAMINE");
}

/* One line of the client's logical line. */
static void piece(me_session *s, imap_state *st, const char *l, size_t n)
{
    imap_cline *c = &st->c;
    uint64_t num = 0;
    bool plus = false, bad = false, first = !c->active;
    size_t mark = 0, at;
    me_item *it;

    if (first) {
        c->len = 0;
        c->nlit = 0;
        c->overflow = false;
        c->capture = false;
        c->secret_at = 0;
        c->bad_lit = false;
        c->tag = NULL;
        c->first = 0;
    }
    c->cur_lit = false;
    at = c->len;
    append(s, c, l, n);
    if (!me_imap_literal_end(l, n, &num, &plus, &mark, &bad)) {
        c->active = false;
        c->bad_lit = bad;
        command(s, st);
        if (bad && s->tail)
            s->tail->flags |= ME_W_MALFORMED;
        return;
    }
    if (first) {
        const char *t, *rest;
        size_t tl, rl;
        c->capture = wants_capture(c);
        me_first_word(c->buf, c->len, &t, &tl, &rest, &rl);
        c->tag = me_strndup(s, t, tl);
    }
    if (c->nlit < MAX_LITS && !c->overflow) {
        imap_lit *L = &c->lits[c->nlit++];
        L->mark = at + mark;
        L->start = c->len;
        L->kept = 0;
        L->frame = 0;
        L->lost = false;
        c->cur_lit = true;
    }
    c->active = true;
    it = me_imap_new_item(s, st, ME_CLIENT, ME_KIND_DATA);
    it->explain = plus ? TXT_IMAP_LITERAL_PLUS : TXT_IMAP_LITERAL_WAIT;
    /* the piece as sent ("a1 LOGIN alice {7}"), as mailedu.line and the
     * transcript show it; a login's pieces are masked but for the command
     * and the literal's count */
    it->argument = me_imap_disp(s, l, n);
    if (c->secret_at) {
        size_t keep = first ? c->secret_at : 0;
        char *m = s->a.alloc(s->a.ctx, keep + 10 + (n - mark) + 1);
        memcpy(m, c->buf, keep);
        memcpy(m + keep, keep ? " ******** " : "******** ", keep ? 10 : 9);
        keep += keep ? 10 : 9;
        memcpy(m + keep, l + mark, n - mark);
        m[keep + n - mark] = '\0';
        it->masked = m;
    }
    if (!c->first)
        c->first = it->frame;
    if (st->mid && !st->cli_synced && !s->inferred)
        me_mark_inferred(s, it, ME_PHASE_AUTHENTICATED);
    if (plus) {
        me_expect_counted(s, ME_CLIENT, num, c->capture, TXT_IMAP_LITERAL);
    } else {
        c->sync_wait = true;
        c->sync_n = num;
    }
}

/* The client sent more while its {N} waited for "+": the server's "+" was not
 * captured, or the client did not wait.  Those bytes are the literal. */
static void early_literal(me_session *s, imap_state *st, const char *l, size_t n)
{
    imap_cline *c = &st->c;
    uint64_t want = c->sync_n;
    me_item *it = me_imap_new_item(s, st, ME_CLIENT, ME_KIND_DATA);
    it->explain = TXT_IMAP_LITERAL;
    c->sync_wait = false;
    if ((uint64_t)n + 2 <= want) {
        it->data_len = (uint32_t)n + 2;
        lit_bytes(s, c, l, n);
        lit_bytes(s, c, "\r\n", 2);
        if (want > (uint64_t)n + 2)
            me_expect_counted(s, ME_CLIENT, want - n - 2, c->capture, TXT_IMAP_LITERAL);
    } else {
        size_t k = (size_t)want > n ? n : (size_t)want;
        it->data_len = (uint32_t)want;
        lit_bytes(s, c, l, k);
        piece(s, st, l + k, n - k);
    }
}

static void sasl_line(me_session *s, imap_state *st, const char *l, size_t n)
{
    me_item *it = me_imap_new_item(s, st, ME_CLIENT, ME_KIND_SASL);
    it->argument = me_imap_disp(s, l, n);
    it->explain = TXT_SASL_RESPONSE;
    if (s->cred && s->cred->is_sasl) {
        me_sasl_out o;
        me_sasl_client(&s->cred->sasl, l, n, &o);
        me_cred_apply_sasl(s, it, &o);
        if (o.password || o.token)
            it->masked = "********";
    }
}

/* A SASL response is base64 or "*", never two words: a line "tag VERB ..."
 * during an exchange is a command pipelined by the client. */
static bool looks_like_command(const char *l, size_t n)
{
    const char *tag, *after, *w, *rest;
    size_t tl, al, wl, rl;
    me_first_word(l, n, &tag, &tl, &after, &al);
    me_first_word(after, al, &w, &wl, &rest, &rl);
    return me_imap_valid_tag(tag, tl) && valid_verb(w, wl) && lookup(w, wl) != CMD_UNKNOWN;
}

void me_imap_end_cut_line(me_session *s, imap_state *st)
{
    imap_cline *c = &st->c;
    if ((c->sync_wait || c->cur_lit) && c->nlit)
        c->lits[c->nlit - 1].lost = true; /* its bytes never came, or not all */
    c->active = c->sync_wait = c->cur_lit = false;
    command(s, st);
    if (s->tail && s->tail->dir == ME_CLIENT)
        s->tail->flags |= ME_W_GAP; /* bytes of it are missing */
}

/* The client's bytes were lost (me_engine.gap): a literal being read has an
 * unknown value; a logical line whose bytes after a literal (or a literal
 * not yet sent) were lost ends there, as a lost partial line does, and now:
 * its reply may be in the very frame that revealed the loss (helper 22), and
 * the next line is a new command (helper 20: "a1 LOGIN alice {6}" whose
 * literal segment was lost swallowed "a2 SELECT INBOX" as its password). */
static void gap(me_session *s, me_dir dir, bool literal, bool line_lost)
{
    imap_state *st = s->st;
    imap_cline *c = &st->c;
    if (dir != ME_CLIENT || !(c->active || c->sync_wait))
        return;
    if (literal && c->cur_lit && c->nlit)
        c->lits[c->nlit - 1].lost = true;
    if (line_lost)
        me_imap_end_cut_line(s, st);
}

static void client_line(me_session *s, imap_state *st, const char *l, size_t n)
{
    if (!st->greeted && !s->start_seen) {
        /* the client speaks first: the capture began after the greeting (with
         * the handshake captured, it is a client that did not wait for it) */
        st->greeted = true;
        st->mid = true;
    }
    if (st->c.sync_wait) {
        early_literal(s, st, l, n);
        return;
    }
    if (st->c.active) {
        piece(s, st, l, n);
        return;
    }
    if (st->in_sasl && !looks_like_command(l, n)) {
        sasl_line(s, st, l, n);
        return;
    }
    if (me_ieq(l, n, "DONE") && (st->idle || (st->mid && !st->cli_synced))) {
        done_line(s, st, l, n);
        return;
    }
    piece(s, st, l, n);
}


static void line(me_session *s, me_dir dir, const char *l, size_t n)
{
    imap_state *st = s->st;
    if (dir == ME_CLIENT)
        client_line(s, st, l, n);
    else
        me_imap_server_line(s, st, l, n);
}

static void counted(me_session *s, me_dir dir, const uint8_t *d, size_t n, bool done)
{
    imap_state *st = s->st;
    imap_cline *c = &st->c;
    bool first;
    (void)done;
    if (dir != ME_CLIENT || !d || !c->active)
        return;
    first = c->cur_lit && c->nlit && !c->lits[c->nlit - 1].frame;
    lit_bytes(s, c, (const char *)d, n);
    /* the password's own packet is the one that shows it crossed in clear
     * (the red row, the expert item); the LOGIN record, frames later when
     * the client waited for "+", names the user and the attempt */
    if (first && n && s->tail && s->tail->kind == ME_KIND_DATA && literal_is_password(s, c)) {
        s->tail->explain2 = TXT_IMAP_LITERAL_PASSWORD;
        me_note_cleartext(s, s->tail); /* its warnings here, once (cmd_login) */
    }
}

static void fini(me_session *s)
{
    imap_state *st = s->st;
    if (st->c.buf)
        s->a.free(s->a.ctx, st->c.buf);
    s->a.free(s->a.ctx, st);
}

const me_engine me_imap_engine = {init, line, NULL, counted, fini, gap}; /* no dot bodies */
