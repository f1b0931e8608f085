/* report_int.h - what the report files share: the per-session summary that
 * report.c builds and report_json.c, report_text.c and report_hash.c print.
 * Not part of the glue's interface (that is report.h). */
#ifndef MAILEDU_REPORT_INT_H
#define MAILEDU_REPORT_INT_H

#include "report.h"

#define REP_NWARN ME_W_BITS /* ME_W_* bits: 1 << 0 .. 1 << (ME_W_BITS - 1) */

/* A list of copied strings, in order. */
typedef struct rep_strs {
    char **v;
    size_t n, cap;
} rep_strs;

/* Writes l as a JSON array of strings (report_json.c); b grows as needed. */
void rep_json_strs(me_buf *b, const rep_strs *l);

typedef struct rep_login {
    uint32_t attempt;
    char *mechanism, *username, *password, *token, *challenge, *digest, *domain;
    me_result result;
    me_failure failure;    /* with result failure: why */
    uint32_t start_frame, secret_frame, result_frame; /* 0: none */
    bool cleartext;        /* the secret was readable on the wire */
    bool tls;              /* the attempt began inside TLS */
} rep_login;

/* One dialogue line, as a lab handout prints it. */
typedef struct rep_line {
    uint32_t frame;
    me_dir dir;
    me_phase phase;
    me_kind kind;
    uint32_t data_len;     /* DATA, TLS, DUPLICATE: bytes */
    bool counted;          /* text is that byte count, "[N bytes of TLS]" (the
                            * transcript words it in the reader's language) */
    char *text;            /* unmasked */
    char *masked;          /* with secrets replaced; NULL when text holds none */
    me_text_id explain, explain2;
    char *detail;
    uint32_t flags;        /* ME_W_* */
    uint32_t attempt;      /* login attempt the line belongs to, 0: none */
    me_result result;      /* the attempt's verdict, on the server's reply */
    me_failure failure;    /* with result failure: why */
    char *username, *password, *token; /* credential revealed by this line */
} rep_line;

typedef struct rep_phase {
    me_phase phase;
    uint32_t frame;
} rep_phase;

/* What the session did, in the course's words (report_facts.c): POP3
 * retrievals and deletions, SMTP greeting name and messages, IMAP reading,
 * flags and expunges.  Folded from the records as they arrive. */
typedef struct rep_facts {
    rep_strs pending;      /* commands awaiting their reply: POP3 "VERB arg", FIFO;
                            * IMAP "tag VERB arg", taken out once answered */
    size_t pending_head;
    rep_strs retrieved;    /* POP3 message numbers RETR/TOP answered +OK */
    rep_strs deleted;      /* POP3 message numbers DELE answered +OK (RSET clears) */
    bool uidl;             /* the client asked UIDL */
    bool update;           /* QUIT answered +OK in the TRANSACTION state: UPDATE ran */
    bool clear_lines;      /* some command was readable (not only encrypted bytes) */
    char *hello;           /* SMTP EHLO/HELO/LHLO name, last one the server accepted */
    char *hello_sent;      /* the name of an EHLO/HELO/LHLO still waiting for its reply */
    uint32_t hello_frame;  /* its frame */
    bool hello_refused;    /* the server refused an EHLO/HELO/LHLO */
    uint32_t messages;     /* SMTP messages accepted after the end of data */
    uint32_t rcpt_refused; /* SMTP RCPT answered 4xx/5xx */
    rep_strs fetched;      /* IMAP sequence sets of FETCHes that asked for content */
    uint32_t seen_set, deleted_set; /* IMAP STORE adding \Seen / \Deleted */
    uint32_t expunge_cmds, close_cmds, expunged; /* EXPUNGE, CLOSE, "* n EXPUNGE" */
    bool read_only;        /* the IMAP mailbox open was opened read-only */
} rep_facts;

/* The verdict of the facts: which value, which rule decided it. */
typedef struct rep_verdict {
    const char *key;       /* "pop3_mode", "smtp_role", "imap_outcome" */
    const char *value;     /* "retrieve-and-delete", "submission", ... */
    const char *rule;      /* stable rule id: "dele-quit", "auth", "port-587", ... */
    me_text_id text;       /* the explanation; its RFC is me_text_rfc(text) */
} rep_verdict;

typedef struct rep_session {
    uint32_t stream;
    me_proto proto;
    char *client, *server;
    uint16_t cport, sport;
    uint32_t first_frame, last_frame;
    int64_t first_secs, last_secs;
    int32_t first_usecs, last_usecs;
    bool first_tls;        /* the first record was already inside TLS: implicit */
    bool any_tls, decrypted, offered, skipped, inferred, cleartext;
    bool refused;          /* the server refused STARTTLS/STLS */
    rep_phase *phases;
    size_t nphases, capphases;
    char *user;
    rep_login *logins;
    size_t nlogins, caplogins;
    uint32_t commands, replies;
    uint32_t warn[REP_NWARN];
    rep_strs mail_from, rcpt_to, rcpt_ok, mailboxes;
    rep_line *lines;
    size_t nlines, caplines;
    bool truncated;
    rep_facts facts;
} rep_session;

struct me_report {
    size_t max_lines;
    rep_session **by_stream; /* indexed by tcp.stream (dense in Wireshark) */
    size_t nslots;
    size_t count;
};

/* Memory that never fails (aborts on exhaustion, as g_malloc does). */
void *rep_xalloc(size_t n);
void *rep_xgrow(void *p, size_t *cap, size_t want, size_t elem);
char *rep_xstrdup(const char *s);

/* Visits the sessions in stream order; only = -1 for all. */
#define REP_FOREACH(r, s)                                                        \
    for (size_t rep_i_ = 0; rep_i_ < (r)->nslots; rep_i_++)                      \
        if (((s) = (r)->by_stream[rep_i_]) != NULL)

const char *rep_kind_name(me_kind k);
const char *rep_tls_mode(const rep_session *s);
/* Writes "address:port" into buf (n bytes, cut if longer), an IPv6 address
 * in brackets ("[2001:db8::1]:110", RFC 3986 §3.2.2), since its own colons
 * would make the port ambiguous; a missing address is "?".  Returns buf. */
char *rep_endpoint(char *buf, size_t n, const char *addr, unsigned port);
/* Appends the sentence a report prints when it has no session to show, in
 * o->lang: none in the capture (or passing its filter), or, when o->stream
 * asked for one that has none, which streams do have one (up to 10), so the
 * reader knows the capture is not empty.  Plain ASCII, no newline. */
void rep_none_found(const me_report *r, const me_rep_opts *o, me_buf *b);
/* The password/token shown per the mask option. */
const char *rep_secret(const me_rep_opts *o, const char *v);
/* A login "crossed the wire": a secret or digest, or a user name that got an
 * answer (an AUTH cancelled before anything was sent is not one). */
bool rep_login_sent(const rep_login *l);

/* ---- report_facts.c ---- */
/* Folds one record into s->facts (every record of the session, in order). */
void rep_facts_add(rep_session *s, const me_item *it);
/* Frees what s->facts holds. */
void rep_facts_free(rep_facts *f);
/* Decides the session's verdict (POP3 mode, SMTP role, IMAP outcome) from
 * its facts; the rules are listed in docs/sessions-schema.md. */
rep_verdict rep_facts_verdict(const rep_session *s);
/* The `facts` object of the JSON (docs/sessions-schema.md), no newline. */
void rep_facts_json(me_buf *b, const rep_session *s, const me_rep_opts *o);
/* The facts as lines of text for the transcript header: the verdict with its
 * rule, RFC and explanation, then the counts; each line begins with indent. */
void rep_facts_text(me_buf *b, const rep_session *s, const me_rep_opts *o, const char *indent);
/* The verdict in a few words ("pop3_mode=leave-on-server rule=retr-no-dele ...: counts"),
 * its counts in LANG. */
void rep_facts_brief(me_buf *b, const rep_session *s, me_lang lang);
/* Appends a copy of v to l; unique: not when an equal string is there. */
void rep_strs_add(rep_strs *l, const char *v, bool unique);
void rep_strs_free(rep_strs *l);

#endif
