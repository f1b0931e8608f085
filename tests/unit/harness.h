/* harness.h - tiny unit-test kit for the engines: an arena allocator, a way to
 * feed transcript lines, and CHECK macros that count failures. */
#ifndef MAILEDU_HARNESS_H
#define MAILEDU_HARNESS_H

#include <stdio.h>
#include <string.h>

#include "mailedu.h"

extern int h_failures, h_checks;
extern const me_alloc h_alloc; /* arena: everything freed by h_free_all() */

#define CHECK(cond)                                                                  \
    do {                                                                             \
        h_checks++;                                                                  \
        if (!(cond)) {                                                               \
            h_failures++;                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

/* string equality where either side may be NULL */
#define CHECK_STR(a, b)                                                                      \
    do {                                                                                     \
        const char *ha_ = (a), *hb_ = (b);                                                   \
        h_checks++;                                                                          \
        if (!((ha_ == NULL && hb_ == NULL) || (ha_ && hb_ && strcmp(ha_, hb_) == 0))) {     \
            h_failures++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s is \"%s\", expected \"%s\"\n",     \
                    __FILE__, __LINE__, #a, ha_ ? ha_ : "(null)", hb_ ? hb_ : "(null)");   \
        }                                                                                    \
    } while (0)

/* A session whose frames are numbered 1, 2, 3... by each feed. */
typedef struct h_sess {
    me_session *s;
    uint32_t frame;
} h_sess;

h_sess h_new(me_proto p, bool tls, bool start_seen);
/* Feeds text as one segment from the client (C) or server (S); returns the first record. */
me_item *h_c(h_sess *h, const char *text);
me_item *h_s(h_sess *h, const char *text);
me_item *h_feed(h_sess *h, me_dir dir, const void *data, size_t len);
/* The frame of the reply to command record cmd, as known now (a record's
 * response_in is what was known when it was unpacked). */
uint32_t h_response_in(const h_sess *h, const me_item *cmd);
/* n-th record (0-based) of a frame's list, or NULL. */
me_item *h_nth(me_item *first, int n);
/* A POP3 session past its greeting and a USER/PASS login the server accepted
 * (RFC 1939 §4, §7): in TRANSACTION, for tests of what comes after. */
void h_pop3_login(h_sess *h);
int h_done(const char *name); /* prints a summary, frees, returns exit status */

#endif
