/* report_hash.c - challenge-response material in the formats password
 * auditors' crackers read.  Each hash line follows a "# " comment naming the
 * session, frame, user and hashcat mode; hash lines never start with '#'.
 *
 *   CRAM-MD5 (RFC 2195): hashcat 10200  $cram_md5$<b64 challenge>$<b64 "user hexdigest">
 *   APOP (RFC 1939 §7):  hashcat 20     <hexdigest>:<timestamp>   (md5($salt.$pass))
 *   NTLMv2 (MS-NLMP):    hashcat 5600   user::domain:<server challenge>:<NTProofStr>:<blob>
 * NTLMv1 needs the LM response too (hashcat 5500), which the engines do not
 * keep; DIGEST-MD5 and SCRAM have no hashcat mode: a comment says so. */
#include <string.h>

#include "report_int.h"

static void b64(me_buf *b, const char *s)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i;
    char q[5] = {0};
    for (i = 0; i + 2 < n; i += 3) {
        q[0] = al[p[i] >> 2];
        q[1] = al[(p[i] & 3) << 4 | p[i + 1] >> 4];
        q[2] = al[(p[i + 1] & 15) << 2 | p[i + 2] >> 6];
        q[3] = al[p[i + 2] & 63];
        me_buf_puts(b, q);
    }
    if (n - i == 1) {
        q[0] = al[p[i] >> 2];
        q[1] = al[(p[i] & 3) << 4];
        q[2] = q[3] = '=';
        me_buf_puts(b, q);
    } else if (n - i == 2) {
        q[0] = al[p[i] >> 2];
        q[1] = al[(p[i] & 3) << 4 | p[i + 1] >> 4];
        q[2] = al[(p[i + 1] & 15) << 2];
        q[3] = '=';
        me_buf_puts(b, q);
    }
}

static bool is_hex(const char *s, size_t n)
{
    size_t i;
    if (!s || strlen(s) != n)
        return false;
    for (i = 0; i < n; i++)
        if (!strchr("0123456789abcdefABCDEF", s[i]))
            return false;
    return true;
}

static void comment(me_buf *out, const rep_session *s, const rep_login *l, const char *what)
{
    me_buf_printf(out, "# stream %u frame %u attempt %u %s user ", s->stream,
                  l->secret_frame ? l->secret_frame : l->start_frame, l->attempt, l->mechanism);
    me_buf_utf8(out, l->username ? l->username : "-");
    me_buf_printf(out, " result %s", l->result ? me_result_name(l->result) : "none");
    if (l->result == ME_RESULT_FAILURE && me_failure_name(l->failure))
        me_buf_printf(out, " (%s)", me_failure_name(l->failure));
    me_buf_printf(out, ": %s\n", what);
}

static void ntlm(me_buf *out, const rep_session *s, const rep_login *l)
{
    size_t n = strlen(l->digest);
    if (n == 48) {
        comment(out, s, l, "NTLMv1, no line: hashcat 5500 needs the LM response, not kept");
        return;
    }
    if (n <= 32 || !is_hex(l->challenge, 16) || !is_hex(l->digest, n)) {
        comment(out, s, l, "NTLM response incomplete, no line");
        return;
    }
    comment(out, s, l, "NTLMv2, hashcat -m 5600");
    me_buf_utf8(out, l->username ? l->username : "");
    me_buf_puts(out, "::");
    me_buf_utf8(out, l->domain ? l->domain : "");
    me_buf_printf(out, ":%s:%.32s:%s\n", l->challenge, l->digest, l->digest + 32);
}

static void one_login(me_buf *out, const rep_session *s, const rep_login *l)
{
    const char *m = l->mechanism ? l->mechanism : "";
    if (!l->digest)
        return;
    if (strcmp(m, "CRAM-MD5") == 0 && l->challenge && l->username) {
        me_buf b = {0};
        comment(out, s, l, "hashcat -m 10200");
        me_buf_puts(&b, l->username);
        me_buf_puts(&b, " ");
        me_buf_puts(&b, l->digest);
        me_buf_puts(out, "$cram_md5$");
        b64(out, l->challenge);
        me_buf_puts(out, "$");
        b64(out, b.p);
        me_buf_puts(out, "\n");
        me_buf_free(&b);
    } else if (strcmp(m, "APOP") == 0 && l->challenge && is_hex(l->digest, 32)) {
        comment(out, s, l, "hashcat -m 20, md5($salt.$pass), salt = the greeting's timestamp");
        me_buf_printf(out, "%s:", l->digest);
        me_buf_utf8(out, l->challenge);
        me_buf_puts(out, "\n");
    } else if (strcmp(m, "NTLM") == 0) {
        ntlm(out, s, l);
    } else {
        comment(out, s, l, "no public cracker format for this mechanism, no line");
    }
}

void me_report_hashes(const me_report *r, const me_rep_opts *o, me_buf *out)
{
    const rep_session *s;
    size_t i;
    (void)o; /* hashes are never masked: they are what the auditor asked for */
    REP_FOREACH(r, s)
        for (i = 0; i < s->nlogins; i++)
            one_login(out, s, &s->logins[i]);
}
