/* test_smtp.c - SMTP engine, fed as transcripts (RFC 5321 App. D dialogues and friends) */
#include "harness.h"

#define PH(it, p) ((it) && (it)->phase == ME_PHASE_##p)

/* Feeds a 220 greeting and an EHLO with the given capability lines. */
static void hello(h_sess *h, const char *caps)
{
    h_s(h, "220 mx.example.org ESMTP ready\r\n");
    h_c(h, "EHLO client.example.com\r\n");
    h_s(h, caps);
}

static void ehlo_caps(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it;
    it = h_s(&h, "220-mx.example.org ESMTP\r\n220 no spam\r\n");
    CHECK(it && it->kind == ME_KIND_REPLY && !it->next);
    CHECK(PH(it, GREETING) && it->phase_start && !it->inferred);
    CHECK(it->reply_code == 220 && it->status == ME_STATUS_OK);
    CHECK(it->explain == TXT_SMTP_GREETING);
    CHECK_STR(it->argument, "mx.example.org ESMTP | no spam");
    it = h_c(&h, "EHLO client.example.com\r\n");
    CHECK_STR(it->command, "EHLO");
    CHECK_STR(it->argument, "client.example.com");
    CHECK(PH(it, HELLO) && it->phase_start && it->explain == TXT_SMTP_EHLO);
    CHECK(!(it->flags & ME_W_WRONG_PHASE));
    /* a reply split over two segments: the first holds only continuation lines */
    it = h_s(&h, "250-mx.example.org Hello\r\n250-SIZE 52428800\r\n250-PIPELINING\r\n");
    CHECK(it && it->kind == ME_KIND_DATA && it->explain == TXT_SMTP_REPLY_CONT && !it->next);
    CHECK(PH(it, HELLO));
    it = h_s(&h, "250-AUTH PLAIN LOGIN\r\n250-STARTTLS\r\n250-8BITMIME\r\n250-CHUNKING\r\n"
                 "250-SMTPUTF8\r\n250-DSN\r\n250 ENHANCEDSTATUSCODES\r\n");
    CHECK(it && it->kind == ME_KIND_REPLY && !it->next);
    CHECK(it->reply_code == 250 && it->request_in == 2 && PH(it, HELLO));
    CHECK(it->explain == TXT_SMTP_EHLO_CAPS && it->explain2 == TXT_SMTP_CAPS_STARTTLS_AUTH);
    CHECK(it->detail && strstr(it->detail, "SIZE 52428800 (RFC 1870)"));
    CHECK(it->detail && strstr(it->detail, "PIPELINING (RFC 2920)"));
    CHECK(it->detail && strstr(it->detail, "AUTH PLAIN LOGIN (RFC 4954)"));
    CHECK(it->detail && strstr(it->detail, "STARTTLS (RFC 3207)"));
    CHECK(it->detail && strstr(it->detail, "8BITMIME (RFC 6152)"));
    CHECK(it->detail && strstr(it->detail, "CHUNKING (RFC 3030)"));
    CHECK(it->detail && strstr(it->detail, "SMTPUTF8 (RFC 6531)"));
    CHECK(it->detail && strstr(it->detail, "DSN (RFC 3461)"));
    CHECK(it->detail && strstr(it->detail, "ENHANCEDSTATUSCODES (RFC 2034)"));
    CHECK(it->detail && !strstr(it->detail, "Hello"));
    CHECK(it->argument && strstr(it->argument, "mx.example.org Hello | SIZE 52428800 | "));
    it = h_c(&h, "QUIT\r\n");
    CHECK(PH(it, QUIT) && it->phase_start);
    it = h_s(&h, "221 2.0.0 Bye\r\n");
    CHECK(PH(it, QUIT) && it->explain == TXT_SMTP_QUIT_OK && it->reply_code == 221);
    CHECK_STR(it->enhanced, "2.0.0");
    CHECK(it->explain2 == TXT_SMTP_E_2_0_0);
}

static void auth_plain_ir_and_two_step(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it;
    hello(&h, "250-mx\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n");
    /* "\0alice\0alicepw" */
    it = h_c(&h, "AUTH PLAIN AGFsaWNlAGFsaWNlcHc=\r\n");
    CHECK_STR(it->command, "AUTH");
    CHECK(PH(it, AUTH) && it->phase_start);
    CHECK_STR(it->auth->mechanism, "PLAIN");
    CHECK_STR(it->auth->username, "alice");
    CHECK_STR(it->auth->password, "alicepw");
    CHECK(it->auth->attempt == 1);
    CHECK_STR(it->masked, "PLAIN ********");
    CHECK(it->cleartext && (it->flags & ME_W_CLEARTEXT) && (it->flags & ME_W_BASE64));
    CHECK(it->flags & ME_W_TLS_SKIPPED); /* STARTTLS was offered */
    CHECK(it->explain == TXT_SMTP_AUTH && it->explain2 == TXT_SASL_PLAIN);
    it = h_s(&h, "235 2.7.0 Authentication successful\r\n");
    CHECK(PH(it, AUTH) && it->auth && it->auth->result == ME_RESULT_SUCCESS);
    CHECK(it->explain == TXT_SMTP_AUTH_OK && it->explain2 == TXT_SMTP_E_2_7_0);
    CHECK_STR(it->session_user, "alice");
    CHECK(it->request_in == 4);
    it = h_c(&h, "NOOP\r\n");
    CHECK(PH(it, HELLO)); /* the exchange is over: NOOP is not part of AUTH */
    h_s(&h, "250 2.0.0 Ok\r\n");

    /* two steps: empty 334 challenge, authzid and an empty password */
    h = h_new(ME_PROTO_SMTP, false, true);
    hello(&h, "250-mx\r\n250 AUTH PLAIN\r\n");
    it = h_c(&h, "AUTH PLAIN\r\n");
    CHECK(it->auth && !it->auth->password && !it->cleartext);
    it = h_s(&h, "334 \r\n");
    CHECK(it->kind == ME_KIND_CHALLENGE && it->status == ME_STATUS_CONTINUE);
    CHECK(it->reply_code == 334 && PH(it, AUTH) && it->explain == TXT_SMTP_R334);
    CHECK(it->explain2 == TXT_SASL_EMPTY_CHALLENGE && it->request_in == 4);
    /* "admin\0bob\0" */
    it = h_c(&h, "YWRtaW4AYm9iAA==\r\n");
    CHECK(it->kind == ME_KIND_SASL && PH(it, AUTH));
    CHECK_STR(it->auth->authzid, "admin");
    CHECK_STR(it->auth->username, "bob");
    CHECK_STR(it->auth->password, "");
    CHECK_STR(it->masked, "********");
    CHECK(!(it->flags & ME_W_TLS_SKIPPED)); /* STARTTLS was not offered */
    it = h_s(&h, "535 5.7.8 Error: authentication failed\r\n");
    CHECK(it->auth && it->auth->result == ME_RESULT_FAILURE && (it->flags & ME_W_LOGIN_FAILED));
    CHECK(it->status == ME_STATUS_ERROR && it->explain == TXT_SMTP_R535);
    CHECK_STR(it->enhanced, "5.7.8");
    CHECK(it->explain2 == TXT_SMTP_E_X_7_8);
    /* "=" is an empty initial response */
    it = h_c(&h, "AUTH PLAIN =\r\n");
    CHECK(it->auth->attempt == 2 && !it->auth->username);
    h_s(&h, "535 5.7.8 nope\r\n");
}

static void auth_login_shapes(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it;
    hello(&h, "250-mx\r\n250 AUTH LOGIN\r\n");
    it = h_c(&h, "AUTH LOGIN\r\n");
    CHECK_STR(it->auth->mechanism, "LOGIN");
    it = h_s(&h, "334 VXNlcm5hbWU6\r\n");
    CHECK(it->explain2 == TXT_SASL_LOGIN_PROMPT_USER);
    CHECK_STR(it->detail, "Username:");
    it = h_c(&h, "Z3VycGFydGFwQHBhdHJpb3RzLmlu\r\n");
    CHECK(it->kind == ME_KIND_SASL);
    CHECK_STR(it->auth->username, "gurpartap@patriots.in");
    CHECK(!it->cleartext);
    h_s(&h, "334 UGFzc3dvcmQ6\r\n");
    it = h_c(&h, "cHVuamFiQDEyMw==\r\n");
    CHECK_STR(it->auth->password, "punjab@123");
    CHECK(it->cleartext && it->masked);
    it = h_s(&h, "235 Authentication succeeded\r\n");
    CHECK(it->auth->result == ME_RESULT_SUCCESS && PH(it, AUTH));
    CHECK_STR(it->auth->username, "gurpartap@patriots.in");

    /* user name on the AUTH line, then a prompt worded differently */
    h = h_new(ME_PROTO_SMTP, false, true);
    hello(&h, "250-mx\r\n250 AUTH LOGIN\r\n");
    it = h_c(&h, "AUTH LOGIN Y2Fyb2w=\r\n");
    CHECK_STR(it->auth->username, "carol");
    CHECK(!it->masked);
    it = h_s(&h, "334 cGFzc3dvcmQ=\r\n"); /* "password" */
    CHECK_STR(it->detail, "password");
    it = h_c(&h, "YyJxXHg=\r\n");
    CHECK_STR(it->auth->password, "c\"q\\x");
    it = h_s(&h, "235 ok\r\n");
    CHECK(it->auth->result == ME_RESULT_SUCCESS);
}

static void cram_md5_fail_then_success(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it;
    hello(&h, "250-mx\r\n250 AUTH CRAM-MD5 PLAIN\r\n");
    it = h_c(&h, "AUTH CRAM-MD5\r\n");
    /* RFC 2195 example: <1896.697170952@postoffice.reston.mci.net> */
    it = h_s(&h, "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n");
    CHECK_STR(it->auth->challenge, "<1896.697170952@postoffice.reston.mci.net>");
    CHECK(it->explain2 == TXT_SASL_CRAM_CHALLENGE);
    it = h_c(&h, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n");
    CHECK_STR(it->auth->username, "tim");
    CHECK_STR(it->auth->digest, "b913a602c7eda7a495b4e6e7334d3890");
    CHECK_STR(it->auth->challenge, "<1896.697170952@postoffice.reston.mci.net>");
    CHECK((it->flags & ME_W_HASH) && !it->cleartext);
    it = h_s(&h, "535 5.7.8 Authentication credentials invalid\r\n");
    CHECK(it->auth->result == ME_RESULT_FAILURE && it->auth->attempt == 1);
    /* second attempt in the same session */
    it = h_c(&h, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
    CHECK(it->auth->attempt == 2);
    CHECK_STR(it->auth->password, "tanstaaftanstaaf");
    it = h_s(&h, "235 2.7.0 Authentication successful\r\n");
    CHECK(it->auth->result == ME_RESULT_SUCCESS && it->auth->attempt == 2);
    CHECK_STR(it->session_user, "tim");
    it = h_c(&h, "AUTH PLAIN AHRpbQB4\r\n");
    CHECK((it->flags & ME_W_WRONG_PHASE)); /* RFC 4954 §4: no AUTH after a successful one */
    it = h_s(&h, "503 5.5.1 Error: already authenticated\r\n");
    CHECK(it->auth && it->auth->result == ME_RESULT_FAILURE && it->auth->attempt == 3);
    CHECK(it->explain == TXT_SMTP_R503 && it->explain2 == TXT_SMTP_E_X_5_1);
}

static void cancel_xoauth2_ntlm(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it;
    hello(&h, "250-mx\r\n250 AUTH PLAIN XOAUTH2 NTLM\r\n");
    h_c(&h, "AUTH PLAIN\r\n");
    h_s(&h, "334 \r\n");
    it = h_c(&h, "*\r\n");
    CHECK(it->kind == ME_KIND_SASL && it->explain == TXT_SASL_CANCEL);
    it = h_s(&h, "501 5.7.0 Authentication aborted\r\n");
    CHECK(it->auth && it->auth->result == ME_RESULT_FAILURE);
    /* XOAUTH2 "user=joe@example.com^Aauth=Bearer ya29.tok^A^A" refused with a JSON status */
    it = h_c(&h, "AUTH XOAUTH2 dXNlcj1qb2VAZXhhbXBsZS5jb20BYXV0aD1CZWFyZXIgeWEyOS50b2sBAQ==\r\n");
    CHECK_STR(it->auth->username, "joe@example.com");
    CHECK_STR(it->auth->token, "ya29.tok");
    CHECK_STR(it->masked, "XOAUTH2 ********");
    CHECK(it->cleartext);
    it = h_s(&h, "334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIn0=\r\n");
    CHECK(it->kind == ME_KIND_CHALLENGE && it->explain2 == TXT_SASL_OAUTH_ERROR);
    CHECK_STR(it->detail, "{\"status\":\"401\",\"schemes\":\"bearer\"}");
    it = h_c(&h, "\r\n");
    CHECK(it->kind == ME_KIND_SASL && it->explain == TXT_SASL_XOAUTH2_ACK);
    CHECK(!(it->flags & ME_W_MALFORMED));
    it = h_s(&h, "535 5.7.8 Username and Password not accepted\r\n");
    CHECK(it->auth->result == ME_RESULT_FAILURE && it->auth->attempt == 2);
    /* OAUTHBEARER (RFC 7628): the user is in the GS2 header */
    it = h_c(&h, "AUTH OAUTHBEARER bixhPWpvZUBleGFtcGxlLmNvbSwBaG9zdD1teAFhdXRoPUJlYXJlciB0b2syAQE=\r\n");
    CHECK_STR(it->auth->mechanism, "OAUTHBEARER");
    CHECK_STR(it->auth->username, "joe@example.com");
    CHECK_STR(it->auth->token, "tok2");
    CHECK_STR(it->masked, "OAUTHBEARER ********");
    it = h_s(&h, "235 2.7.0 ok\r\n");
    CHECK(it->auth->result == ME_RESULT_SUCCESS && it->auth->attempt == 3);
    h_c(&h, "RSET\r\n");
    h_s(&h, "250 ok\r\n");
    /* NTLM, user JACK in domain SMTPDOM (arkime's synthetic exchange) */
    h_c(&h, "AUTH NTLM\r\n");
    h_s(&h, "334 \r\n");
    h_c(&h, "TlRMTVNTUAABAAAABwIAAgcABwAoAAAACAAIAC8AAAAKAGFKAAAAD1NNVFBET01TTVRQSE9TVA==\r\n");
    it = h_s(&h, "334 TlRMTVNTUAACAAAADgAOADgAAAAFAgACASNFZ4mrze8AAAAAAAAAAAQABABGAAAACgBhSgAA"
                 "AA9TAE0AVABQAFQARwBUAAAAAAA=\r\n");
    CHECK_STR(it->auth->challenge, "0123456789abcdef");
    it = h_c(&h, "TlRMTVNTUAADAAAAGAAYAFgAAAAYABgAcAAAAA4ADgCIAAAACAAIAJYAAAAQABAAngAAABAAEACu"
                 "AAAABQIAAgoAYUoAAAAPAAAAAAAAAAAAAAAAAAAAAExMTExMTExMTExMTExMTExMTExMTExMTE5O"
                 "Tk5OTk5OTk5OTk5OTk5OTk5OTk5OTlMATQBUAFAARABPAE0AagBhAGMAawBTAE0AVABQAEgATwBT"
                 "AFQAS0tLS0tLS0tLS0tLS0tLSw==\r\n");
    CHECK(it->auth && it->auth->mechanism && strcmp(it->auth->mechanism, "NTLM") == 0);
    CHECK_STR(it->auth->username, "jack");
    CHECK_STR(it->auth->domain, "SMTPDOM");
    CHECK_STR(it->auth->host, "SMTPHOST");
    CHECK(it->auth->digest != NULL && (it->flags & ME_W_HASH));
    it = h_s(&h, "235 Authentication successful\r\n");
    CHECK(it->auth->result == ME_RESULT_SUCCESS && it->auth->attempt == 4);
}

static void pipelining_body_lookalikes(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it, *x;
    int n;
    hello(&h, "250-mx\r\n250 PIPELINING\r\n");
    it = h_c(&h, "MAIL FROM:<username@domain.com> SIZE=120\r\n"
                 "RCPT TO:<john.doe@example.com>\r\n"
                 "DATA\r\n"
                 "Subject: test\r\n"
                 "\r\n"
                 "MAIL FROM:<evil@x>\r\n"
                 "AUTH PLAIN AGFAYg==\r\n"
                 "QUIT\r\n"
                 "..hidden\r\n"
                 ".\r\n");
    CHECK_STR(it->command, "MAIL");
    CHECK_STR(it->mail_from, "username@domain.com");
    CHECK_STR(it->argument, "FROM:<username@domain.com> SIZE=120");
    CHECK(PH(it, ENVELOPE) && it->phase_start);
    x = h_nth(it, 1);
    CHECK(x && x->command && strcmp(x->command, "RCPT") == 0 && PH(x, ENVELOPE) && !x->phase_start);
    CHECK_STR(x->rcpt, "john.doe@example.com");
    x = h_nth(it, 2);
    CHECK(x && x->command && strcmp(x->command, "DATA") == 0 && PH(x, DATA) && x->phase_start);
    x = h_nth(it, 3);
    CHECK(x && x->kind == ME_KIND_DATA && x->explain == TXT_SMTP_MESSAGE_DATA && PH(x, DATA));
    x = h_nth(it, 4);
    CHECK(x && x->kind == ME_KIND_COMMAND && !x->command && x->explain == TXT_SMTP_END_OF_DATA);
    CHECK(PH(x, DATA) && !h_nth(it, 5));
    for (n = 0, x = it; x; x = x->next)
        n += x->auth != NULL;
    CHECK(n == 0);
    it = h_s(&h, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
                 "250 2.0.0 Ok: queued as BCB022014FB060\r\n");
    /* late replies keep their command's phase without restarting a phase left already */
    CHECK(PH(it, ENVELOPE) && it->request_in == 4 && it->explain == TXT_SMTP_MAIL_OK);
    CHECK(!it->phase_start && !(it->flags & ME_W_PHASE_CHANGE));
    CHECK(it->explain2 == TXT_SMTP_E_2_1_0);
    CHECK_STR(it->mail_from, "username@domain.com");
    x = h_nth(it, 1);
    CHECK(PH(x, ENVELOPE) && x->explain == TXT_SMTP_RCPT_OK && x->explain2 == TXT_SMTP_E_X_1_5);
    CHECK_STR(x->rcpt, "john.doe@example.com");
    x = h_nth(it, 2);
    CHECK(PH(x, DATA) && !x->phase_start && x->status == ME_STATUS_CONTINUE);
    CHECK(x->reply_code == 354 && x->explain == TXT_SMTP_R354);
    x = h_nth(it, 3);
    CHECK(PH(x, DATA) && x->explain == TXT_SMTP_EOD_OK && x->status == ME_STATUS_OK);
    CHECK(!h_nth(it, 4));
    it = h_c(&h, "QUIT\r\n");
    CHECK(PH(it, QUIT) && it->kind == ME_KIND_COMMAND);
    CHECK(!(it->flags & ME_W_WRONG_PHASE));
}

static void data_split_and_big_body(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it;
    static char body[200000];
    size_t i;
    hello(&h, "250 mx\r\n");
    h_c(&h, "MAIL FROM:<a@b>\r\n");
    h_s(&h, "250 ok\r\n");
    h_c(&h, "RCPT TO:<c@d>\r\n");
    h_s(&h, "250 ok\r\n");
    it = h_c(&h, "DATA\r\n");
    CHECK(PH(it, DATA) && !it->next);
    it = h_s(&h, "354 go ahead\r\n");
    CHECK(PH(it, DATA) && it->status == ME_STATUS_CONTINUE);
    /* a 200 KB base64 attachment with command-looking lines in between */
    for (i = 0; i + 78 <= sizeof(body) - 64; i += 78) {
        memset(body + i, 'Q', 76);
        body[i + 76] = '\r';
        body[i + 77] = '\n';
        if (i % (78 * 100) == 0)
            memcpy(body + i, "RCPT TO:<x@y>", 13);
    }
    memcpy(body + i, "MAIL FROM:<x@y>\r\n", 17);
    i += 17;
    body[i] = 0;
    for (size_t off = 0; off < i; off += 1448) {
        size_t len = i - off < 1448 ? i - off : 1448;
        it = h_feed(&h, ME_CLIENT, body + off, len);
        CHECK(it && it->kind == ME_KIND_DATA && !it->next && PH(it, DATA));
    }
    it = h_c(&h, ".\r\nQUIT\r\n");
    CHECK(it->explain == TXT_SMTP_END_OF_DATA && it->next && it->next->command);
    CHECK_STR(it->next->command, "QUIT");
    it = h_s(&h, "250 2.0.0 queued\r\n221 2.0.0 bye\r\n");
    CHECK(it->explain == TXT_SMTP_EOD_OK && PH(it, DATA));
    CHECK(!it->phase_start && it->next && PH(it->next, QUIT) && !it->next->phase_start);
}

static void bdat_chunks(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it, *x;
    hello(&h, "250-mx\r\n250-CHUNKING\r\n250 PIPELINING\r\n");
    /* pipelined MAIL, RCPT, BDAT and the chunk's first bytes, with lookalike lines */
    it = h_c(&h, "MAIL From:<l@v.org> BODY=8BITMIME SIZE=34\r\n"
                 "RCPT To:<t@f.com>\r\n"
                 "BDAT 34 LAST\r\n"
                 "QUIT\r\nRSET\r\nMAIL FROM:<x@y>\r\n");
    CHECK_STR(it->mail_from, "l@v.org");
    CHECK_STR(it->argument, "From:<l@v.org> BODY=8BITMIME SIZE=34");
    x = h_nth(it, 2);
    CHECK(x && x->command && strcmp(x->command, "BDAT") == 0 && PH(x, DATA));
    x = h_nth(it, 3);
    CHECK(x && x->kind == ME_KIND_DATA && x->explain == TXT_SMTP_BDAT_DATA && x->data_len == 29);
    CHECK(!h_nth(it, 4));
    it = h_c(&h, "abcde");
    CHECK(it->kind == ME_KIND_DATA && it->data_len == 5 && !it->next);
    it = h_c(&h, "NOOP\r\n");
    CHECK(it->kind == ME_KIND_COMMAND && it->command && strcmp(it->command, "NOOP") == 0);
    it = h_s(&h, "250 OK\r\n250 Accepted\r\n250- 34 byte chunk, total 34\r\n250 OK id=1\r\n"
                 "250 2.0.0 Ok\r\n");
    CHECK(PH(it, ENVELOPE));
    x = h_nth(it, 2);
    /* the reply to BDAT 34 LAST accepts the message (RFC 3030 §2) */
    CHECK(x && x->kind == ME_KIND_REPLY && PH(x, DATA) && x->explain == TXT_SMTP_BDAT_LAST_OK);
    CHECK_STR(x->argument, "34 byte chunk, total 34 | OK id=1");
    x = h_nth(it, 3);
    CHECK(x && x->kind == ME_KIND_REPLY && x->explain == TXT_SMTP_R250 && !x->next);
    CHECK(!h_nth(it, 4));
    /* a second transaction of two chunks */
    it = h_c(&h, "MAIL FROM:<l@v.org>\r\n");
    CHECK(!(it->flags & ME_W_WRONG_PHASE) && PH(it, ENVELOPE));
    h_s(&h, "250 ok\r\n");
    h_c(&h, "RCPT TO:<t@f.com>\r\n");
    h_s(&h, "250 ok\r\n");
    it = h_c(&h, "BDAT 3\r\nab\n");
    CHECK(it->next && it->next->data_len == 3 && !it->next->next);
    it = h_c(&h, "BDAT 0 LAST\r\n");
    CHECK(!(it->flags & ME_W_WRONG_PHASE) && !it->next);
    it = h_s(&h, "250 3 octets\r\n");
    CHECK(it->explain == TXT_SMTP_BDAT_OK); /* a chunk, not the LAST */
    it = h_s(&h, "250 message ok\r\n");
    CHECK(it->explain == TXT_SMTP_BDAT_LAST_OK && it->request_in == h.frame - 2);
    it = h_c(&h, "BDAT x\r\n");
    CHECK(it->flags & ME_W_MALFORMED);
    CHECK(it->flags & ME_W_WRONG_PHASE); /* no transaction */
}

static void rset_multi_rcpt(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it;
    hello(&h, "250 mx\r\n");
    h_c(&h, "MAIL FROM:<>\r\n");
    it = h_s(&h, "250 ok\r\n");
    CHECK_STR(it->mail_from, "<>");
    it = h_c(&h, "RSET\r\n");
    CHECK(PH(it, HELLO) && it->phase_start);
    it = h_s(&h, "250 2.0.0 Ok\r\n");
    CHECK(PH(it, HELLO));
    it = h_c(&h, "RCPT TO:<a@b>\r\n");
    CHECK((it->flags & ME_W_WRONG_PHASE) && it->wrong_phase == ME_PHASE_HELLO);
    it = h_s(&h, "503 5.5.1 Error: need MAIL command\r\n");
    CHECK(it->explain == TXT_SMTP_R503 && it->status == ME_STATUS_ERROR);
    h_c(&h, "mail from:<alice@example.com>\r\n");
    h_s(&h, "250 2.1.0 Ok\r\n");
    it = h_c(&h, "rcpt to:<bob@example.com>\r\nrcpt to:<nobody@example.com>\r\n"
                 "rcpt to:<carol@example.com>\r\n");
    CHECK_STR(it->command, "RCPT");
    CHECK(!(it->flags & ME_W_WRONG_PHASE));
    it = h_s(&h, "250 2.1.5 Ok\r\n550 5.1.1 <nobody@example.com>: Recipient address rejected\r\n"
                 "250 2.1.5 Ok\r\n");
    CHECK_STR(it->rcpt, "bob@example.com");
    CHECK(it->status == ME_STATUS_OK);
    CHECK_STR(it->next->rcpt, "nobody@example.com");
    CHECK(it->next->status == ME_STATUS_ERROR && it->next->reply_code == 550);
    CHECK(it->next->explain == TXT_SMTP_R550 && it->next->explain2 == TXT_SMTP_E_X_1_1);
    CHECK_STR(it->next->enhanced, "5.1.1");
    CHECK_STR(it->next->next->rcpt, "carol@example.com");
    it = h_c(&h, "DATA\r\n");
    CHECK(!(it->flags & ME_W_WRONG_PHASE));
    h_s(&h, "354 go\r\n");
    h_c(&h, "hi\r\n.\r\n");
    it = h_s(&h, "250 ok\r\n");
    CHECK(it->explain == TXT_SMTP_EOD_OK);
    it = h_c(&h, "DATA\r\n"); /* no transaction any more */
    CHECK((it->flags & ME_W_WRONG_PHASE) && it->wrong_phase == ME_PHASE_HELLO);
    /* RFC 5321 §4.1.4: refused out of sequence, it opens no data phase; the
     * session is back in hello since the transaction ended */
    CHECK(PH(it, HELLO));
    it = h_s(&h, "503 5.5.1 Error: need RCPT command\r\n");
    CHECK(it->explain2 == TXT_SMTP_E_X_5_1 && PH(it, HELLO) && !it->phase_start);
    /* the client waited for 354: what follows are commands again */
    it = h_c(&h, "QUIT\r\n");
    CHECK(it->kind == ME_KIND_COMMAND && PH(it, QUIT));
}

static void data_refused_after_pipelined_body(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it;
    hello(&h, "250 mx\r\n");
    h_c(&h, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nbody\r\n.\r\n");
    it = h_s(&h, "250 ok\r\n550 no\r\n554 Error: no valid recipients\r\n");
    CHECK(h_nth(it, 1) && h_nth(it, 1)->explain2 == TXT_SMTP_RCPT_REFUSED);
    CHECK(h_nth(it, 2) && h_nth(it, 2)->explain == TXT_SMTP_R554);
    CHECK(h_nth(it, 2)->explain2 == TXT_SMTP_DATA_REFUSED && PH(h_nth(it, 2), DATA));
    it = h_s(&h, "221 bye\r\n"); /* the server timed out: no verdict on the dot */
    CHECK(it->explain == TXT_SMTP_R221 && !it->request_in);
}

static void starttls(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it;
    hello(&h, "250-mx.google.com at your service\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n"
              "250-STARTTLS\r\n250 ENHANCEDSTATUSCODES\r\n");
    it = h_c(&h, "STARTTLS\r\n");
    CHECK(PH(it, HELLO) && !it->phase_start && it->explain == TXT_SMTP_STARTTLS);
    it = h_s(&h, "220 2.0.0 Ready to start TLS\r\n");
    CHECK(PH(it, HELLO) && (it->flags & ME_W_TLS_START) && it->explain == TXT_SMTP_STARTTLS_OK);
    CHECK(!it->tls);
    it = h_c(&h, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" "AUTH PLAIN AGFAYg==\r\n");
    CHECK(it->kind == ME_KIND_TLS && PH(it, TLS) && it->phase_start && it->tls && !it->next);
    CHECK(me_session_phase(h.s) == ME_PHASE_HELLO);

    /* decrypted: the client must say EHLO again; credentials are protected */
    h = h_new(ME_PROTO_SMTP, false, true);
    hello(&h, "250-mx\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n");
    h_c(&h, "STARTTLS\r\n");
    h_s(&h, "220 go ahead\r\n");
    it = me_session_feed(h.s, ME_CLIENT, (const uint8_t *)"MAIL FROM:<a@b>\r\n", 17, ++h.frame,
                         true);
    CHECK(it->tls && PH(it, HELLO) && (it->flags & ME_W_WRONG_PHASE)); /* opens no phase */
    CHECK(it->wrong_phase == ME_PHASE_HELLO);
    me_session_feed(h.s, ME_SERVER, (const uint8_t *)"503 5.5.1 EHLO first\r\n", 22, ++h.frame,
                    true);
    me_session_feed(h.s, ME_CLIENT, (const uint8_t *)"EHLO c\r\n", 8, ++h.frame, true);
    it = me_session_feed(h.s, ME_SERVER, (const uint8_t *)"250-mx\r\n250 AUTH PLAIN\r\n", 24,
                         ++h.frame, true);
    CHECK(it->explain2 == TXT_SMTP_CAPS_IN_TLS);
    it = me_session_feed(h.s, ME_CLIENT, (const uint8_t *)"AUTH PLAIN AGEAYg==\r\n", 21,
                         ++h.frame, true);
    CHECK_STR(it->auth->username, "a");
    CHECK(!it->cleartext && (it->flags & ME_W_PROTECTED) && !(it->flags & ME_W_TLS_SKIPPED));
}

static void mid_session(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, false);
    me_item *it;
    /* the capture begins inside a message body */
    it = h_c(&h, "Content-Transfer-Encoding: base64\r\nMAIL FROM:<x@y>\r\n");
    CHECK(it->kind == ME_KIND_DATA && it->inferred && (it->flags & ME_W_MIDSESSION));
    CHECK(PH(it, DATA) && !it->next);
    it = h_c(&h, "QUIT\r\n.\r\n");
    CHECK(it->kind == ME_KIND_DATA && it->next && it->next->explain == TXT_SMTP_END_OF_DATA);
    it = h_s(&h, "250 2.0.0 Ok: queued\r\n");
    CHECK(it->explain == TXT_SMTP_EOD_OK && !(it->flags & ME_W_MIDSESSION));
    it = h_c(&h, "MAIL FROM:<a@b>\r\n");
    CHECK(PH(it, ENVELOPE) && !it->inferred && !(it->flags & ME_W_WRONG_PHASE));

    /* begins with a command */
    h = h_new(ME_PROTO_SMTP, false, false);
    it = h_c(&h, "RCPT TO:<a@b>\r\n");
    CHECK(PH(it, ENVELOPE) && it->inferred && (it->flags & ME_W_MIDSESSION));
    CHECK(!(it->flags & ME_W_WRONG_PHASE));
    it = h_s(&h, "250 ok\r\n");
    CHECK(PH(it, ENVELOPE) && it->inferred);
    it = h_c(&h, "DATA\r\n");
    CHECK(PH(it, DATA) && !it->inferred && !(it->flags & ME_W_WRONG_PHASE));

    /* begins with a 334 challenge: a LOGIN exchange */
    h = h_new(ME_PROTO_SMTP, false, false);
    it = h_s(&h, "334 UGFzc3dvcmQ6\r\n");
    CHECK(PH(it, AUTH) && it->inferred && it->kind == ME_KIND_CHALLENGE);
    it = h_c(&h, "cHVuamFiQDEyMw==\r\n");
    CHECK(it->kind == ME_KIND_SASL && it->auth);
    CHECK_STR(it->auth->password, "punjab@123");
    it = h_s(&h, "235 ok\r\n");
    CHECK(it->auth && it->auth->result == ME_RESULT_SUCCESS);
    it = h_c(&h, "MAIL FROM:<a@b>\r\n");
    CHECK(it->kind == ME_KIND_COMMAND && PH(it, ENVELOPE));

    /* begins with a greeting but no TCP handshake */
    h = h_new(ME_PROTO_SMTP, false, false);
    it = h_s(&h, "220 mx ESMTP\r\n");
    CHECK(PH(it, GREETING) && it->inferred && it->explain == TXT_SMTP_GREETING);
    it = h_c(&h, "MAIL FROM:<a@b>\r\n");
    CHECK(it->flags & ME_W_WRONG_PHASE); /* RFC 5321 §4.1.4: EHLO first */
    CHECK(it->wrong_phase == ME_PHASE_GREETING);

    /* begins with a reply to an unseen DATA */
    h = h_new(ME_PROTO_SMTP, false, false);
    it = h_s(&h, "354 go\r\n");
    CHECK(PH(it, DATA) && it->inferred);
    it = h_c(&h, "RSET\r\n.\r\n");
    CHECK(it->kind == ME_KIND_DATA && it->next && !it->next->next);
}

static void garbage_and_errors(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it;
    char big[40000];
    /* a client that talks before the greeting: binary garbage */
    it = h_feed(&h, ME_CLIENT, "g\x84Y\xffXH\r\n\x01\x02\r\n", 12);
    CHECK(it && it->kind == ME_KIND_UNKNOWN && (it->flags & ME_W_MALFORMED) && !it->inferred);
    CHECK(it->explain == TXT_SMTP_GARBAGE && it->next);
    CHECK_STR(it->argument, "g\\x84Y\\xffXH");
    it = h_s(&h, "220 mx ESMTP Sendmail\r\n500 5.5.1 Command unrecognized: \"g\xc3\xa9\"\r\n"
                 "500 5.5.1 Command unrecognized: \"\x81\"\r\n");
    CHECK(it->explain == TXT_SMTP_GREETING && PH(it, GREETING));
    CHECK(h_nth(it, 1) && h_nth(it, 1)->request_in == 1 && h_nth(it, 1)->reply_code == 500);
    CHECK_STR(h_nth(it, 1)->argument, "5.5.1 Command unrecognized: \"g\xc3\xa9\"");
    CHECK_STR(h_nth(it, 2)->argument, "5.5.1 Command unrecognized: \"\\x81\"");
    CHECK(h_nth(it, 2)->explain == TXT_SMTP_R500 && h_nth(it, 2)->explain2 == TXT_SMTP_E_X_5_1);
    /* a server line that is no reply */
    it = h_s(&h, "hello there\r\n");
    CHECK(it->kind == ME_KIND_UNKNOWN && (it->flags & ME_W_MALFORMED));
    it = h_s(&h, "2500 x\r\n");
    CHECK(it->kind == ME_KIND_UNKNOWN && (it->flags & ME_W_MALFORMED));
    /* over-long line, then a command */
    memset(big, 'A', sizeof(big));
    it = h_feed(&h, ME_CLIENT, big, sizeof(big));
    CHECK(it && it->kind == ME_KIND_DATA);
    it = h_c(&h, "\r\nEHLO x\r\n");
    CHECK(it && (it->flags & ME_W_OVERLONG) && it->next);
    CHECK_STR(it->next->command, "EHLO");
    /* commands with missing arguments */
    h_s(&h, "500 too long\r\n250 ok\r\n");
    it = h_c(&h, "MAIL alice\r\n");
    CHECK((it->flags & ME_W_MALFORMED) && !it->mail_from);
    h_s(&h, "501 5.5.4 Syntax: MAIL FROM:<address>\r\n");
    it = h_c(&h, "AUTH\r\n");
    CHECK((it->flags & ME_W_MALFORMED) && !it->auth && it->explain2 == TXT_SMTP_AUTH_NO_MECH);
    it = h_s(&h, "501 5.5.4 Syntax: AUTH mechanism\r\n");
    CHECK(!it->auth && it->explain2 == TXT_SMTP_E_X_5_4);
    it = h_c(&h, "XFOO bar\r\n");
    CHECK(it->kind == ME_KIND_COMMAND && it->explain == TXT_SMTP_UNKNOWN_CMD);
    CHECK(!(it->flags & ME_W_MALFORMED));
    it = h_s(&h, "502 5.5.2 Error: command not recognized\r\n");
    CHECK(it->request_in == h.frame - 1 && it->explain == TXT_SMTP_R502);
    /* codes explained by class when not listed, unsolicited 421 */
    h_c(&h, "NOOP\r\n");
    it = h_s(&h, "259 odd\r\n");
    CHECK(it->explain == TXT_SMTP_CLASS_2);
    it = h_s(&h, "421 4.4.2 mx Error: timeout exceeded\r\n");
    CHECK(it->explain == TXT_SMTP_R421 && it->explain2 == TXT_SMTP_E_X_4_2 && !it->request_in);
}

static void char_at_a_time_and_pipe_connect(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it = NULL;
    const char *cmd = "helo 1\r\n";
    size_t i;
    /* PIPE_CONNECT style: the client greets before the banner arrives */
    h_s(&h, "220 OPNsense ESMTP Postfix\r\n");
    for (i = 0; cmd[i]; i++)
        it = h_feed(&h, ME_CLIENT, cmd + i, 1);
    CHECK(it && it->kind == ME_KIND_COMMAND && PH(it, HELLO));
    CHECK_STR(it->command, "HELO");
    it = h_s(&h, "250 OPNsense\r\n");
    CHECK(it->explain == TXT_SMTP_HELLO_OK);

    h = h_new(ME_PROTO_SMTP, false, true);
    it = h_c(&h, "EHLO early\r\n");
    /* issue 12 fault 8: sent before the greeting (RFC 5321 §3.1), the EHLO stays
     * in phase greeting, flagged; its reply opens hello (no hello-greeting-hello) */
    CHECK(!it->inferred && PH(it, GREETING) && (it->flags & ME_W_WRONG_PHASE));
    it = h_s(&h, "220 mx\r\n250-mx\r\n250 PIPELINING\r\n");
    CHECK(it->explain == TXT_SMTP_GREETING && PH(it, GREETING) && !it->request_in);
    CHECK(it->next && it->next->request_in == 1 && it->next->explain == TXT_SMTP_EHLO_CAPS);
    CHECK(it->next->explain2 == TXT_SMTP_CAPS_NO_TLS);
    CHECK(!it->phase_start && PH(it->next, HELLO) && it->next->phase_start);
}

/* A summary of what matters in a record (not frame numbers, not how bytes were cut). */
static void summarize(me_item *it, char *out, size_t cap)
{
    for (; it; it = it->next) {
        size_t l = strlen(out);
        if (it->kind == ME_KIND_DATA || it->kind == ME_KIND_UNKNOWN)
            continue;
        snprintf(out + l, cap - l, "%d/%s/%s/%u/%s/%s/%s/%s/%d/%s/%s;", (int)it->kind,
                 it->command ? it->command : "", it->argument ? it->argument : "",
                 it->reply_code, me_phase_name(it->phase), it->auth && it->auth->username ? it->auth->username : "",
                 it->auth && it->auth->password ? it->auth->password : "",
                 it->auth ? me_result_name(it->auth->result) : "", (int)it->explain,
                 it->mail_from ? it->mail_from : "", it->rcpt ? it->rcpt : "");
    }
}

static void segmentation_does_not_matter(void)
{
    static const struct {
        me_dir dir;
        const char *text;
    } t[] = {
        {ME_SERVER, "220-mx.example.org ESMTP\r\n220 ready\r\n"},
        {ME_CLIENT, "EHLO c\r\n"},
        {ME_SERVER, "250-mx\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-AUTH LOGIN PLAIN\r\n250 STARTTLS\r\n"},
        {ME_CLIENT, "AUTH LOGIN\r\n"},
        {ME_SERVER, "334 VXNlcm5hbWU6\r\n"},
        {ME_CLIENT, "Ym9i\r\n"},
        {ME_SERVER, "334 UGFzc3dvcmQ6\r\n"},
        {ME_CLIENT, "YjBiIHBhc3M=\r\n"},
        {ME_SERVER, "535 5.7.8 no\r\n"},
        {ME_CLIENT, "AUTH PLAIN AGJvYgBiMGIgcGFzcw==\r\n"},
        {ME_SERVER, "235 2.7.0 ok\r\n"},
        {ME_CLIENT, "MAIL FROM:<bob@x>\r\nRCPT TO:<a@y>\r\nRCPT TO:<nobody@y>\r\nDATA\r\n"
                    "Subject: x\r\n\r\nRCPT TO:<z@z>\r\nAUTH PLAIN AGFAYg==\r\n..\r\n.\r\n"},
        {ME_SERVER, "250 ok\r\n250 ok\r\n550 5.1.1 unknown\r\n354 go\r\n250 2.0.0 queued\r\n"},
        {ME_CLIENT, "MAIL FROM:<bob@x>\r\nRCPT TO:<a@y>\r\nBDAT 12 LAST\r\nQUIT\r\nRSET\r\n"},
        {ME_SERVER, "250 ok\r\n250 ok\r\n250-12 bytes\r\n250 ok\r\n"},
        {ME_CLIENT, "QUIT\r\n"},
        {ME_SERVER, "221 bye\r\n"},
    };
    static char whole[8192], bytes[8192];
    h_sess a = h_new(ME_PROTO_SMTP, false, true), b = h_new(ME_PROTO_SMTP, false, true);
    size_t i, k;
    whole[0] = bytes[0] = 0;
    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        summarize(h_feed(&a, t[i].dir, t[i].text, strlen(t[i].text)), whole, sizeof(whole));
        for (k = 0; t[i].text[k]; k++)
            summarize(h_feed(&b, t[i].dir, t[i].text + k, 1), bytes, sizeof(bytes));
    }
    CHECK(strlen(whole) > 500);
    CHECK_STR(bytes, whole);
    /* LOGIN fails, then PLAIN succeeds; the password only on the lines that carry it */
    CHECK(strstr(whole, "/bob//failure/") && strstr(whole, "/bob//success/"));
    CHECK(strstr(whole, "/bob/b0b pass//") && strstr(whole, "AUTH/PLAIN AGJvYgBiMGIgcGFzcw==/0/auth/bob/b0b pass//"));
    CHECK(!strstr(whole, "/z@z;") && !strstr(whole, "AGFAYg=="));
}

static void every_text_has_both_languages(void)
{
    int i;
    for (i = 1; i < TXT_COUNT; i++) {
        const char *name = me_text_name((me_text_id)i);
        if (strncmp(name, "TXT_SMTP_", 9) != 0)
            continue;
        CHECK(*me_text((me_text_id)i, ME_LANG_EN) && *me_text((me_text_id)i, ME_LANG_ID));
        CHECK(strcmp(me_text((me_text_id)i, ME_LANG_EN), me_text((me_text_id)i, ME_LANG_ID)) != 0);
        CHECK(strncmp(me_text_rfc((me_text_id)i), "RFC ", 4) == 0);
    }
}

/* The message refused after its content (RFC 5321 §4.1.1.4): the reply is
 * explained as that refusal, not by the code's general text (554's also
 * names the greeting's "no SMTP service here"); the enhanced code, or else
 * the code's text, comes second.  A Suricata capture's shape. */
/* One transaction up to the server's verdict on the message: that reply. */
static me_item *send_message(h_sess *h, const char *verdict)
{
    h_c(h, "MAIL FROM:<a@example.org>\r\n");
    h_s(h, "250 ok\r\n");
    h_c(h, "RCPT TO:<b@example.org>\r\n");
    h_s(h, "250 ok\r\n");
    h_c(h, "DATA\r\n");
    h_s(h, "354 go\r\n");
    h_c(h, "Subject: x\r\n\r\nEICAR\r\n.\r\n");
    return h_s(h, verdict);
}

static void message_refused(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it;
    hello(&h, "250 mx\r\n");
    it = send_message(&h, "554 5.7.1 Message contains virus: rejected.\r\n");
    CHECK(it->explain == TXT_SMTP_EOD_REFUSED && it->explain2 == TXT_SMTP_E_X_7_1 && PH(it, DATA));
    it = send_message(&h, "554 rejected\r\n");
    CHECK(it->explain == TXT_SMTP_EOD_REFUSED && it->explain2 == TXT_SMTP_R554);
}

/* The EHLO's reply is not in the capture (Suricata's bug-6053 shape): the
 * 334 can only answer AUTH (RFC 4954 §4) and replies come in order (RFC 2920
 * §3.1), so the EHLO is settled there and the 235 is the login's result, the
 * next 250 MAIL's: not every reply one command late. */
static void reply_missing_before_auth(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it, *auth, *mail;
    h_s(&h, "220 mx ESMTP\r\n");
    h_c(&h, "EHLO client.example\r\n");
    auth = h_c(&h, "AUTH LOGIN\r\n");
    it = h_s(&h, "334 VXNlcm5hbWU6\r\n");
    CHECK(it->kind == ME_KIND_CHALLENGE && it->request_in == auth->frame);
    h_c(&h, "Y2FybA==\r\n");
    h_s(&h, "334 UGFzc3dvcmQ6\r\n");
    h_c(&h, "c2VjcmV0\r\n");
    it = h_s(&h, "235 ok, go ahead (#2.0.0)\r\n");
    CHECK(it->explain == TXT_SMTP_AUTH_OK && it->auth && it->auth->result == ME_RESULT_SUCCESS);
    mail = h_c(&h, "MAIL FROM:<carl@example.org>\r\n");
    CHECK(PH(mail, ENVELOPE) && !(mail->flags & ME_W_WRONG_PHASE));
    it = h_s(&h, "250 ok\r\n");
    CHECK(it->request_in == mail->frame && it->explain == TXT_SMTP_MAIL_OK && !it->auth);
}

/* The reply to a STARTTLS, or to a MAIL, is not in the capture, and a 334
 * follows the client's AUTH: the server could answer AUTH in clear only if
 * STARTTLS was refused (RFC 3207 §4) and only outside a transaction, so the
 * MAIL was refused (RFC 4954 §4).  The 334 opens auth; the retried MAIL is
 * no nested MAIL.  (A tester's crafted shapes.) */
static void settled_by_334(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it;
    hello(&h, "250-mx\r\n250-STARTTLS\r\n250 AUTH LOGIN\r\n");
    h_c(&h, "STARTTLS\r\n");
    h_c(&h, "AUTH LOGIN\r\n");
    it = h_s(&h, "334 VXNlcm5hbWU6\r\n");
    CHECK(it->kind == ME_KIND_CHALLENGE && PH(it, AUTH) && it->phase_start && it->tls_refused);
    h_c(&h, "Ym9i\r\n");
    h_s(&h, "334 UGFzc3dvcmQ6\r\n");
    h_c(&h, "cmlnaHQ=\r\n");
    it = h_s(&h, "235 ok\r\n");
    CHECK(PH(it, AUTH) && it->auth && it->auth->result == ME_RESULT_SUCCESS && it->tls_refused);
    it = h_c(&h, "MAIL FROM:<b@example.org>\r\n");
    CHECK(PH(it, ENVELOPE) && !(it->flags & ME_W_WRONG_PHASE));

    h = h_new(ME_PROTO_SMTP, false, true);
    hello(&h, "250-mx\r\n250 AUTH LOGIN\r\n");
    h_c(&h, "MAIL FROM:<a@example.org>\r\n");
    h_c(&h, "AUTH LOGIN\r\n");
    it = h_s(&h, "334 VXNlcm5hbWU6\r\n");
    CHECK(PH(it, AUTH) && it->phase_start && !it->tls_refused);
    h_c(&h, "Ym9i\r\n");
    h_s(&h, "334 UGFzc3dvcmQ6\r\n");
    h_c(&h, "cmlnaHQ=\r\n");
    h_s(&h, "235 ok\r\n");
    it = h_c(&h, "MAIL FROM:<a@example.org>\r\n");
    CHECK(PH(it, ENVELOPE) && !(it->flags & ME_W_WRONG_PHASE)); /* not a nested MAIL */

    /* BDAT ... LAST ends the transaction when accepted (RFC 3030 §2), after
     * which AUTH is valid again: its lost reply was a success, and the next
     * MAIL opens a new transaction, no nested one */
    h = h_new(ME_PROTO_SMTP, false, true);
    hello(&h, "250-mx\r\n250-CHUNKING\r\n250 AUTH LOGIN\r\n");
    h_c(&h, "MAIL FROM:<a@example.org>\r\n");
    h_s(&h, "250 ok\r\n");
    h_c(&h, "RCPT TO:<b@example.org>\r\n");
    h_s(&h, "250 ok\r\n");
    h_c(&h, "BDAT 4 LAST\r\nhi\r\n");
    it = h_c(&h, "AUTH LOGIN\r\n"); /* valid once the message is settled */
    CHECK(PH(it, AUTH) && it->phase_start && !(it->flags & ME_W_WRONG_PHASE));
    it = h_s(&h, "334 VXNlcm5hbWU6\r\n");
    CHECK(PH(it, AUTH) && it->kind == ME_KIND_CHALLENGE);
    h_c(&h, "Ym9i\r\n");
    h_s(&h, "334 UGFzc3dvcmQ6\r\n");
    h_c(&h, "cmlnaHQ=\r\n");
    it = h_s(&h, "235 ok\r\n");
    CHECK(it->auth && it->auth->result == ME_RESULT_SUCCESS);
    it = h_c(&h, "MAIL FROM:<a@example.org>\r\n");
    CHECK(PH(it, ENVELOPE) && !(it->flags & ME_W_WRONG_PHASE));
}

/* An early talker writes in two segments, and the server's side is in the
 * capture (its bare ACKs, me_session_seen): both lines were sent before the
 * greeting and stay in it (RFC 5321 §3.1). */
static void early_talker_two_segments(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it;
    it = h_c(&h, "EHLO client.example\r\n");
    CHECK(PH(it, GREETING) && (it->flags & ME_W_WRONG_PHASE));
    me_session_seen(h.s, ME_SERVER);
    it = h_c(&h, "MAIL FROM:<a@example.org>\r\n");
    CHECK(PH(it, GREETING) && (it->flags & ME_W_WRONG_PHASE) && !it->phase_start);
    it = h_s(&h, "220 mx.example ESMTP\r\n");
    CHECK(PH(it, GREETING) && !it->phase_start);
    it = h_s(&h, "250 mx.example\r\n");
    CHECK(PH(it, HELLO) && it->phase_start);
    it = h_s(&h, "250 ok\r\n");
    CHECK(PH(it, ENVELOPE) && it->phase_start);
}

/* Only 535 (or x.7.8) says the credentials were invalid (RFC 4954 §6); 504,
 * 538 and 454 refused the attempt without judging a secret, and a 501 after
 * the client's "*" confirms a cancel (§4).  Only the first is a failed login
 * to count (ME_W_LOGIN_FAILED). */
static void auth_failure_kinds(void)
{
    static const struct { const char *reply; me_failure why; } cases[] = {
        {"535 5.7.8 Authentication credentials invalid\r\n", ME_FAIL_CREDENTIALS},
        {"554 5.7.8 Error: authentication failed\r\n", ME_FAIL_CREDENTIALS},
        {"538 5.7.11 Encryption required for requested authentication mechanism\r\n", ME_FAIL_REFUSED},
        {"454 4.7.0 Temporary authentication failure\r\n", ME_FAIL_REFUSED},
        {"534 5.7.9 Authentication mechanism is too weak\r\n", ME_FAIL_REFUSED}};
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        h_sess h = h_new(ME_PROTO_SMTP, false, true);
        me_item *it;
        hello(&h, "250-mx\r\n250 AUTH PLAIN LOGIN CRAM-MD5\r\n");
        h_c(&h, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
        it = h_s(&h, cases[i].reply);
        CHECK(it->auth && it->auth->result == ME_RESULT_FAILURE && it->auth->failure == cases[i].why);
        CHECK(!(it->flags & ME_W_LOGIN_FAILED) == (cases[i].why != ME_FAIL_CREDENTIALS));
    }
    {   /* a mechanism refused before any response: no secret was judged */
        h_sess h = h_new(ME_PROTO_SMTP, false, true);
        me_item *it;
        hello(&h, "250-mx\r\n250 AUTH PLAIN\r\n");
        h_c(&h, "AUTH CRAM-MD5\r\n");
        it = h_s(&h, "504 5.5.4 Unrecognized authentication type\r\n");
        CHECK(it->auth && it->auth->failure == ME_FAIL_REFUSED && !(it->flags & ME_W_LOGIN_FAILED));
        /* Postfix answers a mechanism it lacks with 535 5.7.8: nothing was
         * sent to judge, and the record says so over the code's claim */
        h_c(&h, "AUTH XFOO\r\n");
        it = h_s(&h, "535 5.7.8 Error: authentication failed: Invalid authentication mechanism\r\n");
        CHECK(it->auth && it->auth->failure == ME_FAIL_REFUSED && !(it->flags & ME_W_LOGIN_FAILED));
        CHECK(it->explain2 == TXT_AUTH_NOTHING_SENT);
    }
    {   /* the client cancels: the 501 confirms it */
        h_sess h = h_new(ME_PROTO_SMTP, false, true);
        me_item *it;
        hello(&h, "250-mx\r\n250 AUTH LOGIN\r\n");
        h_c(&h, "AUTH LOGIN\r\n");
        h_s(&h, "334 VXNlcm5hbWU6\r\n");
        h_c(&h, "*\r\n");
        it = h_s(&h, "501 5.7.0 Authentication aborted\r\n");
        CHECK(it->auth && it->auth->failure == ME_FAIL_CANCELLED && it->explain == TXT_SMTP_AUTH_CANCELLED);
        CHECK(!(it->flags & ME_W_LOGIN_FAILED));
    }
}

int main(void)
{
    auth_failure_kinds();
    message_refused();
    settled_by_334();
    early_talker_two_segments();
    reply_missing_before_auth();
    ehlo_caps();
    auth_plain_ir_and_two_step();
    auth_login_shapes();
    cram_md5_fail_then_success();
    cancel_xoauth2_ntlm();
    pipelining_body_lookalikes();
    data_split_and_big_body();
    bdat_chunks();
    rset_multi_rcpt();
    data_refused_after_pipelined_body();
    starttls();
    mid_session();
    garbage_and_errors();
    char_at_a_time_and_pipe_connect();
    segmentation_does_not_matter();
    every_text_has_both_languages();
    return h_done("test_smtp");
}
