/* sasl.c - see sasl.h.  Every mechanism is decoded only as far as it reveals
 * who logs in and which secret crossed the wire. */
#include "sasl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailedu.h"
#include "util.h"

static const struct {
    const char *name;
    me_sasl_mech mech;
} mechs[] = {
    {"PLAIN", ME_SASL_PLAIN},           {"LOGIN", ME_SASL_LOGIN},
    {"CRAM-MD5", ME_SASL_CRAM_MD5},     {"DIGEST-MD5", ME_SASL_DIGEST_MD5},
    {"SCRAM-SHA-1", ME_SASL_SCRAM_SHA_1}, {"SCRAM-SHA-256", ME_SASL_SCRAM_SHA_256},
    {"NTLM", ME_SASL_NTLM},             {"GSSAPI", ME_SASL_GSSAPI},
    {"XOAUTH2", ME_SASL_XOAUTH2},       {"OAUTHBEARER", ME_SASL_OAUTHBEARER},
    {"EXTERNAL", ME_SASL_EXTERNAL},     {"ANONYMOUS", ME_SASL_ANONYMOUS},
};

static char *dupn(const me_sasl *s, const char *p, size_t n)
{
    char *r = s->a->alloc(s->a->ctx, n + 1);
    memcpy(r, p, n);
    r[n] = '\0';
    return r;
}

/* Bytes as a string: verbatim when free of control bytes, else escaped. */
static const char *text(const me_sasl *s, const uint8_t *p, size_t n)
{
    size_t i;
    char *r;
    for (i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] == 0x7f)
            break;
    if (i == n)
        return dupn(s, (const char *)p, n);
    r = s->a->alloc(s->a->ctx, 4 * n + 1);
    return me_printable(p, n, r);
}

void me_sasl_start(me_sasl *s, const struct me_alloc *a, const char *name, size_t len)
{
    size_t i;
    char *up;
    memset(s, 0, sizeof(*s));
    s->a = a;
    up = dupn(s, name, len);
    for (i = 0; i < len; i++)
        if (up[i] >= 'a' && up[i] <= 'z')
            up[i] = (char)(up[i] - 'a' + 'A');
    s->name = up;
    for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
        if (strcmp(mechs[i].name, up) == 0)
            s->mech = mechs[i].mech;
}

/* Decodes base64 into a fresh NUL-terminated buffer; NULL if not base64. */
static uint8_t *b64(const me_sasl *s, const char *p, size_t n, size_t *outlen)
{
    uint8_t *buf = s->a->alloc(s->a->ctx, n * 3 / 4 + 4);
    long r = me_b64_decode(p, n, buf);
    if (r < 0)
        return NULL;
    buf[r] = 0;
    *outlen = (size_t)r;
    return buf;
}

/* NTLM: UTF-16LE (or OEM) security buffer to UTF-8. */
static const char *ntlm_str(const me_sasl *s, const uint8_t *m, size_t n, size_t off,
                            bool unicode)
{
    size_t len, at, i, o = 0;
    char *r;
    if (off + 8 > n)
        return NULL;
    len = (size_t)m[off] | ((size_t)m[off + 1] << 8);
    at = (size_t)m[off + 4] | ((size_t)m[off + 5] << 8) | ((size_t)m[off + 6] << 16) |
         ((size_t)m[off + 7] << 24);
    if (len == 0 || at > n || len > n - at)
        return NULL;
    if (!unicode)
        return text(s, m + at, len);
    r = s->a->alloc(s->a->ctx, len * 2 + 1);
    for (i = 0; i + 1 < len; i += 2) {
        unsigned c = (unsigned)m[at + i] | ((unsigned)m[at + i + 1] << 8);
        if (c < 0x80) {
            r[o++] = (char)(c < 0x20 ? '?' : c);
        } else if (c < 0x800) {
            r[o++] = (char)(0xc0 | (c >> 6));
            r[o++] = (char)(0x80 | (c & 0x3f));
        } else {
            r[o++] = (char)(0xe0 | (c >> 12));
            r[o++] = (char)(0x80 | ((c >> 6) & 0x3f));
            r[o++] = (char)(0x80 | (c & 0x3f));
        }
    }
    r[o] = '\0';
    return r;
}

static const char *ntlm_hexbuf(const me_sasl *s, const uint8_t *m, size_t n, size_t off)
{
    size_t len, at;
    char *r;
    if (off + 8 > n)
        return NULL;
    len = (size_t)m[off] | ((size_t)m[off + 1] << 8);
    at = (size_t)m[off + 4] | ((size_t)m[off + 5] << 8) | ((size_t)m[off + 6] << 16) |
         ((size_t)m[off + 7] << 24);
    if (len == 0 || at > n || len > n - at)
        return NULL;
    r = s->a->alloc(s->a->ctx, 2 * len + 1);
    return me_hex(m + at, len, r);
}

static void ntlm(me_sasl *s, const uint8_t *m, size_t n, me_sasl_out *o)
{
    uint32_t type, flags = 0;
    if (n < 12 || memcmp(m, "NTLMSSP", 8) != 0) {
        o->malformed = true;
        return;
    }
    type = (uint32_t)m[8] | ((uint32_t)m[9] << 8);
    if (type == 1) {
        o->explain = TXT_SASL_NTLM_NEGOTIATE;
    } else if (type == 2) {
        o->explain = TXT_SASL_NTLM_CHALLENGE;
        if (n >= 32) {
            char *h = s->a->alloc(s->a->ctx, 17);
            o->challenge = s->challenge = me_hex(m + 24, 8, h);
        }
    } else if (type == 3) {
        bool uni;
        o->explain = TXT_SASL_NTLM_AUTH;
        if (n >= 64)
            flags = (uint32_t)m[60] | ((uint32_t)m[61] << 8) | ((uint32_t)m[62] << 16) |
                    ((uint32_t)m[63] << 24);
        uni = (flags & 1u) != 0 || n < 64;
        o->domain = ntlm_str(s, m, n, 28, uni);
        o->username = ntlm_str(s, m, n, 36, uni);
        o->host = ntlm_str(s, m, n, 44, uni);
        o->digest = ntlm_hexbuf(s, m, n, 20);
        o->challenge = s->challenge;
        o->hash = o->digest != NULL;
        if (!o->username)
            o->malformed = true;
    } else {
        o->malformed = true;
    }
}

/* Value of key=value inside a comma list (DIGEST-MD5, SCRAM), quotes removed. */
static const char *kv(const me_sasl *s, const char *p, size_t n, const char *key)
{
    size_t kl = strlen(key), i = 0;
    while (i < n) {
        size_t end = i;
        bool q = false;
        while (end < n && (q || p[end] != ',')) {
            if (p[end] == '"')
                q = !q;
            end++;
        }
        while (i < end && p[i] == ' ')
            i++;
        if (end - i > kl && memcmp(p + i, key, kl) == 0 && p[i + kl] == '=') {
            const char *v = p + i + kl + 1;
            size_t vl = end - (i + kl + 1);
            if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
                v++;
                vl -= 2;
            }
            return dupn(s, v, vl);
        }
        i = end + 1;
    }
    return NULL;
}

/* XOAUTH2 "user=U^Aauth=Bearer T^A^A" and OAUTHBEARER "n,a=U,^Aauth=Bearer T^A^A" */
static void oauth(me_sasl *s, const char *p, size_t n, me_sasl_out *o)
{
    size_t i = 0;
    if (s->mech == ME_SASL_OAUTHBEARER) {
        /* GS2 header: flag "," [a=authzid] "," */
        size_t c1 = 0;
        while (c1 < n && p[c1] != ',')
            c1++;
        if (c1 + 3 < n && p[c1 + 1] == 'a' && p[c1 + 2] == '=') {
            size_t e = c1 + 3;
            while (e < n && p[e] != ',')
                e++;
            o->username = dupn(s, p + c1 + 3, e - c1 - 3);
        }
    }
    while (i < n) {
        size_t e = i;
        while (e < n && p[e] != 0x01)
            e++;
        if (e - i > 5 && memcmp(p + i, "user=", 5) == 0)
            o->username = dupn(s, p + i + 5, e - i - 5);
        else if (e - i > 5 && memcmp(p + i, "auth=", 5) == 0) {
            const char *v = p + i + 5;
            size_t vl = e - i - 5;
            if (vl > 7 && me_iprefix(v, vl, "Bearer "))
                v += 7, vl -= 7;
            o->token = dupn(s, v, vl);
        }
        i = e + 1;
    }
    if (o->token) {
        o->cleartext = true;
        o->base64 = true;
    } else if (s->mech == ME_SASL_XOAUTH2 && n == 0) {
        o->explain = TXT_SASL_XOAUTH2_ACK; /* empty reply to an error challenge */
    } else if (!o->username) {
        o->malformed = true;
    }
}

/* PLAIN (RFC 4616 §2): authzid NUL authcid NUL passwd. */
static void plain_client(me_sasl *s, const uint8_t *m, size_t ml, me_sasl_out *o)
{
    const uint8_t *z1 = memchr(m, 0, ml), *z2;
    o->explain = TXT_SASL_PLAIN;
    if (!z1 || !(z2 = memchr(z1 + 1, 0, ml - (size_t)(z1 + 1 - m)))) {
        o->malformed = ml > 0;
        return;
    }
    if (z1 > m)
        o->authzid = text(s, m, (size_t)(z1 - m));
    o->username = text(s, z1 + 1, (size_t)(z2 - z1 - 1));
    o->password = text(s, z2 + 1, ml - (size_t)(z2 + 1 - m));
    o->empty_secret = !*o->password;
    o->cleartext = !o->empty_secret;
    o->base64 = true;
}

/* LOGIN (draft-murchison-sasl-login §2): the user name, then the password. */
static void login_client(me_sasl *s, const uint8_t *m, size_t ml, me_sasl_out *o)
{
    if (s->login_expect == 0) {
        o->username = text(s, m, ml);
        o->explain = TXT_SASL_LOGIN_USER;
        o->base64 = true;
        s->login_expect = 1;
    } else if (s->login_expect == 1) {
        o->password = text(s, m, ml);
        o->explain = TXT_SASL_LOGIN_PASS;
        o->empty_secret = ml == 0;
        o->cleartext = ml > 0;
        o->base64 = true;
        s->login_expect = 2;
    }
}

/* CRAM-MD5 (RFC 2195 §2): "user hexdigest". */
static void cram_client(me_sasl *s, const uint8_t *m, size_t ml, me_sasl_out *o)
{
    const uint8_t *sp = ml ? memchr(m, ' ', ml) : NULL;
    o->explain = TXT_SASL_CRAM_RESPONSE;
    if (!sp) {
        o->malformed = true;
        return;
    }
    o->username = text(s, m, (size_t)(sp - m));
    o->digest = text(s, sp + 1, ml - (size_t)(sp + 1 - m));
    o->challenge = s->challenge;
    o->hash = true;
}

/* SCRAM (RFC 5802 §5): client-first "gs2-header n=user,r=nonce", then the proof. */
static void scram_client(me_sasl *s, const uint8_t *m, size_t ml, me_sasl_out *o)
{
    if (s->client_steps == 1 ||
        (ml > 2 && (m[0] == 'n' || m[0] == 'y' || m[0] == 'p') && m[1] == ',')) {
        const char *c = memchr(m, ',', ml);
        o->explain = TXT_SASL_SCRAM_FIRST;
        if (c && (c = memchr(c + 1, ',', ml - (size_t)((const uint8_t *)c + 1 - m))))
            o->username = kv(s, c + 1, ml - (size_t)((const uint8_t *)c + 1 - m), "n");
    } else {
        o->explain = TXT_SASL_SCRAM_FINAL;
        o->digest = kv(s, (const char *)m, ml, "p");
        o->challenge = s->challenge;
        o->hash = o->digest != NULL;
    }
}

void me_sasl_client(me_sasl *s, const char *p, size_t n, me_sasl_out *o)
{
    uint8_t *m = NULL;
    size_t ml = 0;
    memset(o, 0, sizeof(*o));
    s->client_steps++;
    s->server_last = false;
    o->explain = TXT_SASL_RESPONSE;
    if (n == 1 && p[0] == '*') {
        o->cancelled = s->cancelled = true;
        o->explain = TXT_SASL_CANCEL;
        return;
    }
    if (n == 1 && p[0] == '=') /* RFC 4954/4959: empty initial response */
        n = 0;
    if (n > 0) {
        m = b64(s, p, n, &ml);
        if (!m) {
            o->malformed = true;
            o->explain = TXT_SASL_BAD_BASE64;
            return;
        }
        o->decoded = text(s, m, ml);
    } else {
        m = (uint8_t *)"";
    }
    switch (s->mech) {
    case ME_SASL_PLAIN: plain_client(s, m, ml, o); break;
    case ME_SASL_LOGIN: login_client(s, m, ml, o); break;
    case ME_SASL_CRAM_MD5: cram_client(s, m, ml, o); break;
    case ME_SASL_DIGEST_MD5:
        if (ml) {
            o->explain = TXT_SASL_DIGEST_RESPONSE;
            o->username = kv(s, (const char *)m, ml, "username");
            o->digest = kv(s, (const char *)m, ml, "response");
            o->challenge = s->challenge;
            o->hash = o->digest != NULL;
        }
        break;
    case ME_SASL_SCRAM_SHA_1:
    case ME_SASL_SCRAM_SHA_256: scram_client(s, m, ml, o); break;
    case ME_SASL_NTLM:
        if (ml)
            ntlm(s, m, ml, o);
        break;
    case ME_SASL_XOAUTH2:
    case ME_SASL_OAUTHBEARER:
        o->explain = TXT_SASL_OAUTH;
        oauth(s, (const char *)m, ml, o);
        break;
    case ME_SASL_EXTERNAL:
        o->explain = TXT_SASL_EXTERNAL;
        if (ml)
            o->authzid = text(s, m, ml);
        break;
    case ME_SASL_ANONYMOUS: o->explain = TXT_SASL_ANONYMOUS; break;
    case ME_SASL_GSSAPI: o->explain = TXT_SASL_GSSAPI; break;
    case ME_SASL_OTHER: break;
    }
}

void me_sasl_server(me_sasl *s, const char *p, size_t n, me_sasl_out *o)
{
    uint8_t *m;
    size_t ml = 0;
    memset(o, 0, sizeof(*o));
    s->server_steps++;
    s->server_last = true;
    o->explain = TXT_SASL_CHALLENGE;
    if (n == 0) {
        o->explain = TXT_SASL_EMPTY_CHALLENGE;
        return;
    }
    m = b64(s, p, n, &ml);
    if (!m) {
        /* Some servers send a plain-text prompt; keep it readable. */
        o->decoded = dupn(s, p, n);
        if (s->mech == ME_SASL_LOGIN) {
            if (me_ifind(p, n, "pass") >= 0)
                s->login_expect = 1;
            else if (me_ifind(p, n, "user") >= 0)
                s->login_expect = 0;
        }
        return;
    }
    o->decoded = text(s, m, ml);
    switch (s->mech) {
    case ME_SASL_LOGIN:
        /* The prompt's wording varies ("Username:", "username:", "User Name"). */
        if (me_ifind((const char *)m, ml, "pass") >= 0) {
            s->login_expect = 1;
            o->explain = TXT_SASL_LOGIN_PROMPT_PASS;
        } else if (me_ifind((const char *)m, ml, "user") >= 0) {
            s->login_expect = 0;
            o->explain = TXT_SASL_LOGIN_PROMPT_USER;
        }
        break;
    case ME_SASL_CRAM_MD5:
        o->challenge = s->challenge = text(s, m, ml);
        o->explain = TXT_SASL_CRAM_CHALLENGE;
        break;
    case ME_SASL_DIGEST_MD5:
        o->challenge = kv(s, (const char *)m, ml, "nonce");
        if (o->challenge)
            s->challenge = o->challenge;
        o->explain = TXT_SASL_DIGEST_CHALLENGE;
        break;
    case ME_SASL_SCRAM_SHA_1:
    case ME_SASL_SCRAM_SHA_256:
        if (ml > 2 && m[0] == 'r' && m[1] == '=') {
            o->challenge = s->challenge = text(s, m, ml);
            o->explain = TXT_SASL_SCRAM_SERVER_FIRST;
        } else {
            o->explain = TXT_SASL_SCRAM_SERVER_FINAL;
        }
        break;
    case ME_SASL_NTLM:
        ntlm(s, m, ml, o);
        break;
    case ME_SASL_XOAUTH2:
    case ME_SASL_OAUTHBEARER:
        if (ml && m[0] == '{')
            o->explain = TXT_SASL_OAUTH_ERROR; /* JSON status: the token was refused */
        break;
    default:
        break;
    }
}

bool me_sasl_client_done(const me_sasl *s)
{
    if (s->server_last || s->client_steps == 0)
        return false;
    switch (s->mech) {
    case ME_SASL_LOGIN:
        return s->login_expect == 2;
    case ME_SASL_PLAIN:
    case ME_SASL_CRAM_MD5:
    case ME_SASL_EXTERNAL:
    case ME_SASL_ANONYMOUS:
    case ME_SASL_XOAUTH2:
    case ME_SASL_OAUTHBEARER:
        return true;
    default:
        return false;
    }
}
