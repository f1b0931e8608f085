/* test_detect.c - the protocol guess used on non-standard ports */
#include "harness.h"

static me_proto guess(const char *t, bool *srv, bool *maybe)
{
    return me_guess_protocol((const uint8_t *)t, strlen(t), srv, maybe);
}

int main(void)
{
    bool srv, maybe;
    CHECK(guess("+OK Dovecot ready.\r\n", &srv, &maybe) == ME_PROTO_POP3 && srv);
    CHECK(guess("* OK [CAPABILITY IMAP4rev1] ready\r\n", &srv, &maybe) == ME_PROTO_IMAP && srv);
    CHECK(guess("* PREAUTH hi\r\n", &srv, &maybe) == ME_PROTO_IMAP && srv);
    CHECK(guess("220 mx.example ESMTP Postfix\r\n", &srv, &maybe) == ME_PROTO_SMTP && srv);
    CHECK(guess("220 (vsFTPd 3.0.3)\r\n", &srv, &maybe) == ME_PROTO_NONE && !maybe);
    CHECK(guess("220 ProFTPD Server ready\r\n", &srv, &maybe) == ME_PROTO_NONE && !maybe);
    CHECK(guess("220 welcome\r\n", &srv, &maybe) == ME_PROTO_NONE && maybe);
    CHECK(guess("EHLO client.example\r\n", &srv, &maybe) == ME_PROTO_SMTP && !srv);
    CHECK(guess("a1 LOGIN alice secret\r\n", &srv, &maybe) == ME_PROTO_IMAP && !srv);
    CHECK(guess(". CAPABILITY\r\n", &srv, &maybe) == ME_PROTO_IMAP && !srv);
    CHECK(guess("CAPA\r\n", &srv, &maybe) == ME_PROTO_POP3 && !srv);
    /* a capture begun mid-session (helper 20): untagged data in the form
     * servers write it (RFC 9051 §7.2-§7.5); not text that looks alike, nor
     * English words as commands (helper 22: Redis, NNTP, chat were claimed) */
    CHECK(guess("* FLAGS (\\Answered \\Seen)\r\n", &srv, &maybe) == ME_PROTO_IMAP && srv);
    CHECK(guess("* 12 FETCH (FLAGS (\\Seen))\r\n", &srv, &maybe) == ME_PROTO_IMAP && srv);
    CHECK(guess("* 3 EXISTS\r\n", &srv, &maybe) == ME_PROTO_IMAP && srv);
    CHECK(guess("* LIST (\\HasNoChildren) \"/\" INBOX\r\n", &srv, &maybe) == ME_PROTO_IMAP && srv);
    CHECK(guess("* 3 EXISTS now\r\n", &srv, &maybe) == ME_PROTO_NONE);
    CHECK(guess("* 1 FETCH pending\r\n", &srv, &maybe) == ME_PROTO_NONE);
    CHECK(guess("* List of changes: none\r\n", &srv, &maybe) == ME_PROTO_NONE);
    CHECK(guess("* Bye for now\r\n", &srv, &maybe) == ME_PROTO_NONE);
    CHECK(guess("* Search works\r\n", &srv, &maybe) == ME_PROTO_NONE);
    CHECK(guess("* FLAGS\r\n", &srv, &maybe) == ME_PROTO_NONE);
    CHECK(guess("CLIENT LIST\r\n", &srv, &maybe) == ME_PROTO_NONE);  /* Redis */
    CHECK(guess("215 LIST of newsgroups follows\r\n", &srv, &maybe) == ME_PROTO_NONE); /* NNTP */
    CHECK(guess("Please check the logs\r\n", &srv, &maybe) == ME_PROTO_NONE);
    CHECK(guess("mouse move 10 20\r\n", &srv, &maybe) == ME_PROTO_NONE);
    CHECK(guess("LIST -la\r\n", &srv, &maybe) == ME_PROTO_NONE); /* FTP */
    CHECK(guess("DELETE /x HTTP/1.1\r\n", &srv, &maybe) == ME_PROTO_NONE);
    /* things that are not mail, or not surely */
    CHECK(guess("USER anonymous\r\n", &srv, &maybe) == ME_PROTO_NONE);
    CHECK(guess("GET / HTTP/1.1\r\n", &srv, &maybe) == ME_PROTO_NONE);
    CHECK(guess("HTTP/1.1 200 OK\r\n", &srv, &maybe) == ME_PROTO_NONE);
    CHECK(guess("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", &srv, &maybe) == ME_PROTO_NONE);
    CHECK(guess("\x16\x03\x01\x00\xa5\x01\x00", &srv, &maybe) == ME_PROTO_NONE);
    CHECK(guess("+OK", &srv, &maybe) == ME_PROTO_NONE); /* no line end yet */
    /* issue 12 fault 1: Redis (RESP) and memcached lines */
    CHECK(guess("+OK\r\n", &srv, &maybe) == ME_PROTO_NONE);  /* RESP simple string */
    CHECK(guess("+OK \r\n", &srv, &maybe) == ME_PROTO_NONE);
    CHECK(guess("+PONG\r\n", &srv, &maybe) == ME_PROTO_NONE);
    CHECK(guess("*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n", &srv, &maybe) == ME_PROTO_NONE);
    CHECK(guess("*1\r\n$4\r\nPING\r\n", &srv, &maybe) == ME_PROTO_NONE);
    CHECK(guess("AUTH secret\r\n", &srv, &maybe) == ME_PROTO_NONE); /* RESP inline */
    CHECK(guess("stats\r\n", &srv, &maybe) == ME_PROTO_NONE);       /* memcached */
    CHECK(guess("STAT pid 1234\r\n", &srv, &maybe) == ME_PROTO_NONE);
    CHECK(guess("VERSION 1.6.18\r\n", &srv, &maybe) == ME_PROTO_NONE);
    CHECK(guess("get lab\r\n", &srv, &maybe) == ME_PROTO_NONE);
    CHECK(guess("+OK POP3 ready\r\n", &srv, &maybe) == ME_PROTO_POP3 && srv);
    CHECK(guess("", &srv, &maybe) == ME_PROTO_NONE);
    return h_done("test_detect");
}
