/* test_random.c - the engines against damaged input: real dialogues mutated
 * (bytes flipped, lines cut, literal counts and dots inserted), fed in random
 * segments to random directions, with gaps and duplicates in between.  Run in
 * the sanitized build, it proves the engines never read out of bounds or
 * crash; the invariants below say every feed still yields sane records. */
#include <stdlib.h>

#include "harness.h"

static const char *const seeds[] = {
    /* POP3 */
    "+OK ready <1.2@x>\r\nUSER alice\r\n+OK\r\nPASS pw\r\n+OK\r\nCAPA\r\n+OK\r\nSTLS\r\n.\r\n"
    "RETR 1\r\n+OK\r\nUSER x\r\n..\r\n.\r\nAUTH PLAIN\r\n+ \r\nAGEAYg==\r\n-ERR\r\nQUIT\r\n",
    /* SMTP */
    "220 mx ESMTP\r\nEHLO c\r\n250-mx\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\nAUTH LOGIN\r\n"
    "334 VXNlcm5hbWU6\r\nYQ==\r\n334 UGFzc3dvcmQ6\r\nYg==\r\n235 ok\r\nMAIL FROM:<a@b>\r\n250 ok\r\n"
    "RCPT TO:<c@d>\r\n550 5.1.1 no\r\nDATA\r\n354 go\r\nAUTH PLAIN x\r\n.\r\n250 ok\r\nBDAT 5 LAST\r\n"
    "abcde250 ok\r\nQUIT\r\n221 bye\r\n",
    /* IMAP */
    "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi\r\na1 LOGIN {5}\r\n+ go\r\nalice {2+}\r\npw\r\n"
    "a1 OK done\r\na2 SELECT \"IN\\\"BOX\"\r\n* 3 EXISTS\r\na2 OK [READ-WRITE] ok\r\na3 FETCH 1 BODY[]\r\n"
    "* 1 FETCH (BODY[] {12}\r\na9 LOGIN x y)\r\na3 OK\r\na4 AUTHENTICATE PLAIN\r\n+ \r\n*\r\na4 BAD\r\n"
    "a5 IDLE\r\n+ idling\r\nDONE\r\na5 OK\r\na6 LOGOUT\r\n* BYE\r\na6 OK\r\n",
};

static unsigned rnd(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return (*state >> 16) & 0x7fff;
}

static const char *const inserts[] = {"\r\n", "{99999999999}", "{0}\r\n", "{3+}", "*", ".", "\"", "\\",
                                      "+ ", "334 ", "a1 ", "\x00", "\xff", "=", "AUTH ", "\n"};

static void check_records(me_item *it, size_t fed)
{
    CHECK(fed == 0 || it != NULL);
    for (; it; it = it->next) {
        CHECK((unsigned)it->phase < ME_PHASE_COUNT);
        CHECK((unsigned)it->kind <= ME_KIND_UNKNOWN);
        CHECK(it->explain < TXT_COUNT && it->explain2 < TXT_COUNT);
        CHECK(!it->auth || it->auth->attempt > 0);
        /* a readable secret is on the record that carries it, or on the
         * packet of an IMAP literal that is LOGIN's password (its LOGIN
         * record, when the line ends, carries the password) */
        CHECK(!it->cleartext || (it->auth && (it->auth->password || it->auth->token)) ||
              (it->kind == ME_KIND_DATA && it->explain2 == TXT_IMAP_LITERAL_PASSWORD));
    }
}

int main(void)
{
    unsigned state = 12345, iter;
    static char buf[8192];
    for (iter = 0; iter < 30000; iter++) {
        unsigned p = iter % 3, i, n, pos = 0;
        const char *seed = seeds[p];
        size_t len = strlen(seed), o = 0;
        h_sess h = h_new((me_proto)(p + 1), rnd(&state) % 16 == 0, rnd(&state) % 4 != 0);
        /* mutate */
        for (i = 0; i < len && o < sizeof(buf) - 32; i++) {
            unsigned r = rnd(&state) % 100;
            if (r < 3)
                continue; /* drop a byte */
            if (r < 6) {
                const char *ins = inserts[rnd(&state) % (sizeof(inserts) / sizeof(inserts[0]))];
                size_t il = ins[0] ? strlen(ins) : 1;
                memcpy(buf + o, ins, il);
                o += il;
            }
            buf[o++] = r < 8 ? (char)rnd(&state) : seed[i];
        }
        /* feed in random pieces, mostly to the direction a line looks like */
        while (pos < o) {
            me_dir dir = rnd(&state) % 2 ? ME_SERVER : ME_CLIENT;
            n = 1 + rnd(&state) % 40;
            if (pos + n > o)
                n = (unsigned)(o - pos);
            switch (rnd(&state) % 20) {
            case 0:
                me_session_gap(h.s, dir, rnd(&state) % 30, h.frame);
                break;
            case 1:
                check_records(me_session_note(h.s, dir, n, ++h.frame, TXT_DUPLICATE), 1);
                break;
            default:
                check_records(h_feed(&h, dir, buf + pos, n), n);
                pos += n;
            }
        }
    }
    return h_done("test_random");
}
