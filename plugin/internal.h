/* internal.h - what the session core shares with the protocol engines.
 * Not part of the glue's interface (that is mailedu.h). */
#ifndef MAILEDU_INTERNAL_H
#define MAILEDU_INTERNAL_H

#include "mailedu.h"
#include "sasl.h"
#include "util.h"

#define ME_MAX_LINE    16384u /* longest line kept; longer ones are flagged and cut */
#define ME_MAX_PENDING 64u    /* commands awaiting a reply (pipelining) */
#define ME_PEND_MIN    4u     /* the ring of them starts this small and doubles */
#define ME_LINE_TAIL   64u    /* last bytes of an over-long line that are kept */
#define ME_LINE_BUF_MIN 16u  /* a partial line's buffer starts here and doubles (a body
                              * keeps 2 bytes of a partial line: 16 is plenty) */

/* A record of this or an earlier frame, by its frame and index: records are
 * packed at the end of their frame (mailedu.h), so engines keep no pointer to
 * one past its frame.  frame 0: none. */
typedef struct me_ref {
    uint32_t frame;
    uint16_t index;
} me_ref;

/* The reference of a record; {0, 0} for NULL. */
me_ref me_ref_of(const me_item *it);

/* A command waiting for its reply. */
typedef struct me_pending {
    me_ref item;       /* the command's record (for response_in and request_in) */
    int cmd;           /* engine-specific command id */
    const char *tag;   /* IMAP tag, else NULL */
    const char *arg;   /* engine use (e.g. mailbox of SELECT) */
    uint32_t aux;      /* engine use */
    struct me_cred *cred; /* the login attempt the command began, kept for its
                           * reply when later attempts are pipelined (IMAP), or NULL */
} me_pending;

/* The credential being built by the current attempt (mutable, internal). */
typedef struct me_cred {
    me_auth a;             /* accumulated values; snapshots copy from here */
    bool finished;         /* result known */
    me_sasl sasl;          /* SASL decoder state when a SASL mechanism is used */
    bool is_sasl;
    bool held;             /* a pending command still waits to give its verdict */
} me_cred;

/* How a direction's bytes are currently read. */
typedef enum {
    ME_READ_LINES = 0,     /* lines handed to the engine */
    ME_READ_DOTBODY,       /* dot-terminated body (POP3 multi-line, SMTP DATA) */
    ME_READ_COUNTED        /* `count` bytes handed to engine->counted (literal, BDAT) */
} me_readmode;

typedef struct me_dirstate {
    me_readmode mode;
    uint64_t count;        /* ME_READ_COUNTED: bytes still to read */
    bool capture;          /* counted bytes are wanted by the engine (else skipped) */
    char *buf;             /* partial line (allocated on first need, grown by doubling) */
    size_t len, cap;
    size_t part;           /* bytes of the current line in earlier segments, kept or
                            * not: a body line's size is what was sent, not what was kept;
                            * in a body, those not yet counted in a record (a line is
                            * counted in the frames its bytes came in) */
    bool body_ended;       /* DOTBODY: this feed read the body's closing dot line */
    bool overflow;         /* current line longer than ME_MAX_LINE */
    bool gap;              /* bytes were lost before the current position */
    bool body_midline;     /* DOTBODY: the partial line is not at a line start */
    me_text_id what;       /* explanation for DATA records of this mode */
    me_phase body_phase;   /* phase of the record that opened this body (its content
                            * shows it even when pipelined lines moved the session on) */
    uint32_t next_flags;   /* ME_W_* for the next record of this direction */
    struct me_inflate *zin; /* the direction is DEFLATE-compressed (IMAP COMPRESS,
                             * RFC 4978): its bytes are inflated, then read; or NULL */
} me_dirstate;

typedef struct me_engine {
    void (*init)(me_session *s);
    /* A complete line (without CRLF); the engine creates its record(s). */
    void (*line)(me_session *s, me_dir dir, const char *line, size_t len);
    /* End of a dot-terminated body (the "." line was read); may be NULL. */
    void (*body_end)(me_session *s, me_dir dir);
    /* Counted bytes (capture==true: the bytes; else data==NULL). done: last chunk.
     * May be NULL for engines that never ask for counted bytes. */
    void (*counted)(me_session *s, me_dir dir, const uint8_t *data, size_t len, bool done);
    /* Returns the engine's state and buffers to the allocator (me_session_free). */
    void (*fini)(me_session *s);
    /* Bytes of DIR were lost (me_session_gap): LITERAL, some of the counted
     * bytes being read; LINE, bytes after them or of a line (the logical line
     * being assembled is cut).  Makes no record (the next line's does); may
     * be NULL. */
    void (*gap)(me_session *s, me_dir dir, bool literal, bool line);
} me_engine;

/* Commands answered: (frame, index) -> reply frame, sorted by command.  Apart
 * from the session: packed records refer to it after the session is freed. */
/* One answered command. */
struct me_link {
    uint32_t frame;
    uint32_t index;
    uint32_t reply;
};

typedef struct me_links {
    struct me_link *v;
    uint32_t n, cap;
} me_links;

struct me_session {
    me_alloc a;
    me_proto proto;
    const me_engine *eng;
    void *st;              /* engine state */
    me_phase phase;        /* protocol phase (what it would be in clear) */
    me_phase shown;        /* phase of the last record (for phase_start) */
    me_phase prev_shown;   /* phase before the last record */
    bool any_item;
    bool seen_line;        /* a line was seen (greeting detection) */
    bool inferred;         /* phase was inferred */
    bool mid_noted;
    bool start_seen;       /* TCP handshake captured */
    bool tls;              /* TLS active from here on */
    bool decrypted;        /* current feed is decrypted TLS */
    bool keys_seen;        /* some TLS data of this session was decrypted */
    me_dirstate d[2];
    /* records of the frame being fed */
    me_item *head, *tail;
    uint32_t frame;
    me_dir cur_dir;
    uint32_t frame_records; /* records made for frame `records_frame` */
    uint32_t records_frame;
    me_item *limit_item;    /* the frame's summary of lines left out, or NULL */
    me_alloc rec;           /* where records are made (me_session_use_records) */
    /* a record of this feed an engine watches: was another made after it?
     * (SMTP: did content follow DATA in its segment) */
    const me_item *watch;
    bool watch_followed;
    me_kept *kept;          /* the records of past frames, packed (pack.c) */
    me_links *links;        /* commands answered: part of kept */
    uint32_t limit_lines;
    /* pending commands, FIFO (POP3/SMTP) or searched by tag (IMAP) */
    me_pending *pend;      /* ring of pend_cap entries, NULL until the first command */
    unsigned pend_first, pend_count, pend_cap;
    /* credentials */
    me_cred *cred;         /* current attempt, or NULL */
    uint32_t attempts;
    const char *user;      /* session user once a login succeeded (or last tried) */
    const char *mailbox;   /* IMAP mailbox selected, copied onto every record */
    bool tls_upgraded;     /* TLS started by STARTTLS/STLS, not yet seen on the wire */
    bool tls_implicit;     /* TLS assumed from the port, no TLS record seen yet */
    bool clear_on_tls_port; /* implicit-TLS port, but the session turned out clear */
    bool predecrypted;     /* readable text after STARTTLS: a capture of decrypted data */
    bool inflating;        /* the bytes being read were inflated (me_inflate) */
    bool tls_offered;      /* server advertised STLS/STARTTLS */
    bool tls_refused;      /* server answered STLS/STARTTLS with an error */
    bool tls_warned;
    bool unseen[2];        /* bytes of this direction acknowledged, never seen */
    bool lost[2];          /* bytes of this direction skipped (me_session_gap) */
    bool side_seen[2];     /* a segment of this direction was captured (me_session_seen) */
};

/* Records */
me_item *me_item_new(me_session *s, me_dir dir, me_kind kind);
void me_set_phase(me_session *s, me_phase ph);            /* takes effect for the next record */
void me_set_phase_now(me_session *s, me_item *it, me_phase ph); /* this record opens ph */
void me_start_tls(me_session *s);
/* From the next byte on, both directions are raw DEFLATE (RFC 1951) streams
 * (IMAP COMPRESS=DEFLATE, RFC 4978 §3): each is inflated as it comes, in
 * order, and the inflated bytes are read as before.  A gap in a compressed
 * direction ends its inflating: what follows is counted, not read.  The
 * inflaters' memory (about 45 KB a direction) comes from the session's
 * allocator.  Nothing happens if compression is already on. */
void me_start_compress(me_session *s);
/* The server's reply it refused STARTTLS/STLS (RFC 3207 §4: 454 or 5xx,
 * RFC 2595 §4: -ERR, RFC 9051 §6.2.1: NO/BAD): the session stays in clear,
 * and this record and every later one say so (me_item.tls_refused). */
void me_tls_refused(me_session *s, me_item *it);
/* Gives reply record it the phase ph of the command it answers (inferred:
 * that phase was a guess) without moving the session's phase, which pipelined
 * commands may have moved on.  late_ok: a late reply shows its command's phase
 * but starts no phase the session already left (phase.start marks where
 * phases begin).  Does nothing for ME_PHASE_NONE or undecrypted TLS. */
void me_record_phase(me_session *s, me_item *it, me_phase ph, bool inferred, bool late_ok);

/* Reading modes */
void me_expect_dotbody(me_session *s, me_dir dir, me_text_id what);
void me_expect_counted(me_session *s, me_dir dir, uint64_t n, bool capture, me_text_id what);
/* Marks the session as begun mid-session (phase guessed); notes it once. */
void me_mark_inferred(me_session *s, me_item *it, me_phase guess);
/* A client command not valid in the state the session is in, after bytes of
 * the client were lost (me_session.unseen or .lost): the lost bytes may have held the
 * command that changed the state (a PASS, a SELECT), so the client is not
 * at fault; the phase becomes a guess from this command (guess), as in a
 * capture begun mid-session, without that note (the gap has its own). */
void me_infer_after_loss(me_session *s, me_item *it, me_phase guess);

/* Pending commands: one FIFO per session, shared by the three engines
 * (RFC 2920 / RFC 2449 pipelining: replies come in command order; IMAP
 * replies are matched by tag, RFC 9051 §2.2.1).  Entries live in the session;
 * pointers returned stay valid only until the next push or pop. */
/* Appends a command; returns its entry (for engine fields such as aux).
 * When ME_MAX_PENDING commands already wait, the oldest is forgotten. */
me_pending *me_pend_push(me_session *s, const me_item *cmd_item, int cmd, const char *tag,
                         const char *arg);
bool me_pend_pop(me_session *s, me_pending *out);          /* FIFO head */
bool me_pend_peek(const me_session *s, me_pending *out);
bool me_pend_take_tag(me_session *s, const char *tag, me_pending *out); /* IMAP */
void me_pend_clear(me_session *s);
/* The i-th waiting command, oldest first (i < s->pend_count), or NULL. */
me_pending *me_pend_at(const me_session *s, unsigned i);
/* The newest waiting command whose id has its bit in cmd_mask (1u << cmd),
 * or, with a tag, the one with that tag; NULL if none. */
me_pending *me_pend_newest(const me_session *s, uint64_t cmd_mask);
me_pending *me_pend_with_tag(const me_session *s, const char *tag);
/* True if a waiting command's id has its bit in cmd_mask. */
bool me_pend_any(const me_session *s, uint64_t cmd_mask);
/* Links a reply record to its command: the reply's request_in, and the
 * command's response_in unless an earlier reply answered it. */
void me_link(me_session *s, me_ref cmd, me_item *reply);
/* pack.c: the kept records and the links inside them. */
me_kept *me_kept_new(const me_alloc *a);
me_links *me_kept_links(me_kept *k);
/* Shrinks the kept arrays to what they hold (a finished session). */
void me_kept_trim(me_kept *k);
/* The frame of the first reply to record index of frame, or 0 (l may be NULL). */
uint32_t me_links_response_in(const me_links *l, uint32_t frame, unsigned index);
/* Only the command's response_in (IMAP's DONE, answered by IDLE's tagged reply). */
void me_respond(me_session *s, me_ref cmd, uint32_t reply_frame);

/* Credentials */
me_cred *me_cred_begin(me_session *s, const char *mechanism);
/* A new attempt with the SASL mechanism named by mech[0..len) (RFC 4422 §3):
 * the decoder is started and the attempt's mechanism is its canonical name. */
me_cred *me_cred_begin_sasl(me_session *s, const char *mech, size_t len);
/* The record's credential snapshot (made with the records, me_ralloc), or
 * NULL if no attempt is running. */
me_auth *me_auth_snapshot(me_session *s, me_item *it);
/* The server's verdict on the attempt under way, on its reply IT.  WHY is
 * what the reply itself says of a failure (a response code, a status that
 * judges the command and not the secret), ME_FAIL_NONE when it says nothing
 * more: the attempt then failed on its credentials.  Whatever WHY says, a
 * client's cancel makes it cancelled, and a reply before any secret or SASL
 * response was sent refused (a mechanism or a USER refused: nothing was
 * there to judge).  Only a failure on the credentials raises
 * ME_W_LOGIN_FAILED.  Nothing happens without an attempt, or after its
 * verdict. */
void me_cred_result(me_session *s, me_item *it, me_result r, me_failure why);
/* The same for attempt C, which may be an earlier one than the attempt under
 * way (IMAP commands pipelined behind it, RFC 9051 §5.5, began later ones);
 * the pending command holding C lets it go (me_pend_release). */
void me_cred_result_of(me_session *s, me_cred *c, me_item *it, me_result r, me_failure why);
/* Keeps the current attempt for the reply to pending command P. */
void me_cred_hold(me_session *s, me_pending *p);
/* P is answered, dropped or cleared: the attempt it held is let go (freed
 * unless it is the current one).  Every pending command taken out of the
 * queue by an engine that holds attempts passes through here. */
void me_pend_release(me_session *s, me_pending *p);
/* Applies a SASL step's output to the current attempt and to the record. */
void me_cred_apply_sasl(me_session *s, me_item *it, const me_sasl_out *o);
void me_note_cleartext(me_session *s, me_item *it);        /* readable secret in this line */
/* During a SASL exchange, tells whether the client line (n bytes, no CRLF) is
 * no SASL response but the next command: the mechanism has had all its client
 * messages (me_sasl_client_done), or the line is not base64 (RFC 4954 §4,
 * RFC 5034 §4) and its first word is a command of the protocol (known_cmd).
 * Happens when the server's verdict was not captured (one-sided capture). */
bool me_sasl_over(const me_session *s, const char *line, size_t n, bool known_cmd);

/* Strings.  me_strndup: in the session's allocator, for what the session
 * keeps across frames (pending arguments, credentials, the user, tags).
 * me_rstrndup / me_ralloc: with the frame's records (me_session_use_records),
 * for what only a record of this frame holds: me_keep copies it into the kept
 * records, so it costs no allocation of its own there (issue 13). */
void *me_ralloc(me_session *s, size_t n);
const char *me_rstrndup(me_session *s, const char *p, size_t n);
const char *me_strndup(me_session *s, const char *p, size_t n);
const char *me_strdup(me_session *s, const char *p);
/* Upper-case copy for a record's command (record allocation). */
const char *me_upper(me_session *s, const char *p, size_t n);
/* IT's command: the verb p[0..n) in upper case (mailedu.command, what the
 * engines compare), and, when the client wrote it otherwise (commands are
 * case-insensitive: RFC 9051 §9, RFC 5321 §2.4, RFC 1939 §3), the verb as
 * sent in IT->verb, for the line as sent; both in the record's allocator. */
void me_set_command(me_session *s, me_item *it, const char *p, size_t n);

extern const me_engine me_pop3_engine;
extern const me_engine me_smtp_engine;
extern const me_engine me_imap_engine;

#endif
