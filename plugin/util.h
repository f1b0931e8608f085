/* util.h - small string and encoding helpers shared by the engines. */
#ifndef MAILEDU_UTIL_H
#define MAILEDU_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes base64 (RFC 4648, padding optional, no whitespace inside).
 * out must hold len*3/4+3 bytes.  Returns the decoded length, or -1 if the
 * text is not base64. */
long me_b64_decode(const char *in, size_t len, uint8_t *out);

/* True if the n bytes are all of the base64 alphabet (RFC 4648 §4, '='
 * padding at the end), as every SASL response line is (RFC 4954 §4). */
bool me_is_b64(const char *p, size_t n);

/* Comparison of n bytes of a with the NUL-terminated b, ASCII letters
 * without regard to case (RFC 5234 §2.3; whatever the locale); true only if
 * a has exactly strlen(b) bytes (n == strlen(b)). */
bool me_ieq(const char *a, size_t n, const char *b);
/* The command table lookup shared by the engines: names[1..count-1] are the
 * verbs (upper case, NUL-terminated; names[0] is the "unknown" row).  w is the
 * word as sent, n its length in bytes, compared case-insensitively (RFC 1939
 * §3, RFC 5321 §2.4, RFC 9051 §9 all say verbs are case-insensitive).
 * Returns the index of the exact match, or 0 if none.  Never fails. */
int me_lookup(const char *const *names, int count, const char *w, size_t n);

/* a starts with prefix b, ASCII letters without regard to case. */
bool me_iprefix(const char *a, size_t n, const char *b);
/* Finds b in a[0..n), ASCII letters without regard to case; returns the
 * offset or -1. */
long me_ifind(const char *a, size_t n, const char *b);

/* Splits off the first space-separated word (word, wlen) and the rest after the spaces. */
void me_first_word(const char *p, size_t n, const char **word, size_t *wlen,
                   const char **rest, size_t *rlen);

/* Length in bytes (1..4) of the well-formed UTF-8 sequence that starts at
 * p, which has n > 0 bytes readable (RFC 3629 §4: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0 if none starts there. */
size_t me_utf8_seq(const uint8_t *p, size_t n);

/* Writes bytes as printable text: control bytes as \xNN (NUL as \0).
 * out must hold 4*len+1 bytes.  Returns out. */
char *me_printable(const uint8_t *p, size_t len, char *out);

/* Lower-case hex of bytes; out must hold 2*len+1. */
char *me_hex(const uint8_t *p, size_t len, char *out);

/* Parses a decimal number of at most 19 digits; false if not all digits. */
bool me_parse_u64(const char *p, size_t n, uint64_t *v);
/* An IMAP mailbox name in modified UTF-7 (RFC 3501 §5.1.3: "&" starts the
 * base64 of UTF-16BE with "," for "/", "-" ends it, "&-" is "&") written as
 * UTF-8 into OUT, which holds at least 2 * strlen(in) + 1 bytes.  Returns the
 * length written (NUL-terminated), or -1 when IN is not modified UTF-7 (a
 * byte outside printable ASCII, a shift not ended by "-", bits left over,
 * an unpaired surrogate, printable ASCII that should have been sent as is, a
 * control character). */
long me_mutf7_decode(const char *in, char *out);

#endif
