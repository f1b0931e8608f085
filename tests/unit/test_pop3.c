/* test_pop3.c - POP3 engine, fed as transcripts (RFC 1939 §10 dialogue and friends) */
#include "harness.h"

static void rfc1939_example(void)
{
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    me_item *it;
    it = h_s(&h, "+OK POP3 server ready <1896.697170952@dbc.mit.edu>\r\n");
    CHECK(it->phase == ME_PHASE_AUTH && it->phase_start && it->status == ME_STATUS_OK);
    CHECK(it->explain2 == TXT_POP3_GREETING_APOP);
    it = h_c(&h, "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
    CHECK(it->phase == ME_PHASE_AUTH && !it->phase_start);
    CHECK_STR(it->command, "APOP");
    CHECK_STR(it->auth->mechanism, "APOP");
    CHECK_STR(it->auth->username, "mrose");
    CHECK_STR(it->auth->challenge, "<1896.697170952@dbc.mit.edu>");
    CHECK_STR(it->auth->digest, "c4c9334bac560ecc979e58001b3e22fb");
    CHECK(it->flags & ME_W_HASH);
    CHECK(!it->cleartext);
    it = h_s(&h, "+OK mrose's maildrop has 2 messages (320 octets)\r\n");
    CHECK(it->phase == ME_PHASE_AUTH && it->auth && it->auth->result == ME_RESULT_SUCCESS);
    CHECK(it->request_in == 2);
    it = h_c(&h, "STAT\r\n");
    CHECK(it->phase == ME_PHASE_TRANSACTION && it->phase_start);
    CHECK_STR(it->session_user, "mrose");
    h_s(&h, "+OK 2 320\r\n");
    h_c(&h, "LIST\r\n");
    it = h_s(&h, "+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n");
    CHECK(it->kind == ME_KIND_REPLY && it->explain == TXT_POP3_LISTING_OK);
    h_c(&h, "RETR 1\r\n");
    /* a body full of protocol-looking lines, dot-stuffed */
    it = h_s(&h, "+OK 120 octets\r\nUSER mallory\r\nPASS stolen\r\n+OK fake\r\n..\r\n");
    CHECK(it->kind == ME_KIND_REPLY && it->next && it->next->kind == ME_KIND_DATA);
    CHECK(it->next->next == NULL);
    it = h_s(&h, "-ERR nope\r\n.\r\n");
    CHECK(it->kind == ME_KIND_DATA && it->next == NULL);
    it = h_c(&h, "DELE 1\r\n");
    CHECK(it->kind == ME_KIND_COMMAND && it->phase == ME_PHASE_TRANSACTION && !it->phase_start);
    h_s(&h, "+OK message 1 deleted\r\n");
    it = h_c(&h, "QUIT\r\n");
    CHECK(it->phase == ME_PHASE_TRANSACTION && !it->phase_start);
    it = h_s(&h, "+OK dewey POP3 server signing off (1 message left)\r\n");
    CHECK(it->phase == ME_PHASE_UPDATE && it->phase_start);
    CHECK(it->explain == TXT_POP3_QUIT_UPDATE);
}

static void fail_then_other_user(void)
{
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    me_item *it;
    h_s(&h, "+OK ready\r\n");
    it = h_c(&h, "USER alice\r\n");
    CHECK(it->auth && it->auth->attempt == 1);
    h_s(&h, "+OK\r\n");
    it = h_c(&h, "PASS wrong\r\n");
    CHECK_STR(it->auth->password, "wrong");
    CHECK(it->cleartext && (it->flags & ME_W_CLEARTEXT));
    it = h_s(&h, "-ERR [AUTH] Authentication failed.\r\n");
    CHECK(it->auth->result == ME_RESULT_FAILURE && (it->flags & ME_W_LOGIN_FAILED));
    CHECK_STR(it->auth->username, "alice");
    it = h_c(&h, "USER bob\r\n");
    CHECK(it->auth->attempt == 2);
    h_s(&h, "+OK\r\n");
    it = h_c(&h, "PASS b0b pass\r\n");
    CHECK_STR(it->auth->username, "bob");
    CHECK_STR(it->auth->password, "b0b pass");
    CHECK_STR(it->masked, "********");
    it = h_s(&h, "+OK Logged in.\r\n");
    CHECK(it->auth->result == ME_RESULT_SUCCESS && it->auth->attempt == 2);
    CHECK_STR(it->auth->username, "bob");
}

static void sasl_and_pipelining(void)
{
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    me_item *it;
    h_s(&h, "+OK ready\r\n");
    h_c(&h, "CAPA\r\n");
    h_s(&h, "+OK\r\nUSER\r\nSASL PLAIN LOGIN\r\nSTLS\r\nPIPELINING\r\n.\r\n");
    it = h_c(&h, "AUTH LOGIN\r\n");
    CHECK_STR(it->auth->mechanism, "LOGIN");
    it = h_s(&h, "+ VXNlcm5hbWU6\r\n");
    CHECK(it->kind == ME_KIND_CHALLENGE && it->status == ME_STATUS_CONTINUE);
    it = h_c(&h, "YWxpY2U=\r\n");
    CHECK(it->kind == ME_KIND_SASL);
    CHECK_STR(it->auth->username, "alice");
    CHECK(!it->cleartext);
    h_s(&h, "+ UGFzc3dvcmQ6\r\n");
    it = h_c(&h, "YWxpY2Vwdw==\r\n");
    CHECK_STR(it->auth->password, "alicepw");
    CHECK(it->cleartext);
    CHECK(it->flags & ME_W_TLS_SKIPPED); /* STLS was offered in CAPA */
    CHECK(it->flags & ME_W_BASE64);
    it = h_s(&h, "+OK Logged in.\r\n");
    CHECK(it->auth->result == ME_RESULT_SUCCESS);
    it = h_c(&h, "STAT\r\nLIST\r\nRETR 1\r\n");
    CHECK(h_nth(it, 2) && h_nth(it, 2)->kind == ME_KIND_COMMAND && !h_nth(it, 3));
    CHECK_STR(h_nth(it, 1)->command, "LIST");
    it = h_s(&h, "+OK 1 10\r\n+OK 1 messages\r\n1 10\r\n.\r\n+OK 10 octets\r\nQUIT\r\n.\r\n");
    CHECK(it->request_in == 10 && h_nth(it, 1)->request_in == 10 && it->explain == TXT_POP3_STAT_OK);
    CHECK(h_nth(it, 1)->explain == TXT_POP3_LISTING_OK);
    CHECK(h_nth(it, 3) && h_nth(it, 3)->explain == TXT_POP3_RETR_OK);
    CHECK(h_nth(it, 4) && h_nth(it, 4)->kind == ME_KIND_DATA && !h_nth(it, 5));
}

static void auth_plain_cancel_and_split(void)
{
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    me_item *it;
    h_s(&h, "+OK ready\r\n");
    it = h_c(&h, "AUTH PLAIN\r\n");
    h_s(&h, "+ \r\n");
    it = h_c(&h, "*\r\n");
    CHECK(it->explain == TXT_SASL_CANCEL);
    it = h_s(&h, "-ERR Authentication aborted\r\n");
    CHECK(it->auth && it->auth->result == ME_RESULT_FAILURE);
    it = h_c(&h, "AUTH PLAIN AGFsaWNlAGFsaWNlcHc=\r\n");
    CHECK(it->auth->attempt == 2);
    CHECK_STR(it->auth->username, "alice");
    CHECK_STR(it->auth->password, "alicepw");
    CHECK_STR(it->masked, "PLAIN ********");
    h_s(&h, "+OK\r\n");
    /* a command split over three segments */
    it = h_c(&h, "ST");
    CHECK(it->kind == ME_KIND_DATA && it->explain == TXT_PARTIAL_LINE);
    it = h_c(&h, "A");
    CHECK(it->kind == ME_KIND_DATA);
    it = h_c(&h, "T\r\n");
    CHECK(it->kind == ME_KIND_COMMAND);
    CHECK_STR(it->command, "STAT");
    CHECK(it->phase == ME_PHASE_TRANSACTION);
}

static void wrong_phase_and_quit_in_auth(void)
{
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    me_item *it;
    h_s(&h, "+OK ready\r\n");
    it = h_c(&h, "STAT\r\n");
    CHECK((it->flags & ME_W_WRONG_PHASE) && it->wrong_phase == ME_PHASE_AUTH);
    h_s(&h, "-ERR Unknown AUTHORIZATION state command\r\n");
    it = h_c(&h, "QUIT\r\n");
    CHECK(!(it->flags & ME_W_WRONG_PHASE));
    it = h_s(&h, "+OK bye\r\n");
    CHECK(it->phase == ME_PHASE_AUTH && it->explain == TXT_POP3_QUIT_OK);
}

static void mid_session(void)
{
    h_sess h = h_new(ME_PROTO_POP3, false, false);
    me_item *it;
    it = h_s(&h, "Subject: hello\r\n");
    CHECK(it->inferred && (it->flags & ME_W_MIDSESSION) && it->phase == ME_PHASE_TRANSACTION);
    it = h_s(&h, "USER x\r\n.\r\n");
    CHECK(it->kind == ME_KIND_DATA && it->next == NULL);
    it = h_c(&h, "DELE 1\r\n");
    CHECK(it->kind == ME_KIND_COMMAND && it->inferred && !(it->flags & ME_W_MIDSESSION));
    CHECK(!(it->flags & ME_W_WRONG_PHASE));
}

static void tls(void)
{
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    me_item *it;
    h_s(&h, "+OK ready\r\n");
    h_c(&h, "STLS\r\n");
    it = h_s(&h, "+OK Begin TLS negotiation now\r\n");
    CHECK(it->flags & ME_W_TLS_START);
    it = h_c(&h, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03USER x\r\nPASS y\r\n");
    CHECK(it->kind == ME_KIND_TLS && it->phase == ME_PHASE_TLS && it->phase_start && it->tls);
    CHECK(it->auth == NULL && it->next == NULL);
}

static void garbage(void)
{
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    me_item *it;
    char big[40000];
    memset(big, 'A', sizeof(big));
    h_s(&h, "+OK ready\r\n");
    it = h_feed(&h, ME_CLIENT, "\x00\xff\x01\r\n", 5);
    CHECK(it && it->kind == ME_KIND_COMMAND);
    it = h_feed(&h, ME_CLIENT, big, sizeof(big));
    CHECK(it && it->kind == ME_KIND_DATA);
    it = h_c(&h, "\r\nNOOP\r\n");
    CHECK(it && (it->flags & ME_W_OVERLONG));
    CHECK(it->next && it->next->command && strcmp(it->next->command, "NOOP") == 0);
    /* a server line that is no status, listing or challenge keeps its bytes
     * (a tester's zeek capture: "GARBAGE (and LIST response missing .)") */
    h_s(&h, "+OK\r\n");
    it = h_s(&h, "GARBAGE (and LIST response missing .)\r\n");
    CHECK(it && it->kind == ME_KIND_UNKNOWN && it->explain == TXT_UNKNOWN_LINE && (it->flags & ME_W_MALFORMED));
    CHECK_STR(it->argument, "GARBAGE (and LIST response missing .)");
}

/* What a -ERR to a login says of the secret: its response code (RFC 2449
 * §8.1, RFC 3206 §4), or nothing (a plain -ERR: the credentials); a PASS
 * sent in TRANSACTION is refused as a command, not judged (RFC 1939 §7). */
static void login_failure_codes(void)
{
    static const struct { const char *reply; me_failure why; me_text_id code; } cases[] = {
        {"-ERR invalid password\r\n", ME_FAIL_CREDENTIALS, TXT_NONE},
        {"-ERR [AUTH] Authentication failed.\r\n", ME_FAIL_CREDENTIALS, TXT_POP3_CODE_AUTH},
        {"-ERR [IN-USE] Unable to lock maildrop\r\n", ME_FAIL_AUTHORIZATION, TXT_POP3_CODE_IN_USE},
        {"-ERR [SYS/TEMP] Try again later\r\n", ME_FAIL_REFUSED, TXT_POP3_CODE_SYS_TEMP},
        {"-ERR [LOGIN-DELAY] Too soon\r\n", ME_FAIL_REFUSED, TXT_POP3_CODE_LOGIN_DELAY}};
    size_t i;
    h_sess h;
    me_item *it;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        h = h_new(ME_PROTO_POP3, false, true);
        h_s(&h, "+OK ready\r\n");
        h_c(&h, "USER alice\r\n");
        h_s(&h, "+OK\r\n");
        h_c(&h, "PASS secret\r\n");
        it = h_s(&h, cases[i].reply);
        CHECK(it->auth && it->auth->result == ME_RESULT_FAILURE && it->auth->failure == cases[i].why);
        CHECK(it->explain == TXT_POP3_LOGIN_ERR && it->explain2 == cases[i].code);
        CHECK(!(it->flags & ME_W_LOGIN_FAILED) == (cases[i].why != ME_FAIL_CREDENTIALS));
    }
    h = h_new(ME_PROTO_POP3, false, true);
    h_s(&h, "+OK ready\r\n");
    h_c(&h, "USER alice\r\n");
    h_s(&h, "+OK\r\n");
    h_c(&h, "PASS secret\r\n");
    h_s(&h, "+OK logged in\r\n");
    it = h_c(&h, "PASS again\r\n");
    CHECK(it->flags & ME_W_WRONG_PHASE);
    it = h_s(&h, "-ERR Unknown command\r\n");
    CHECK(!it->auth || it->auth->failure == ME_FAIL_REFUSED);
    CHECK(!(it->flags & ME_W_LOGIN_FAILED));

    /* a USER refused before any password (Dovecot without TLS): nothing
     * was there to judge, whatever [AUTH] says (RFC 3206 §4: also policy) */
    h = h_new(ME_PROTO_POP3, false, true);
    h_s(&h, "+OK ready\r\n");
    h_c(&h, "USER bob\r\n");
    it = h_s(&h, "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n");
    CHECK(it->auth && it->auth->failure == ME_FAIL_REFUSED && !(it->flags & ME_W_LOGIN_FAILED));
    CHECK(it->explain2 == TXT_AUTH_NOTHING_SENT);

    /* PASS with no USER before it (RFC 1939 §7): out of sequence */
    h = h_new(ME_PROTO_POP3, false, true);
    h_s(&h, "+OK ready\r\n");
    h_c(&h, "PASS pw11\r\n");
    it = h_s(&h, "-ERR No username given.\r\n");
    CHECK(it->auth && it->auth->failure == ME_FAIL_REFUSED && !(it->flags & ME_W_LOGIN_FAILED));
}

/* Client side only, handshake captured: the client's acknowledgement of
 * server bytes the capture lacks says the greeting was sent (RFC 9293
 * §3.4), so the session is at its start in AUTHORIZATION (RFC 1939 §4), not
 * mid-session; STAT after PASS opens TRANSACTION as if sent alone. */
static void client_only_from_start(void)
{
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    me_item *it;
    me_session_unseen(h.s, ME_SERVER, 49);
    it = h_c(&h, "USER alice\r\n");
    CHECK(it->phase == ME_PHASE_AUTH && !it->inferred && !(it->flags & ME_W_MIDSESSION));
    h_c(&h, "PASS alicepw\r\n");
    it = h_c(&h, "STAT\r\n");
    CHECK(it->phase == ME_PHASE_TRANSACTION && it->phase_start && !it->inferred &&
          !(it->flags & ME_W_WRONG_PHASE));
}

int main(void)
{
    client_only_from_start();
    login_failure_codes();
    rfc1939_example();
    fail_then_other_user();
    sasl_and_pipelining();
    auth_plain_cancel_and_split();
    wrong_phase_and_quit_in_auth();
    mid_session();
    tls();
    garbage();
    return h_done("test_pop3");
}
