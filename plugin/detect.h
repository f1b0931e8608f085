/* detect.h - recognising a mail conversation on any TCP port, segment by
 * segment (first pass, capture order).  The glue passes each payload and reads
 * a verdict; the state between segments (a first line arriving in pieces, an
 * ambiguous "220" greeting waiting for the client's first command, which sides
 * were judged) lives here.  No Wireshark types.
 *
 * Rules (detect.c): only the first line of each side is evidence; a POP3 or
 * IMAP greeting, or an SMTP greeting naming SMTP, decides at once; a bare
 * "220" (FTP greets the same way, RFC 959 §4.2) waits for the client's EHLO or
 * HELO (RFC 5321 §4.1.1.1); after both sides' first lines without a verdict,
 * the conversation is not mail and costs nothing more. */
#ifndef MAILEDU_DETECT_H
#define MAILEDU_DETECT_H

#include "mailedu.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    ME_DETECT_WAIT = 0,   /* not decided: feed the next segment */
    ME_DETECT_NOT_MAIL,   /* decided: not mail (final) */
    ME_DETECT_MAIL        /* decided: mail; see me_detect_proto/server_port (final) */
} me_detect_verdict;

typedef struct me_detect me_detect;

/* A recogniser for one conversation; memory from a (never freed
 * individually).  Never NULL. */
me_detect *me_detect_new(const me_alloc *a);
/* Returns d and the bytes it gathered to its allocator (if that frees);
 * NULL is allowed.  d must not be used after. */
void me_detect_free(me_detect *d);

/* One segment's payload, sent from port src to port dst.  Returns the verdict
 * so far; once MAIL or NOT_MAIL, later calls return the same. */
me_detect_verdict me_detect_segment(me_detect *d, uint16_t src, uint16_t dst, const uint8_t *p,
                                    size_t len);

/* The protocol (ME_PROTO_NONE until MAIL) and the server's port. */
me_proto me_detect_proto(const me_detect *d);
uint16_t me_detect_server_port(const me_detect *d);

/* Bytes of earlier segments that recognition looked at and the session must
 * still read, in order (the ambiguous greeting, a first line that came in
 * pieces).  The segment that decided is not included: the caller feeds it.
 * fn receives the direction and bytes valid during the call. */
typedef void (*me_detect_replay_fn)(void *ctx, me_dir dir, const uint8_t *p, size_t n);
void me_detect_replay(const me_detect *d, me_detect_replay_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* MAILEDU_DETECT_H */
