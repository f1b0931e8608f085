/* fuzz_sasl.c - libFuzzer target: the SASL decoder (plugin/sasl.c, RFC 4422)
 * alone.  Input: one byte choosing the mechanism name (any, garbage included,
 * as a chunk when the byte is 0xff), then messages (fz_chunk), alternately
 * from the client and the server unless the message's first byte says
 * otherwise.  Every output string is read back. */
#include <string.h>

#include "fuzz_common.h"
#include "sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t out_len(const me_sasl_out *o)
{
    const char *s[] = {o->username, o->password, o->token, o->challenge, o->digest,
                       o->authzid,  o->domain,   o->host,  o->decoded};
    size_t i, t = 0;
    for (i = 0; i < sizeof s / sizeof s[0]; i++)
        t += s[i] ? strlen(s[i]) : 0;
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const mechs[] = {"PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5",
                                        "SCRAM-SHA-1", "SCRAM-SHA-256", "NTLM", "GSSAPI",
                                        "XOAUTH2", "OAUTHBEARER", "EXTERNAL", "ANONYMOUS"};
    fz_in in = {data, size};
    int m = fz_byte(&in);
    me_sasl s;
    volatile size_t sink = 0;
    unsigned step = 0;

    if (m < 0)
        return 0;
    memset(&s, 0, sizeof s);
    if (m == 0xff) {
        const uint8_t *p;
        size_t n = fz_chunk(&in, &p, 64);
        me_sasl_start(&s, &fz_allocator, (const char *)p, n);
    } else {
        const char *name = mechs[(unsigned)m % (sizeof mechs / sizeof mechs[0])];
        me_sasl_start(&s, &fz_allocator, name, strlen(name));
    }
    while (in.n && step++ < 64) {
        const uint8_t *p;
        size_t n = fz_chunk(&in, &p, 65535);
        me_sasl_out o;
        memset(&o, 0, sizeof o);
        if (step & 1)
            me_sasl_client(&s, (const char *)p, n, &o);
        else
            me_sasl_server(&s, (const char *)p, n, &o);
        sink += out_len(&o);
    }
    (void)sink;
    fz_free_all();
    return 0;
}
