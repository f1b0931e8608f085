/* sasl.h - decoding of SASL exchanges (RFC 4422), shared by POP3 AUTH,
 * SMTP AUTH and IMAP AUTHENTICATE.  The protocol engine strips its own framing
 * ("+ ", "334 ", the AUTH line) and hands the base64 payloads here. */
#ifndef MAILEDU_SASL_H
#define MAILEDU_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "texts.h"

struct me_alloc;

typedef enum {
    ME_SASL_OTHER = 0, ME_SASL_PLAIN, ME_SASL_LOGIN, ME_SASL_CRAM_MD5, ME_SASL_DIGEST_MD5,
    ME_SASL_SCRAM_SHA_1, ME_SASL_SCRAM_SHA_256, ME_SASL_NTLM, ME_SASL_GSSAPI,
    ME_SASL_XOAUTH2, ME_SASL_OAUTHBEARER, ME_SASL_EXTERNAL, ME_SASL_ANONYMOUS
} me_sasl_mech;

typedef struct me_sasl {
    const struct me_alloc *a;
    me_sasl_mech mech;
    const char *name;         /* canonical upper-case mechanism name */
    unsigned client_steps;    /* client messages seen (initial response included) */
    unsigned server_steps;
    int login_expect;         /* LOGIN: 0 user, 1 password, 2 nothing more */
    const char *challenge;    /* last server challenge worth keeping */
    bool server_last;         /* the last message seen came from the server */
    bool cancelled;           /* the client sent "*" (RFC 4422 §3) */
} me_sasl;

/* What one SASL message revealed.  NULL: nothing of that kind. */
typedef struct me_sasl_out {
    const char *username, *password, *token, *challenge, *digest;
    const char *authzid, *domain, *host;
    const char *decoded;      /* the message decoded, printable */
    bool cleartext;           /* a reusable secret is readable */
    bool empty_secret;        /* the password sent is empty: no secret, its own finding */
    bool base64;              /* the secret was only base64-encoded */
    bool hash;                /* material for offline cracking */
    bool cancelled;           /* client sent "*" */
    bool malformed;           /* not base64, or not the mechanism's format */
    me_text_id explain;
} me_sasl_out;

/* Starts an exchange for mechanism name (any case). */
void me_sasl_start(me_sasl *s, const struct me_alloc *a, const char *name, size_t len);
/* A client message: the initial response on the command line or a later line. */
void me_sasl_client(me_sasl *s, const char *b64, size_t len, me_sasl_out *o);
/* A server challenge payload (base64, possibly empty). */
void me_sasl_server(me_sasl *s, const char *b64, size_t len, me_sasl_out *o);
/* True when the client has sent every message its mechanism has (LOGIN: user
 * and password, draft-murchison-sasl-login §2; PLAIN: one, RFC 4616 §2;
 * CRAM-MD5: one, RFC 2195 §2; EXTERNAL, ANONYMOUS, XOAUTH2/OAUTHBEARER: one)
 * and no server challenge came after it: a further client line is no SASL
 * response but the next command (the server's verdict was not captured).
 * False for multi-step or unknown mechanisms, where only the reply tells. */
bool me_sasl_client_done(const me_sasl *s);

#endif
