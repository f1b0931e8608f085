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

#include "internal.h"

/* Phases a command is valid in (RFC 9051 §6: "Valid in any state", ...). */
#define PH_N (1u << ME_PHASE_AUTH)          /* Not Authenticated */
#define PH_A (1u << ME_PHASE_AUTHENTICATED)
#define PH_S (1u << ME_PHASE_SELECTED)
#define PH_ANY (PH_N | PH_A | PH_S)

/* X(name, phases, explanation) */
#define IMAP_COMMANDS(X)                           \
    X(CAPABILITY, PH_ANY, TXT_IMAP_CAPABILITY)     \
    X(NOOP, PH_ANY, TXT_IMAP_NOOP)                 \
    X(LOGOUT, PH_ANY, TXT_IMAP_LOGOUT)             \
    X(ID, PH_ANY, TXT_IMAP_ID)                     \
    X(STARTTLS, PH_N, TXT_IMAP_STARTTLS)           \
    X(AUTHENTICATE, PH_N, TXT_IMAP_AUTHENTICATE)   \
    X(LOGIN, PH_N, TXT_IMAP_LOGIN)                 \
    X(ENABLE, PH_A, TXT_IMAP_ENABLE)               \
    X(SELECT, PH_A | PH_S, TXT_IMAP_SELECT)        \
    X(EXAMINE, PH_A | PH_S, TXT_IMAP_EXAMINE)      \
    X(CREATE, PH_A | PH_S, TXT_IMAP_CREATE)        \
    X(DELETE, PH_A | PH_S, TXT_IMAP_DELETE)        \
    X(RENAME, PH_A | PH_S, TXT_IMAP_RENAME)        \
    X(SUBSCRIBE, PH_A | PH_S, TXT_IMAP_SUBSCRIBE)  \
    X(UNSUBSCRIBE, PH_A | PH_S, TXT_IMAP_UNSUBSCRIBE) \
    X(LIST, PH_A | PH_S, TXT_IMAP_LIST)            \
    X(XLIST, PH_A | PH_S, TXT_IMAP_LIST)           \
    X(LSUB, PH_A | PH_S, TXT_IMAP_LSUB)            \
    X(NAMESPACE, PH_A | PH_S, TXT_IMAP_NAMESPACE)  \
    X(STATUS, PH_A | PH_S, TXT_IMAP_STATUS)        \
    X(APPEND, PH_A | PH_S, TXT_IMAP_APPEND)        \
    X(IDLE, PH_A | PH_S, TXT_IMAP_IDLE)            \
    X(GETQUOTA, PH_A | PH_S, TXT_IMAP_GETQUOTA)    \
    X(GETQUOTAROOT, PH_A | PH_S, TXT_IMAP_GETQUOTA) \
    X(SETQUOTA, PH_A | PH_S, TXT_IMAP_SETQUOTA)    \
    X(CHECK, PH_S, TXT_IMAP_CHECK)                 \
    X(CLOSE, PH_S, TXT_IMAP_CLOSE)                 \
    X(UNSELECT, PH_S, TXT_IMAP_UNSELECT)           \
    X(EXPUNGE, PH_S, TXT_IMAP_EXPUNGE)             \
    X(SEARCH, PH_S, TXT_IMAP_SEARCH)               \
    X(FETCH, PH_S, TXT_IMAP_FETCH)                 \
    X(STORE, PH_S, TXT_IMAP_STORE)                 \
    X(COPY, PH_S, TXT_IMAP_COPY)                   \
    X(MOVE, PH_S, TXT_IMAP_MOVE)                   \
    X(SORT, PH_S, TXT_IMAP_SORT)                   \
    X(THREAD, PH_S, TXT_IMAP_THREAD)               \
    X(UID, PH_S, TXT_IMAP_UID)

enum {
    CMD_UNKNOWN = 0,
#define X(n, ph, tx) CMD_##n,
    IMAP_COMMANDS(X)
#undef X
    CMD_COUNT,
    CMD_DONE /* the IDLE terminator: not a tagged command, never pending */
};

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

#define LIT_KEEP 1024u                 /* bytes kept of a captured literal */
#define LIT_MAX ((uint64_t)1 << 40)    /* a larger count is not believed */
#define MAX_LITS 16u                   /* literals remembered per logical line */
#define BUF_CAP (ME_MAX_LINE + 4u * LIT_KEEP)

/* A literal inside the client's logical line: "{N}" starts at mark, its kept
 * bytes at start. */
typedef struct imap_lit {
    size_t mark, start, kept;
} imap_lit;

/* The client's logical line being assembled. */
typedef struct imap_cline {
    char *buf;         /* grown by doubling up to BUF_CAP + 1 (see reserve) */
    size_t len, cap;
    bool overflow;
    bool bad_lit;      /* the line ended in a {N} that cannot be a literal */
    imap_lit lits[MAX_LITS];
    unsigned nlit;
    bool cur_lit;      /* bytes being counted belong to lits[nlit-1] */
    bool active;       /* a piece ended with a literal: the line goes on */
    bool capture;      /* keep this line's literal bytes */
    bool sync_wait;    /* {N}: waiting for the server's "+" */
    uint64_t sync_n;
    const char *tag;   /* tag of the line, for a refused literal */
    me_item *first;    /* record of the line's first piece */
} imap_cline;

typedef struct imap_state {
    bool greeted;        /* past the greeting (or known to have begun without it) */
    bool mid;            /* the capture began mid-session */
    bool cli_synced;     /* mid-session: a client line that is IMAP was seen */
    bool srv_synced;
    bool login_disabled; /* LOGINDISABLED announced before login, not in TLS */
    bool logout_sent;
    bool in_sasl;        /* AUTHENTICATE exchange running */
    const char *sasl_tag;
    bool idle;           /* between IDLE and DONE */
    const char *idle_tag;
    me_item *done_item;
    bool srv_cont;       /* the server's line goes on after a literal */
    imap_cline c;
} imap_state;

static void init(me_session *s)
{
    s->st = s->a.alloc(s->a.ctx, sizeof(imap_state));
    s->phase = ME_PHASE_AUTH;
}

/* ---- small helpers ---- */

static me_item *new_item(me_session *s, imap_state *st, me_dir dir, me_kind kind)
{
    (void)st; /* the core puts the selected mailbox (s->mailbox) on every record */
    return me_item_new(s, dir, kind);
}

/* A copy of bytes fit for display: control bytes escaped. */
static const char *disp(me_session *s, const char *p, size_t n)
{
    size_t i;
    char *r;
    for (i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
            break;
    if (i == n)
        return me_strndup(s, p, n);
    r = s->a.alloc(s->a.ctx, 4 * n + 1);
    return me_printable((const uint8_t *)p, n, r);
}

/* ATOM-CHAR minus "+" (RFC 9051 §9: tag = 1*<any ASTRING-CHAR except "+">) */
static bool tag_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("(){%*\"\\+", c);
}

static bool valid_tag(const char *p, size_t n)
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
static int rank(me_phase p)
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
static bool literal_end(const char *l, size_t n, uint64_t *num, bool *plus, size_t *mark, bool *bad)
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
static me_item *pending_of(const me_session *s, int cmd, int alt)
{
    unsigned i;
    for (i = s->pend_count; i > 0; i--) {
        const me_pending *p = me_pend_at(s, i - 1);
        if (p->cmd == cmd || (alt != CMD_UNKNOWN && p->cmd == alt))
            return p->item;
    }
    return NULL;
}

static me_item *pending_tag(const me_session *s, const char *tag)
{
    unsigned i;
    if (!tag)
        return NULL;
    for (i = 0; i < s->pend_count; i++) {
        const me_pending *p = me_pend_at(s, i);
        if (p->tag && strcmp(p->tag, tag) == 0)
            return p->item;
    }
    return NULL;
}

/* A pending command will move the session to a phase where cmd is valid
 * (commands pipelined after LOGIN, SELECT, CLOSE...). */
static bool reachable(const me_session *s, int cmd)
{
    unsigned i;
    for (i = 0; i < s->pend_count; i++) {
        int c = me_pend_at(s, i)->cmd;
        unsigned to = 0;
        if (c == CMD_LOGIN || c == CMD_AUTHENTICATE || c == CMD_CLOSE || c == CMD_UNSELECT)
            to = PH_A;
        else if (c == CMD_SELECT || c == CMD_EXAMINE)
            to = PH_S;
        if (cmds[cmd].phases & to)
            return true;
    }
    return false;
}

static void reset_lines(imap_state *st)
{
    st->c.active = st->c.sync_wait = st->c.cur_lit = false;
    st->c.len = 0;
    st->c.nlit = 0;
    st->srv_cont = false;
    st->in_sasl = false;
    st->idle = false;
}

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
        it->detail = disp(s, p + 1, (size_t)(end - p - 1));
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
                    it->detail = disp(s, t, tl);
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
            return me_strndup(s, p + c->lits[k].start, c->lits[k].kept);
        }
    }
    while (i < n && p[i] != ' ')
        i++;
    *pos = *e = i;
    return me_strndup(s, p + *b, i - *b);
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
    if (astring(s, c, &pos, &xb, &xe, &bad) || !pass || bad)
        it->flags |= ME_W_MALFORMED;
    me_cred_begin(s, "IMAP-LOGIN");
    s->cred->a.username = user;
    s->cred->a.password = pass;
    a = me_auth_snapshot(s, it);
    a->password = pass;
    if (pass) {
        const char *before = disp(s, c->buf + argpos, pb - argpos);
        const char *after = disp(s, c->buf + pe, c->len - pe);
        size_t bl = strlen(before), al = strlen(after);
        char *m = s->a.alloc(s->a.ctx, bl + 8 + al + 1);
        memcpy(m, before, bl);
        memcpy(m + bl, "********", 8);
        memcpy(m + bl + 8, after, al);
        it->masked = m;
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
    c = me_cred_begin(s, NULL);
    me_sasl_start(&c->sasl, &s->a, mw, ml);
    c->is_sasl = true;
    c->a.mechanism = c->sasl.name;
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
    me_item *it = new_item(s, st, ME_CLIENT, ME_KIND_COMMAND);
    it->command = me_upper(s, l, n);
    it->explain = TXT_IMAP_DONE;
    st->idle = false;
    st->done_item = it;
    if (st->mid && !st->cli_synced) {
        st->cli_synced = true;
        if (!s->inferred || rank(s->phase) < rank(ME_PHASE_AUTHENTICATED))
            me_mark_inferred(s, it, ME_PHASE_AUTHENTICATED);
    }
}

/* A complete logical line from the client: one command. */
static void command(me_session *s, imap_state *st)
{
    imap_cline *c = &st->c;
    const char *l = c->buf ? c->buf : "", *tag, *after, *w, *rest;
    size_t n = c->len, tl, al, wl, rl, argpos;
    int cmd, pend_cmd;
    me_item *it;
    bool ok;
    const char *tagstr = NULL, *arg = NULL;

    me_first_word(l, n, &tag, &tl, &after, &al);
    me_first_word(after, al, &w, &wl, &rest, &rl);
    ok = valid_tag(tag, tl) && valid_verb(w, wl);
    cmd = ok ? lookup(w, wl) : CMD_UNKNOWN;

    if (st->mid && !st->cli_synced) {
        /* mid-session: until a line is clearly IMAP, lines are taken for the
         * content of a literal that began before the capture */
        if (!ok || cmd == CMD_UNKNOWN) {
            it = new_item(s, st, ME_CLIENT, ME_KIND_DATA);
            it->explain = TXT_IMAP_MIDSESSION_DATA;
            it->data_len = (uint32_t)n + 2;
            if (!s->inferred)
                me_mark_inferred(s, it, ME_PHASE_AUTHENTICATED);
            return;
        }
        st->cli_synced = true;
    }

    if (!ok) {
        it = new_item(s, st, ME_CLIENT, ME_KIND_UNKNOWN);
        it->flags |= ME_W_MALFORMED;
        it->explain = n ? TXT_IMAP_BAD_LINE : TXT_IMAP_EMPTY_LINE;
        if (n)
            it->argument = disp(s, l, n);
        if (valid_tag(tag, tl)) {
            it->tag = me_strndup(s, tag, tl);
            me_pend_push(s, it, CMD_UNKNOWN, it->tag, NULL);
        }
        return;
    }

    it = new_item(s, st, ME_CLIENT, ME_KIND_COMMAND);
    it->tag = tagstr = me_strndup(s, tag, tl);
    it->explain = cmds[cmd].text;
    if (c->overflow)
        it->flags |= ME_W_OVERLONG;
    pend_cmd = cmd;
    argpos = (size_t)(rest - l);
    if (cmd == CMD_UID) {
        /* "UID FETCH ...": two words, explained by the second (RFC 9051 §6.4.9) */
        const char *w2, *r2;
        size_t w2l, r2l;
        int sub;
        me_first_word(rest, rl, &w2, &w2l, &r2, &r2l);
        sub = lookup(w2, w2l);
        if (w2l && (sub == CMD_FETCH || sub == CMD_STORE || sub == CMD_COPY || sub == CMD_MOVE ||
                    sub == CMD_SEARCH || sub == CMD_EXPUNGE || sub == CMD_SORT ||
                    sub == CMD_THREAD)) {
            it->command = me_upper(s, w, (size_t)(w2 + w2l - w));
            it->explain = cmds[sub].text;
            it->explain2 = TXT_IMAP_UID;
            pend_cmd = sub;
            argpos = (size_t)(r2 - l);
        } else if (w2l && valid_verb(w2, w2l)) {
            /* an extension (UID REPLACE, ...): two words, not known here */
            it->command = me_upper(s, w, (size_t)(w2 + w2l - w));
            it->explain = TXT_IMAP_UNKNOWN_CMD;
            it->explain2 = TXT_IMAP_UID;
            pend_cmd = CMD_UNKNOWN;
            argpos = (size_t)(r2 - l);
        } else {
            it->command = me_upper(s, w, wl);
            it->flags |= ME_W_MALFORMED;
        }
    } else {
        it->command = me_upper(s, w, wl);
    }
    if (argpos < n)
        it->argument = disp(s, l + argpos, n - argpos);

    /* phase checks */
    if (st->mid && !s->mid_noted) {
        me_mark_inferred(s, it, guess_for(cmd)); /* first command of a mid-session capture */
    } else if (s->inferred) {
        if (!(cmds[cmd].phases & (1u << s->phase)))
            me_mark_inferred(s, it, guess_for(cmd)); /* the guess was wrong: refine it */
    } else if (!(cmds[cmd].phases & (1u << s->phase)) && !reachable(s, cmd)) {
        it->flags |= ME_W_WRONG_PHASE;
        it->wrong_phase = s->phase;
    }

    switch (cmd) {
    case CMD_LOGIN:
        cmd_login(s, st, it, argpos);
        break;
    case CMD_AUTHENTICATE:
        cmd_authenticate(s, st, it, tagstr, l + argpos, n - argpos);
        break;
    case CMD_SELECT:
    case CMD_EXAMINE: {
        size_t pos = argpos, b, e;
        bool bad = false;
        arg = astring(s, c, &pos, &b, &e, &bad);
        if (!arg || bad)
            it->flags |= ME_W_MALFORMED;
        it->mailbox = arg;
        break;
    }
    case CMD_IDLE:
        st->idle = true;
        st->idle_tag = tagstr;
        st->done_item = NULL;
        break;
    case CMD_LOGOUT:
        /* RFC 9051 §3.4: the session is in the Logout state once LOGOUT is sent */
        st->logout_sent = true;
        me_set_phase(s, ME_PHASE_LOGOUT);
        break;
    default:
        break;
    }
    me_pend_push(s, it, pend_cmd, tagstr, arg);
}

/* Does the logical line starting in buf want its literals' bytes? */
static bool wants_capture(const imap_cline *c)
{
    const char *tag, *after, *w, *rest;
    size_t tl, al, wl, rl;
    me_first_word(c->buf, c->len, &tag, &tl, &after, &al);
    me_first_word(after, al, &w, &wl, &rest, &rl);
    return me_ieq(w, wl, "LOGIN") || me_ieq(w, wl, "AUTHENTICATE") || me_ieq(w, wl, "SELECT") ||
           me_ieq(w, wl, "EXAMINE");
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
        c->bad_lit = false;
        c->tag = NULL;
        c->first = NULL;
    }
    c->cur_lit = false;
    at = c->len;
    append(s, c, l, n);
    if (!literal_end(l, n, &num, &plus, &mark, &bad)) {
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
        c->cur_lit = true;
    }
    c->active = true;
    it = new_item(s, st, ME_CLIENT, ME_KIND_DATA);
    it->explain = plus ? TXT_IMAP_LITERAL_PLUS : TXT_IMAP_LITERAL_WAIT;
    it->data_len = (uint32_t)n + 2;
    if (!c->first)
        c->first = it;
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
    me_item *it = new_item(s, st, ME_CLIENT, ME_KIND_DATA);
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
    me_item *it = new_item(s, st, ME_CLIENT, ME_KIND_SASL);
    it->argument = disp(s, l, n);
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
    return valid_tag(tag, tl) && valid_verb(w, wl) && lookup(w, wl) != CMD_UNKNOWN;
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
    else if (s->inferred && strong && rank(s->phase) < rank(guess))
        me_mark_inferred(s, it, guess); /* the guess was too shallow */
}

static void after_tls(imap_state *st)
{
    reset_lines(st);
    st->login_disabled = false; /* RFC 9051 §6.2.1: capabilities are asked again */
}

static void reply_for(me_session *s, imap_state *st, me_item *it, const me_pending *pc,
                      me_status status, int code)
{
    bool ok = status == ME_STATUS_OK;
    switch (pc->cmd) {
    case CMD_LOGIN:
    case CMD_AUTHENTICATE:
        if (pc->cmd == CMD_AUTHENTICATE && st->sasl_tag && pc->tag &&
            strcmp(st->sasl_tag, pc->tag) == 0)
            st->in_sasl = false;
        if (pc->cmd == CMD_LOGIN)
            it->explain = ok ? TXT_IMAP_LOGIN_OK : TXT_IMAP_LOGIN_NO;
        else
            it->explain = ok ? TXT_IMAP_AUTH_OK : TXT_IMAP_AUTH_NO;
        me_cred_result(s, it, ok ? ME_RESULT_SUCCESS : ME_RESULT_FAILURE);
        if (ok)
            me_set_phase(s, ME_PHASE_AUTHENTICATED);
        break;
    case CMD_SELECT:
    case CMD_EXAMINE:
        if (ok) {
            it->explain = pc->cmd == CMD_SELECT && !code_is(code, TXT_IMAP_CODE_READ_ONLY)
                              ? TXT_IMAP_SELECT_OK
                              : TXT_IMAP_EXAMINE_OK;
            it->mailbox = pc->arg;
            s->mailbox = pc->arg;
            me_set_phase(s, ME_PHASE_SELECTED);
        } else {
            /* RFC 9051 §6.3.2: a failed SELECT leaves no mailbox selected */
            it->explain = TXT_IMAP_SELECT_NO;
            if (s->phase == ME_PHASE_SELECTED)
                me_set_phase(s, ME_PHASE_AUTHENTICATED);
            s->mailbox = NULL;
        }
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
        if (ok)
            it->explain = TXT_IMAP_LOGOUT_OK;
        break;
    case CMD_STARTTLS:
        if (ok) {
            it->explain = TXT_IMAP_STARTTLS_OK;
            it->flags |= ME_W_TLS_START;
            me_start_tls(s);
            after_tls(st);
        }
        break;
    case CMD_IDLE:
        st->idle = false;
        if (ok)
            it->explain = TXT_IMAP_IDLE_OK;
        if (st->done_item && !st->done_item->response_in)
            st->done_item->response_in = it->frame;
        st->done_item = NULL;
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
    size_t tl, al, wl, rl;
    me_status status;
    me_pending pc;
    me_item *it;
    int code;

    me_first_word(l, n, &tag, &tl, &after, &al);
    me_first_word(after, al, &w, &wl, &rest, &rl);
    status = status_word(w, wl);
    if (!valid_tag(tag, tl) || status == ME_STATUS_NONE) {
        if (st->mid && !st->srv_synced) {
            /* inside a literal that began before the capture */
            it = new_item(s, st, ME_SERVER, ME_KIND_DATA);
            it->explain = TXT_IMAP_MIDSESSION_DATA;
            it->data_len = (uint32_t)n + 2;
            if (!s->inferred)
                me_mark_inferred(s, it, ME_PHASE_SELECTED);
            return;
        }
        it = new_item(s, st, ME_SERVER, ME_KIND_UNKNOWN);
        it->explain = valid_tag(tag, tl) && wl ? TXT_IMAP_BAD_STATUS : TXT_IMAP_BAD_RESPONSE;
        it->flags |= ME_W_MALFORMED;
        if (n)
            it->argument = disp(s, l, n);
        return;
    }
    it = new_item(s, st, ME_SERVER, ME_KIND_REPLY);
    it->tag = me_strndup(s, tag, tl);
    it->status = status;
    it->explain = status == ME_STATUS_OK          ? TXT_IMAP_TAGGED_OK
                  : me_ieq(w, wl, "NO")            ? TXT_IMAP_TAGGED_NO
                                                   : TXT_IMAP_TAGGED_BAD;
    if (rl)
        it->argument = disp(s, rest, rl);
    code = resp_code(s, st, it, rest, rl);
    srv_infer(s, st, it, ME_PHASE_AUTHENTICATED, false);

    if (st->c.sync_wait && st->c.tag && strcmp(st->c.tag, it->tag) == 0) {
        /* the server refused a synchronizing literal: its bytes never come */
        st->c.sync_wait = false;
        st->c.active = false;
        if (!it->explain2)
            it->explain2 = TXT_IMAP_LITERAL_REFUSED;
        if (st->c.first)
            it->request_in = st->c.first->frame;
        return;
    }
    if (me_pend_take_tag(s, it->tag, &pc)) {
        me_link(pc.item, it);
        reply_for(s, st, it, &pc, status, code);
        return;
    }
    /* a command we did not see (capture began later) */
    if (st->in_sasl && st->sasl_tag && strcmp(st->sasl_tag, it->tag) == 0) {
        st->in_sasl = false;
        me_cred_result(s, it, status == ME_STATUS_OK ? ME_RESULT_SUCCESS : ME_RESULT_FAILURE);
        if (status == ME_STATUS_OK)
            me_set_phase(s, ME_PHASE_AUTHENTICATED);
    } else if (status == ME_STATUS_OK && (code_is(code, TXT_IMAP_CODE_READ_WRITE) ||
                                          code_is(code, TXT_IMAP_CODE_READ_ONLY))) {
        me_set_phase(s, ME_PHASE_SELECTED); /* the completion of a SELECT/EXAMINE */
    }
}

static void untagged(me_session *s, imap_state *st, const char *l, size_t n)
{
    const char *w, *rest;
    size_t wl, rl, i;
    me_status status;
    me_item *it = new_item(s, st, ME_SERVER, ME_KIND_REPLY);
    bool data = true;

    it->argument = disp(s, l + 2, n - 2);
    me_first_word(l + 2, n - 2, &w, &wl, &rest, &rl);
    status = status_word(w, wl);
    if (status != ME_STATUS_NONE || me_ieq(w, wl, "BYE") || me_ieq(w, wl, "PREAUTH")) {
        data = false;
        it->status = status;
        {
            int code = resp_code(s, st, it, rest, rl);
            srv_infer(s, st, it,
                      code_is(code, TXT_IMAP_CODE_UIDVALIDITY) ||
                              code_is(code, TXT_IMAP_CODE_UIDNEXT) ||
                              code_is(code, TXT_IMAP_CODE_UNSEEN) ||
                              code_is(code, TXT_IMAP_CODE_PERMANENTFLAGS)
                          ? ME_PHASE_SELECTED
                          : ME_PHASE_AUTHENTICATED,
                      false);
        }
        if (me_ieq(w, wl, "OK")) {
            it->explain = TXT_IMAP_UNTAGGED_OK;
        } else if (me_ieq(w, wl, "NO")) {
            it->explain = TXT_IMAP_UNTAGGED_NO;
        } else if (me_ieq(w, wl, "BAD")) {
            it->explain = TXT_IMAP_UNTAGGED_BAD;
        } else if (me_ieq(w, wl, "PREAUTH")) {
            it->explain = TXT_IMAP_PREAUTH_LATE;
            it->flags |= ME_W_MALFORMED;
        } else if (st->logout_sent) {
            it->explain = TXT_IMAP_BYE_LOGOUT;
        } else {
            /* RFC 9051 §7.1.5: an unsolicited BYE ends the session */
            it->explain = TXT_IMAP_BYE;
            if (s->phase != ME_PHASE_LOGOUT)
                me_set_phase(s, ME_PHASE_LOGOUT);
        }
    } else if (wl && w[0] >= '0' && w[0] <= '9') {
        /* "* n EXISTS", "* n FETCH (...)" */
        const char *w2, *r2;
        size_t w2l, r2l;
        uint64_t num;
        me_first_word(rest, rl, &w2, &w2l, &r2, &r2l);
        if (!me_parse_u64(w, wl, &num))
            it->flags |= ME_W_MALFORMED;
        if (me_ieq(w2, w2l, "EXISTS")) {
            me_item *c = pending_of(s, CMD_SELECT, CMD_EXAMINE);
            it->explain = TXT_IMAP_EXISTS;
            if (c)
                it->request_in = c->frame;
        } else if (me_ieq(w2, w2l, "RECENT")) {
            it->explain = TXT_IMAP_RECENT;
        } else if (me_ieq(w2, w2l, "EXPUNGE")) {
            me_item *c = pending_of(s, CMD_EXPUNGE, CMD_MOVE);
            it->explain = TXT_IMAP_EXPUNGE_DATA;
            if (c)
                it->request_in = c->frame;
        } else if (me_ieq(w2, w2l, "FETCH")) {
            me_item *c = pending_of(s, CMD_FETCH, CMD_STORE);
            it->explain = TXT_IMAP_FETCH_DATA;
            if (c)
                it->request_in = c->frame;
        } else {
            it->explain = TXT_IMAP_UNTAGGED_OTHER;
            if (!w2l)
                it->flags |= ME_W_MALFORMED;
        }
        srv_infer(s, st, it, ME_PHASE_SELECTED, true);
    } else {
        it->explain = TXT_IMAP_UNTAGGED_OTHER;
        if (!wl)
            it->flags |= ME_W_MALFORMED;
        for (i = 0; i < sizeof(data_resps) / sizeof(data_resps[0]); i++) {
            if (me_ieq(w, wl, data_resps[i].name)) {
                me_item *c = data_resps[i].cmd != CMD_UNKNOWN
                                 ? pending_of(s, data_resps[i].cmd,
                                              data_resps[i].cmd == CMD_SELECT ? CMD_EXAMINE
                                                                              : CMD_UNKNOWN)
                                 : NULL;
                it->explain = data_resps[i].text;
                if (c)
                    it->request_in = c->frame;
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
    }
    if (data) {
        /* data responses may carry literals (FETCH bodies, LIST names) */
        uint64_t num;
        bool plus, bad = false;
        size_t mark;
        if (literal_end(l, n, &num, &plus, &mark, &bad)) {
            st->srv_cont = true;
            me_expect_counted(s, ME_SERVER, num, false, TXT_IMAP_LITERAL);
        } else if (bad) {
            it->flags |= ME_W_MALFORMED;
        }
    }
}

/* The rest of a server line after one of its literals. */
static void server_rest(me_session *s, imap_state *st, const char *l, size_t n)
{
    uint64_t num;
    bool plus, bad = false;
    size_t mark;
    if (!s->head) {
        me_item *it = new_item(s, st, ME_SERVER, ME_KIND_DATA);
        it->explain = TXT_IMAP_LINE_REST;
        it->data_len = (uint32_t)n + 2;
    }
    if (literal_end(l, n, &num, &plus, &mark, &bad)) {
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
    me_item *it = new_item(s, st, ME_SERVER, ME_KIND_CHALLENGE);
    it->status = ME_STATUS_CONTINUE;
    it->argument = me_strndup(s, "", 0);
    if (n > skip)
        it->argument = disp(s, l + skip, n - skip);
    srv_infer(s, st, it, s->phase, false);
    if (st->c.sync_wait) {
        /* go-ahead for the client's synchronizing literal */
        st->c.sync_wait = false;
        it->explain = TXT_IMAP_CONT_LITERAL;
        if (st->c.first)
            it->request_in = st->c.first->frame;
        me_expect_counted(s, ME_CLIENT, st->c.sync_n, st->c.capture, TXT_IMAP_LITERAL);
        return;
    }
    if (st->in_sasl && s->cred && s->cred->is_sasl) {
        /* "+ base64": a SASL challenge (RFC 9051 §6.2.2) */
        me_sasl_out o;
        me_item *c = pending_tag(s, st->sasl_tag);
        me_sasl_server(&s->cred->sasl, l + skip, n > skip ? n - skip : 0, &o);
        me_cred_apply_sasl(s, it, &o);
        it->explain = TXT_SASL_CHALLENGE;
        it->explain2 = o.explain == TXT_SASL_CHALLENGE ? TXT_NONE : o.explain;
        if (o.decoded)
            it->detail = o.decoded;
        if (c)
            it->request_in = c->frame;
        return;
    }
    if (st->idle) {
        me_item *c = pending_tag(s, st->idle_tag);
        it->explain = TXT_IMAP_CONT_IDLE;
        if (c)
            it->request_in = c->frame;
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
    it = new_item(s, st, ME_SERVER, ME_KIND_REPLY);
    it->status = ph == ME_PHASE_LOGOUT ? ME_STATUS_ERROR : ME_STATUS_OK;
    it->explain = text;
    if (rl)
        it->argument = disp(s, rest, rl);
    me_set_phase_now(s, it, ph);
    resp_code(s, st, it, rest, rl);
    if (!s->start_seen)
        me_mark_inferred(s, it, ph); /* no handshake: the greeting is our best guess */
    return true;
}

static void server_line(me_session *s, imap_state *st, const char *l, size_t n)
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

static void line(me_session *s, me_dir dir, const char *l, size_t n)
{
    imap_state *st = s->st;
    if (dir == ME_CLIENT)
        client_line(s, st, l, n);
    else
        server_line(s, st, l, n);
}

static void counted(me_session *s, me_dir dir, const uint8_t *d, size_t n, bool done)
{
    imap_state *st = s->st;
    (void)done;
    if (dir == ME_CLIENT && d && st->c.active)
        lit_bytes(s, &st->c, (const char *)d, n);
}

const me_engine me_imap_engine = {init, line, NULL, counted}; /* IMAP has no dot bodies */
