/* smtp.c - SMTP engine: RFC 5321 sessions and replies, RFC 4954 AUTH,
 * RFC 3207 STARTTLS, RFC 2920 pipelining, RFC 3030 BDAT/CHUNKING, RFC 1870
 * SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8, RFC 3463 enhanced status codes.
 *
 * Phases (SPEC): greeting, hello, auth, envelope, data, quit.  In SMTP every
 * command opens its own phase (EHLO/HELO/RSET/STARTTLS hello, AUTH auth,
 * MAIL/RCPT envelope, DATA/BDAT data, QUIT quit; NOOP, VRFY, EXPN, HELP keep
 * the current one), and a reply belongs to the phase of its command, which is
 * remembered in the pending FIFO because pipelined replies come late.
 *
 * Message content is never read as commands: DATA switches the client
 * direction to dot-body mode at once (a pipelining client may put the body
 * in the same segment), BDAT skips exactly the announced byte count. */
#include <string.h>

#include "internal.h"

/* The command list; X(name, phase it opens or NONE to keep the current one, text) */
#define SMTP_COMMANDS(X)                                 \
    X(HELO, ME_PHASE_HELLO, TXT_SMTP_HELO)               \
    X(EHLO, ME_PHASE_HELLO, TXT_SMTP_EHLO)               \
    X(AUTH, ME_PHASE_AUTH, TXT_SMTP_AUTH)                \
    X(STARTTLS, ME_PHASE_HELLO, TXT_SMTP_STARTTLS)       \
    X(MAIL, ME_PHASE_ENVELOPE, TXT_SMTP_MAIL)            \
    X(RCPT, ME_PHASE_ENVELOPE, TXT_SMTP_RCPT)            \
    X(DATA, ME_PHASE_DATA, TXT_SMTP_DATA)                \
    X(BDAT, ME_PHASE_DATA, TXT_SMTP_BDAT)                \
    X(RSET, ME_PHASE_HELLO, TXT_SMTP_RSET)               \
    X(VRFY, ME_PHASE_NONE, TXT_SMTP_VRFY)                \
    X(EXPN, ME_PHASE_NONE, TXT_SMTP_EXPN)                \
    X(HELP, ME_PHASE_NONE, TXT_SMTP_HELP)                \
    X(NOOP, ME_PHASE_NONE, TXT_SMTP_NOOP)                \
    X(ETRN, ME_PHASE_NONE, TXT_SMTP_ETRN)                \
    X(QUIT, ME_PHASE_QUIT, TXT_SMTP_QUIT)

enum {
    CMD_UNKNOWN = 0,
#define X(n, ph, tx) CMD_##n,
    SMTP_COMMANDS(X)
#undef X
    CMD_COUNT,
    CMD_EOD,     /* pseudo command: the "." ending DATA content (its reply is the verdict) */
    CMD_GARBAGE  /* a line that is no command; the server answers it all the same */
};

static const struct {
    const char *name;
    me_phase phase;
    me_text_id text;
} cmds[CMD_COUNT] = {
    {"", ME_PHASE_NONE, TXT_SMTP_UNKNOWN_CMD},
#define X(n, ph, tx) {#n, ph, tx},
    SMTP_COMMANDS(X)
#undef X
};

/* Pending entry aux: the phase of the command (low byte) and flags. */
#define AUX_PHASE(a) ((me_phase)((a) & 0xffu))
#define AUX_LAST 0x100u      /* BDAT ... LAST */
#define AUX_INFERRED 0x200u  /* the command's phase was inferred */

#define ML_MAX 8192u         /* bytes of a multi-line reply kept for the record */

typedef struct smtp_state {
    bool started;      /* first record made (mid-session inference done) */
    bool greeted;      /* the greeting was seen, or is known to be missed */
    bool client_seen;  /* the client sent a line */
    bool midsession;   /* the capture began mid-session: history unknown */
    bool hello_done;   /* EHLO/HELO sent and not refused */
    bool authed;       /* AUTH succeeded */
    bool txn_known;    /* we know whether a mail transaction is open */
    bool mail_open;    /* MAIL sent and not refused, transaction not over */
    unsigned rcpts;    /* RCPTs sent in this transaction and not refused */
    bool quit_sent;
    bool tls_started;
    bool in_sasl;      /* AUTH exchange running: client lines are SASL responses */
    /* DATA sent, its reply not yet seen */
    bool data_wait;
    bool data_refused; /* DATA refused while the client already sent content */
    bool eod_early;    /* the "." came before the reply to DATA */
    me_item *data_item;
    /* multi-line reply being collected (continuation lines "250-...") */
    bool ml;
    char *ml_buf;      /* lines separated by '\n', at most ML_MAX bytes */
    size_t ml_len;
    const char *ml_enh;
    me_item *ml_item;  /* DATA record of this frame holding continuation lines */
} smtp_state;

static void init(me_session *s)
{
    s->st = s->a.alloc(s->a.ctx, sizeof(smtp_state));
    s->phase = ME_PHASE_GREETING;
}

static int lookup(const char *w, size_t n)
{
    int i;
    for (i = 1; i < CMD_COUNT; i++)
        if (me_ieq(w, n, cmds[i].name))
            return i;
    return CMD_UNKNOWN;
}

/* ---- strings ---- */

/* Length of a valid UTF-8 sequence at p (1..4), or 0. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
    size_t len, i;
    uint32_t c;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2, c = p[0] & 0x1fu;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, c = p[0] & 0x0fu;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, c = p[0] & 0x07u;
    else
        return 0;
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3fu);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
        (c >= 0xd800 && c <= 0xdfff))
        return 0;
    return len;
}

/* The bytes as a displayable string: valid UTF-8 kept, control bytes and
 * invalid sequences written as \xNN.  Wire text is never trusted raw. */
static const char *clean(me_session *s, const char *p, size_t n)
{
    static const char hexd[] = "0123456789abcdef";
    const uint8_t *u = (const uint8_t *)p;
    size_t i = 0, o = 0, l;
    char *r;
    while (i < n) {
        if (u[i] < 0x20 || u[i] == 0x7f || !(l = utf8_len(u + i, n - i)))
            break;
        i += l;
    }
    if (i == n)
        return me_strndup(s, p, n);
    r = s->a.alloc(s->a.ctx, 4 * n + 1);
    for (i = 0; i < n;) {
        l = (u[i] < 0x20 || u[i] == 0x7f) ? 0 : utf8_len(u + i, n - i);
        if (l) {
            memcpy(r + o, p + i, l);
            o += l;
            i += l;
        } else {
            r[o++] = '\\';
            r[o++] = 'x';
            r[o++] = hexd[u[i] >> 4];
            r[o++] = hexd[u[i] & 15];
            i++;
        }
    }
    r[o] = '\0';
    return r;
}

/* A command verb: 1 to 20 letters, digits, '-' or '_'. */
static bool verb_ok(const char *w, size_t n)
{
    size_t i;
    if (n == 0 || n > 20)
        return false;
    for (i = 0; i < n; i++) {
        char c = w[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* The address of "FROM:<a@b> SIZE=1" / "TO: <a@b>" without the brackets;
 * "<>" stays "<>" (null reverse-path).  NULL if the keyword is missing. */
static const char *path_arg(me_session *s, const char *p, size_t n, const char *kw)
{
    size_t k = strlen(kw), i, e;
    if (!me_iprefix(p, n, kw))
        return NULL;
    i = k;
    while (i < n && p[i] == ' ')
        i++;
    if (i < n && p[i] == '<') {
        e = i + 1;
        while (e < n && p[e] != '>')
            e++;
        if (e == i + 1)
            return "<>";
        return clean(s, p + i + 1, e - i - 1);
    }
    e = i;
    while (e < n && p[e] != ' ')
        e++;
    return e > i ? clean(s, p + i, e - i) : NULL;
}

/* ---- records and phases ---- */

/* Gives a record the phase of the command it answers without moving the
 * session's phase (pipelined commands may already have opened a later one).
 * A late reply to a pipelined command (MAIL's 250 arriving after the client
 * sent DATA) shows its command's phase but does not start a phase the
 * session has already left: mailedu.phase.start marks where phases begin. */
static void record_phase(me_session *s, me_item *it, me_phase ph, bool inferred, bool late_ok)
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

/* The first record of the session: if the capture did not see the start,
 * the phase is a guess (SPEC: mailedu.phase.inferred, noted once). */
static void first_record(me_session *s, smtp_state *p, me_item *it, me_phase guess,
                         bool at_start)
{
    if (p->started)
        return;
    p->started = true;
    if (s->start_seen && at_start)
        return;
    me_mark_inferred(s, it, guess);
    if (guess != ME_PHASE_GREETING) {
        p->midsession = true;
        p->greeted = true;
        p->hello_done = true; /* whatever came before, the server is talking */
        p->txn_known = false;
    }
}

/* Phase between exchanges: what a NOOP or an unsolicited reply would be in. */
static me_phase rest_phase(const smtp_state *p)
{
    if (p->quit_sent)
        return ME_PHASE_QUIT;
    if (p->mail_open)
        return ME_PHASE_ENVELOPE;
    if (p->hello_done || p->tls_started || p->midsession)
        return ME_PHASE_HELLO;
    return ME_PHASE_GREETING;
}

static void push(me_session *s, me_item *it, int cmd, const char *arg, uint32_t aux)
{
    me_pend_push(s, it, cmd, NULL, arg);
    me_pend_at(s, s->pend_count - 1)->aux =
        aux | (uint32_t)s->phase | (s->inferred ? AUX_INFERRED : 0);
}

static void txn_reset(smtp_state *p)
{
    p->mail_open = false;
    p->rcpts = 0;
    p->txn_known = true;
}

/* ---- client ---- */

static void wrong_phase(me_session *s, smtp_state *p, me_item *it, int cmd)
{
    bool bad = false;
    switch (cmd) {
    case CMD_MAIL: /* RFC 5321 §4.1.4: EHLO/HELO first; no MAIL inside a transaction */
        bad = !p->hello_done || (p->txn_known && p->mail_open);
        break;
    case CMD_RCPT: /* §4.1.1.3: RCPT only after MAIL */
        bad = p->txn_known && !p->mail_open;
        break;
    case CMD_DATA: /* §4.1.1.4 and RFC 3030 §2: content only after a recipient */
    case CMD_BDAT:
        bad = p->txn_known && (!p->mail_open || p->rcpts == 0);
        break;
    case CMD_AUTH: /* RFC 4954 §4: after EHLO, once, not inside a transaction */
        bad = !p->hello_done || p->authed || (p->txn_known && p->mail_open);
        break;
    case CMD_STARTTLS: /* RFC 3207 §4: after EHLO */
        bad = !p->hello_done;
        break;
    default:
        break;
    }
    if (bad) {
        it->flags |= ME_W_WRONG_PHASE;
        it->wrong_phase = s->phase;
    }
}

static void sasl_line(me_session *s, const char *line, size_t n)
{
    me_item *it = me_item_new(s, ME_CLIENT, ME_KIND_SASL);
    it->argument = clean(s, line, n);
    it->explain = TXT_SASL_RESPONSE;
    if (s->cred && s->cred->is_sasl && !s->cred->finished) {
        me_sasl_out o;
        me_sasl_client(&s->cred->sasl, line, n, &o);
        me_cred_apply_sasl(s, it, &o);
        if (o.password || o.token)
            it->masked = "********";
    }
}

static void auth_command(me_session *s, smtp_state *p, me_item *it, const char *rest, size_t rl)
{
    const char *mw, *ir;
    size_t ml, il;
    me_cred *c;
    me_first_word(rest, rl, &mw, &ml, &ir, &il);
    if (!ml || !verb_ok(mw, ml)) {
        it->explain2 = TXT_SMTP_AUTH_NO_MECH;
        it->flags |= ME_W_MALFORMED;
        return;
    }
    c = me_cred_begin(s, NULL);
    me_sasl_start(&c->sasl, &s->a, mw, ml);
    c->is_sasl = true;
    c->a.mechanism = c->sasl.name;
    me_auth_snapshot(s, it);
    p->in_sasl = true;
    if (il) {
        me_sasl_out o;
        me_sasl_client(&c->sasl, ir, il, &o);
        me_cred_apply_sasl(s, it, &o);
        it->explain = TXT_SMTP_AUTH;
        it->explain2 = o.explain;
        if (o.password || o.token) {
            char *m = s->a.alloc(s->a.ctx, ml + 10);
            memcpy(m, mw, ml);
            memcpy(m + ml, " ********", 10);
            it->masked = m;
        }
    }
}

static void client_line(me_session *s, smtp_state *p, const char *line, size_t n)
{
    const char *w, *rest, *arg = NULL;
    size_t wl, rl;
    int cmd;
    me_item *it;
    me_phase ph;
    uint32_t aux = 0;

    if (p->in_sasl) {
        sasl_line(s, line, n);
        return;
    }
    me_first_word(line, n, &w, &wl, &rest, &rl);
    cmd = lookup(w, wl);

    if (!p->started && !s->start_seen && cmd == CMD_UNKNOWN) {
        /* first line of a mid-session capture that is no command: message content */
        it = me_item_new(s, ME_CLIENT, ME_KIND_DATA);
        it->explain = TXT_SMTP_MESSAGE_DATA;
        it->data_len = (uint32_t)n + 2;
        first_record(s, p, it, ME_PHASE_DATA, false);
        p->mail_open = true;
        p->rcpts = 1;
        p->txn_known = true;
        p->client_seen = true;
        me_expect_dotbody(s, ME_CLIENT, TXT_SMTP_MESSAGE_DATA);
        return;
    }
    p->client_seen = true;
    if (cmd == CMD_UNKNOWN && !verb_ok(w, wl)) {
        it = me_item_new(s, ME_CLIENT, ME_KIND_UNKNOWN);
        it->argument = clean(s, line, n > 256 ? 256 : n);
        it->explain = TXT_SMTP_GARBAGE;
        it->flags |= ME_W_MALFORMED;
        first_record(s, p, it, ME_PHASE_HELLO, true);
        push(s, it, CMD_GARBAGE, NULL, 0);
        return;
    }

    it = me_item_new(s, ME_CLIENT, ME_KIND_COMMAND);
    it->command = me_upper(s, w, wl);
    if (rl)
        it->argument = clean(s, rest, rl);
    it->explain = cmds[cmd].text;
    ph = cmds[cmd].phase;
    if (!p->started && !s->start_seen) {
        first_record(s, p, it, ph != ME_PHASE_NONE ? ph : ME_PHASE_HELLO, false);
    } else {
        p->started = true;
        wrong_phase(s, p, it, cmd);
        if (ph != ME_PHASE_NONE)
            me_set_phase_now(s, it, ph);
    }

    switch (cmd) {
    case CMD_HELO:
    case CMD_EHLO:
        /* RFC 5321 §4.1.4: EHLO/HELO also resets any transaction */
        p->hello_done = true;
        txn_reset(p);
        break;
    case CMD_AUTH:
        auth_command(s, p, it, rest, rl);
        break;
    case CMD_MAIL:
        it->mail_from = arg = path_arg(s, rest, rl, "FROM:");
        if (!arg)
            it->flags |= ME_W_MALFORMED;
        p->mail_open = true;
        p->rcpts = 0;
        p->txn_known = true;
        break;
    case CMD_RCPT:
        it->rcpt = arg = path_arg(s, rest, rl, "TO:");
        if (!arg)
            it->flags |= ME_W_MALFORMED;
        p->rcpts++;
        break;
    case CMD_DATA:
        p->data_item = it;
        p->data_wait = true;
        p->data_refused = false;
        p->eod_early = false;
        me_expect_dotbody(s, ME_CLIENT, TXT_SMTP_MESSAGE_DATA);
        break;
    case CMD_BDAT: {
        const char *nw, *lw;
        size_t nl, ll;
        uint64_t size;
        me_first_word(rest, rl, &nw, &nl, &lw, &ll);
        if (!me_parse_u64(nw, nl, &size) || (ll && !me_ieq(lw, ll, "LAST"))) {
            it->flags |= ME_W_MALFORMED;
            break;
        }
        me_expect_counted(s, ME_CLIENT, size, false, TXT_SMTP_BDAT_DATA);
        if (ll) {
            aux |= AUX_LAST;
            push(s, it, cmd, NULL, aux);
            txn_reset(p); /* the client's side of the transaction is complete */
            return;
        }
        break;
    }
    case CMD_RSET:
        txn_reset(p);
        break;
    case CMD_QUIT:
        p->quit_sent = true;
        break;
    default:
        break;
    }
    push(s, it, cmd, arg, aux);
}

/* The "." that ends DATA content: a record of its own, answered by the
 * server's verdict on the message (a pseudo command in the FIFO). */
static void body_end(me_session *s, me_dir dir)
{
    smtp_state *p = s->st;
    me_item *it;
    if (dir != ME_CLIENT)
        return;
    it = me_item_new(s, ME_CLIENT, ME_KIND_COMMAND);
    it->argument = ".";
    it->explain = TXT_SMTP_END_OF_DATA;
    if (s->phase != ME_PHASE_DATA)
        me_set_phase_now(s, it, ME_PHASE_DATA);
    if (p->data_refused) {
        /* DATA was refused: the server reads these lines as commands, not a message */
        p->data_refused = false;
        push(s, it, CMD_GARBAGE, NULL, 0);
        return;
    }
    if (p->data_wait)
        p->eod_early = true;
    push(s, it, CMD_EOD, NULL, 0);
    txn_reset(p); /* the client's side of the transaction is complete */
}

static void counted(me_session *s, me_dir dir, const uint8_t *d, size_t n, bool done)
{
    (void)s, (void)dir, (void)d, (void)n, (void)done;
}

/* ---- server ---- */

/* "ddd", "ddd text" or "ddd-text", first digit 2-5 (RFC 5321 §4.2).  The
 * second digit should be 0-5, but servers do send codes like 472: accepted. */
static bool parse_reply(const char *l, size_t n, int *code, char *sep, const char **text,
                        size_t *tl)
{
    if (n < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '9' || l[2] < '0' ||
        l[2] > '9')
        return false;
    if (n > 3 && l[3] != ' ' && l[3] != '-')
        return false;
    *code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
    *sep = n > 3 ? l[3] : ' ';
    *text = n > 4 ? l + 4 : l + n;
    *tl = n > 4 ? n - 4 : 0;
    if (*code != 334) /* "250- 4404 byte chunk": the text, not the spaces (334 keeps its payload) */
        while (*tl && **text == ' ')
            (*text)++, (*tl)--;
    return true;
}

/* Enhanced status code "c.sss.ddd" at the start of the text (RFC 3463 §2). */
static size_t enhanced_len(const char *t, size_t n)
{
    size_t i = 1, part;
    int dots = 0;
    if (n < 5 || (t[0] != '2' && t[0] != '4' && t[0] != '5') || t[1] != '.')
        return 0;
    while (dots < 2) {
        if (t[i] != '.')
            return 0;
        i++;
        part = 0;
        while (i < n && t[i] >= '0' && t[i] <= '9' && part < 3)
            i++, part++;
        if (part == 0)
            return 0;
        dots++;
    }
    if (i < n && t[i] != ' ')
        return 0;
    return i;
}

static me_text_id code_text(int code)
{
    switch (code) {
    case 211: return TXT_SMTP_R211;
    case 214: return TXT_SMTP_R214;
    case 220: return TXT_SMTP_R220;
    case 221: return TXT_SMTP_R221;
    case 235: return TXT_SMTP_R235;
    case 250: return TXT_SMTP_R250;
    case 251: return TXT_SMTP_R251;
    case 252: return TXT_SMTP_R252;
    case 334: return TXT_SMTP_R334;
    case 354: return TXT_SMTP_R354;
    case 421: return TXT_SMTP_R421;
    case 432: return TXT_SMTP_R432;
    case 450: return TXT_SMTP_R450;
    case 451: return TXT_SMTP_R451;
    case 452: return TXT_SMTP_R452;
    case 453: return TXT_SMTP_R453;
    case 454: return TXT_SMTP_R454;
    case 455: return TXT_SMTP_R455;
    case 500: return TXT_SMTP_R500;
    case 501: return TXT_SMTP_R501;
    case 502: return TXT_SMTP_R502;
    case 503: return TXT_SMTP_R503;
    case 504: return TXT_SMTP_R504;
    case 521: return TXT_SMTP_R521;
    case 530: return TXT_SMTP_R530;
    case 534: return TXT_SMTP_R534;
    case 535: return TXT_SMTP_R535;
    case 538: return TXT_SMTP_R538;
    case 550: return TXT_SMTP_R550;
    case 551: return TXT_SMTP_R551;
    case 552: return TXT_SMTP_R552;
    case 553: return TXT_SMTP_R553;
    case 554: return TXT_SMTP_R554;
    case 555: return TXT_SMTP_R555;
    case 556: return TXT_SMTP_R556;
    case 557: return TXT_SMTP_R557;
    default: break;
    }
    switch (code / 100) {
    case 2: return TXT_SMTP_CLASS_2;
    case 3: return TXT_SMTP_CLASS_3;
    case 4: return TXT_SMTP_CLASS_4;
    default: return TXT_SMTP_CLASS_5;
    }
}

static me_text_id class_text(int code)
{
    return code_text(code / 100 * 100 + 99); /* no such code: falls to the class */
}

/* RFC 3463: by class.subject.detail where a detail is well known, else by subject. */
static me_text_id enhanced_text(const char *e)
{
    unsigned cls, subj = 0, det = 0;
    const char *q = e + 2;
    static const struct {
        unsigned cls, subj, det; /* cls 0: any class */
        me_text_id t;
    } known[] = {
        {2, 0, 0, TXT_SMTP_E_2_0_0}, {2, 1, 0, TXT_SMTP_E_2_1_0}, {0, 1, 1, TXT_SMTP_E_X_1_1}, {0, 1, 2, TXT_SMTP_E_X_1_2},
        {0, 1, 3, TXT_SMTP_E_X_1_3}, {0, 1, 5, TXT_SMTP_E_X_1_5}, {0, 1, 6, TXT_SMTP_E_X_1_6},
        {0, 1, 7, TXT_SMTP_E_X_1_7}, {0, 1, 8, TXT_SMTP_E_X_1_8}, {0, 2, 1, TXT_SMTP_E_X_2_1},
        {0, 2, 2, TXT_SMTP_E_X_2_2}, {0, 2, 3, TXT_SMTP_E_X_2_3}, {0, 3, 4, TXT_SMTP_E_X_3_4},
        {0, 4, 2, TXT_SMTP_E_X_4_2}, {0, 4, 7, TXT_SMTP_E_X_4_7}, {0, 5, 1, TXT_SMTP_E_X_5_1},
        {0, 5, 2, TXT_SMTP_E_X_5_2}, {0, 5, 3, TXT_SMTP_E_X_5_3}, {0, 5, 4, TXT_SMTP_E_X_5_4},
        {2, 7, 0, TXT_SMTP_E_2_7_0}, {0, 7, 0, TXT_SMTP_E_X_7_0}, {0, 7, 1, TXT_SMTP_E_X_7_1},
        {0, 7, 8, TXT_SMTP_E_X_7_8}, {0, 7, 9, TXT_SMTP_E_X_7_9}, {0, 7, 11, TXT_SMTP_E_X_7_11},
        {0, 7, 12, TXT_SMTP_E_X_7_12},
    };
    static const me_text_id subjects[] = {TXT_SMTP_E_X0, TXT_SMTP_E_X1, TXT_SMTP_E_X2,
                                          TXT_SMTP_E_X3, TXT_SMTP_E_X4, TXT_SMTP_E_X5,
                                          TXT_SMTP_E_X6, TXT_SMTP_E_X7};
    size_t i;
    cls = (unsigned)(e[0] - '0');
    while (*q >= '0' && *q <= '9')
        subj = subj * 10 + (unsigned)(*q++ - '0');
    if (*q == '.')
        q++;
    while (*q >= '0' && *q <= '9')
        det = det * 10 + (unsigned)(*q++ - '0');
    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if ((known[i].cls == 0 || known[i].cls == cls) && known[i].subj == subj &&
            known[i].det == det)
            return known[i].t;
    return subj < 8 ? subjects[subj] : TXT_NONE;
}

static void ml_append(me_session *s, smtp_state *p, const char *t, size_t tl)
{
    size_t room;
    if (!p->ml_buf)
        p->ml_buf = s->a.alloc(s->a.ctx, ML_MAX + 1);
    if (p->ml_len && p->ml_len < ML_MAX)
        p->ml_buf[p->ml_len++] = '\n';
    room = ML_MAX - p->ml_len;
    if (tl > room)
        tl = room;
    memcpy(p->ml_buf + p->ml_len, t, tl);
    p->ml_len += tl;
}

/* Lines of the collected reply joined with " | " for display. */
static const char *ml_joined(me_session *s, const smtp_state *p)
{
    char *r = s->a.alloc(s->a.ctx, p->ml_len * 3 + 1);
    size_t i, o = 0;
    for (i = 0; i < p->ml_len; i++) {
        if (p->ml_buf[i] == '\n') {
            memcpy(r + o, " | ", 3);
            o += 3;
        } else {
            r[o++] = p->ml_buf[i];
        }
    }
    return clean(s, r, o);
}

/* Capability keywords of an EHLO reply with their RFC (language-neutral detail). */
static const struct {
    const char *kw, *rfc;
} caps[] = {
    {"SIZE", "RFC 1870"},        {"PIPELINING", "RFC 2920"},   {"STARTTLS", "RFC 3207"},
    {"AUTH", "RFC 4954"},        {"8BITMIME", "RFC 6152"},     {"CHUNKING", "RFC 3030"},
    {"BINARYMIME", "RFC 3030"},  {"SMTPUTF8", "RFC 6531"},     {"DSN", "RFC 3461"},
    {"ENHANCEDSTATUSCODES", "RFC 2034"}, {"ETRN", "RFC 1985"}, {"VRFY", "RFC 5321"},
    {"EXPN", "RFC 5321"},        {"HELP", "RFC 5321"},         {"DELIVERBY", "RFC 2852"},
    {"REQUIRETLS", "RFC 8689"},  {"MT-PRIORITY", "RFC 6710"},  {"FUTURERELEASE", "RFC 4865"},
    {"NO-SOLICITING", "RFC 3865"}, {"BURL", "RFC 4468"},
};

/* Reads the capability lines of a 250 reply to EHLO (all lines but the
 * first); writes a readable list to it->detail and the security summary. */
static void ehlo_caps(me_session *s, smtp_state *p, me_item *it)
{
    size_t i = 0, o = 0, cap = p->ml_len + 64;
    char *d;
    bool first = true, starttls = false, auth = false;
    for (i = 0; i < p->ml_len; i++)
        if (p->ml_buf[i] == '\n')
            cap += 20; /* "; " and " (RFC nnnn)" per line */
    d = s->a.alloc(s->a.ctx, cap);
    i = 0;
    while (i <= p->ml_len) {
        size_t e = i, kl = 0, k;
        const char *l = p->ml_buf + i;
        while (e < p->ml_len && p->ml_buf[e] != '\n')
            e++;
        if (!first && e > i) {
            const char *rfc = NULL;
            while (kl < e - i && l[kl] != ' ' && l[kl] != '=')
                kl++;
            for (k = 0; k < sizeof(caps) / sizeof(caps[0]); k++)
                if (me_ieq(l, kl, caps[k].kw))
                    rfc = caps[k].rfc;
            if (me_ieq(l, kl, "STARTTLS"))
                starttls = true;
            if (me_ieq(l, kl, "AUTH"))
                auth = true;
            if (o)
                memcpy(d + o, "; ", 2), o += 2;
            memcpy(d + o, l, e - i);
            o += e - i;
            if (rfc) {
                d[o++] = ' ';
                d[o++] = '(';
                memcpy(d + o, rfc, strlen(rfc));
                o += strlen(rfc);
                d[o++] = ')';
            }
        }
        first = false;
        i = e + 1;
    }
    if (o)
        it->detail = clean(s, d, o);
    if (starttls && !s->tls)
        s->tls_offered = true;
    it->explain = TXT_SMTP_EHLO_CAPS;
    if (s->tls)
        it->explain2 = TXT_SMTP_CAPS_IN_TLS;
    else if (starttls && auth)
        it->explain2 = TXT_SMTP_CAPS_STARTTLS_AUTH;
    else if (auth)
        it->explain2 = TXT_SMTP_CAPS_AUTH_CLEAR;
    else if (starttls)
        it->explain2 = TXT_SMTP_CAPS_STARTTLS;
    else
        it->explain2 = TXT_SMTP_CAPS_NO_TLS;
}

/* Mid-session guess for a reply whose command was not seen. */
static me_phase guess_from_reply(int code, const char *enh)
{
    switch (code) {
    case 334:
    case 235:
    case 535:
        return ME_PHASE_AUTH;
    case 354:
        return ME_PHASE_DATA;
    case 221:
        return ME_PHASE_QUIT;
    default:
        break;
    }
    if (enh && enh[2] == '1' && enh[3] == '.')
        return ME_PHASE_ENVELOPE;
    return ME_PHASE_HELLO;
}

/* A 334: challenge of the running AUTH exchange. */
static void challenge(me_session *s, smtp_state *p, me_item *it, const char *t, size_t tl)
{
    me_pending pc;
    it->kind = ME_KIND_CHALLENGE;
    it->status = ME_STATUS_CONTINUE;
    it->argument = clean(s, t, tl);
    if (!s->cred || s->cred->finished) {
        /* mid-session: the AUTH line was not seen; LOGIN prompts are recognisable */
        uint8_t buf[64];
        long r = tl < 80 ? me_b64_decode(t, tl, buf) : -1;
        if (r > 0 && (me_ifind((const char *)buf, (size_t)r, "user") >= 0 ||
                      me_ifind((const char *)buf, (size_t)r, "pass") >= 0)) {
            me_cred *c = me_cred_begin(s, NULL);
            me_sasl_start(&c->sasl, &s->a, "LOGIN", 5);
            c->is_sasl = true;
            c->a.mechanism = c->sasl.name;
        }
    }
    if (s->cred && s->cred->is_sasl && !s->cred->finished) {
        me_sasl_out o;
        me_sasl_server(&s->cred->sasl, t, tl, &o);
        me_cred_apply_sasl(s, it, &o);
        it->explain2 = o.explain;
        if (o.decoded)
            it->detail = o.decoded;
    }
    it->explain = TXT_SMTP_R334;
    if (me_pend_peek(s, &pc) && pc.cmd == CMD_AUTH) {
        me_link(pc.item, it);
        record_phase(s, it, ME_PHASE_AUTH, (pc.aux & AUX_INFERRED) != 0, true);
    } else if (p->started) {
        record_phase(s, it, ME_PHASE_AUTH, s->inferred, true);
    }
    first_record(s, p, it, ME_PHASE_AUTH, false);
    p->in_sasl = true;
}

/* DATA was answered with something else than 354. */
static void data_refused(me_session *s, smtp_state *p)
{
    me_dirstate *d = &s->d[ME_CLIENT];
    bool body = p->eod_early || d->len || d->body_midline ||
                (p->data_item && p->data_item->next);
    me_pending pc;
    if (p->eod_early) {
        /* the "." came already: its pseudo entry gets no verdict */
        if (me_pend_peek(s, &pc) && pc.cmd == CMD_EOD) {
            me_pend_pop(s, &pc);
            p->eod_early = false;
        }
    } else if (d->mode == ME_READ_DOTBODY) {
        if (!body) {
            d->mode = ME_READ_LINES; /* the client waited: what follows are commands */
            d->len = 0;
            d->body_midline = false;
        } else {
            p->data_refused = true;
        }
    }
}

static void reply_for(me_session *s, smtp_state *p, me_item *it, const me_pending *pc, int code,
                      bool multi)
{
    bool ok = code / 100 == 2;
    me_link(pc->item, it);
    record_phase(s, it, AUX_PHASE(pc->aux), (pc->aux & AUX_INFERRED) != 0, true);
    switch (pc->cmd) {
    case CMD_EHLO:
    case CMD_HELO:
        if (ok) {
            p->hello_done = true;
            if (pc->cmd == CMD_EHLO && multi)
                ehlo_caps(s, p, it);
            else
                it->explain = TXT_SMTP_HELLO_OK;
        } else {
            p->hello_done = false;
        }
        break;
    case CMD_AUTH:
        if (!pc->item->auth)
            break; /* AUTH without a mechanism: nothing was attempted */
        p->in_sasl = false;
        if (ok) {
            it->explain = TXT_SMTP_AUTH_OK;
            p->authed = true;
        }
        me_cred_result(s, it, ok ? ME_RESULT_SUCCESS : ME_RESULT_FAILURE);
        break;
    case CMD_STARTTLS:
        if (code == 220)
            it->explain = TXT_SMTP_STARTTLS_OK;
        break;
    case CMD_MAIL:
        it->mail_from = pc->arg;
        if (ok)
            it->explain = TXT_SMTP_MAIL_OK;
        else
            p->mail_open = false;
        break;
    case CMD_RCPT:
        it->rcpt = pc->arg;
        if (ok && code == 250)
            it->explain = TXT_SMTP_RCPT_OK;
        else if (!ok) {
            if (!it->enhanced)
                it->explain2 = TXT_SMTP_RCPT_REFUSED;
            if (p->rcpts)
                p->rcpts--;
        }
        break;
    case CMD_DATA:
        p->data_wait = false;
        if (code == 354) {
            if (s->d[ME_CLIENT].mode == ME_READ_LINES && !p->eod_early)
                me_expect_dotbody(s, ME_CLIENT, TXT_SMTP_MESSAGE_DATA);
            p->eod_early = false;
        } else {
            if (!it->enhanced)
                it->explain2 = TXT_SMTP_DATA_REFUSED;
            data_refused(s, p);
        }
        break;
    case CMD_EOD:
        it->explain = ok ? TXT_SMTP_EOD_OK : code_text(code);
        if (!ok && !it->enhanced)
            it->explain2 = TXT_SMTP_EOD_REFUSED;
        break;
    case CMD_BDAT:
        if (ok)
            it->explain = TXT_SMTP_BDAT_OK;
        else if (!(pc->aux & AUX_LAST))
            txn_reset(p); /* RFC 3030 §2: a refused chunk fails the transaction */
        break;
    case CMD_QUIT:
        if (code == 221)
            it->explain = TXT_SMTP_QUIT_OK;
        break;
    default:
        break;
    }
}

static void final_reply(me_session *s, smtp_state *p, int code, const char *t, size_t tl)
{
    me_item *it;
    bool multi = p->ml;
    size_t el;
    me_pending pc;

    if (multi && p->ml_item && p->ml_item == s->tail) {
        it = p->ml_item; /* the continuation lines arrived in this same frame */
        it->kind = ME_KIND_REPLY;
        it->data_len = 0;
    } else {
        it = me_item_new(s, ME_SERVER, ME_KIND_REPLY);
    }
    p->ml_item = NULL;
    p->ml = false;
    it->reply_code = (uint16_t)code;
    it->status = code >= 400 ? ME_STATUS_ERROR : code >= 300 ? ME_STATUS_CONTINUE : ME_STATUS_OK;
    el = enhanced_len(t, tl);
    if (el)
        it->enhanced = me_strndup(s, t, el);
    else if (multi && p->ml_enh)
        it->enhanced = p->ml_enh;
    if (multi) {
        ml_append(s, p, t, tl);
        it->argument = ml_joined(s, p);
    } else if (tl) {
        it->argument = clean(s, t, tl);
    }
    it->explain = code_text(code);
    it->explain2 = it->enhanced ? enhanced_text(it->enhanced) : TXT_NONE;
    if (it->explain2 == TXT_NONE && it->explain != class_text(code))
        it->explain2 = class_text(code);

    /* the greeting (RFC 5321 §4.3.1): 220, or 554 when the server refuses */
    if (!p->greeted) {
        bool greet = (code == 220 || code == 554 || code == 421) &&
                     (s->start_seen || !p->client_seen);
        p->greeted = true;
        if (greet) {
            it->explain = code == 220 ? TXT_SMTP_GREETING
                          : code == 554 ? TXT_SMTP_GREETING_REFUSED
                                        : TXT_SMTP_R421;
            if (p->started)
                record_phase(s, it, ME_PHASE_GREETING, false, false);
            first_record(s, p, it, ME_PHASE_GREETING, true);
            return;
        }
    }
    if (code == 334) {
        if (p->in_sasl || !p->started ||
            (me_pend_peek(s, &pc) && pc.cmd == CMD_AUTH)) {
            challenge(s, p, it, t, tl);
            return;
        }
    }
    first_record(s, p, it, guess_from_reply(code, it->enhanced), false);
    if (me_pend_pop(s, &pc)) {
        reply_for(s, p, it, &pc, code, multi);
        if (pc.cmd == CMD_STARTTLS && code == 220) {
            /* RFC 3207 §4.2: everything after this reply is TLS; state is forgotten */
            it->flags |= ME_W_TLS_START;
            me_start_tls(s);
            me_set_phase(s, ME_PHASE_HELLO);
            p->tls_started = true;
            p->hello_done = false;
            p->authed = false;
            p->in_sasl = false;
            p->data_wait = false;
            txn_reset(p);
            return;
        }
    } else {
        /* no command waits: a reply to a line we did not see, or unsolicited (421) */
        if (p->in_sasl) {
            p->in_sasl = false;
            if (code / 100 == 2)
                it->explain = TXT_SMTP_AUTH_OK, p->authed = true;
            me_cred_result(s, it, code / 100 == 2 ? ME_RESULT_SUCCESS : ME_RESULT_FAILURE);
        } else if (code == 354 && s->d[ME_CLIENT].mode == ME_READ_LINES) {
            me_expect_dotbody(s, ME_CLIENT, TXT_SMTP_MESSAGE_DATA);
        }
    }
    /* between exchanges the session rests in the phase of its state */
    if (s->pend_count == 0 && !p->in_sasl && s->d[ME_CLIENT].mode == ME_READ_LINES)
        s->phase = rest_phase(p);
}

static void server_line(me_session *s, smtp_state *p, const char *l, size_t n)
{
    int code;
    char sep;
    const char *t;
    size_t tl;
    me_item *it;

    if (!parse_reply(l, n, &code, &sep, &t, &tl)) {
        it = me_item_new(s, ME_SERVER, ME_KIND_UNKNOWN);
        it->argument = clean(s, l, n > 256 ? 256 : n);
        it->explain = TXT_SMTP_BAD_REPLY;
        it->flags |= ME_W_MALFORMED;
        first_record(s, p, it, ME_PHASE_HELLO, false);
        return;
    }
    if (sep == '-') {
        /* continuation line: kept until the last line "ddd " makes the record */
        size_t el = enhanced_len(t, tl);
        if (!p->ml) {
            p->ml = true;
            p->ml_len = 0;
            p->ml_enh = NULL;
        }
        ml_append(s, p, t, tl);
        if (el && !p->ml_enh)
            p->ml_enh = me_strndup(s, t, el);
        if (!p->ml_item || p->ml_item != s->tail) {
            me_pending pc;
            it = p->ml_item = me_item_new(s, ME_SERVER, ME_KIND_DATA);
            it->explain = TXT_SMTP_REPLY_CONT;
            if (me_pend_peek(s, &pc))
                record_phase(s, it, AUX_PHASE(pc.aux), (pc.aux & AUX_INFERRED) != 0, true);
            else if (!p->greeted && (s->start_seen || !p->client_seen))
                record_phase(s, it, ME_PHASE_GREETING, false, false);
            first_record(s, p, it, p->greeted ? guess_from_reply(code, NULL)
                                              : ME_PHASE_GREETING,
                         code == 220);
        }
        p->ml_item->data_len += (uint32_t)n + 2;
        return;
    }
    final_reply(s, p, code, t, tl);
}

static void line(me_session *s, me_dir dir, const char *l, size_t n)
{
    smtp_state *p = s->st;
    if (dir == ME_CLIENT)
        client_line(s, p, l, n);
    else
        server_line(s, p, l, n);
}

const me_engine me_smtp_engine = {init, line, body_end, counted};
