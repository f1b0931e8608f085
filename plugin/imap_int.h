/* imap_int.h - what the two halves of the IMAP engine share: the command
 * list, the engine state and the helpers used by both imap.c (client side)
 * and imap_server.c (server side).  Not part of the engine's interface. */
#ifndef MAILEDU_IMAP_INT_H
#define MAILEDU_IMAP_INT_H

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
    X(COMPRESS, PH_A | PH_S, TXT_IMAP_COMPRESS)    \
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
/* pending commands are found by bit masks of command ids (me_pend_newest) */
_Static_assert(CMD_DONE < 64, "IMAP command ids fit a 64-bit mask");

#define LIT_KEEP 1024u                 /* bytes kept of a captured literal */
#define LIT_MAX ((uint64_t)1 << 40)    /* a larger count is not believed */
#define MAX_LITS 16u                   /* literals remembered per logical line */
#define BUF_CAP (ME_MAX_LINE + 4u * LIT_KEEP)

/* A literal inside the client's logical line: "{N}" starts at mark, its kept
 * bytes at start; frame: where its first byte came (0: none yet). */
typedef struct imap_lit {
    size_t mark, start, kept;
    uint32_t frame;
    bool lost;         /* some of its bytes were never captured: its value is unknown */
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
    size_t secret_at;  /* a login's line: where its verb ends in buf (masking), else 0 */
    bool sync_wait;    /* {N}: waiting for the server's "+" */
    uint64_t sync_n;
    const char *tag;   /* tag of the line, for a refused literal */
    uint32_t first;    /* frame of the line's first piece, 0 before it */
} imap_cline;

typedef struct imap_state {
    bool greeted;        /* past the greeting (or known to have begun without it) */
    bool mid;            /* the capture began mid-session */
    bool cli_synced;     /* mid-session: a client line that is IMAP was seen */
    bool srv_synced;
    bool login_disabled; /* LOGINDISABLED announced before login, not in TLS */
    bool logout_sent;
    bool mailbox_closed; /* an untagged [CLOSED] since the last SELECT/EXAMINE reply (RFC 9051 §7.1) */
    bool authed;         /* a LOGIN or AUTHENTICATE was answered OK */
    bool in_sasl;        /* AUTHENTICATE exchange running */
    const char *sasl_tag;
    bool idle;           /* between IDLE and DONE */
    const char *idle_tag;
    me_ref done_item;    /* the DONE line, answered by IDLE's tagged reply */
    bool srv_cont;       /* the server's line goes on after a literal */
    imap_cline c;
} imap_state;

/* Helpers shared by both sides (imap.c).  Records and strings are allocated
 * from the session (me_session.a); nothing is freed. */
/* A record of this session (the core adds the selected mailbox). */
me_item *me_imap_new_item(me_session *s, imap_state *st, me_dir dir, me_kind kind);
/* A displayable copy of n bytes at p: control bytes escaped as \xNN. */
const char *me_imap_disp(me_session *s, const char *p, size_t n); /* record allocation */
/* True if p (n bytes) is a valid tag (RFC 9051 §9: ASTRING-CHARs but "+"). */
bool me_imap_valid_tag(const char *p, size_t n);
/* A line (n bytes) that ends in {N} or {N+} (RFC 9051 §4.3, RFC 7888): sets
 * *num, *plus and *mark (offset of "{"); *bad when the count is absurd. */
bool me_imap_literal_end(const char *l, size_t n, uint64_t *num, bool *plus, size_t *mark,
                         bool *bad);
/* The frame of the newest pending command of kind cmd (or alt), or 0. */
uint32_t me_imap_pending_of(const me_session *s, int cmd, int alt);
/* The frame of the pending command with this tag, or 0. */
uint32_t me_imap_pending_tag(const me_session *s, const char *tag);
bool me_imap_login_pending(const me_session *s);
/* A pending command's aux: bit 0 "not valid in the state it was sent in",
 * bits 8-15 the session's phase once it was read, bit 16 that phase inferred. */
#define AUX_PHASE_OF(ph) ((uint32_t)(ph) << 8)
#define AUX_PHASE(a) ((me_phase)(((a) >> 8) & 0xffu))
#define AUX_INFERRED 0x10000u
/* Forgets partial lines and literals (after STARTTLS). */
void me_imap_reset_lines(imap_state *st);
/* A logical line cut by lost bytes ends with what was seen: the command is
 * read as far as it goes (a literal whose bytes were lost reads as unknown)
 * and its record made now. */
void me_imap_end_cut_line(me_session *s, imap_state *st);
/* Order of the phases, for "a deeper phase" (Not Authenticated = 1 ... Logout = 4). */
int me_imap_rank(me_phase p);
/* A complete server line (imap_server.c). */
void me_imap_server_line(me_session *s, imap_state *st, const char *l, size_t n);

#endif
