/* util.c - see util.h */
#include "util.h"

#include <string.h>

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62; /* '-' and '_': URL-safe alphabet seen in tokens */
    if (c == '/' || c == '_') return 63;
    return -1;
}

long me_b64_decode(const char *in, size_t len, uint8_t *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0, i = 0;
    while (len > 0 && in[len - 1] == '=')
        len--;
    for (i = 0; i < len; i++) {
        int v = b64val((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits >= 6) /* a single leftover symbol cannot be valid base64 */
        return -1;
    return (long)o;
}

bool me_is_b64(const char *p, size_t n)
{
    size_t i;
    while (n > 0 && p[n - 1] == '=')
        n--;
    for (i = 0; i < n; i++)
        if (b64val((unsigned char)p[i]) < 0)
            return false;
    return true;
}

/* ASCII case folding, never the C library's: protocol words are ASCII and
 * compare without regard to case (RFC 5234 §2.3), while tolower() follows
 * the locale Wireshark takes from the environment, and in a Turkish one
 * (tr_TR.UTF-8) tolower('I') is 'I', so "QUIT" did not match "quit". */
static inline unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

bool me_ieq(const char *a, size_t n, const char *b)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!b[i] || ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
            return false;
    return b[n] == '\0';
}

int me_lookup(const char *const *names, int count, const char *w, size_t n)
{
    int i;
    for (i = 1; i < count; i++)
        if (me_ieq(w, n, names[i]))
            return i;
    return 0;
}

bool me_iprefix(const char *a, size_t n, const char *b)
{
    size_t i;
    for (i = 0; b[i]; i++) {
        if (i >= n || ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
            return false;
    }
    return true;
}

long me_ifind(const char *a, size_t n, const char *b)
{
    size_t bl = strlen(b), i;
    if (bl == 0) return 0;
    for (i = 0; i + bl <= n; i++)
        if (me_iprefix(a + i, n - i, b))
            return (long)i;
    return -1;
}

void me_first_word(const char *p, size_t n, const char **word, size_t *wlen,
                   const char **rest, size_t *rlen)
{
    size_t i = 0, j;
    while (i < n && p[i] != ' ')
        i++;
    *word = p;
    *wlen = i;
    j = i;
    while (j < n && p[j] == ' ')
        j++;
    *rest = p + j;
    *rlen = n - j;
}

char *me_printable(const uint8_t *p, size_t len, char *out)
{
    static const char hexd[] = "0123456789abcdef";
    size_t i, o = 0;
    for (i = 0; i < len; i++) {
        uint8_t c = p[i];
        if (c == 0) {
            out[o++] = '\\';
            out[o++] = '0';
        } else if (c < 0x20 || c == 0x7f) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hexd[c >> 4];
            out[o++] = hexd[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return out;
}

char *me_hex(const uint8_t *p, size_t len, char *out)
{
    static const char hexd[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < len; i++) {
        out[2 * i] = hexd[p[i] >> 4];
        out[2 * i + 1] = hexd[p[i] & 15];
    }
    out[2 * len] = '\0';
    return out;
}

bool me_parse_u64(const char *p, size_t n, uint64_t *v)
{
    uint64_t x = 0;
    size_t i;
    if (n == 0 || n > 19)
        return false;
    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        x = x * 10 + (uint64_t)(p[i] - '0');
    }
    *v = x;
    return true;
}

size_t me_utf8_seq(const uint8_t *p, size_t n)
{
    size_t len, i;
    uint32_t c;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) /* 0xc0, 0xc1 only start overlong forms */
        len = 2, c = p[0] & 0x1fu;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, c = p[0] & 0x0fu;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, c = p[0] & 0x07u;
    else
        return 0;
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3fu);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
        (c >= 0xd800 && c <= 0xdfff))
        return 0;
    return len;
}

static int mutf7_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == ',' ? 63 : -1;
}

/* One code point as UTF-8 at OUT; returns the bytes written. */
static size_t put_utf8(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

long me_mutf7_decode(const char *in, char *out)
{
    size_t o = 0;
    while (*in) {
        uint32_t bits = 0, high = 0;
        int nbits = 0;
        size_t units = 0;
        if ((unsigned char)*in < 0x20 || (unsigned char)*in > 0x7e)
            return -1;
        if (*in != '&') {
            out[o++] = *in++;
            continue;
        }
        in++;
        if (*in == '-') { /* "&-" is "&" */
            out[o++] = '&';
            in++;
            continue;
        }
        for (; *in && *in != '-'; in++) {
            int v = mutf7_value(*in);
            if (v < 0)
                return -1;
            bits = bits << 6 | (uint32_t)v;
            nbits += 6;
            if (nbits >= 16) {
                uint32_t u = (bits >> (nbits - 16)) & 0xffff;
                nbits -= 16;
                bits &= (1u << nbits) - 1;
                units++;
                if (high) {
                    if (u < 0xdc00 || u > 0xdfff)
                        return -1;
                    o += put_utf8(0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00), out + o);
                    high = 0;
                } else if (u >= 0xd800 && u <= 0xdbff) {
                    high = u;
                } else if ((u >= 0xdc00 && u <= 0xdfff) || u < 0xa0) {
                    /* a lone low surrogate; ASCII goes as is; no control
                     * character (U+0000 would cut the name) is a name's */
                    return -1;
                } else {
                    o += put_utf8(u, out + o);
                }
            }
        }
        /* the shift ends with "-", after whole units padded with zero bits */
        if (*in != '-' || !units || high || nbits >= 6 || bits)
            return -1;
        in++;
    }
    out[o] = '\0';
    return (long)o;
}
