/* report_facts.c - session facts in the course's vocabulary: what a POP3
 * client did with the mail (retrieve-and-delete "offline" or leave-on-server
 * "online"/"inline"), whether an SMTP client submitted (MUA -> MTA) or relayed
 * (MTA -> MTA), what an IMAP client read, flagged and expunged.  The facts are
 * folded from the records as they arrive; the verdict is decided when printed,
 * by the first rule that applies (docs/sessions-schema.md lists them). */
#include <stdlib.h>
#include <string.h>

#include "report_int.h"

/* ---- small helpers ---- */

static char lower(char c)
{
    return (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

/* hay contains needle, ASCII case-insensitively; NULL hay contains nothing. */
static bool ci_has(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; hay && *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && lower(hay[i]) == lower(needle[i]))
            i++;
        if (i == n)
            return true;
    }
    return false;
}

/* The first word of s (up to a space), copied; "" for NULL. */
static char *first_word(const char *s)
{
    size_t n = 0;
    char *w;
    s = s ? s : "";
    while (s[n] && s[n] != ' ')
        n++;
    w = rep_xalloc(n + 1);
    memcpy(w, s, n);
    return w;
}

static void strs_clear(rep_strs *l)
{
    rep_strs_free(l);
    memset(l, 0, sizeof *l);
}

void rep_facts_free(rep_facts *f)
{
    rep_strs_free(&f->pending);
    rep_strs_free(&f->retrieved);
    rep_strs_free(&f->deleted);
    rep_strs_free(&f->fetched);
    free(f->hello);
    free(f->hello_sent);
}

/* ---- folding records ---- */

/* POP3 answers in order (RFC 1939 §3, RFC 2449 §6.6 for pipelining): each
 * status reply belongs to the oldest command still waiting. */
static void pop3_add(rep_facts *f, const me_item *it)
{
    const char *cmd, *arg;
    char *num;
    if (it->kind == ME_KIND_COMMAND && it->command) {
        me_buf b = {0};
        me_buf_printf(&b, "%s %s", it->command, it->argument ? it->argument : "");
        rep_strs_add(&f->pending, b.p, false);
        me_buf_free(&b);
        f->uidl |= strcmp(it->command, "UIDL") == 0;
        return;
    }
    if (it->kind != ME_KIND_REPLY || it->explain == TXT_POP3_GREETING ||
        it->explain == TXT_POP3_GREETING_APOP || f->pending_head >= f->pending.n)
        return;
    cmd = f->pending.v[f->pending_head++];
    if (it->status != ME_STATUS_OK)
        return;
    arg = strchr(cmd, ' ') + 1; /* always there: "VERB " was written above */
    num = first_word(arg);
    if (strncmp(cmd, "RETR ", 5) == 0 || strncmp(cmd, "TOP ", 4) == 0)
        rep_strs_add(&f->retrieved, num, true);
    else if (strncmp(cmd, "DELE ", 5) == 0)
        rep_strs_add(&f->deleted, num, true);
    else if (strncmp(cmd, "RSET ", 5) == 0)
        strs_clear(&f->deleted); /* RFC 1939 §5: RSET unmarks every message */
    else if (strncmp(cmd, "QUIT ", 5) == 0 && it->explain == TXT_POP3_QUIT_UPDATE)
        f->update = true;
    free(num);
}

/* The client's name counts once the server accepted the EHLO/HELO that gave
 * it: a refused one changes nothing (RFC 5321 §4.1.4). */
static void smtp_add(rep_facts *f, const me_item *it)
{
    if (it->kind == ME_KIND_COMMAND && it->command &&
        (strcmp(it->command, "EHLO") == 0 || strcmp(it->command, "HELO") == 0 ||
         strcmp(it->command, "LHLO") == 0)) {
        free(f->hello_sent);
        f->hello_sent = first_word(it->argument);
        f->hello_frame = it->frame;
    }
    if (it->kind == ME_KIND_REPLY && f->hello_sent && it->request_in == f->hello_frame) {
        if (it->status == ME_STATUS_OK) {
            free(f->hello);
            f->hello = f->hello_sent;
        } else {
            free(f->hello_sent);
            f->hello_refused = true;
        }
        f->hello_sent = NULL;
    }
    /* a message is accepted by the reply to its end of data or LAST chunk */
    if (it->kind == ME_KIND_REPLY && (it->explain == TXT_SMTP_EOD_OK || it->explain == TXT_SMTP_BDAT_LAST_OK))
        f->messages++;
    if (it->kind == ME_KIND_REPLY && it->rcpt && it->status == ME_STATUS_ERROR)
        f->rcpt_refused++;
}

/* Whether ARG names the fetch item WORD whole (a FETCH attribute ends at a
 * space, a bracket or a parenthesis): RFC822 is the message, RFC822.SIZE
 * only its size. */
static bool has_item(const char *arg, const char *word)
{
    size_t n = strlen(word);
    const char *p;
    for (p = arg; p && *p; p++) {
        size_t i = 0;
        while (i < n && p[i] && lower(p[i]) == lower(word[i]))
            i++;
        if (i == n && (p == arg || p[-1] == ' ' || p[-1] == '(') &&
            (!p[n] || p[n] == ' ' || p[n] == ')' || p[n] == '['))
            return true;
    }
    return false;
}

/* A FETCH that asks for message content (RFC 9051 §6.4.5), not only flags,
 * sizes or envelope. */
static bool fetches_content(const char *arg)
{
    return ci_has(arg, "BODY[") || ci_has(arg, "BODY.PEEK[") || has_item(arg, "RFC822") ||
           has_item(arg, "RFC822.HEADER") || has_item(arg, "RFC822.TEXT") ||
           ci_has(arg, "BINARY[") || ci_has(arg, "BINARY.PEEK[");
}

/* The waiting IMAP command with this tag ("tag VERB arg" in f->pending, in
 * the order sent), taken out, or NULL (a reply to a command the capture
 * lacks).  Caller frees.  The list holds only commands still waiting, so a
 * long session costs no more per reply than a short one. */
static char *take_tagged(rep_facts *f, const char *tag)
{
    size_t i, tl = strlen(tag);
    for (i = 0; i < f->pending.n; i++) {
        char *e = f->pending.v[i];
        if (strncmp(e, tag, tl) == 0 && e[tl] == ' ') {
            memmove(f->pending.v + i, f->pending.v + i + 1, (f->pending.n - i - 1) * sizeof(char *));
            f->pending.n--;
            return e;
        }
    }
    return NULL;
}

/* The server works on the oldest waiting command (RFC 9051 §5.5): is it a
 * MOVE, whose EXPUNGEs take mail to another mailbox? */
static bool moving(const rep_facts *f)
{
    const char *e = f->pending.n ? f->pending.v[0] : NULL;
    const char *verb = e ? strchr(e, ' ') : NULL;
    return verb && strncmp(verb + 1, "MOVE ", 5) == 0;
}

/* IMAP commands count by what their tagged OK made happen (RFC 9051 §7.1:
 * NO and BAD change nothing); untagged EXPUNGEs count unless a MOVE is
 * running, whose EXPUNGEs take mail to another mailbox (RFC 6851 §3.3); in
 * a mailbox opened read-only (EXAMINE, [READ-ONLY]) STORE and CLOSE remove
 * nothing (§6.3.3, §6.4.1). */
static void imap_add(rep_facts *f, const me_item *it)
{
    const char *c = it->command, *arg;
    char *cmd, *verb;
    if (it->kind == ME_KIND_REPLY && it->explain == TXT_IMAP_EXPUNGE_DATA && !moving(f))
        f->expunged++;
    if (it->kind == ME_KIND_COMMAND && c && it->tag) {
        me_buf b = {0};
        if (strncmp(c, "UID ", 4) == 0)
            c += 4;
        me_buf_printf(&b, "%s %s %s", it->tag, c, it->argument ? it->argument : "");
        rep_strs_add(&f->pending, b.p, false);
        me_buf_free(&b);
        return;
    }
    if (it->kind != ME_KIND_REPLY || !it->tag || !(cmd = take_tagged(f, it->tag)))
        return;
    verb = cmd + strlen(it->tag) + 1;
    arg = strchr(verb, ' ') + 1; /* always there: "tag VERB " was written above */
    if (it->status == ME_STATUS_OK) {
        if (strncmp(verb, "SELECT ", 7) == 0 || strncmp(verb, "EXAMINE ", 8) == 0)
            f->read_only = it->explain == TXT_IMAP_EXAMINE_OK;
        else if (strncmp(verb, "FETCH ", 6) == 0 && fetches_content(arg)) {
            char *set = first_word(arg);
            rep_strs_add(&f->fetched, set, true);
            free(set);
        } else if (strncmp(verb, "STORE ", 6) == 0 && !f->read_only &&
                   !ci_has(arg, "-FLAGS")) {
            /* RFC 9051 §6.4.6: FLAGS and +FLAGS set the flags, -FLAGS removes them */
            f->seen_set += ci_has(arg, "\\Seen");
            f->deleted_set += ci_has(arg, "\\Deleted");
        } else if (strncmp(verb, "EXPUNGE ", 8) == 0) {
            f->expunge_cmds++;
        } else if (strncmp(verb, "CLOSE ", 6) == 0 || strncmp(verb, "UNSELECT ", 9) == 0) {
            f->close_cmds += verb[0] == 'C' && !f->read_only;
            f->read_only = false; /* no mailbox is open any more */
        }
    }
    free(cmd);
}

void rep_facts_add(rep_session *s, const me_item *it)
{
    rep_facts *f = &s->facts;
    if (it->kind == ME_KIND_COMMAND && it->command)
        f->clear_lines = true;
    switch (it->proto) {
    case ME_PROTO_POP3: pop3_add(f, it); break;
    case ME_PROTO_SMTP: smtp_add(f, it); break;
    case ME_PROTO_IMAP: imap_add(f, it); break;
    default: break;
    }
}

/* ---- the verdict ---- */

static rep_verdict verdict(const char *key, const char *value, const char *rule, me_text_id t)
{
    rep_verdict v;
    v.key = key;
    v.value = value;
    v.rule = rule;
    v.text = t;
    return v;
}

/* A name a mail program sends, not a mail server's domain (RFC 5321 §4.1.4:
 * an MTA sends its fully-qualified domain name; a client without one an
 * address literal; desktop programs often their bare computer name). */
static bool client_name(const char *h)
{
    bool dot = false, digits = true;
    const char *p;
    if (h[0] == '[' || ci_has(h, "localhost"))
        return true;
    for (p = h; *p; p++) {
        dot |= *p == '.';
        digits &= (*p >= '0' && *p <= '9') || *p == '.';
    }
    return !dot || digits;
}

/* The client's name: the last EHLO/HELO/LHLO the server accepted, else one
 * whose reply the capture lacks (never one the server refused); NULL if none. */
static const char *client_hello(const rep_facts *f)
{
    return f->hello ? f->hello : f->hello_sent;
}

/* Why no command could be read: TLS without keys, or none was captured
 * (only the server's side, or a client that sent nothing). */
static rep_verdict unreadable(const char *key, const rep_session *s)
{
    return s->any_tls ? verdict(key, "undecided", "encrypted", TXT_FACT_ENCRYPTED)
                      : verdict(key, "undecided", "no-command", TXT_FACT_NO_COMMAND);
}

/* The session went on inside TLS that no key opened (STARTTLS or STLS, RFC
 * 3207 §4.2, RFC 2595 §4): what the client did there is unknown, so a
 * verdict that rests on something not being seen cannot be given. */
static bool hidden_after_tls(const rep_session *s)
{
    return s->any_tls && !s->decrypted;
}

static rep_verdict pop3_verdict(const rep_session *s)
{
    const char *k = "pop3_mode";
    const rep_facts *f = &s->facts;
    if (!f->clear_lines)
        return unreadable(k, s);
    if (f->deleted.n)
        return f->update ? verdict(k, "retrieve-and-delete", "dele-quit", TXT_FACT_POP3_DELETE)
                         : verdict(k, "undecided", "dele-no-quit", TXT_FACT_POP3_NO_QUIT);
    if (f->retrieved.n)
        return f->uidl ? verdict(k, "leave-on-server", "retr-uidl", TXT_FACT_POP3_KEEP_UIDL)
                       : verdict(k, "leave-on-server", "retr-no-dele", TXT_FACT_POP3_KEEP);
    if (hidden_after_tls(s))
        return unreadable(k, s);
    return verdict(k, "undecided", "nothing-retrieved", TXT_FACT_POP3_NOTHING);
}

static rep_verdict smtp_verdict(const rep_session *s)
{
    const char *k = "smtp_role", *hello;
    const rep_facts *f = &s->facts;
    if (s->nlogins)
        return verdict(k, "submission", "auth", TXT_FACT_SMTP_AUTH);
    if (s->sport == 587)
        return verdict(k, "submission", "port-587", TXT_FACT_SMTP_PORT587);
    if (s->sport == 465)
        return verdict(k, "submission", "port-465", TXT_FACT_SMTP_PORT465);
    if (!f->clear_lines || hidden_after_tls(s))
        return unreadable(k, s); /* an AUTH may be inside the TLS */
    /* an EHLO whose reply the capture lacks still names the client */
    hello = client_hello(f);
    if (!hello)
        return f->hello_refused ? verdict(k, "undecided", "hello-refused", TXT_FACT_SMTP_HELLO_REFUSED)
                                : verdict(k, "undecided", "no-hello", TXT_FACT_SMTP_UNKNOWN);
    if (!*hello)
        return verdict(k, "undecided", "no-name", TXT_FACT_SMTP_NO_NAME);
    if (client_name(hello))
        return verdict(k, "submission", "client-name", TXT_FACT_SMTP_CLIENT_NAME);
    return verdict(k, "relay", "server-name", TXT_FACT_SMTP_RELAY);
}

static rep_verdict imap_verdict(const rep_session *s)
{
    const char *k = "imap_outcome";
    const rep_facts *f = &s->facts;
    if (!f->clear_lines)
        return unreadable(k, s);
    if (f->expunged || (f->deleted_set && (f->expunge_cmds || f->close_cmds)))
        return verdict(k, "expunged", "expunge", TXT_FACT_IMAP_EXPUNGED);
    if (f->deleted_set)
        return verdict(k, "marked-deleted", "deleted-flag", TXT_FACT_IMAP_MARKED);
    if (f->fetched.n)
        return verdict(k, "read-on-server", "fetch", TXT_FACT_IMAP_READ);
    if (hidden_after_tls(s))
        return unreadable(k, s);
    return verdict(k, "nothing-read", "no-fetch", TXT_FACT_IMAP_NONE);
}

rep_verdict rep_facts_verdict(const rep_session *s)
{
    switch (s->proto) {
    case ME_PROTO_POP3: return pop3_verdict(s);
    case ME_PROTO_SMTP: return smtp_verdict(s);
    default: return imap_verdict(s);
    }
}

/* ---- printing ---- */

static const char *yes(bool v)
{
    return v ? "true" : "false";
}

void rep_facts_json(me_buf *b, const rep_session *s, const me_rep_opts *o)
{
    const rep_facts *f = &s->facts;
    rep_verdict v = rep_facts_verdict(s);
    me_buf_printf(b, "{\"%s\": \"%s\", \"rule\": \"%s\", \"rfc\": ", v.key, v.value, v.rule);
    me_buf_json_str(b, me_text_rfc(v.text));
    me_buf_puts(b, ", \"explain\": ");
    me_buf_json_str(b, me_text(v.text, o->lang));
    if (s->proto == ME_PROTO_POP3) {
        me_buf_puts(b, ", \"retrieved\": ");
        rep_json_strs(b, &f->retrieved);
        me_buf_puts(b, ", \"deleted\": ");
        rep_json_strs(b, &f->deleted);
        me_buf_printf(b, ", \"uidl\": %s, \"update\": %s}", yes(f->uidl), yes(f->update));
    } else if (s->proto == ME_PROTO_SMTP) {
        me_buf_puts(b, ", \"hello\": ");
        me_buf_json_str(b, client_hello(f));
        me_buf_printf(b, ", \"auth\": %s, \"messages\": %u, \"recipients_accepted\": %zu, "
                      "\"recipients_refused\": %u}", yes(s->nlogins > 0), f->messages,
                      s->rcpt_ok.n, f->rcpt_refused);
    } else {
        me_buf_puts(b, ", \"mailboxes\": ");
        rep_json_strs(b, &s->mailboxes);
        me_buf_puts(b, ", \"fetched\": ");
        rep_json_strs(b, &f->fetched);
        me_buf_printf(b, ", \"seen_set\": %u, \"deleted_set\": %u, \"expunge_commands\": %u, "
                      "\"close_commands\": %u, \"expunged\": %u}", f->seen_set, f->deleted_set,
                      f->expunge_cmds, f->close_cmds, f->expunged);
    }
}

static void text_strs(me_buf *b, const rep_strs *l)
{
    size_t i;
    if (!l->n)
        me_buf_puts(b, "-");
    for (i = 0; i < l->n; i++) {
        if (i)
            me_buf_puts(b, ",");
        me_buf_utf8(b, l->v[i]);
    }
}

/* The counts behind the verdict, one line, in English or Bahasa Indonesia
 * (the words around the protocol's own keywords). */
static void text_counts(me_buf *b, const rep_session *s, me_lang lang)
{
    const rep_facts *f = &s->facts;
    bool id = lang == ME_LANG_ID;
    const char *yes = id ? "ya" : "yes", *no = id ? "tidak" : "no";
    if (s->proto == ME_PROTO_POP3) {
        me_buf_puts(b, id ? "diambil " : "retrieved ");
        text_strs(b, &f->retrieved);
        me_buf_puts(b, id ? "; dihapus " : "; deleted ");
        text_strs(b, &f->deleted);
        me_buf_printf(b, "; UIDL %s; UPDATE %s\n", f->uidl ? yes : no, f->update ? yes : no);
    } else if (s->proto == ME_PROTO_SMTP) {
        me_buf_puts(b, "EHLO ");
        me_buf_utf8(b, client_hello(f) ? client_hello(f) : "-");
        me_buf_printf(b, id ? "; AUTH %s; pesan %u; penerima diterima %zu, ditolak %u\n"
                            : "; AUTH %s; messages %u; recipients accepted %zu, refused %u\n",
                      s->nlogins ? yes : no, f->messages, s->rcpt_ok.n, f->rcpt_refused);
    } else {
        me_buf_puts(b, id ? "kotak surat " : "mailboxes ");
        text_strs(b, &s->mailboxes);
        me_buf_puts(b, id ? "; diambil (FETCH) " : "; fetched ");
        text_strs(b, &f->fetched);
        /* what STORE set (the schema's seen_set): a FETCH of BODY[] sets
         * \Seen by itself (RFC 9051 §6.4.5), which this count leaves out */
        me_buf_printf(b, id ? "; STORE memasang \\Seen %u, \\Deleted %u; EXPUNGE %u, CLOSE %u, "
                              "dihapus permanen %u\n"
                            : "; STORE set \\Seen %u, \\Deleted %u; EXPUNGE %u, CLOSE %u, expunged %u\n",
                      f->seen_set, f->deleted_set, f->expunge_cmds, f->close_cmds, f->expunged);
    }
}

void rep_facts_text(me_buf *b, const rep_session *s, const me_rep_opts *o, const char *indent)
{
    rep_verdict v = rep_facts_verdict(s);
    const char *rfc = me_text_rfc(v.text);
    me_buf_printf(b, "%s%s: %s=%s (%s %s%s%s)\n%s  ", indent,
                  o->lang == ME_LANG_ID ? "Fakta sesi" : "Facts", v.key, v.value,
                  o->lang == ME_LANG_ID ? "aturan" : "rule", v.rule, *rfc ? ", " : "", rfc, indent);
    me_buf_utf8(b, me_text(v.text, o->lang));
    me_buf_printf(b, "\n%s  ", indent);
    text_counts(b, s, o->lang);
}

void rep_facts_brief(me_buf *b, const rep_session *s, me_lang lang)
{
    rep_verdict v = rep_facts_verdict(s);
    const char *rfc = me_text_rfc(v.text);
    me_buf_printf(b, "  stream %u %s=%s rule=%s%s%s%s: ", s->stream, v.key, v.value, v.rule,
                  *rfc ? " (" : "", rfc, *rfc ? ")" : "");
    text_counts(b, s, lang); /* the key=value words stay; the counts are read by people */
}
