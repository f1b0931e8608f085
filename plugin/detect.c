/* detect.c - recognising POP3, SMTP and IMAP from one line, for mail servers
 * on ports Wireshark does not associate with mail.  Wrong claims are worse
 * than late ones: FTP also greets with "220" and also has USER, LIST, AUTH, so
 * anything shared with FTP waits for more evidence. */
#include <string.h>

#include "detect.h"
#include "mailedu.h"
#include "util.h"

/* The first line, if the bytes look like text ending in CRLF or LF. */
static bool first_line(const uint8_t *d, size_t len, size_t *n)
{
    size_t i;
    for (i = 0; i < len && i < 1024; i++) {
        if (d[i] == '\n') {
            *n = (i > 0 && d[i - 1] == '\r') ? i - 1 : i;
            return *n > 0;
        }
        if ((d[i] < 0x20 && d[i] != '\r' && d[i] != '\t') || d[i] == 0x7f)
            return false; /* binary */
    }
    return false;
}

static bool is_atom_char(char c)
{
    return c > 0x20 && c < 0x7f && !strchr("(){%*\"\\]", c);
}

static const char *const imap_cmds[] = {
    "CAPABILITY", "LOGIN", "AUTHENTICATE", "STARTTLS", "SELECT", "EXAMINE", "NOOP",
    "LOGOUT", "ID", "ENABLE", "LSUB", "FETCH", "UID", "STATUS", "NAMESPACE", "IDLE",
    "APPEND", "STORE", "SEARCH", "EXPUNGE", "CLOSE", NULL};

/* Untagged server data a capture begun mid-session may start with, in the
 * exact form servers write (RFC 9051 §7.2-§7.5): "* FLAGS (", "* LIST (",
 * "* LSUB (", "* n FETCH (", or "* n EXISTS|RECENT|EXPUNGE" and nothing
 * more.  Upper case only: a line of text ("* List of changes", "* Bye for
 * now") is no claim (helper 22); English words as commands of a client line
 * were claims on Redis, NNTP and chat, so client lines keep the list above. */
static bool imap_untagged(const char *l, size_t n)
{
    static const char *const paren[] = {"* FLAGS (", "* LIST (", "* LSUB ("};
    static const char *const counts[] = {" EXISTS", " RECENT", " EXPUNGE"};
    size_t i, k;
    for (k = 0; k < sizeof paren / sizeof paren[0]; k++)
        if (n > strlen(paren[k]) && memcmp(l, paren[k], strlen(paren[k])) == 0)
            return true;
    if (n < 4 || l[0] != '*' || l[1] != ' ' || l[2] < '0' || l[2] > '9')
        return false;
    for (i = 2; i < n && l[i] >= '0' && l[i] <= '9'; i++)
        ;
    if (n - i > 7 && memcmp(l + i, " FETCH (", 8) == 0)
        return true;
    for (k = 0; k < sizeof counts / sizeof counts[0]; k++)
        if (n - i == strlen(counts[k]) && memcmp(l + i, counts[k], n - i) == 0)
            return true;
    return false;
}

me_proto me_guess_protocol(const uint8_t *data, size_t len, bool *from_server, bool *maybe_smtp)
{
    const char *l = (const char *)data;
    size_t n, i;
    *maybe_smtp = false;
    if (!first_line(data, len, &n))
        return ME_PROTO_NONE;

    /* server lines */
    *from_server = true;
    /* A POP3 server greets with "+OK" and a line of text before the client
     * speaks (RFC 1939 §4).  A bare "+OK" is also the simple-string reply of
     * Redis (RESP) and the ack of other line protocols: no evidence alone. */
    if (n > 4 && memcmp(l, "+OK ", 4) == 0)
        return ME_PROTO_POP3;
    if (me_iprefix(l, n, "* OK") || me_iprefix(l, n, "* PREAUTH") ||
        me_iprefix(l, n, "* CAPABILITY ") || imap_untagged(l, n))
        return ME_PROTO_IMAP;
    if (n >= 4 && memcmp(l, "220", 3) == 0 && (l[3] == ' ' || l[3] == '-')) {
        if (me_ifind(l, n, "FTP") >= 0)
            return ME_PROTO_NONE;
        if (me_ifind(l, n, "SMTP") >= 0 || me_ifind(l, n, "Postfix") >= 0 ||
            me_ifind(l, n, "Exim") >= 0 || me_ifind(l, n, "Sendmail") >= 0 ||
            me_ifind(l, n, " mail") >= 0)
            return ME_PROTO_SMTP;
        *maybe_smtp = true;
        return ME_PROTO_NONE;
    }
    if (me_iprefix(l, n, "250-") && (me_ifind(l, n, "PIPELINING") > 0 || me_ifind(l, n, "SIZE") > 0 ||
                                      me_ifind(l, n, "8BITMIME") > 0 || me_ifind(l, n, "AUTH") > 0))
        return ME_PROTO_SMTP;
    if (me_iprefix(l, n, "354 "))
        return ME_PROTO_SMTP;

    /* client lines */
    *from_server = false;
    if ((me_iprefix(l, n, "EHLO ") || me_iprefix(l, n, "HELO ")) && n > 5)
        return ME_PROTO_SMTP;
    if (me_iprefix(l, n, "MAIL FROM:") || me_iprefix(l, n, "RCPT TO:"))
        return ME_PROTO_SMTP;
    if (me_ieq(l, n, "CAPA") || me_ieq(l, n, "STLS") || me_iprefix(l, n, "APOP ") ||
        me_ieq(l, n, "UIDL") || me_ieq(l, n, "STAT"))
        return ME_PROTO_POP3;
    /* IMAP: tag SP command */
    for (i = 0; i < n && is_atom_char(l[i]) && l[i] != '+'; i++)
        ;
    if (i > 0 && i < n && l[i] == ' ' && !(i == 1 && l[0] == '*')) {
        const char *c = l + i + 1;
        size_t cl = n - i - 1, k, w = 0;
        while (w < cl && c[w] != ' ')
            w++;
        for (k = 0; imap_cmds[k]; k++)
            if (me_ieq(c, w, imap_cmds[k]))
                return ME_PROTO_IMAP;
    }
    return ME_PROTO_NONE;
}

/* ---- recognition of a conversation: the state between segments ---- */

#define ME_DETECT_PROBE_MAX 512u   /* bytes of a side's first line looked at */
#define ME_DETECT_GREETING_MAX 1024u

struct me_detect {
    me_alloc a;
    bool gave_up;               /* both sides' first lines were not mail */
    me_proto proto;             /* the verdict, once MAIL */
    uint16_t server_port;
    uint16_t tried_port[2];     /* sides whose first line was judged */
    unsigned ntried;
    uint16_t probe_port[2];     /* a side's first line arriving in pieces */
    uint8_t *probe[2];
    size_t probe_len[2];
    uint8_t *greeting;          /* an ambiguous "220" greeting, until the client speaks */
    size_t greeting_len;
};

me_detect *me_detect_new(const me_alloc *a)
{
    me_detect *d = (me_detect *)a->alloc(a->ctx, sizeof *d);
    d->a = *a;
    return d;
}

void me_detect_free(me_detect *d)
{
    unsigned i;
    if (!d || !d->a.free)
        return;
    for (i = 0; i < 2; i++)
        if (d->probe[i])
            d->a.free(d->a.ctx, d->probe[i]);
    if (d->greeting)
        d->a.free(d->a.ctx, d->greeting);
    d->a.free(d->a.ctx, d);
}

me_proto me_detect_proto(const me_detect *d)
{
    return d->proto;
}

uint16_t me_detect_server_port(const me_detect *d)
{
    return d->server_port;
}

static uint8_t *detect_dup(me_detect *d, const uint8_t *p, size_t n)
{
    uint8_t *c = (uint8_t *)d->a.alloc(d->a.ctx, n ? n : 1);
    memcpy(c, p, n);
    return c;
}

/* This side's first line was not mail; after both sides, give up. */
static me_detect_verdict side_tried(me_detect *d, uint16_t port)
{
    if (d->ntried < 2)
        d->tried_port[d->ntried++] = port;
    if (d->ntried == 2)
        d->gave_up = true;
    return d->gave_up ? ME_DETECT_NOT_MAIL : ME_DETECT_WAIT;
}

static me_detect_verdict decided(me_detect *d, me_proto p, bool from_server, uint16_t src,
                                 uint16_t dst)
{
    if (d->greeting && p != ME_PROTO_SMTP)
        d->greeting = NULL; /* a "220" greeting only ever leads to SMTP */
    d->proto = p;
    d->server_port = from_server ? src : dst;
    return ME_DETECT_MAIL;
}

static void keep_greeting(me_detect *d, const uint8_t *p, size_t n)
{
    if (d->greeting)
        return;
    d->greeting_len = n < ME_DETECT_GREETING_MAX ? n : ME_DETECT_GREETING_MAX;
    d->greeting = detect_dup(d, p, d->greeting_len);
}

/* A byte no mail line carries (RFC 5321 §2.3.8, RFC 1939 §3: lines of
 * printable text): such a first line is not waited for. */
static bool has_binary(const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if ((p[i] < 0x20 && p[i] != '\r' && p[i] != '\n' && p[i] != '\t') || p[i] == 0x7f)
            return true;
    return false;
}

/* A first line arriving in pieces: gather it in the side's probe buffer. */
static me_detect_verdict probe_side(me_detect *d, unsigned i, uint16_t src, uint16_t dst,
                                    const uint8_t *p, size_t len)
{
    size_t room = ME_DETECT_PROBE_MAX - d->probe_len[i], take = len < room ? len : room;
    size_t have = d->probe_len[i] + take;
    bool from_server = false, maybe_smtp = false;
    me_proto guess;
    if (!d->probe[i]) {
        d->probe[i] = (uint8_t *)d->a.alloc(d->a.ctx, ME_DETECT_PROBE_MAX);
        d->probe_port[i] = src;
    }
    memcpy(d->probe[i] + d->probe_len[i], p, take);
    guess = me_guess_protocol(d->probe[i], have, &from_server, &maybe_smtp);
    if (guess != ME_PROTO_NONE) /* earlier bytes stay in the probe: the session reads them */
        return decided(d, guess, from_server, src, dst);
    if (!memchr(d->probe[i], '\n', have) && have < ME_DETECT_PROBE_MAX &&
        !has_binary(d->probe[i], have)) {
        d->probe_len[i] = have; /* no line yet: wait, this is not a try */
        return ME_DETECT_WAIT;
    }
    if (maybe_smtp)
        keep_greeting(d, d->probe[i], have);
    d->probe_len[i] = 0;
    return side_tried(d, src);
}

me_detect_verdict me_detect_segment(me_detect *d, uint16_t src, uint16_t dst, const uint8_t *p,
                                    size_t len)
{
    bool from_server = false, maybe_smtp = false;
    me_proto guess;
    unsigned i;

    if (d->proto != ME_PROTO_NONE)
        return ME_DETECT_MAIL;
    if (d->gave_up)
        return ME_DETECT_NOT_MAIL;
    if (len == 0)
        return ME_DETECT_WAIT;
    /* Only the first line of each side is evidence: a mail protocol shows
     * itself there (greeting or first command), while later lines of other
     * protocols may carry anything, e.g. "+OK" in an HTTP body. */
    for (i = 0; i < d->ntried; i++)
        if (d->tried_port[i] == src)
            return ME_DETECT_WAIT;
    for (i = 0; i < 2 && d->probe[i] && d->probe_port[i] != src; i++)
        ;
    if (i < 2 && (d->probe_len[i] || !memchr(p, '\n', len)))
        return probe_side(d, i, src, dst, p, len);
    guess = me_guess_protocol(p, len, &from_server, &maybe_smtp);
    if (guess == ME_PROTO_NONE && d->greeting && !from_server && len >= 5 &&
        (me_iprefix((const char *)p, len, "EHLO ") || me_iprefix((const char *)p, len, "HELO ")))
        guess = ME_PROTO_SMTP; /* "220 ..." then EHLO: SMTP, not FTP (RFC 5321 §4.1.1.1) */
    if (guess != ME_PROTO_NONE)
        return decided(d, guess, from_server, src, dst);
    if (maybe_smtp)
        keep_greeting(d, p, len);
    return side_tried(d, src);
}

void me_detect_replay(const me_detect *d, me_detect_replay_fn fn, void *ctx)
{
    unsigned i;
    if (d->proto == ME_PROTO_NONE)
        return;
    if (d->greeting)
        fn(ctx, ME_SERVER, d->greeting, d->greeting_len);
    for (i = 0; i < 2; i++)
        if (d->probe_len[i])
            fn(ctx, d->probe_port[i] == d->server_port ? ME_SERVER : ME_CLIENT, d->probe[i],
               d->probe_len[i]);
}
