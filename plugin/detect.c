/* detect.c - recognising POP3, SMTP and IMAP from one line, for mail servers
 * on ports Wireshark does not associate with mail.  Wrong claims are worse
 * than late ones: FTP also greets with "220" and also has USER, LIST, AUTH, so
 * anything shared with FTP waits for more evidence. */
#include <string.h>

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
        me_iprefix(l, n, "* CAPABILITY ") || (me_iprefix(l, n, "* ") && me_ifind(l, n, " EXISTS") > 0))
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
