/* report.h - session reports built from the engines' records, free of
 * Wireshark types: the tap glue (packet-mailedu-tap.c) hands each frame's
 * records here with the frame's TCP facts; the report keeps a summary per TCP
 * session and prints it as JSON (docs/sessions-schema.md), as a table, as a
 * transcript or as cracker input lines.
 *
 * Everything a report keeps is copied (malloc), so it outlives the records
 * and the capture file; me_report_free() releases it.  Allocation failure
 * aborts (like GLib's g_malloc), so no function here returns an error.
 */
#ifndef MAILEDU_REPORT_H
#define MAILEDU_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailedu.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A growing text buffer (malloc); p is NUL-terminated once anything was added. */
typedef struct me_buf {
    char *p;
    size_t len, cap;
} me_buf;

/* Appends s (NUL-terminated; NULL appends nothing). */
void me_buf_puts(me_buf *b, const char *s);
/* Appends the n bytes at s as they are. */
void me_buf_putn(me_buf *b, const char *s, size_t n);
/* Appends printf-formatted text. */
void me_buf_printf(me_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Appends s as valid UTF-8: each byte that is not part of a well-formed UTF-8
 * sequence becomes U+FFFD, control bytes become '?' (so a terminal or a JSON
 * reader never breaks on capture bytes).  NULL appends nothing. */
void me_buf_utf8(me_buf *b, const char *s);
/* Appends s as a JSON string literal with quotes (RFC 8259 §7), made valid
 * UTF-8 as me_buf_utf8 does; NULL appends null. */
void me_buf_json_str(me_buf *b, const char *s);
/* Frees the buffer's memory and empties it. */
void me_buf_free(me_buf *b);

/* What the glue knows about the frame whose records are added. */
typedef struct me_rep_frame {
    uint32_t stream;       /* Wireshark's tcp.stream */
    uint32_t frame;        /* frame number */
    int64_t secs;          /* absolute time: seconds since the epoch (UTC) */
    int32_t usecs;         /* and microseconds, 0..999999 */
    const char *src, *dst; /* addresses as text (copied); read on a session's
                            * first frame only (me_report_has_session) */
    uint16_t sport, dport;
} me_rep_frame;

/* How to print: the preferences of the run and the capture's name. */
typedef struct me_rep_opts {
    me_lang lang;          /* language of explanations */
    bool mask;             /* print passwords and tokens as ******** */
    const char *capture;   /* base name of the capture file, "" when unknown */
    const char *generator; /* "mailedu X.Y.Z" */
    long stream;           /* transcript: only this tcp.stream; -1: every session */
} me_rep_opts;

typedef struct me_report me_report;

/* A new, empty report.  max_lines: dialogue lines kept per session (JSON
 * `lines`, transcript); more set lines_truncated.  Never NULL; free it with
 * me_report_free(). */
me_report *me_report_new(size_t max_lines);
/* Frees the report and everything it copied; NULL is allowed. */
void me_report_free(me_report *r);
/* Forgets every session (a new pass over the capture, e.g. a GUI retap). */
void me_report_reset(me_report *r);
/* Adds the records of one frame (the list linked by ->next, as the engines
 * return it; NULL adds nothing) to the session of f->stream.  Records are
 * read, never kept: what the report needs is copied. */
void me_report_add(me_report *r, const me_rep_frame *f, const me_item *items);
/* Number of sessions seen. */
size_t me_report_sessions(const me_report *r);
/* Whether frames of the session with this tcp.stream index were added: then
 * me_report_add needs no addresses (f->src, f->dst may be NULL). */
bool me_report_has_session(const me_report *r, uint32_t stream);

/* The sessions report as one JSON document, schema_version 1
 * (docs/sessions-schema.md), followed by a newline. */
void me_report_json(const me_report *r, const me_rep_opts *o, me_buf *out);
/* The sessions report as an aligned text table, one row per session, then
 * one row per login attempt. */
void me_report_table(const me_report *r, const me_rep_opts *o, me_buf *out);
/* Every session (or only o->stream) as an annotated dialogue: a header with
 * the addresses, protocol and TLS state, then C:/S: lines under phase
 * headings with explanations, credentials and warnings; content and
 * encrypted bytes summarised by size. */
void me_report_transcript(const me_report *r, const me_rep_opts *o, me_buf *out);
/* Every session (or only o->stream) as an SVG 1.1 ladder diagram: client and
 * server columns, one arrow per dialogue line (the transcript's lines, at
 * most max_lines of me_report_new) with its text (passwords masked when
 * o->mask) and the explanation as tooltip, the phases as bands in the
 * profile's colours, warnings marked, the session facts' verdict in the
 * title.  One session gives one <svg> document element; several give one
 * <svg> holding a nested <svg id="mailedu-stream-N"> per session, stacked.
 * No session: an <svg> saying so.  All capture text is XML-escaped (XML 1.0
 * §2.4) after being made valid UTF-8.  Appends to out, which the caller owns
 * (me_buf_free); never fails (allocation failure aborts). */
void me_report_ladder(const me_report *r, const me_rep_opts *o, me_buf *out);
/* Challenge-response material of every attempt as password crackers read it:
 * CRAM-MD5 as hashcat 10200, APOP as hashcat 20 (md5($salt.$pass)), NTLMv2 as
 * hashcat 5600; one "# " comment line per attempt that has no such format
 * (DIGEST-MD5, SCRAM, NTLMv1 without its LM response). */
void me_report_hashes(const me_report *r, const me_rep_opts *o, me_buf *out);
/* One record's line as the transcript prints it: the status as the protocol
 * writes it (+OK, -ERR, a1 NO, a1 BAD, *, +, 250), then the text; MASK: the
 * secrets replaced.  A NUL-terminated string the caller frees with free();
 * never NULL (allocation failure aborts). */
char *me_line_text(const me_item *it, bool mask);

#ifdef __cplusplus
}
#endif

#endif /* MAILEDU_REPORT_H */
