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
#include "smtp_text.h"

/* RFC 5321 states of a session as the server sees them (Zeek's SMTP_State
 * idea: named states, not a set of booleans).  AUTH and TLS are orthogonal
 * and kept apart (authed, tls_started). */
typedef enum {
    SM_CONNECT = 0, /* connection open, no EHLO/HELO accepted yet (§3.1, §4.1.1.1);
                     * also after STARTTLS's 220, which forgets everything (RFC 3207 §4.2) */
    SM_UNKNOWN,     /* the capture began mid-session: nothing is known, nothing flagged */
    SM_READY,       /* after a 250 to EHLO/HELO or RSET, or the final reply to a
                     * message: no transaction open (§4.1.4) */
    SM_MAIL,        /* MAIL accepted: a transaction is open, no recipient yet (§3.3) */
    SM_RCPT,        /* at least one RCPT accepted: DATA or BDAT may come (§3.3, RFC 3030 §2) */
    SM_QUIT,        /* QUIT sent: the server closes after its 221 (§4.1.1.10) */
    SM_KEEP         /* table value: the command does not change the state */
} smtp_sm;

#define S_(x) (1u << SM_##x)
#define S_ANY (S_(CONNECT) | S_(UNKNOWN) | S_(READY) | S_(MAIL) | S_(RCPT) | S_(QUIT))
#define S_HELLOED (S_(UNKNOWN) | S_(READY) | S_(MAIL) | S_(RCPT))

/* The command list; X(name, phase it opens or NONE to keep the current one,
 * states it is valid in, state after a success reply, text).  RSET and the
 * informational commands are valid in every state (§4.1.4). */
#define SMTP_COMMANDS(X)                                                    \
    X(HELO, ME_PHASE_HELLO, S_ANY, SM_READY, TXT_SMTP_HELO)                  \
    X(EHLO, ME_PHASE_HELLO, S_ANY, SM_READY, TXT_SMTP_EHLO)                  \
    X(AUTH, ME_PHASE_AUTH, S_(UNKNOWN) | S_(READY), SM_KEEP, TXT_SMTP_AUTH)  \
    X(STARTTLS, ME_PHASE_HELLO, S_HELLOED, SM_CONNECT, TXT_SMTP_STARTTLS)    \
    X(MAIL, ME_PHASE_ENVELOPE, S_(UNKNOWN) | S_(READY), SM_MAIL, TXT_SMTP_MAIL) \
    X(RCPT, ME_PHASE_ENVELOPE, S_(UNKNOWN) | S_(MAIL) | S_(RCPT), SM_RCPT, TXT_SMTP_RCPT) \
    X(DATA, ME_PHASE_DATA, S_(UNKNOWN) | S_(RCPT), SM_KEEP, TXT_SMTP_DATA)   \
    X(BDAT, ME_PHASE_DATA, S_(UNKNOWN) | S_(RCPT), SM_KEEP, TXT_SMTP_BDAT)   \
    X(RSET, ME_PHASE_HELLO, S_ANY, SM_READY, TXT_SMTP_RSET)                  \
    X(VRFY, ME_PHASE_NONE, S_ANY, SM_KEEP, TXT_SMTP_VRFY)                    \
    X(EXPN, ME_PHASE_NONE, S_ANY, SM_KEEP, TXT_SMTP_EXPN)                    \
    X(HELP, ME_PHASE_NONE, S_ANY, SM_KEEP, TXT_SMTP_HELP)                    \
    X(NOOP, ME_PHASE_NONE, S_ANY, SM_KEEP, TXT_SMTP_NOOP)                    \
    X(ETRN, ME_PHASE_NONE, S_ANY, SM_KEEP, TXT_SMTP_ETRN)                    \
    X(QUIT, ME_PHASE_QUIT, S_ANY, SM_QUIT, TXT_SMTP_QUIT)

enum {
    CMD_UNKNOWN = 0,
#define X(n, ph, ok, to, tx) CMD_##n,
    SMTP_COMMANDS(X)
#undef X
    CMD_COUNT,
    CMD_EOD,     /* pseudo command: the "." ending DATA content (its reply is the verdict) */
    CMD_GARBAGE  /* a line that is no command; the server answers it all the same */
};

static const struct {
    me_phase phase;
    unsigned valid; /* S_ bits */
    smtp_sm next;   /* state after a success reply */
    me_text_id text;
} cmds[CMD_COUNT] = {
    {ME_PHASE_NONE, S_ANY, SM_KEEP, TXT_SMTP_UNKNOWN_CMD},
#define X(n, ph, ok, to, tx) {ph, ok, to, tx},
    SMTP_COMMANDS(X)
#undef X
};

static const char *const cmd_names[CMD_COUNT] = {
    "",
#define X(n, ph, ok, to, tx) #n,
    SMTP_COMMANDS(X)
#undef X
};

/* Pending entry aux: the phase of the command (low byte) and flags. */
#define AUX_PHASE(a) ((me_phase)((a) & 0xffu))
#define AUX_LAST 0x100u      /* BDAT ... LAST */
#define AUX_INFERRED 0x200u  /* the command's phase was inferred */
#define AUX_AUTH 0x400u      /* AUTH named a mechanism: an attempt began */
#define AUX_EARLY 0x800u     /* sent before the greeting: its reply opens its phase */

#define ML_MAX 8192u         /* bytes of a multi-line reply kept for the record */

typedef struct smtp_state {
    bool started;      /* first record made (mid-session inference done) */
    bool greeted;      /* the greeting was seen, or is known to be missed */
    uint32_t early_frame; /* frame of the first line sent before the greeting */
    bool greet_assumed; /* known missed from the client's acknowledgement: a 220
                         * that still comes first is the greeting after all */
    bool client_seen;  /* the client sent a line */
    bool after_354;    /* server side only: the next reply is the verdict on a message */
    smtp_sm sm;        /* state confirmed by the server's replies */
    smtp_sm opt;       /* state once every pending command succeeds (what a
                        * pipelining client assumes when it sends the next one) */
    bool authed;       /* AUTH succeeded */
    bool tls_started;
    bool in_sasl;      /* AUTH exchange running: client lines are SASL responses */
    /* DATA sent, its reply not yet seen */
    bool data_wait;
    bool data_refused; /* DATA refused while the client already sent content */
    bool eod_early;    /* the "." came before the reply to DATA */
    bool data_sent;    /* DATA was sent (its record may be followed: s->watch) */
    /* multi-line reply being collected (continuation lines "250-...") */
    bool ml;
    char *ml_buf;      /* lines separated by '\n', at most ML_MAX bytes */
    size_t ml_len, ml_cap; /* ml_cap: ml_buf's size, grown by doubling as needed */
    const char *ml_enh;
    me_item *ml_item;  /* DATA record of this frame holding continuation lines */
    uint32_t ml_frame; /* ml_item's frame: records do not outlive it (mailedu.h) */
} smtp_state;

static void init(me_session *s)
{
    s->st = s->a.alloc(s->a.ctx, sizeof(smtp_state));
    s->phase = ME_PHASE_GREETING;
}


/* ---- strings ---- */
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
        return me_smtp_clean(s, p + i + 1, e - i - 1);
    }
    e = i;
    while (e < n && p[e] != ' ')
        e++;
    return e > i ? me_smtp_clean(s, p + i, e - i) : NULL;
}

/* ---- records and phases ---- */

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
        p->greeted = true;
        p->sm = p->opt = SM_UNKNOWN; /* whatever came before, the server is talking */
    }
}

/* Phase between exchanges: what a NOOP or an unsolicited reply would be in. */
static me_phase rest_phase(const smtp_state *p)
{
    switch (p->opt) {
    case SM_QUIT: return ME_PHASE_QUIT;
    case SM_MAIL:
    case SM_RCPT: return ME_PHASE_ENVELOPE;
    case SM_CONNECT: return p->tls_started ? ME_PHASE_HELLO : ME_PHASE_GREETING;
    default: return ME_PHASE_HELLO;
    }
}

/* How a command's reply ended, for the state machine. */
enum { R_PENDING, R_OK, R_FAIL };

/* The state after command cmd (with its pending aux) got reply r; R_PENDING
 * assumes success.  RFC 5321 §4.1.4: a refused command leaves the state as it
 * was, except where the RFC says the transaction is over whatever the reply. */
static smtp_sm sm_step(smtp_sm st, int cmd, uint32_t aux, int r)
{
    if (cmd == CMD_EOD || (cmd == CMD_BDAT && ((aux & AUX_LAST) || r == R_FAIL)))
        return st == SM_QUIT ? st : SM_READY; /* §4.1.1.4, RFC 3030 §2: the message is settled */
    if (cmd == CMD_QUIT)
        return SM_QUIT;                       /* the server closes whatever it answers */
    if (cmd <= CMD_UNKNOWN || cmd >= CMD_COUNT || r == R_FAIL || cmds[cmd].next == SM_KEEP)
        return st;
    if (cmd == CMD_RSET && st == SM_CONNECT)
        return st;                            /* RSET clears a transaction, it is no EHLO */
    return cmds[cmd].next;
}

/* The optimistic state: the confirmed one with every pending command applied. */
static void sm_replay(const me_session *s, smtp_state *p)
{
    unsigned i;
    p->opt = p->sm;
    for (i = 0; i < s->pend_count; i++) {
        const me_pending *q = me_pend_at(s, i);
        p->opt = sm_step(p->opt, q->cmd, q->aux, R_PENDING);
    }
}

/* A reply settled command cmd: the server's state moves (or not). */
static void sm_reply(me_session *s, smtp_state *p, int cmd, uint32_t aux, bool ok)
{
    p->sm = sm_step(p->sm, cmd, aux, ok ? R_OK : R_FAIL);
    sm_replay(s, p);
}

/* A line sent before the greeting, that stays in it (RFC 5321 §3.1): the
 * client had acknowledged no server byte (command_phase), and the line came
 * in the segment of the first such line, or the server's side is in the
 * capture (a segment of it was seen).  A client that sends more segments
 * into a silence the capture does not show is taken as one whose server
 * side was not captured (README: one side only): those lines get their
 * commands' phases. */
static bool sent_early(const me_session *s, const smtp_state *p)
{
    return !p->greeted && s->start_seen &&
           (!p->early_frame || p->early_frame == s->frame || s->side_seen[ME_SERVER]);
}

/* Queues a command for its reply (RFC 2920 §3: replies come in order).  PH
 * is the phase its reply is recorded in: the session's after the command,
 * or, for a line sent before the greeting, the phase the command itself
 * opens once answered (its reply is where the session moves). */
static void push(me_session *s, smtp_state *p, me_item *it, int cmd, const char *arg,
                 uint32_t aux, me_phase ph)
{
    me_pending *q = me_pend_push(s, it, cmd, NULL, arg);
    q->aux = aux | (uint32_t)ph | (s->inferred ? AUX_INFERRED : 0) |
             (it && it->auth ? AUX_AUTH : 0) | (sent_early(s, p) ? AUX_EARLY : 0);
    p->opt = sm_step(p->opt, cmd, q->aux, R_PENDING);
}

/* ---- client ---- */

/* RFC 5321 §4.1.4 (order of commands), RFC 4954 §4 (AUTH once, outside a
 * transaction), RFC 3207 §4 (STARTTLS after EHLO): checked against the state
 * the client may assume once its pending commands succeed. */
static void wrong_phase(me_session *s, smtp_state *p, me_item *it, int cmd)
{
    bool bad = !(cmds[cmd].valid & (1u << p->opt)) || (cmd == CMD_AUTH && p->authed);
    if (bad) {
        it->flags |= ME_W_WRONG_PHASE;
        it->wrong_phase = s->phase;
    }
}

static void sasl_line(me_session *s, const char *line, size_t n)
{
    me_item *it = me_item_new(s, ME_CLIENT, ME_KIND_SASL);
    it->argument = me_smtp_clean_rec(s, line, n);
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
    c = me_cred_begin_sasl(s, mw, ml);
    me_auth_snapshot(s, it);
    p->in_sasl = true;
    if (il) {
        me_sasl_out o;
        me_sasl_client(&c->sasl, ir, il, &o);
        me_cred_apply_sasl(s, it, &o);
        it->explain = TXT_SMTP_AUTH;
        it->explain2 = o.empty_secret ? TXT_AUTH_EMPTY_PASSWORD : o.explain;
        if (o.password || o.token) {
            char *m = s->a.alloc(s->a.ctx, ml + 10);
            memcpy(m, mw, ml);
            memcpy(m + ml, " ********", 10);
            it->masked = m;
        }
    }
}

/* The first line of a mid-session capture that is no command: message content. */
static void midsession_content(me_session *s, smtp_state *p, size_t n)
{
    me_item *it = me_item_new(s, ME_CLIENT, ME_KIND_DATA);
    it->explain = TXT_SMTP_MESSAGE_DATA;
    it->data_len = (uint32_t)n + 2;
    first_record(s, p, it, ME_PHASE_DATA, false);
    p->sm = p->opt = SM_RCPT; /* a message is being sent */
    p->client_seen = true;
    me_expect_dotbody(s, ME_CLIENT, TXT_SMTP_MESSAGE_DATA);
}

/* A line that is no command at all; the server answers it all the same. */
/* A client line of no phase of its own (NOOP, VRFY, a line that is no
 * command) stays in the session's phase, except after the client ended a
 * message (its "." or BDAT LAST) and before the verdict: the transaction is
 * over for the client (RFC 5321 §4.1.1.4, RFC 3030 §2), which may pipeline
 * what comes next (RFC 2920 §3.1), so the line is between exchanges, not in
 * data (helper 18: arkime's empty line after the "." and its 500 were in data). */
static void phase_between(me_session *s, const smtp_state *p, me_item *it)
{
    if (s->phase == ME_PHASE_DATA && p->opt == SM_READY && s->d[ME_CLIENT].mode == ME_READ_LINES &&
        !s->inferred)
        me_set_phase_now(s, it, rest_phase(p));
}

static void garbage_line(me_session *s, smtp_state *p, const char *line, size_t n)
{
    me_item *it = me_item_new(s, ME_CLIENT, ME_KIND_UNKNOWN);
    it->argument = me_smtp_clean_rec(s, line, n > 256 ? 256 : n);
    it->explain = TXT_SMTP_GARBAGE;
    it->flags |= ME_W_MALFORMED;
    first_record(s, p, it, ME_PHASE_HELLO, true);
    phase_between(s, p, it);
    push(s, p, it, CMD_GARBAGE, NULL, 0, s->phase);
}

/* The phase of a command record: the one the command opens (SPEC phase
 * model), checked against the state machine.  A command not valid in the
 * state the client may assume opens nothing: it stays in the session's
 * phase, flagged, as the early EHLO stays in greeting.  The server refuses it
 * (RFC 5321 §4.1.4, 503 bad sequence), so a DATA before any RCPT never put
 * the session in data.  Returns the phase the command's reply is recorded
 * in (push). */
static me_phase command_phase(me_session *s, smtp_state *p, me_item *it, int cmd)
{
    me_phase ph = cmds[cmd].phase;
    if (!p->started && !s->start_seen) {
        first_record(s, p, it, ph != ME_PHASE_NONE ? ph : ME_PHASE_HELLO, false);
        return s->phase;
    }
    p->started = true;
    if (!p->greeted && s->start_seen && s->unseen[ME_SERVER]) {
        /* the client acknowledged server bytes the capture lacks: the
         * greeting was sent, only not captured (RFC 5321 §3.1) */
        p->greeted = p->greet_assumed = true;
    }
    if (sent_early(s, p)) {
        /* RFC 5321 §3.1, §4.3.1: the client waits for the greeting.  Lines
         * sent before it (and before the client acknowledged any server
         * byte, above) stay in phase greeting, flagged; their replies open
         * the commands' phases in turn (README: "EHLO before the banner"):
         * the pending command carries its own phase for that. */
        p->early_frame = s->frame;
        if (it->phase != ME_PHASE_GREETING)
            me_set_phase_now(s, it, ME_PHASE_GREETING);
        it->flags |= ME_W_WRONG_PHASE;
        it->wrong_phase = ME_PHASE_GREETING;
        return ph != ME_PHASE_NONE ? ph : ME_PHASE_GREETING;
    }
    wrong_phase(s, p, it, cmd);
    if (ph != ME_PHASE_NONE && !(it->flags & ME_W_WRONG_PHASE))
        me_set_phase_now(s, it, ph);
    else if (ph == ME_PHASE_NONE)
        phase_between(s, p, it);
    return s->phase;
}

/* BDAT n [LAST] (RFC 3030 §2): the chunk is read by count.  Returns the
 * pending aux flags, or false when the arguments are malformed. */
static bool bdat_command(me_session *s, me_item *it, const char *rest, size_t rl, uint32_t *aux)
{
    const char *nw, *lw;
    size_t nl, ll;
    uint64_t size;
    me_first_word(rest, rl, &nw, &nl, &lw, &ll);
    if (!me_parse_u64(nw, nl, &size) || (ll && !me_ieq(lw, ll, "LAST"))) {
        it->flags |= ME_W_MALFORMED;
        return false;
    }
    me_expect_counted(s, ME_CLIENT, size, false, TXT_SMTP_BDAT_DATA);
    if (ll)
        *aux |= AUX_LAST;
    return true;
}

/* What the arguments of a command do; returns the argument kept for its reply. */
static const char *command_args(me_session *s, smtp_state *p, me_item *it, int cmd,
                                const char *rest, size_t rl, uint32_t *aux)
{
    const char *arg = NULL;
    switch (cmd) {
    case CMD_AUTH:
        auth_command(s, p, it, rest, rl);
        break;
    case CMD_MAIL:
        it->mail_from = arg = path_arg(s, rest, rl, "FROM:");
        break;
    case CMD_RCPT:
        it->rcpt = arg = path_arg(s, rest, rl, "TO:");
        break;
    case CMD_DATA:
        p->data_sent = true;
        s->watch = it;
        s->watch_followed = false;
        p->data_wait = true;
        p->data_refused = false;
        p->eod_early = false;
        me_expect_dotbody(s, ME_CLIENT, TXT_SMTP_MESSAGE_DATA);
        break;
    case CMD_BDAT:
        bdat_command(s, it, rest, rl, aux);
        break;
    default: /* HELO/EHLO: their 250 resets any transaction (sm_step, §4.1.4) */
        break;
    }
    if ((cmd == CMD_MAIL || cmd == CMD_RCPT) && !arg)
        it->flags |= ME_W_MALFORMED;
    return arg;
}

static void client_line(me_session *s, smtp_state *p, const char *line, size_t n)
{
    const char *w, *rest, *arg;
    size_t wl, rl;
    int cmd;
    me_item *it;
    uint32_t aux = 0;
    me_phase ph;

    me_first_word(line, n, &w, &wl, &rest, &rl);
    cmd = me_lookup(cmd_names, CMD_COUNT, w, wl);
    if (p->in_sasl) {
        if (!me_sasl_over(s, line, n, cmd != CMD_UNKNOWN)) {
            sasl_line(s, line, n);
            return;
        }
        p->in_sasl = false; /* the server's verdict was not captured */
    }
    if (!p->started && !s->start_seen && cmd == CMD_UNKNOWN) {
        midsession_content(s, p, n);
        return;
    }
    p->client_seen = true;
    if (cmd == CMD_UNKNOWN && !verb_ok(w, wl)) {
        garbage_line(s, p, line, n);
        return;
    }
    it = me_item_new(s, ME_CLIENT, ME_KIND_COMMAND);
    me_set_command(s, it, w, wl);
    if (rl)
        it->argument = me_smtp_clean_rec(s, rest, rl);
    it->explain = cmds[cmd].text;
    ph = command_phase(s, p, it, cmd);
    arg = command_args(s, p, it, cmd, rest, rl, &aux);
    push(s, p, it, cmd, (aux & AUX_LAST) ? NULL : arg, aux, ph);
}

/* The "." that ends DATA content: a record of its own, answered by the
 * server's verdict on the message (a pseudo command in the FIFO). */
static void body_end(me_session *s, me_dir dir)
{
    smtp_state *p = s->st;
    me_item *it;
    bool early;
    me_phase ph;
    if (dir != ME_CLIENT)
        return;
    early = sent_early(s, p); /* sent before the greeting: stays there */
    it = me_item_new(s, ME_CLIENT, ME_KIND_COMMAND);
    it->argument = ".";
    it->explain = TXT_SMTP_END_OF_DATA;
    if (s->phase != ME_PHASE_DATA && !early)
        me_set_phase_now(s, it, ME_PHASE_DATA);
    /* as an early command, its reply is in data (reply_for) */
    ph = early ? ME_PHASE_DATA : s->phase;
    if (p->data_refused) {
        /* DATA was refused: the server reads these lines as commands, not a message */
        p->data_refused = false;
        push(s, p, it, CMD_GARBAGE, NULL, 0, ph);
    } else {
        if (p->data_wait)
            p->eod_early = true;
        push(s, p, it, CMD_EOD, NULL, 0, ph);
    }
}

static void counted(me_session *s, me_dir dir, const uint8_t *d, size_t n, bool done)
{
    (void)s, (void)dir, (void)d, (void)n, (void)done;
}

/* ---- server ---- */

static void ml_append(me_session *s, smtp_state *p, const char *t, size_t tl)
{
    size_t room, want;
    if (p->ml_len && p->ml_len < ML_MAX)
        p->ml_buf[p->ml_len++] = '\n';
    room = ML_MAX - p->ml_len;
    if (tl > room)
        tl = room;
    /* the buffer fits the longest reply seen (an EHLO reply: a few hundred
     * bytes), not ML_MAX: 8 KiB kept per SMTP session was most of its cost */
    want = p->ml_len + tl + 1;
    if (want > p->ml_cap) {
        size_t cap = p->ml_cap ? p->ml_cap : 256;
        char *nb;
        while (cap < want)
            cap *= 2;
        if (cap > ML_MAX + 1)
            cap = ML_MAX + 1;
        nb = s->a.alloc(s->a.ctx, cap);
        if (p->ml_len)
            memcpy(nb, p->ml_buf, p->ml_len);
        if (p->ml_buf && s->a.free)
            s->a.free(s->a.ctx, p->ml_buf);
        p->ml_buf = nb;
        p->ml_cap = cap;
    }
    memcpy(p->ml_buf + p->ml_len, t, tl);
    p->ml_len += tl;
}

/* Lines of the collected reply joined with " | " for display. */
static const char *ml_joined(me_session *s, const smtp_state *p)
{
    char *r = s->a.alloc(s->a.ctx, p->ml_len * 3 + 1);
    const char *c;
    size_t i, o = 0;
    for (i = 0; i < p->ml_len; i++) {
        if (p->ml_buf[i] == '\n') {
            memcpy(r + o, " | ", 3);
            o += 3;
        } else {
            r[o++] = p->ml_buf[i];
        }
    }
    c = me_smtp_clean_rec(s, r, o);
    if (s->a.free) /* me_smtp_clean made its own copy */
        s->a.free(s->a.ctx, r);
    return c;
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
        it->detail = me_smtp_clean_rec(s, d, o);
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
    it->argument = me_smtp_clean_rec(s, t, tl);
    if (!s->cred || s->cred->finished) {
        /* mid-session: the AUTH line was not seen; LOGIN prompts are recognisable */
        uint8_t buf[64];
        long r = tl < 80 ? me_b64_decode(t, tl, buf) : -1;
        if (r > 0 && (me_ifind((const char *)buf, (size_t)r, "user") >= 0 ||
                      me_ifind((const char *)buf, (size_t)r, "pass") >= 0)) {
            me_cred_begin_sasl(s, "LOGIN", 5);
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
        me_link(s, pc.item, it);
        if (AUX_PHASE(pc.aux) != ME_PHASE_AUTH)
            /* an AUTH that opened nothing (sent while an earlier command, its
             * reply not captured, seemed to forbid it): the server's 334
             * shows the exchange began, here */
            me_set_phase_now(s, it, ME_PHASE_AUTH);
        else
            me_record_phase(s, it, ME_PHASE_AUTH, (pc.aux & AUX_INFERRED) != 0, true);
    } else if (p->started) {
        /* server side only: nothing is late, the challenge opens auth */
        me_record_phase(s, it, ME_PHASE_AUTH, s->inferred, p->client_seen);
    }
    first_record(s, p, it, ME_PHASE_AUTH, false);
    p->in_sasl = true;
}

/* The verdict of an AUTH on its final reply (RFC 4954 §6): 2xx succeeded;
 * only 535, or the enhanced code x.7.8 whatever the basic one, says the
 * credentials were invalid.  Every other code refused the attempt for
 * another reason (504 mechanism, 534 too weak, 538 or 530 encryption first,
 * 503 sequence, 501 syntax, 500 line too long, 454 temporary, 421 closing),
 * and a 501 after the client's "*" confirms its cancel (RFC 4954 §4). */
static void auth_result(me_session *s, me_item *it, int code)
{
    bool invalid = code == 535 || (it->enhanced && strlen(it->enhanced) >= 5 &&
                                   strcmp(it->enhanced + 1, ".7.8") == 0);
    if (code / 100 == 2) {
        me_cred_result(s, it, ME_RESULT_SUCCESS, ME_FAIL_NONE);
        return;
    }
    me_cred_result(s, it, ME_RESULT_FAILURE, invalid ? ME_FAIL_CREDENTIALS : ME_FAIL_REFUSED);
    if (code == 501 && it->auth && it->auth->failure == ME_FAIL_CANCELLED) {
        if (!it->explain2)
            it->explain2 = it->explain;
        it->explain = TXT_SMTP_AUTH_CANCELLED;
    }
}

/* DATA was answered with something else than 354. */
static void data_refused(me_session *s, smtp_state *p)
{
    me_dirstate *d = &s->d[ME_CLIENT];
    bool body = p->eod_early || d->len || d->body_midline ||
                (p->data_sent && s->watch_followed);
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
    me_link(s, pc->item, it);
    sm_reply(s, p, pc->cmd, pc->aux, ok || (pc->cmd == CMD_STARTTLS && code == 220));
    if ((pc->aux & AUX_EARLY) && AUX_PHASE(pc->aux) != ME_PHASE_NONE &&
        AUX_PHASE(pc->aux) != ME_PHASE_GREETING) {
        /* a command sent before the greeting: its reply is where the
         * session really enters the command's phase */
        me_set_phase_now(s, it, AUX_PHASE(pc->aux));
        /* content the early DATA announced is read in data from here on */
        if (pc->cmd == CMD_DATA && s->d[ME_CLIENT].mode != ME_READ_LINES)
            s->d[ME_CLIENT].body_phase = ME_PHASE_DATA;
    } else if ((AUX_PHASE(pc->aux) == ME_PHASE_GREETING && p->greeted) ||
               (pc->cmd == CMD_AUTH && s->phase == ME_PHASE_AUTH)) {
        /* a line of no phase of its own sent before the greeting (an empty
         * line), or an AUTH whose exchange its 334 opened (challenge): the
         * reply comes in the phase the session is in by then; after the
         * verdict on a message, that is between exchanges (phase_between) */
        if (s->phase == ME_PHASE_DATA && p->sm == SM_READY && !s->inferred &&
            s->d[ME_CLIENT].mode == ME_READ_LINES)
            me_set_phase_now(s, it, rest_phase(p));
        else
            me_record_phase(s, it, s->phase, (pc->aux & AUX_INFERRED) != 0, true);
    } else {
        me_record_phase(s, it, AUX_PHASE(pc->aux), (pc->aux & AUX_INFERRED) != 0, true);
    }
    switch (pc->cmd) {
    case CMD_EHLO:
    case CMD_HELO:
        if (ok) {
            if (pc->cmd == CMD_EHLO && multi)
                ehlo_caps(s, p, it);
            else
                it->explain = TXT_SMTP_HELLO_OK;
        }
        break;
    case CMD_AUTH:
        if (!(pc->aux & AUX_AUTH))
            break; /* AUTH without a mechanism: nothing was attempted */
        p->in_sasl = false;
        if (ok) {
            it->explain = TXT_SMTP_AUTH_OK;
            p->authed = true;
        }
        auth_result(s, it, code);
        break;
    case CMD_STARTTLS:
        if (code == 220) {
            it->explain = TXT_SMTP_STARTTLS_OK;
        } else if (code >= 400) {
            if (!it->enhanced)
                it->explain2 = it->explain; /* what the code says in general */
            it->explain = TXT_SMTP_STARTTLS_REFUSED;
            me_tls_refused(s, it);
        }
        break;
    case CMD_MAIL:
        it->mail_from = pc->arg;
        if (ok)
            it->explain = TXT_SMTP_MAIL_OK;
        break;
    case CMD_RCPT:
        it->rcpt = pc->arg;
        if (ok && code == 250)
            it->explain = TXT_SMTP_RCPT_OK;
        else if (!ok) {
            if (!it->enhanced)
                it->explain2 = TXT_SMTP_RCPT_REFUSED;
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
        if (ok) {
            it->explain = TXT_SMTP_EOD_OK;
        } else {
            /* what the refusal means here first: a code's general text can
             * read otherwise (554's is also the greeting's "no SMTP service") */
            if (!it->enhanced)
                it->explain2 = it->explain;
            it->explain = TXT_SMTP_EOD_REFUSED;
        }
        break;
    case CMD_BDAT:
        if (ok) /* RFC 3030 §2: the reply to the LAST chunk accepts the message */
            it->explain = (pc->aux & AUX_LAST) ? TXT_SMTP_BDAT_LAST_OK : TXT_SMTP_BDAT_OK;
        break; /* RFC 3030 §2: a refused chunk fails the transaction (sm_step) */
    case CMD_QUIT:
        if (code == 221)
            it->explain = TXT_SMTP_QUIT_OK;
        break;
    default:
        break;
    }
}

/* Only the server side was captured (no client line yet), or the client line
 * a reply answers was lost: the reply code tells what it answers (RFC 5321
 * §4.2, §4.3.2), so it gives the phase. */
static void server_only_phase(me_session *s, smtp_state *p, me_item *it, int code, bool multi)
{
    me_phase ph;
    if (code == 354 || p->after_354)
        ph = ME_PHASE_DATA; /* 354, then the verdict on the message */
    else if (code == 235 || code == 535 || code == 538)
        ph = ME_PHASE_AUTH;
    else if (code == 221)
        ph = ME_PHASE_QUIT;
    else if (code == 250 && multi)
        ph = ME_PHASE_HELLO; /* the EHLO reply: the only multi-line 250 */
    else
        ph = guess_from_reply(code, it->enhanced);
    p->after_354 = code == 354;
    if (s->tls && !s->decrypted)
        return;
    if (s->inferred) /* mid-session too: the phase stays a guess */
        me_mark_inferred(s, it, ph);
    else if (p->client_seen) /* a reply to a lost line: a guess from here on */
        me_infer_after_loss(s, it, ph);
    else
        me_set_phase_now(s, it, ph);
}

/* The record of a complete reply (the last line "ddd text"), with its code,
 * status, enhanced code and texts; continuation lines are joined into it. */
static me_item *reply_record(me_session *s, smtp_state *p, int code, const char *t, size_t tl)
{
    me_item *it;
    bool multi = p->ml;
    size_t el;
    if (multi && p->ml_item && p->ml_frame == s->frame && p->ml_item == s->tail) {
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
    el = me_smtp_enhanced_len(t, tl);
    if (el)
        it->enhanced = me_rstrndup(s, t, el);
    else if (multi && p->ml_enh)
        it->enhanced = p->ml_enh;
    if (multi) {
        ml_append(s, p, t, tl);
        it->argument = ml_joined(s, p);
    } else if (tl) {
        it->argument = me_smtp_clean_rec(s, t, tl);
    }
    it->explain = me_smtp_code_text(code);
    it->explain2 = it->enhanced ? me_smtp_enhanced_text(it->enhanced) : TXT_NONE;
    if (it->explain2 == TXT_NONE && it->explain != me_smtp_class_text(code))
        it->explain2 = me_smtp_class_text(code);
    return it;
}

/* The first reply: the greeting (RFC 5321 §4.3.1), 220, or 554/421 when the
 * server refuses.  Returns true when it was one. */
static bool greeting(me_session *s, smtp_state *p, me_item *it, int code)
{
    bool greet = (code == 220 || code == 554 || code == 421) &&
                 (s->start_seen || !p->client_seen);
    p->greeted = true;
    if (!greet)
        return false;
    it->explain = code == 220 ? TXT_SMTP_GREETING
                  : code == 554 ? TXT_SMTP_GREETING_REFUSED
                                : TXT_SMTP_R421;
    /* a greeting the client had already acknowledged (a capture that wrote
     * it after the EHLO) shows its phase but reopens none: never hello,
     * greeting, hello */
    if (p->started)
        me_record_phase(s, it, ME_PHASE_GREETING, false, p->greet_assumed);
    first_record(s, p, it, ME_PHASE_GREETING, true);
    return true;
}

/* A 334 can only answer AUTH (RFC 4954 §4), and a server answers in the
 * order the commands came (RFC 2920 §3.1): commands still waiting before the
 * newest AUTH got their replies where the capture does not show them.  Each
 * is settled by the rule that checks AUTH itself (wrong_phase): accepted if
 * AUTH is still valid in the state its success leaves (EHLO, RSET, NOOP),
 * refused if not (MAIL, RCPT, DATA: no AUTH during a mail transaction;
 * STARTTLS: once accepted the 334 would be inside TLS, RFC 3207 §4; an
 * earlier AUTH: one AUTH only).  The replies after this one then match the
 * right commands. */
static void settle_before_auth(me_session *s, smtp_state *p, me_item *it)
{
    me_pending pc;
    unsigned i, auth = s->pend_count;
    bool ok;
    for (i = 0; i < s->pend_count; i++)
        if (me_pend_at(s, i)->cmd == CMD_AUTH)
            auth = i;
    for (i = 0; i < auth && auth < s->pend_count; i++) {
        if (!me_pend_pop(s, &pc))
            break;
        ok = pc.cmd != CMD_AUTH &&
             (cmds[CMD_AUTH].valid & (1u << sm_step(p->sm, pc.cmd, pc.aux, R_OK))) != 0;
        if (pc.cmd == CMD_STARTTLS && !ok)
            me_tls_refused(s, it);
        sm_reply(s, p, pc.cmd, pc.aux, ok);
    }
}

static void final_reply(me_session *s, smtp_state *p, int code, const char *t, size_t tl)
{
    bool multi = p->ml;
    me_pending pc;
    me_item *it = reply_record(s, p, code, t, tl);

    if ((!p->greeted || p->greet_assumed) && greeting(s, p, it, code)) {
        p->greet_assumed = false;
        return;
    }
    p->greet_assumed = false;
    if (code == 334) {
        settle_before_auth(s, p, it);
        if (p->in_sasl || !p->started || !p->client_seen ||
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
            p->sm = p->opt = SM_CONNECT;
            p->authed = false;
            p->in_sasl = false;
            p->data_wait = false;
            return;
        }
    } else {
        /* no command waits: a reply to a line we did not see, or unsolicited (421) */
        if (p->in_sasl) {
            p->in_sasl = false;
            if (code / 100 == 2)
                it->explain = TXT_SMTP_AUTH_OK, p->authed = true;
            auth_result(s, it, code);
        } else if (code == 354 && s->d[ME_CLIENT].mode == ME_READ_LINES) {
            me_expect_dotbody(s, ME_CLIENT, TXT_SMTP_MESSAGE_DATA);
        }
        /* only the server's side so far, or the client's line this answers
         * was lost: the reply code tells the phase (helper 19: replies to a
         * lost pipelined AUTH..DATA segment were all in hello) */
        if (!p->client_seen || s->lost[ME_CLIENT] || s->unseen[ME_CLIENT]) {
            server_only_phase(s, p, it, code, multi);
            return;
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

    if (!me_smtp_parse_reply(l, n, &code, &sep, &t, &tl)) {
        it = me_item_new(s, ME_SERVER, ME_KIND_UNKNOWN);
        it->argument = me_smtp_clean_rec(s, l, n > 256 ? 256 : n);
        it->explain = TXT_SMTP_BAD_REPLY;
        it->flags |= ME_W_MALFORMED;
        first_record(s, p, it, ME_PHASE_HELLO, false);
        return;
    }
    if (sep == '-') {
        /* continuation line: kept until the last line "ddd " makes the record */
        size_t el = me_smtp_enhanced_len(t, tl);
        if (!p->ml) {
            p->ml = true;
            p->ml_len = 0;
            p->ml_enh = NULL;
        }
        ml_append(s, p, t, tl);
        if (el && !p->ml_enh)
            p->ml_enh = me_strndup(s, t, el);
        if (!p->ml_item || p->ml_frame != s->frame || p->ml_item != s->tail) {
            me_pending pc;
            it = p->ml_item = me_item_new(s, ME_SERVER, ME_KIND_DATA);
            p->ml_frame = s->frame;
            it->explain = TXT_SMTP_REPLY_CONT;
            /* before the greeting, a first line is the greeting's even when
             * an early client already has commands waiting */
            if (!p->greeted && (s->start_seen || !p->client_seen))
                me_record_phase(s, it, ME_PHASE_GREETING, false, false);
            else if (me_pend_peek(s, &pc))
                me_record_phase(s, it, AUX_PHASE(pc.aux), (pc.aux & AUX_INFERRED) != 0, true);
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

static void fini(me_session *s)
{
    smtp_state *p = s->st;
    if (p->ml_buf)
        s->a.free(s->a.ctx, p->ml_buf);
    s->a.free(s->a.ctx, p);
}

const me_engine me_smtp_engine = {init, line, body_end, counted, fini, NULL};
