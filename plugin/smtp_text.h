/* smtp_text.h - SMTP reply parsing and texts, shared by the SMTP engine. */
#ifndef MAILEDU_SMTP_TEXT_H
#define MAILEDU_SMTP_TEXT_H

#include "internal.h"

/* The n bytes p as a NUL-terminated displayable string allocated from the
 * session: valid UTF-8 kept, control bytes and invalid sequences written as
 * \xNN (wire text is never trusted raw).  Never NULL. */
const char *me_smtp_clean(me_session *s, const char *p, size_t n);
/* The same in the record allocation (internal.h: me_rstrndup), for a
 * string only a record of this frame holds. */
const char *me_smtp_clean_rec(me_session *s, const char *p, size_t n);

/* Parses a reply line l (n bytes, no CRLF): "ddd", "ddd text" or "ddd-text",
 * first digit 2-5 (RFC 5321 §4.2).  On success sets *code, *sep (' ' or '-'),
 * and *text, *tl (the text, pointing into l; leading spaces skipped except for
 * 334, whose payload is kept).  Returns false when l is no reply line. */
bool me_smtp_parse_reply(const char *l, size_t n, int *code, char *sep, const char **text,
                         size_t *tl);

/* Length in bytes of an enhanced status code "c.sss.ddd" at the start of t
 * (n bytes), RFC 3463 §2, or 0 if there is none. */
size_t me_smtp_enhanced_len(const char *t, size_t n);

/* The explanation of a reply code (RFC 5321 §4.2.2, §4.2.3, RFC 4954 §6),
 * falling back to the code's class (2yz...5yz). */
me_text_id me_smtp_code_text(int code);
/* The explanation of the class of a code alone. */
me_text_id me_smtp_class_text(int code);
/* The explanation of an enhanced code e ("5.7.8", NUL-terminated, as
 * me_smtp_enhanced_len accepted it), RFC 3463 §3; TXT_NONE if unknown. */
me_text_id me_smtp_enhanced_text(const char *e);

#endif
