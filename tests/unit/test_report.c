/* test_report.c - the Wireshark-free reports (plugin/report*.c), fed with
 * transcripts through the real engines; expected output written by hand from
 * the dialogue (RFC 1939 §10, RFC 2195 §2) and docs/sessions-schema.md. */
#include <stdlib.h>

#include "harness.h"
#include "report.h"

static me_rep_frame frame_of(uint32_t stream, uint32_t n, bool from_server)
{
    me_rep_frame f;
    f.stream = stream;
    f.frame = n;
    f.secs = 1700000000 + n;
    f.usecs = 250;
    f.src = from_server ? "192.0.2.1" : "198.51.100.7";
    f.dst = from_server ? "198.51.100.7" : "192.0.2.1";
    f.sport = from_server ? 110 : 40000;
    f.dport = from_server ? 40000 : 110;
    return f;
}

/* Feeds one line to the engine and its records to the report. */
static void say(me_report *r, h_sess *h, uint32_t stream, bool server, const char *text)
{
    me_item *it = server ? h_s(h, text) : h_c(h, text);
    me_rep_frame f = frame_of(stream, h->frame, server);
    me_report_add(r, &f, it);
}

static const me_rep_opts EN = {ME_LANG_EN, false, "lab.pcap", "mailedu test", -1};

static bool has(const me_buf *b, const char *s)
{
    bool ok = b->p && strstr(b->p, s) != NULL;
    if (!ok)
        fprintf(stderr, "missing in output: %s\n", s);
    return ok;
}

/* RFC 1939 §10 with a failed USER/PASS first */
static me_report *pop3_lab(void)
{
    me_report *r = me_report_new(500);
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    say(r, &h, 3, true, "+OK POP3 server ready <1896.697170952@dbc.mit.edu>\r\n");
    say(r, &h, 3, false, "USER mrose\r\n");
    say(r, &h, 3, true, "+OK\r\n");
    say(r, &h, 3, false, "PASS wrong\r\n");
    say(r, &h, 3, true, "-ERR invalid password\r\n");
    say(r, &h, 3, false, "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
    say(r, &h, 3, true, "+OK mrose's maildrop has 2 messages (320 octets)\r\n");
    say(r, &h, 3, false, "STAT\r\n");
    say(r, &h, 3, true, "+OK 2 320\r\n");
    say(r, &h, 3, false, "QUIT\r\n");
    say(r, &h, 3, true, "+OK dewey POP3 server signing off (maildrop empty)\r\n");
    return r;
}

static void json_pop3(void)
{
    me_report *r = pop3_lab();
    me_buf b = {0};
    me_report_json(r, &EN, &b);
    CHECK(me_report_sessions(r) == 1);
    CHECK(has(&b, "\"schema_version\": 1,"));
    CHECK(has(&b, "\"capture\": \"lab.pcap\","));
    CHECK(has(&b, "\"stream\": 3,"));
    CHECK(has(&b, "\"client\": {\"address\": \"198.51.100.7\", \"port\": 40000}"));
    CHECK(has(&b, "\"server\": {\"address\": \"192.0.2.1\", \"port\": 110}"));
    CHECK(has(&b, "\"first_frame\": 1,\n      \"last_frame\": 11,"));
    CHECK(has(&b, "\"first_time\": 1700000001.000250,"));
    CHECK(has(&b, "\"tls\": {\"mode\": \"none\", \"decrypted\": false, \"offered\": false, \"skipped\": false, \"refused\": false}"));
    CHECK(has(&b, "\"phases\": [{\"phase\": \"auth\", \"frame\": 1}, {\"phase\": \"transaction\", \"frame\": 8}, "
                  "{\"phase\": \"update\", \"frame\": 11}]"));
    CHECK(has(&b, "\"user\": \"mrose\","));
    CHECK(has(&b, "{\"attempt\": 1, \"mechanism\": \"USER-PASS\", \"username\": \"mrose\", \"password\": \"wrong\", "
                  "\"token\": null, \"challenge\": null, \"digest\": null, \"result\": \"failure\", "
                  "\"failure\": \"credentials\", \"start_frame\": 2, \"secret_frame\": 4, \"result_frame\": 5, \"cleartext\": true, \"tls\": false}"));
    CHECK(has(&b, "{\"attempt\": 2, \"mechanism\": \"APOP\", \"username\": \"mrose\", \"password\": null, "
                  "\"token\": null, \"challenge\": \"<1896.697170952@dbc.mit.edu>\", "
                  "\"digest\": \"c4c9334bac560ecc979e58001b3e22fb\", \"result\": \"success\", \"failure\": null, "
                  "\"start_frame\": 6, \"secret_frame\": 6, \"result_frame\": 7, \"cleartext\": false"));
    CHECK(has(&b, "\"cleartext\": true,\n      \"commands\": 5,\n      \"replies\": 6,"));
    CHECK(has(&b, "\"login_failed\": 1"));
    CHECK(has(&b, "\"hash_exposed\": 1"));
    CHECK(has(&b, "{\"frame\": 4, \"dir\": \"C\", \"phase\": \"auth\", \"kind\": \"command\", \"text\": \"PASS wrong\""));
    CHECK(has(&b, "{\"frame\": 5, \"dir\": \"S\", \"phase\": \"auth\", \"kind\": \"reply\", \"text\": \"-ERR invalid password\""));
    CHECK(has(&b, "\"lines_truncated\": false\n    }\n  ]\n}\n"));
    me_buf_free(&b);
    /* masked */
    {
        me_rep_opts o = EN;
        o.mask = true;
        me_report_json(r, &o, &b);
        CHECK(has(&b, "\"password\": \"********\""));
        CHECK(strstr(b.p, "wrong") == NULL);
        me_buf_free(&b);
    }
    me_report_free(r);
}

static void transcript_and_table(void)
{
    me_report *r = pop3_lab();
    me_buf b = {0};
    me_report_transcript(r, &EN, &b);
    CHECK(has(&b, "Session 3: POP3  client 198.51.100.7:40000 -> server 192.0.2.1:110\nTLS: none"));
    CHECK(has(&b, "--- AUTHORIZATION state - auth ---\n       1 S: +OK POP3 server ready <1896.697170952@dbc.mit.edu>\n"));
    CHECK(has(&b, "       4 C: PASS wrong\n"));
    CHECK(has(&b, ">> login attempt 1: user=mrose password=wrong\n"));
    /* a plain -ERR to PASS: the credentials (RFC 1939 §7) */
    CHECK(has(&b, ">> login attempt 1: failure (mrose): the server rejected the user name or password\n"));
    CHECK(has(&b, "\n--- TRANSACTION state - transaction ---\n       8 C: STAT\n"));
    me_buf_free(&b);
    {
        /* Bahasa Indonesia: headings, phase names, credential notes and results
         * in the reader's language; the protocol's own words stay as sent */
        me_rep_opts o = EN;
        o.lang = ME_LANG_ID;
        me_report_transcript(r, &o, &b);
        CHECK(has(&b, "Sesi 3: POP3  klien 198.51.100.7:40000 -> server 192.0.2.1:110\nTLS: tidak ada"));
        CHECK(has(&b, "   frame 1-11\n"));
        CHECK(has(&b, "--- fase otorisasi (AUTHORIZATION) - auth ---\n       1 S: +OK POP3 server ready"));
        CHECK(has(&b, ">> percobaan login 1: pengguna=mrose kata sandi=wrong\n"));
        CHECK(has(&b, ">> percobaan login 1: gagal (mrose): server menolak nama pengguna atau kata sandi\n"));
        CHECK(has(&b, ">> percobaan login 2: berhasil (mrose)\n"));
        CHECK(has(&b, "\n--- fase transaksi (TRANSACTION) - transaction ---\n       8 C: STAT\n"));
        CHECK(strstr(b.p, "password=") == NULL && strstr(b.p, "frames ") == NULL);
        me_buf_free(&b);
    }
    {
        me_rep_opts o = EN;
        o.stream = 4; /* no such stream */
        me_report_transcript(r, &o, &b);
        CHECK(has(&b, "No mail session"));
        me_buf_free(&b);
    }
    me_report_table(r, &EN, &b);
    CHECK(has(&b, "stream  proto  client              server         tls   user   logins              frames\n"));
    CHECK(has(&b, "3       pop3   198.51.100.7:40000  192.0.2.1:110  none  mrose  2 (1 ok) CLEARTEXT  1-11\n"));
    me_buf_free(&b);
    me_report_free(r);
}

/* RFC 2195 §2's example, challenge and digest as printed there */
static void hashes(void)
{
    me_report *r = me_report_new(0);
    h_sess h = h_new(ME_PROTO_IMAP, false, true);
    me_buf b = {0};
    say(r, &h, 0, true, "* OK IMAP4 ready\r\n");
    say(r, &h, 0, false, "a1 AUTHENTICATE CRAM-MD5\r\n");
    /* base64 of <1896.697170952@postoffice.reston.mci.net> */
    say(r, &h, 0, true, "+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n");
    /* base64 of "tim b913a602c7eda7a495b4e6e7334d3890" */
    say(r, &h, 0, false, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n");
    say(r, &h, 0, true, "a1 OK CRAM-MD5 authentication successful\r\n");
    me_report_hashes(r, &EN, &b);
    CHECK(has(&b, "# stream 0 frame 4 attempt 1 CRAM-MD5 user tim result success: hashcat -m 10200\n"
                  "$cram_md5$PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"
                  "$dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\n"));
    me_buf_free(&b);
    me_report_free(r);
    r = pop3_lab();
    me_report_hashes(r, &EN, &b);
    CHECK(has(&b, "\nc4c9334bac560ecc979e58001b3e22fb:<1896.697170952@dbc.mit.edu>\n"));
    me_buf_free(&b);
    me_report_free(r);
}

/* bytes that are not UTF-8 never reach the output as such */
static void not_utf8(void)
{
    me_buf b = {0};
    me_buf_json_str(&b, "a\xff\"\\\x01\xc3\xa9");
    CHECK_STR(b.p, "\"a\xef\xbf\xbd\\\"\\\\\\u0001\xc3\xa9\"");
    me_buf_free(&b);
    me_buf_utf8(&b, "\xe0\x80\x80x\t");
    CHECK_STR(b.p, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx?");
    me_buf_free(&b);
}

static void empty(void)
{
    me_report *r = me_report_new(500);
    me_buf b = {0};
    me_report_json(r, &EN, &b);
    CHECK(has(&b, "\"sessions\": []\n}\n"));
    me_buf_free(&b);
    me_report_hashes(r, &EN, &b);
    CHECK(b.p == NULL);
    me_report_free(r);
}

/* Characters (UTF-8 lead bytes) before the first occurrence of needle in the
 * line that starts with start, or -1. */
static long column_of(const char *text, const char *start, const char *needle)
{
    const char *l = text, *e, *hit;
    long n = 0;
    while (l && strncmp(l, start, strlen(start)) != 0)
        l = (l = strchr(l, '\n')) ? l + 1 : NULL;
    if (!l || !(e = strchr(l, '\n')) || !(hit = strstr(l, needle)) || hit > e)
        return -1;
    for (; l < hit; l++)
        n += ((unsigned char)*l & 0xc0) != 0x80;
    return n;
}

/* The table's columns line up by characters as printed: a user name with
 * stray UTF-8 continuation bytes (each printed as U+FFFD, one character, where
 * the raw bytes counted none) still leaves the next column aligned. */
static void table_aligned(void)
{
    me_report *r = me_report_new(500);
    h_sess a = h_new(ME_PROTO_POP3, false, true), c = h_new(ME_PROTO_POP3, false, true);
    me_buf b = {0};
    say(r, &a, 3, true, "+OK ready\r\n");
    say(r, &a, 3, false, "USER \x80\x80\x80\x80\x80\x80\x80\x80x\r\n");
    say(r, &a, 3, true, "+OK\r\n");
    say(r, &a, 3, false, "PASS secret\r\n");
    say(r, &a, 3, true, "+OK logged in\r\n");
    say(r, &c, 5, true, "+OK ready\r\n");
    say(r, &c, 5, false, "USER bob\r\n");
    say(r, &c, 5, true, "+OK\r\n");
    say(r, &c, 5, false, "PASS secret\r\n");
    say(r, &c, 5, true, "+OK logged in\r\n");
    me_report_table(r, &EN, &b);
    CHECK(has(&b, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx  1 (1 ok)"));
    CHECK(column_of(b.p, "3 ", "1 (1 ok)") > 0);
    CHECK(column_of(b.p, "3 ", "1 (1 ok)") == column_of(b.p, "5 ", "1 (1 ok)"));
    CHECK(column_of(b.p, "3 ", "1 (1 ok)") == column_of(b.p, "stream", "logins"));
    me_buf_free(&b);
    me_report_free(r);
}

/* The glue formats addresses only for a session's first frame: a report
 * that has the session reads no addresses from later frames. */
static void addresses_once(void)
{
    me_report *r = me_report_new(500);
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    me_rep_frame f;
    me_buf b = {0};
    CHECK(!me_report_has_session(r, 3));
    say(r, &h, 3, true, "+OK ready\r\n");
    CHECK(me_report_has_session(r, 3));
    CHECK(!me_report_has_session(r, 4));
    CHECK(!me_report_has_session(r, 70000));
    f = frame_of(3, 9, false);
    f.src = f.dst = NULL;
    me_report_add(r, &f, h_c(&h, "QUIT\r\n"));
    me_report_json(r, &EN, &b);
    CHECK(has(&b, "\"client\": {\"address\": \"198.51.100.7\", \"port\": 40000}"));
    CHECK(has(&b, "\"server\": {\"address\": \"192.0.2.1\", \"port\": 110}"));
    me_buf_free(&b);
    me_report_free(r);
}

/* Every row of warnings.def has a name and a message, and a line that
 * carries it shows it in the JSON's line and (all but the phase change, a
 * heading there) in the transcript: the reports walk every bit, so a row
 * added later is not silently left out of them. */
static void every_warning(void)
{
    uint32_t i, bit, rows = 0;
    for (i = 0; i < ME_W_BITS; i++) {
        me_report *r;
        h_sess h;
        me_item *it;
        me_rep_frame f;
        me_buf b = {0};
        char want[64];
        bit = 1u << i;
        CHECK((me_warning_name(bit) == NULL) == (me_warning_text(bit) == TXT_NONE));
        if (!me_warning_name(bit))
            continue;
        rows++;
        r = me_report_new(500);
        h = h_new(ME_PROTO_POP3, false, true);
        say(r, &h, 1, true, "+OK ready\r\n");
        it = h_c(&h, "CAPA\r\n"); /* valid in every state: no warning of its own */
        it->flags |= bit;
        f = frame_of(1, h.frame, false);
        me_report_add(r, &f, it);
        me_report_json(r, &EN, &b);
        snprintf(want, sizeof want, "\"text\": \"CAPA\"");
        CHECK(has(&b, want));
        snprintf(want, sizeof want, "\"warnings\": [\"%s\"]}", me_warning_name(bit));
        CHECK(has(&b, want));
        me_buf_free(&b);
        me_report_transcript(r, &EN, &b);
        if (bit != ME_W_PHASE_CHANGE)
            CHECK(has(&b, me_text(me_warning_text(bit), ME_LANG_EN)));
        me_buf_free(&b);
        me_report_free(r);
    }
    CHECK(rows >= 17); /* warnings.def's rows when this test was written */
}

/* Outcomes in the reports: why a login failed (cancelled: the client's
 * "*", RFC 4954 §4), the table's frames with a "-" where an attempt has none
 * (so the result frame is never read as the secret's), and an attempt the
 * connection ended without a reply to. */
static void outcome_lines(void)
{
    me_report *r = me_report_new(500);
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    me_buf b = {0};
    say(r, &h, 5, true, "+OK ready\r\n");
    say(r, &h, 5, false, "AUTH LOGIN\r\n");
    say(r, &h, 5, true, "+ VXNlcm5hbWU6\r\n");
    say(r, &h, 5, false, "*\r\n");
    say(r, &h, 5, true, "-ERR authentication cancelled\r\n");
    say(r, &h, 5, false, "USER bob\r\n");
    say(r, &h, 5, true, "+OK\r\n");
    say(r, &h, 5, false, "PASS hunter2\r\n");
    me_report_table(r, &EN, &b);
    CHECK(has(&b, "stream 5 #1 LOGIN user=- secret=- result=failure why=cancelled frames=2/-/5\n"));
    CHECK(has(&b, "stream 5 #2 USER-PASS user=bob secret=hunter2 result=none frames=6/8/- CLEARTEXT\n"));
    /* SPEC's sessions report: phases with their first frame and warning
     * counts in the text form too (the cancel is no failed login) */
    CHECK(has(&b, "\n  stream 5 phases=auth@1 warnings=cleartext:1"));
    CHECK(b.p && !strstr(b.p, "login_failed"));
    me_buf_free(&b);
    {   /* the language preference applies to the table's headings too */
        me_rep_opts o = EN;
        o.lang = ME_LANG_ID;
        me_report_table(r, &o, &b);
        CHECK(has(&b, "stream  proto  klien") && has(&b, "pengguna"));
        CHECK(has(&b, "\nPercobaan login (") && has(&b, "\nFakta per sesi ("));
        CHECK(has(&b, "result=failure why=cancelled")); /* the words scripts grep stay */
        CHECK(has(&b, "pop3_mode=") && has(&b, "; dihapus ")); /* the counts in Indonesian */
        me_buf_free(&b);
    }
    me_report_transcript(r, &EN, &b);
    CHECK(has(&b, ">> login attempt 1: failure (-): the client cancelled the login\n"));
    CHECK(has(&b, ">> login attempt 2: no reply from the server in the capture"));
    me_buf_free(&b);
    me_report_json(r, &EN, &b);
    CHECK(has(&b, "\"result\": \"failure\", \"failure\": \"cancelled\""));

    CHECK(has(&b, "\"result\": null, \"failure\": null"));
    me_buf_free(&b);
    {   /* USER, then QUIT: the client gave up before any secret; every reply
         * is there, so nothing is said of a missing one */
        me_report *q = me_report_new(500);
        h_sess g = h_new(ME_PROTO_POP3, false, true);
        say(q, &g, 6, true, "+OK ready\r\n");
        say(q, &g, 6, false, "USER carol\r\n");
        say(q, &g, 6, true, "+OK\r\n");
        say(q, &g, 6, false, "QUIT\r\n");
        say(q, &g, 6, true, "+OK bye\r\n");
        me_report_transcript(q, &EN, &b);
        CHECK(b.p && !strstr(b.p, "no reply from the server"));
        me_report_free(q);
    }
    me_buf_free(&b);
    me_report_free(r);
}

/* me_warning_next gives every row's bit of a word once, lowest first,
 * skips bits of no row, and leaves the word empty. */
static void warning_walk(void)
{
    uint32_t i, all = 0, rest, bit, prev = 0, seen = 0, empty = 0;
    for (i = 0; i < ME_W_BITS; i++)
        if (me_warning_name(1u << i))
            all |= 1u << i;
        else
            empty = 1u << i; /* a bit of no row, if there is one */
    rest = 0xffffffffu;
    while ((bit = me_warning_next(&rest)) != 0) {
        CHECK(bit > prev && (bit & (bit - 1)) == 0); /* one bit, rising */
        CHECK(!(seen & bit));
        seen |= bit;
        prev = bit;
    }
    CHECK(seen == all && rest == 0);
    rest = ME_W_CLEARTEXT | empty; /* cleartext is bit 0: the lowest */
    CHECK(me_warning_next(&rest) == ME_W_CLEARTEXT);
    CHECK(me_warning_next(&rest) == 0 && rest == 0);
    CHECK(me_warning_next(&rest) == 0);
}

/* STARTTLS accepted, the capture ends before the first TLS record: the
 * session did upgrade (RFC 3207 §4), so its mode is starttls, as the
 * transcript's "From here the session is encrypted" says. */
static void starttls_without_records(void)
{
    me_report *r = me_report_new(500);
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_buf b = {0};
    say(r, &h, 1, true, "220 mx.example ESMTP\r\n");
    say(r, &h, 1, false, "EHLO lab.example\r\n");
    say(r, &h, 1, true, "250-mx.example\r\n250 STARTTLS\r\n");
    say(r, &h, 1, false, "STARTTLS\r\n");
    say(r, &h, 1, true, "220 2.0.0 Ready to start TLS\r\n");
    me_report_json(r, &EN, &b);
    CHECK(has(&b, "\"tls\": {\"mode\": \"starttls\", \"decrypted\": false, \"offered\": true"));
    me_buf_free(&b);
    me_report_free(r);
}

int main(void)
{
    json_pop3();
    transcript_and_table();
    hashes();
    not_utf8();
    empty();
    addresses_once();
    table_aligned();
    every_warning();
    warning_walk();
    outcome_lines();
    starttls_without_records();
    return h_done("report");
}
