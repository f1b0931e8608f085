/* test_util.c - the shared helpers of plugin/util.c: UTF-8 sequence lengths
 * (RFC 3629) and ASCII case folding (RFC 5234 §2.3).  The byte shapes come
 * from RFC 3629 §3 (the table of valid sequences) and §10 (overlong forms and
 * surrogates are invalid); each is worked out from the RFC, not from a run. */
#include "harness.h"
#include "util.h"

static size_t seq(const char *s, size_t n)
{
    return me_utf8_seq((const uint8_t *)s, n);
}

static void utf8_lengths(void)
{
    CHECK(seq("A", 1) == 1);
    CHECK(seq("\x7f", 1) == 1);
    CHECK(seq("\xc3\xa9", 2) == 2);         /* U+00E9 */
    CHECK(seq("\xe2\x80\xa6", 3) == 3);     /* U+2026 */
    CHECK(seq("\xf0\x9f\x93\xa7", 4) == 4); /* U+1F4E7 */
    CHECK(seq("\xf4\x8f\xbf\xbf", 4) == 4); /* U+10FFFF, the last code point */
    /* a lone continuation byte, bytes that never start a sequence */
    CHECK(seq("\x80", 1) == 0);
    CHECK(seq("\xff", 1) == 0);
    CHECK(seq("\xf5\x80\x80\x80", 4) == 0);
    /* overlong forms: '/' in two bytes, U+0000 in three, U+FFFF in four */
    CHECK(seq("\xc0\xaf", 2) == 0);
    CHECK(seq("\xc1\xbf", 2) == 0);
    CHECK(seq("\xe0\x80\x80", 3) == 0);
    CHECK(seq("\xf0\x8f\xbf\xbf", 4) == 0);
    /* surrogates U+D800 and U+DFFF, and U+110000 */
    CHECK(seq("\xed\xa0\x80", 3) == 0);
    CHECK(seq("\xed\xbf\xbf", 3) == 0);
    CHECK(seq("\xf4\x90\x80\x80", 4) == 0);
    /* cut short: by the byte count, or by a byte that is no continuation */
    CHECK(seq("\xe2\x80\xa6", 2) == 0);
    CHECK(seq("\xf0\x9f\x93", 3) == 0);
    CHECK(seq("\xe2\x80", 3) == 0); /* the NUL after it ends it */
    CHECK(seq("\xc3" "A", 2) == 0);
}

static void case_folding(void)
{
    CHECK(me_ieq("quit", 4, "QUIT"));
    CHECK(me_ieq("QuIt", 4, "QUIT"));
    CHECK(!me_ieq("quit", 3, "QUIT"));
    CHECK(!me_ieq("quits", 5, "QUIT"));
    /* only ASCII letters fold: '@' and '`' sit next to 'A' and 'a' */
    CHECK(!me_ieq("@", 1, "`"));
    CHECK(!me_ieq("\xc9", 1, "\xe9")); /* Latin-1 É/é are not folded */
    CHECK(me_iprefix("mail from:<a@b>", 15, "MAIL FROM:"));
    CHECK(!me_iprefix("MAIL", 4, "MAIL FROM:"));
    CHECK(me_ifind("x AUTH=plain y", 14, "auth=PLAIN") == 2);
    CHECK(me_ifind("x AUTH=plain y", 14, "LOGIN") == -1);
}

/* RFC 3501 §5.1.3's own examples, and shapes that are not modified UTF-7 */
static void mailbox_names(void)
{
    char out[128];
    CHECK(me_mutf7_decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-", out) > 0);
    CHECK_STR(out, "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
    CHECK(me_mutf7_decode("&Jjo-!", out) == 4);
    CHECK_STR(out, "\xe2\x98\xba!");
    CHECK(me_mutf7_decode("Entw&APw-rfe", out) > 0);
    CHECK_STR(out, "Entw\xc3\xbcrfe");
    CHECK(me_mutf7_decode("Tom &- Jerry", out) > 0);
    CHECK_STR(out, "Tom & Jerry");
    CHECK(me_mutf7_decode("&2D3eAA-", out) == 4); /* a surrogate pair: U+1F600 */
    CHECK_STR(out, "\xf0\x9f\x98\x80");
    CHECK(me_mutf7_decode("&U,BTFw", out) < 0);   /* not ended by "-" */
    CHECK(me_mutf7_decode("&AGE-", out) < 0);     /* "a", which goes as is */
    CHECK(me_mutf7_decode("&2D0-", out) < 0);     /* a lone high surrogate */
    CHECK(me_mutf7_decode("&U,B-", out) < 0);     /* bits left over */
    CHECK(me_mutf7_decode("Caf\xc3\xa9", out) < 0); /* UTF-8 as sent (RFC 9051 UTF8=ACCEPT) */
    CHECK(me_mutf7_decode("&-", out) == 1);
    CHECK(me_mutf7_decode("INBOX&AAA-.Hidden", out) < 0); /* U+0000 would cut the name */
    CHECK(me_mutf7_decode("&AAo-", out) < 0);             /* a line feed */
}

int main(void)
{
    utf8_lengths();
    case_folding();
    mailbox_names();
    return h_done("util");
}
