/* mailedu.h - protocol engines for POP3, SMTP and IMAP, free of Wireshark types.
 *
 * The glue (packet-mailedu.c) feeds the bytes of each TCP direction, in order,
 * to a session; the session splits them into lines (or skips counted bytes:
 * message bodies, IMAP literals, BDAT chunks), hands each line to the engine of
 * its protocol and returns one immutable record (me_item) per line, attached to
 * the frame where the line ended.  Records are allocated from the caller's
 * allocator and never freed individually: the glue uses wmem file scope, unit
 * tests a simple arena.
 *
 * A record is a snapshot: every field describes what was known when the line
 * was seen, so that a one-pass and a two-pass dissection show the same thing.
 * The only field written later is response_in (the frame of the reply), which
 * by nature cannot be known on a single pass.
 */
#ifndef MAILEDU_H
#define MAILEDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "texts.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { ME_PROTO_NONE = 0, ME_PROTO_POP3, ME_PROTO_SMTP, ME_PROTO_IMAP } me_proto;

typedef enum { ME_CLIENT = 0, ME_SERVER = 1 } me_dir;

/* One enum for the phases of all three protocols; each engine uses its own subset. */
typedef enum {
    ME_PHASE_NONE = 0,
    ME_PHASE_AUTH,          /* POP3 AUTHORIZATION, IMAP Not Authenticated, SMTP AUTH exchange */
    ME_PHASE_TRANSACTION,   /* POP3 */
    ME_PHASE_UPDATE,        /* POP3 */
    ME_PHASE_GREETING,      /* SMTP */
    ME_PHASE_HELLO,         /* SMTP */
    ME_PHASE_ENVELOPE,      /* SMTP */
    ME_PHASE_DATA,          /* SMTP */
    ME_PHASE_QUIT,          /* SMTP */
    ME_PHASE_AUTHENTICATED, /* IMAP */
    ME_PHASE_SELECTED,      /* IMAP */
    ME_PHASE_LOGOUT,        /* IMAP */
    ME_PHASE_TLS,           /* all: encrypted, not decrypted */
    ME_PHASE_COUNT
} me_phase;

typedef enum {
    ME_KIND_COMMAND = 0,  /* a client command line */
    ME_KIND_REPLY,        /* a server status line (+OK, 250, a1 OK, * 3 EXISTS) */
    ME_KIND_CHALLENGE,    /* server continuation: "+ ...", "334 ..." */
    ME_KIND_SASL,         /* a client SASL response line */
    ME_KIND_DATA,         /* message content, literal or reply body bytes */
    ME_KIND_TLS,          /* encrypted bytes */
    ME_KIND_DUPLICATE,    /* retransmitted bytes already seen */
    ME_KIND_UNKNOWN       /* a line that fits nothing */
} me_kind;

typedef enum { ME_STATUS_NONE = 0, ME_STATUS_OK, ME_STATUS_ERROR, ME_STATUS_CONTINUE } me_status;

typedef enum { ME_RESULT_NONE = 0, ME_RESULT_SUCCESS, ME_RESULT_FAILURE } me_result;

/* Why a login failed, as far as the server's reply tells: whether it judged
 * the secret.  Only a rejection of the credentials is a wrong password (what
 * an auditor counts); the rest refused the attempt for another reason. */
typedef enum {
    ME_FAIL_NONE = 0,      /* no failure */
    ME_FAIL_CREDENTIALS,   /* the user name or secret was rejected (SMTP 535 / x.7.8, RFC 4954
                            * §6; POP3 -ERR or -ERR [AUTH], RFC 3206 §4; IMAP NO or
                            * NO [AUTHENTICATIONFAILED], RFC 5530 §3) */
    ME_FAIL_AUTHORIZATION, /* the secret was right, the session was refused (POP3 [IN-USE],
                            * RFC 2449 §8.1.2; IMAP [AUTHORIZATIONFAILED], RFC 5530 §3) */
    ME_FAIL_REFUSED,       /* refused without judging the secret: mechanism, TLS required,
                            * command out of sequence or malformed, temporary, policy */
    ME_FAIL_CANCELLED      /* the client cancelled the exchange ("*", RFC 4422 §3, RFC 4954 §4) */
} me_failure;

/* Warnings and notes raised by one line; rendered as expert info.  One bit
 * per row of warnings.def (ME_W_CLEARTEXT, ME_W_GAP, ...). */
enum {
#define ME_WARNING(id, bit, name, group, severity, summary, text, detail) ME_W_##id = 1u << (bit),
#include "warnings.def"
#undef ME_WARNING
    ME_W_NONE = 0
};

/* Number of bits warnings.def may use (0 .. ME_W_BITS-1); warnings.c checks it. */
#define ME_W_BITS 32

/* The expert name of one ME_W_* bit ("cleartext", "gap"); NULL for a value
 * that is not exactly one known bit.  Static storage. */
const char *me_warning_name(uint32_t bit);

/* The message of one ME_W_* bit, as the packet shows it (warnings.def's TEXT
 * column); TXT_NONE for a value that is not exactly one known bit.  Reports
 * walk every bit below ME_W_BITS with these two, so a new row is shown
 * everywhere without touching them. */
me_text_id me_warning_text(uint32_t bit);

/* The lowest bit of *FLAGS that is a warnings.def row, cleared from *FLAGS
 * (bits of no row are cleared too); 0 once none is left.  The one walk of a
 * record's warnings that every report uses:
 *     for (rest = flags; (bit = me_warning_next(&rest)) != 0;) ... */
uint32_t me_warning_next(uint32_t *flags);


/* Allocator used for everything the engines keep: records, strings, sessions. */
typedef struct me_alloc {
    void *(*alloc)(void *ctx, size_t size); /* zero-filled memory, never NULL */
    void *ctx;
    void (*free)(void *ctx, void *p);       /* returns memory early; NULL: never freed */
} me_alloc;

/* What a line tells about a credential.  Strings are NUL-terminated, UTF-8 or
 * raw bytes as sent; NULL means "not known / not in this line". */
typedef struct me_auth {
    const char *mechanism;
    const char *username;  /* known so far in this attempt */
    const char *password;  /* only on the line that carries it */
    const char *token;     /* XOAUTH2/OAUTHBEARER bearer token, on its line */
    const char *challenge; /* APOP timestamp, CRAM-MD5/NTLM challenge */
    const char *digest;    /* APOP/CRAM-MD5 digest, NTLM response */
    const char *authzid;
    const char *domain;    /* NTLM */
    const char *host;      /* NTLM workstation */
    const char *decoded;   /* human-readable decoding of a base64 line */
    uint32_t attempt;      /* 1, 2, ... within the session */
    me_result result;      /* only on the server's final reply */
    me_failure failure;    /* with result failure: why */
    uint32_t secret_frame; /* the frame the password's bytes crossed in, when it is an
                            * earlier one than this record's (an IMAP literal, RFC 9051
                            * §4.3, whose command ends frames later); 0: this record's */
    uint32_t start_frame;  /* likewise the frame the attempt's command began in; 0: this record's */
} me_auth;

typedef struct me_item me_item;
/* One record: what one line (or one frame's data bytes) of a session means,
 * as the engines make it and renderers read it: enums and flags in bit-fields
 * (their enum type in the comment), texts by id.  128 bytes on LP64, made per
 * frame and kept packed (me_keep below, issue 13). */
struct me_item {
    me_item *next;         /* next record of the same frame */
    const char *command;   /* verb, upper case ("UID FETCH") */
    const char *verb;      /* the verb as sent when that is not upper case ("uid fetch"), or an
                            * IMAP tagged reply's status word so ("ok"), else NULL:
                            * mailedu.line and the reports show the line as sent */
    const char *argument;  /* raw arguments, unmasked */
    const char *masked;    /* arguments with secrets replaced, if any secret */
    const char *tag;       /* IMAP tag */
    const char *enhanced;  /* SMTP enhanced status code "5.7.8" */
    const char *detail;    /* free text shown after the explanation (decoded error, cap list) */
    me_auth *auth;         /* credential snapshot, or NULL */
    const char *session_user;
    const char *mail_from; /* SMTP envelope, on MAIL lines */
    const char *rcpt;      /* on RCPT lines */
    const char *mailbox;   /* IMAP mailbox selected (on SELECT/EXAMINE and while selected) */
    uint32_t frame;
    uint32_t request_in;   /* reply: frame of its command */
    uint32_t response_in;  /* command: frame of its reply; filled when the reply arrives */
    uint32_t data_len;     /* ME_KIND_DATA / TLS / DUPLICATE: byte count */
    uint32_t flags;        /* ME_W_* */
    uint16_t reply_code;   /* SMTP */
    uint16_t explain;      /* me_text_id: main explanation */
    uint16_t explain2;     /* me_text_id: secondary explanation (reply code detail, capability...) */
    uint16_t index;        /* 0, 1, ...: the record's place among its frame's records */
    unsigned proto : 2;    /* me_proto */
    unsigned dir : 1;      /* me_dir */
    unsigned kind : 3;     /* me_kind */
    unsigned phase : 5;    /* me_phase */
    unsigned wrong_phase : 5; /* me_phase: with ME_W_WRONG_PHASE, the phase the command is not valid in */
    unsigned status : 2;   /* me_status */
    unsigned phase_start : 1; /* first record of a new phase */
    unsigned inferred : 1; /* phase guessed: capture began mid-session */
    unsigned tls : 1;      /* session protected by TLS at this point */
    unsigned cleartext : 1; /* a reusable secret is readable in this line */
    unsigned tls_offered : 1; /* the server had offered STARTTLS/STLS when the record was made */
    unsigned tls_refused : 1; /* the server had refused STARTTLS/STLS (this record, or before) */
    unsigned bad : 1;      /* IMAP: the tagged status was BAD, not NO: the command was not
                            * carried out (RFC 9051 §7.1.3) */
    unsigned inflated : 1; /* read from bytes IMAP COMPRESS inflated (RFC 4978): the
                            * packet's bytes are not this line's text */
    unsigned passed : 5;   /* me_phase, or ME_PHASE_NONE: a phase the session entered
                            * and left before any line was in it (an IMAP login's OK
                            * and then the server's BYE); the reports list it here */
};

typedef struct me_session me_session;

/* Records one frame gets at most (a few more when one line makes several).  A
 * 64 KB segment of short lines, or held segments released together, would
 * otherwise make hundreds of thousands, each a record and a dozen tree items;
 * past the bound, the frame's remaining lines are counted into one summary
 * record (ME_W_LIMIT, explain TXT_LIMIT_LINES) and not interpreted. */
#define ME_MAX_FRAME_RECORDS 1000u

/* Bytes one packet of an IMAP COMPRESS stream may inflate to (RFC 4978):
 * mail inflates a few times, a decompression bomb up to 1032 times; past
 * this the direction's inflating stops (TXT_COMPRESSED_LIMIT), so the CPU
 * a packet costs stays bounded. */
#define ME_MAX_INFLATE (1024u * 1024u)

/* Creates a session for one TCP connection.  tls_from_start: implicit-TLS
 * port.  start_seen: the TCP handshake was captured, so the first server line
 * is the greeting; otherwise the capture began mid-session and phases are
 * inferred from what is seen. */
me_session *me_session_new(const me_alloc *a, me_proto proto, bool tls_from_start,
                           bool start_seen);

/* Feeds bytes of one direction, in TCP order.  Returns the records of this
 * frame (at least one when len > 0).  data may contain several lines, part of
 * a line, or counted bytes; the session keeps partial lines between calls.
 * decrypted: bytes come from a decrypted TLS record (the session is annotated
 * as clear text with tls set).  */
me_item *me_session_feed(me_session *s, me_dir dir, const uint8_t *data, size_t len,
                         uint32_t frame, bool decrypted);

/* Tells the session that `len` bytes of a direction were lost (capture gap or
 * snaplen); the next record gets ME_W_GAP and the partial line is dropped.
 * Returns the records the loss completes, made for `frame` (the frame that
 * revealed it), or NULL: an IMAP command whose literal or line end was lost
 * ends there, so that its reply, in the same frame or later, finds it. */
me_item *me_session_gap(me_session *s, me_dir dir, size_t len, uint32_t frame);

/* The peer acknowledged len bytes of direction dir that the capture never
 * showed (me_stream_unseen): that side was sent but not captured, at least
 * in part (a capture filter that kept one direction, an asymmetric route).
 * Once per direction, the next record of the other side, which acknowledged
 * them, gets ME_W_GAP.  SMTP then takes its greeting as sent (RFC 5321 §3.1):
 * the client's first command is not "before the greeting".  Only for a
 * session whose start was seen, where the first acknowledgement is known. */
void me_session_unseen(me_session *s, me_dir dir, size_t len);

/* A segment of direction dir was captured (data or a bare ACK) while the
 * session exists: that side is in the capture.  SMTP then reads a client
 * that goes on writing before the greeting as an early talker whose server
 * is there, not as a capture of the client side only. */
void me_session_seen(me_session *s, me_dir dir);

/* Accessors for reports and heuristics. */
me_proto me_session_proto(const me_session *s);
me_phase me_session_phase(const me_session *s);
bool me_session_tls(const me_session *s);

const char *me_proto_name(me_proto p);
const char *me_phase_name(me_phase p);
/* The phase as messages name it in each language: the RFC's state name and
 * the filter value ("TRANSACTION state - transaction", "fase transaksi
 * (TRANSACTION) - transaction"); TXT_NONE for ME_PHASE_NONE.  The auth phase
 * is named per protocol (RFC 1939 §3, RFC 9051 §3, RFC 4954 §4). */
me_text_id me_phase_text(me_proto proto, me_phase ph);
const char *me_status_name(me_status s);
const char *me_result_name(me_result r);
/* The failure's name as fields and reports give it ("credentials",
 * "authorization", "refused", "cancelled"); NULL for ME_FAIL_NONE.  Static. */
const char *me_failure_name(me_failure f);
const char *me_dir_name(me_dir d);

/* Recognises a mail protocol from the first line of a TCP payload, for the
 * heuristic on non-standard ports.  *from_server tells which side sent it
 * (a greeting or reply: the server; a command: the client).  Returns
 * ME_PROTO_NONE when not sure; *maybe_smtp is set for a bare "220" greeting
 * that could be SMTP or FTP until the client speaks. */
me_proto me_guess_protocol(const uint8_t *data, size_t len, bool *from_server, bool *maybe_smtp);

/* A record for a frame whose bytes are not analysed now (held out of order,
 * or already seen): it carries the session's phase and the explanation. */
me_item *me_session_note(me_session *s, me_dir dir, size_t len, uint32_t frame, me_text_id what);

/* ---- keeping records (issue 13) ----
 *
 * A record is made while its frame is read and kept for every later look at
 * the frame (a second pass, a click in the GUI).  Made, it is a 128-byte
 * struct with a slot for every field; kept, it is packed into its session's
 * kept records: only the fields it has, numbers as varints, the line's texts
 * inline, about 20 bytes plus the texts (layout in pack.c).  The glue makes
 * records in a per-frame allocator, keeps them at the end of the frame and
 * unpacks them to render.  A command's response_in is not packed (the reply
 * comes later): the session's links answer it. */

typedef struct me_kept me_kept;

/* Records of the following feeds, their own texts and credential snapshots
 * are allocated from `records` (copied) and must be kept (me_keep) before it
 * is reset; NULL: from the session's allocator (unit tests).  Strings the
 * session also holds (the user, the mailbox, a credential's values) stay in
 * the session's allocator. */
void me_session_use_records(me_session *s, const me_alloc *records);

/* The session's kept records; they outlive me_session_free (not its allocator). */
me_kept *me_session_kept(const me_session *s);

/* Keeps the records `items` of frame `frame` (all of that frame).  Frames are
 * kept once each, in increasing order (a first pass): returns false, keeping
 * nothing, for an empty list or a frame not after the last one kept. */
bool me_keep(me_kept *k, uint32_t frame, const me_item *items);

/* The records kept for frame `frame`: a list equal to the one kept (next
 * linked, index set, response_in as the links know it now), allocated from
 * a; NULL if the frame has none (or k is NULL).  Their texts point into the
 * kept bytes, which the next me_keep may move: use them while the frame is
 * looked at, copy what must last (the reports and taps do). */
me_item *me_kept_unpack(const me_kept *k, uint32_t frame, const me_alloc *a);

/* Bytes the kept records of k take (arrays' capacity), for tests. */
size_t me_kept_bytes(const me_kept *k);

/* The frame of the first reply to record `index` of frame `frame` (a
 * command), or 0 if none was seen yet. */
uint32_t me_session_response_in(const me_session *s, uint32_t frame, unsigned index);

/* Returns a finished session's working state (line buffers, pending commands,
 * engine state, the attempt) to its allocator, when that has a free
 * function, and trims its kept records to their size.  What kept records
 * point to stays: the session's strings, the kept records and their links.
 * s must not be used after. */
void me_session_free(me_session *s);

#ifdef __cplusplus
}
#endif

#endif /* MAILEDU_H */
