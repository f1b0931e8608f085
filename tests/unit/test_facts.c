/* test_facts.c - session facts (plugin/report_facts.c) and the SVG ladder
 * (plugin/report_ladder.c), fed with dialogues through the real engines.
 * Expected verdicts are written by hand from the dialogue and the RFC rules
 * (RFC 1939 §5-7, RFC 5321 §3.6 and §4.1.4, RFC 6409 §3.1 and §4.3,
 * RFC 9051 §6.4), never copied from the program's output. */
#include <stdlib.h>

#include "harness.h"
#include "report.h"

static uint16_t server_port = 110;

static void say(me_report *r, h_sess *h, bool server, const char *text)
{
    me_item *it = server ? h_s(h, text) : h_c(h, text);
    me_rep_frame f;
    f.stream = 0;
    f.frame = h->frame;
    f.secs = 1700000000;
    f.usecs = 0;
    f.src = server ? "192.0.2.1" : "198.51.100.7";
    f.dst = server ? "198.51.100.7" : "192.0.2.1";
    f.sport = server ? server_port : 40000;
    f.dport = server ? 40000 : server_port;
    me_report_add(r, &f, it);
}

static const me_rep_opts EN = {ME_LANG_EN, false, "", "mailedu test", -1};

static bool has(const me_buf *b, const char *s)
{
    bool ok = b->p && strstr(b->p, s) != NULL;
    if (!ok)
        fprintf(stderr, "missing in output: %s\n", s);
    return ok;
}

/* The session's JSON "facts" object must contain `want`. */
static void facts_has(me_report *r, const char *want)
{
    me_buf b = {0};
    me_report_json(r, &EN, &b);
    CHECK(has(&b, want));
    me_buf_free(&b);
}

static void pop3_login(me_report *r, h_sess *h)
{
    say(r, h, true, "+OK POP3 server ready\r\n");
    say(r, h, false, "USER mrose\r\n");
    say(r, h, true, "+OK\r\n");
    say(r, h, false, "PASS tanstaaf\r\n");
    say(r, h, true, "+OK mrose's maildrop has 2 messages (320 octets)\r\n");
}

/* RFC 1939 §10 (two RETR, two DELE, QUIT) with UIDL, the second pair pipelined */
static void pop3_offline(void)
{
    me_report *r = me_report_new(500);
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    server_port = 110;
    pop3_login(r, &h);
    say(r, &h, false, "UIDL\r\n");
    say(r, &h, true, "+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n");
    say(r, &h, false, "RETR 1\r\n");
    say(r, &h, true, "+OK 120 octets\r\nSubject: one\r\n\r\nbody\r\n.\r\n");
    say(r, &h, false, "DELE 1\r\n");
    say(r, &h, true, "+OK message 1 deleted\r\n");
    say(r, &h, false, "RETR 2\r\nDELE 2\r\n");
    say(r, &h, true, "+OK 200 octets\r\nSubject: two\r\n\r\nbody\r\n.\r\n+OK message 2 deleted\r\n");
    say(r, &h, false, "QUIT\r\n");
    say(r, &h, true, "+OK dewey POP3 server signing off (maildrop empty)\r\n");
    facts_has(r, "\"facts\": {\"pop3_mode\": \"retrieve-and-delete\", \"rule\": \"dele-quit\", "
                 "\"rfc\": \"RFC 1939 §6\", \"explain\": \"Mode retrieve-and-delete (\\\"offline\\\"):");
    facts_has(r, "\"retrieved\": [\"1\", \"2\"], \"deleted\": [\"1\", \"2\"], \"uidl\": true, \"update\": true}");
    me_report_free(r);
}

/* RSET unmarks (RFC 1939 §5): what is left is a leave-on-server session */
static void pop3_rset_and_no_quit(void)
{
    me_report *r = me_report_new(500);
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    pop3_login(r, &h);
    say(r, &h, false, "TOP 2 0\r\n");
    say(r, &h, true, "+OK\r\nSubject: two\r\n.\r\n");
    say(r, &h, false, "DELE 2\r\n");
    say(r, &h, true, "+OK message 2 deleted\r\n");
    say(r, &h, false, "RSET\r\n");
    say(r, &h, true, "+OK maildrop has 2 messages\r\n");
    say(r, &h, false, "QUIT\r\n");
    say(r, &h, true, "+OK bye\r\n");
    facts_has(r, "{\"pop3_mode\": \"leave-on-server\", \"rule\": \"retr-no-dele\", \"rfc\": \"RFC 1939 §5\"");
    facts_has(r, "\"retrieved\": [\"2\"], \"deleted\": [], \"uidl\": false, \"update\": true}");
    me_report_free(r);

    /* DELE refused, then DELE accepted, and the capture ends before QUIT */
    r = me_report_new(500);
    h = h_new(ME_PROTO_POP3, false, true);
    pop3_login(r, &h);
    say(r, &h, false, "DELE 9\r\n");
    say(r, &h, true, "-ERR no such message\r\n");
    say(r, &h, false, "DELE 1\r\n");
    say(r, &h, true, "+OK message 1 deleted\r\n");
    facts_has(r, "{\"pop3_mode\": \"undecided\", \"rule\": \"dele-no-quit\"");
    facts_has(r, "\"retrieved\": [], \"deleted\": [\"1\"], \"uidl\": false, \"update\": false}");
    me_report_free(r);

    /* STAT and QUIT only */
    r = me_report_new(500);
    h = h_new(ME_PROTO_POP3, false, true);
    pop3_login(r, &h);
    say(r, &h, false, "QUIT\r\n");
    say(r, &h, true, "+OK bye\r\n");
    facts_has(r, "{\"pop3_mode\": \"undecided\", \"rule\": \"nothing-retrieved\"");
    me_report_free(r);
}

/* An SMTP transaction (RFC 5321 §3.3) after an EHLO with `name` on `port` */
static me_report *smtp_with(const char *ehlo, uint16_t port)
{
    me_report *r = me_report_new(500);
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    server_port = port;
    say(r, &h, true, "220 mx.example.net ESMTP\r\n");
    say(r, &h, false, ehlo);
    say(r, &h, true, "250-mx.example.net\r\n250 8BITMIME\r\n");
    say(r, &h, false, "MAIL FROM:<a@example.org>\r\n");
    say(r, &h, true, "250 2.1.0 Ok\r\n");
    say(r, &h, false, "RCPT TO:<b@example.net>\r\n");
    say(r, &h, true, "250 2.1.5 Ok\r\n");
    say(r, &h, false, "RCPT TO:<nobody@example.net>\r\n");
    say(r, &h, true, "550 5.1.1 No such user\r\n");
    say(r, &h, false, "DATA\r\n");
    say(r, &h, true, "354 End data with <CR><LF>.<CR><LF>\r\n");
    say(r, &h, false, "Subject: hi\r\n\r\nhello\r\n.\r\n");
    say(r, &h, true, "250 2.0.0 Ok: queued\r\n");
    say(r, &h, false, "QUIT\r\n");
    say(r, &h, true, "221 2.0.0 Bye\r\n");
    return r;
}

static void smtp_roles(void)
{
    me_report *r = smtp_with("EHLO mail.example.org\r\n", 25);
    facts_has(r, "{\"smtp_role\": \"relay\", \"rule\": \"server-name\", \"rfc\": \"RFC 5321 §3.6\"");
    facts_has(r, "\"hello\": \"mail.example.org\", \"auth\": false, \"messages\": 1, "
                 "\"recipients_accepted\": 1, \"recipients_refused\": 1}");
    me_report_free(r);
    r = smtp_with("EHLO [192.0.2.7]\r\n", 25);
    facts_has(r, "{\"smtp_role\": \"submission\", \"rule\": \"client-name\", \"rfc\": \"RFC 5321 §4.1.4\"");
    me_report_free(r);
    r = smtp_with("HELO DESKTOP-4F2K\r\n", 2525);
    facts_has(r, "{\"smtp_role\": \"submission\", \"rule\": \"client-name\"");
    me_report_free(r);
    r = smtp_with("EHLO mail.example.org\r\n", 587);
    facts_has(r, "{\"smtp_role\": \"submission\", \"rule\": \"port-587\", \"rfc\": \"RFC 6409 §3.1\"");
    me_report_free(r);
    server_port = 110;
}

/* RFC 9051 §6.4: read, flag \Deleted, expunge */
static void imap_actions(void)
{
    me_report *r = me_report_new(500);
    h_sess h = h_new(ME_PROTO_IMAP, false, true);
    server_port = 143;
    say(r, &h, true, "* OK IMAP4rev2 ready\r\n");
    say(r, &h, false, "a1 LOGIN joe secret\r\n");
    say(r, &h, true, "a1 OK LOGIN completed\r\n");
    say(r, &h, false, "a2 SELECT INBOX\r\n");
    say(r, &h, true, "* 2 EXISTS\r\na2 OK [READ-WRITE] SELECT completed\r\n");
    say(r, &h, false, "a3 FETCH 1:2 (FLAGS BODY.PEEK[HEADER])\r\n");
    say(r, &h, true, "* 1 FETCH (FLAGS (\\Seen))\r\na3 OK FETCH completed\r\n");
    say(r, &h, false, "a4 FETCH 1 (FLAGS)\r\n");
    say(r, &h, true, "a4 OK FETCH completed\r\n");
    say(r, &h, false, "a5 STORE 2 +FLAGS (\\Deleted)\r\n");
    say(r, &h, true, "* 2 FETCH (FLAGS (\\Deleted))\r\na5 OK STORE completed\r\n");
    say(r, &h, false, "a6 EXPUNGE\r\n");
    say(r, &h, true, "* 2 EXPUNGE\r\na6 OK EXPUNGE completed\r\n");
    facts_has(r, "{\"imap_outcome\": \"expunged\", \"rule\": \"expunge\", \"rfc\": \"RFC 9051 §6.4.3\"");
    facts_has(r, "\"mailboxes\": [\"INBOX\"], \"fetched\": [\"1:2\"], \"seen_set\": 0, \"deleted_set\": 1, "
                 "\"expunge_commands\": 1, \"close_commands\": 0, \"expunged\": 1}");
    me_report_free(r);
    server_port = 110;
}

/* A logged-in IMAP session with one more dialogue, its facts in r. */
static me_report *imap_with(const char *const *lines)
{
    me_report *r = me_report_new(500);
    h_sess h = h_new(ME_PROTO_IMAP, false, true);
    size_t i;
    server_port = 143;
    say(r, &h, true, "* OK IMAP4rev2 ready\r\n");
    say(r, &h, false, "a1 LOGIN joe secret\r\n");
    say(r, &h, true, "a1 OK LOGIN completed\r\n");
    for (i = 0; lines[i]; i++)
        say(r, &h, i % 2 == 1, lines[i]);
    server_port = 110;
    return r;
}

/* What changes nothing is not counted: a MOVE's EXPUNGEs take mail to another
 * mailbox (RFC 6851 §3.3); STORE and CLOSE in a read-only mailbox remove
 * nothing (RFC 9051 §6.3.3, §6.4.1); a STORE answered NO did nothing
 * (§7.1.2); RFC822.SIZE is a size, not the message (§6.4.5). */
static void imap_no_effect(void)
{
    static const char *const move[] = {
        "a2 SELECT INBOX\r\n", "* 2 EXISTS\r\na2 OK [READ-WRITE] SELECT completed\r\n",
        "a3 UID MOVE 1:* Archive\r\n",
        "* OK [COPYUID 1 1:2 1:2] Moved\r\n* 1 EXPUNGE\r\n* 1 EXPUNGE\r\na3 OK Move completed\r\n",
        NULL};
    static const char *const examine[] = {
        "a2 EXAMINE INBOX\r\n", "* 2 EXISTS\r\na2 OK [READ-ONLY] EXAMINE completed\r\n",
        "a3 STORE 1 +FLAGS (\\Deleted)\r\n", "a3 OK Store ignored with read-only mailbox.\r\n",
        "a4 CLOSE\r\n", "a4 OK Close completed\r\n", NULL};
    static const char *const refused[] = {
        "a2 SELECT INBOX\r\n", "* 2 EXISTS\r\na2 OK [READ-WRITE] SELECT completed\r\n",
        "a3 STORE 1 +FLAGS (\\Deleted)\r\n", "a3 NO [CANNOT] no\r\n",
        "a4 FETCH 1:* (FLAGS RFC822.SIZE)\r\n", "* 1 FETCH (FLAGS () RFC822.SIZE 20)\r\na4 OK done\r\n",
        "a5 CLOSE\r\n", "a5 OK Close completed\r\n", NULL};
    static const char *const rfc822[] = {
        "a2 SELECT INBOX\r\n", "* 2 EXISTS\r\na2 OK [READ-WRITE] SELECT completed\r\n",
        "a3 FETCH 1 RFC822\r\n", "* 1 FETCH (RFC822 {2}\r\nhi)\r\na3 OK done\r\n", NULL};
    me_report *r = imap_with(move);
    facts_has(r, "{\"imap_outcome\": \"nothing-read\"");
    facts_has(r, "\"expunged\": 0}");
    me_report_free(r);
    r = imap_with(examine);
    facts_has(r, "{\"imap_outcome\": \"nothing-read\"");
    facts_has(r, "\"deleted_set\": 0, \"expunge_commands\": 0, \"close_commands\": 0");
    me_report_free(r);
    r = imap_with(refused);
    facts_has(r, "{\"imap_outcome\": \"nothing-read\"");
    facts_has(r, "\"fetched\": [], \"seen_set\": 0, \"deleted_set\": 0");
    me_report_free(r);
    r = imap_with(rfc822); /* the whole message: read */
    facts_has(r, "{\"imap_outcome\": \"read-on-server\"");
    me_report_free(r);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (hay = strstr(hay, needle); hay; hay = strstr(hay + 1, needle))
        n++;
    return n;
}

/* The SVG: one arrow per line, bands in phase order, capture text escaped */
static void ladder(void)
{
    me_report *r = me_report_new(500);
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    me_buf b = {0};
    me_rep_opts o = EN;
    pop3_login(r, &h);
    say(r, &h, false, "TOP 1 <&>\"'\xff\x01\r\n");
    say(r, &h, true, "-ERR no\r\n");
    say(r, &h, false, "QUIT\r\n");
    say(r, &h, true, "+OK bye\r\n");
    me_report_ladder(r, &o, &b);
    CHECK(strncmp(b.p, "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"mailedu-stream-0\"", 61) == 0);
    CHECK(count(b.p, "<g data-frame=") == 9);
    CHECK(has(&b, "<rect data-phase=\"auth\" x=\"0\" y=\"86\" width=\"840\" height=\"140\""));
    CHECK(has(&b, "<rect data-phase=\"transaction\" x=\"0\" y=\"226\" width=\"840\" height=\"84\""));
    CHECK(has(&b, "<rect data-phase=\"update\" x=\"0\" y=\"310\" width=\"840\" height=\"28\""));
    CHECK(has(&b, ">TOP 1 &lt;&amp;&gt;&quot;&#39;\xef\xbf\xbd?<title>"));
    CHECK(strchr(b.p, '\x01') == NULL && strchr(b.p, '\xff') == NULL);
    CHECK(has(&b, ">PASS tanstaaf<"));
    CHECK(has(&b, "<g data-warning=\"1\">")); /* the cleartext password */
    me_buf_free(&b);
    o.mask = true;
    me_report_ladder(r, &o, &b);
    CHECK(has(&b, ">PASS ********<") && strstr(b.p, "tanstaaf") == NULL);
    me_buf_free(&b);
    o.stream = 3;
    me_report_ladder(r, &o, &b);
    /* a stream without a session: says so, and where the sessions are */
    CHECK(has(&b, "No mail session in tcp.stream 3. Mail sessions are in streams: "));
    me_buf_free(&b);
    me_report_free(r);
}

/* The client's name is the one the server accepted (RFC 5321 §4.1.4: a
 * refused command changes nothing); a message accepted with BDAT LAST counts
 * (RFC 3030 §2); a session with no client command and no TLS is not called
 * encrypted.  Shapes from a tester's captures (Suricata, Arkime, Zeek). */
static void smtp_names_and_chunks(void)
{
    me_report *r = me_report_new(500);
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    server_port = 25;
    say(r, &h, true, "220 mail.example.com ESMTP\r\n");
    say(r, &h, false, "HELO client.example.com\r\n");
    say(r, &h, true, "250 mail.example.com\r\n");
    say(r, &h, false, "EHLO\r\n");
    say(r, &h, true, "501 Syntax: EHLO hostname\r\n");
    facts_has(r, "{\"smtp_role\": \"relay\", \"rule\": \"server-name\"");
    facts_has(r, "\"hello\": \"client.example.com\"");
    me_report_free(r);

    /* every HELO refused: no name, and not "no EHLO/HELO was seen" */
    r = me_report_new(500);
    h = h_new(ME_PROTO_SMTP, false, true);
    say(r, &h, true, "220 mail.example.com ESMTP\r\n");
    say(r, &h, false, "HELO\r\n");
    say(r, &h, true, "501 5.0.0 HELO requires domain address\r\n");
    facts_has(r, "{\"smtp_role\": \"undecided\", \"rule\": \"hello-refused\", \"rfc\": \"RFC 5321 §4.1.4\"");
    facts_has(r, "\"hello\": null");
    me_report_free(r);

    /* accepted without a name (a lenient server) */
    r = me_report_new(500);
    h = h_new(ME_PROTO_SMTP, false, true);
    say(r, &h, true, "220 mail.example.com ESMTP\r\n");
    say(r, &h, false, "HELO\r\n");
    say(r, &h, true, "250 hello\r\n");
    facts_has(r, "{\"smtp_role\": \"undecided\", \"rule\": \"no-name\"");
    me_report_free(r);

    /* RFC 3030 §2 example: two chunks, the reply to BDAT 86 LAST accepts it */
    r = me_report_new(500);
    h = h_new(ME_PROTO_SMTP, false, true);
    say(r, &h, true, "220 mail.example.com ESMTP\r\n");
    say(r, &h, false, "EHLO localhost\r\n");
    say(r, &h, true, "250-mail.example.com\r\n250 CHUNKING\r\n");
    say(r, &h, false, "MAIL FROM:<a@example.org>\r\n");
    say(r, &h, true, "250 2.1.0 Ok\r\n");
    say(r, &h, false, "RCPT TO:<b@example.com>\r\n");
    say(r, &h, true, "250 2.1.5 Ok\r\n");
    say(r, &h, false, "BDAT 5\r\nHello");
    say(r, &h, true, "250 2.0.0 5 octets received\r\n");
    say(r, &h, false, "BDAT 3 LAST\r\nabc");
    say(r, &h, true, "250 2.0.0 Ok: 8 bytes queued as 1E2891CA025\r\n");
    facts_has(r, "\"hello\": \"localhost\", \"auth\": false, \"messages\": 1,");
    me_report_free(r);

    /* the server's side only: no command, no TLS */
    r = me_report_new(500);
    h = h_new(ME_PROTO_SMTP, false, true);
    say(r, &h, true, "220 mail.example.com ESMTP\r\n");
    facts_has(r, "{\"smtp_role\": \"undecided\", \"rule\": \"no-command\", \"rfc\": \"\"");
    me_report_free(r);
    r = me_report_new(500);
    h = h_new(ME_PROTO_IMAP, false, true);
    say(r, &h, true, "* OK IMAP4 ready\r\n");
    facts_has(r, "{\"imap_outcome\": \"undecided\", \"rule\": \"no-command\"");
    me_report_free(r);
    server_port = 110;
}

/* STARTTLS accepted and no key: what the client did inside TLS is unknown
 * (RFC 3207 §4.2), so a verdict resting on an AUTH, a RETR or a FETCH not
 * being seen is not given; what was seen in clear still decides. */
static void hidden_after_starttls(void)
{
    static const uint8_t hello[] = {0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00};
    me_report *r = me_report_new(500);
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_rep_frame f = {0, 0, 1700000000, 0, "198.51.100.7", "192.0.2.1", 40000, 25};
    server_port = 25;
    say(r, &h, true, "220 mx.example.org ESMTP\r\n");
    say(r, &h, false, "EHLO mail.example.com\r\n");
    say(r, &h, true, "250-mx.example.org\r\n250 STARTTLS\r\n");
    say(r, &h, false, "STARTTLS\r\n");
    say(r, &h, true, "220 2.0.0 Ready to start TLS\r\n");
    f.frame = ++h.frame;
    me_report_add(r, &f, h_feed(&h, ME_CLIENT, hello, sizeof hello));
    facts_has(r, "\"smtp_role\": \"undecided\", \"rule\": \"encrypted\"");
    me_report_free(r);

    r = me_report_new(500);
    h = h_new(ME_PROTO_POP3, false, true);
    server_port = 110;
    say(r, &h, true, "+OK POP3 server ready\r\n");
    say(r, &h, false, "STLS\r\n");
    say(r, &h, true, "+OK Begin TLS negotiation\r\n");
    f.frame = ++h.frame;
    f.dport = 110;
    me_report_add(r, &f, h_feed(&h, ME_CLIENT, hello, sizeof hello));
    facts_has(r, "\"pop3_mode\": \"undecided\", \"rule\": \"encrypted\"");
    me_report_free(r);
}

int main(void)
{
    hidden_after_starttls();
    pop3_offline();
    pop3_rset_and_no_quit();
    smtp_roles();
    smtp_names_and_chunks();
    imap_actions();
    imap_no_effect();
    ladder();
    return h_done("facts");
}
