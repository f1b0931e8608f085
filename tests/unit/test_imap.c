/* test_imap.c - IMAP engine, fed as transcripts (RFC 9051 §8 dialogue and friends) */
#include <zlib.h>
#include "harness.h"
#include "report.h"

#include <stdlib.h>

/* A lookalike message: lines that are IMAP syntax but content of a literal. */
static const char lookalike[] = "From: Mallory <m@example.test>\r\n"
                                "Subject: lines that look like IMAP\r\n"
                                "\r\n"
                                "a1 LOGIN x y\r\n"
                                "* OK fake greeting\r\n"
                                "a2 SELECT INBOX\r\n"
                                "+ go ahead\r\n"
                                "* BYE fake\r\n"
                                "{5}\r\n";

static h_sess logged_in(const char *greeting)
{
    h_sess h = h_new(ME_PROTO_IMAP, false, true);
    h_s(&h, greeting ? greeting : "* OK IMAP4rev1 ready\r\n");
    h_c(&h, "l1 LOGIN alice alicepw\r\n");
    h_s(&h, "l1 OK Logged in\r\n");
    return h;
}

static int count_auth(me_item *it)
{
    int n = 0;
    for (; it; it = it->next)
        n += it->auth != NULL;
    return n;
}

static void rfc_dialogue(void)
{
    h_sess h = h_new(ME_PROTO_IMAP, false, true);
    me_item *it, *r;
    char buf[1024];

    it = h_s(&h, "* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN LOGINDISABLED] IMAP4rev1 Service Ready\r\n");
    CHECK(it->phase == ME_PHASE_AUTH && it->phase_start && it->status == ME_STATUS_OK);
    CHECK(it->explain == TXT_IMAP_GREETING && it->explain2 == TXT_IMAP_CODE_CAPABILITY);
    CHECK(!it->inferred);
    /* the line as sent after "* ": its status word decides the state (RFC 9051 §7.1) */
    CHECK_STR(it->argument, "OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN LOGINDISABLED] IMAP4rev1 Service Ready");
    it = h_c(&h, "a001 CAPABILITY\r\n");
    CHECK_STR(it->command, "CAPABILITY");
    CHECK_STR(it->tag, "a001");
    CHECK(it->explain == TXT_IMAP_CAPABILITY && it->phase == ME_PHASE_AUTH && !it->phase_start);
    it = h_s(&h, "* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN LOGINDISABLED\r\na001 OK CAPABILITY completed\r\n");
    CHECK(it->explain == TXT_IMAP_CAPABILITY_DATA && it->explain2 == TXT_IMAP_CAP_LOGINDISABLED);
    CHECK(it->request_in == 2 && it->status == ME_STATUS_NONE);
    r = h_nth(it, 1);
    CHECK(r && r->explain == TXT_IMAP_TAGGED_OK && r->status == ME_STATUS_OK && r->request_in == 2);
    CHECK_STR(r->tag, "a001");
    it = h_c(&h, "a002 LOGIN alice alicepw\r\n");
    CHECK_STR(it->command, "LOGIN");
    CHECK_STR(it->auth->mechanism, "IMAP-LOGIN");
    CHECK_STR(it->auth->username, "alice");
    CHECK_STR(it->auth->password, "alicepw");
    CHECK_STR(it->masked, "alice ********");
    CHECK(it->cleartext && (it->flags & ME_W_CLEARTEXT));
    CHECK(it->flags & ME_W_LOGIN_DISABLED);
    CHECK(it->flags & ME_W_TLS_SKIPPED); /* STARTTLS was offered */
    CHECK(it->auth->attempt == 1);
    it = h_s(&h, "a002 OK [CAPABILITY IMAP4rev1 IDLE UNSELECT MOVE] User logged in\r\n");
    CHECK(it->phase == ME_PHASE_AUTH && it->explain == TXT_IMAP_LOGIN_OK);
    CHECK(it->explain2 == TXT_IMAP_CODE_CAPABILITY);
    CHECK(it->auth && it->auth->result == ME_RESULT_SUCCESS && it->request_in == 4);
    it = h_c(&h, "a003 SELECT INBOX\r\n");
    CHECK(it->phase == ME_PHASE_AUTHENTICATED && it->phase_start);
    CHECK_STR(it->session_user, "alice");
    CHECK_STR(it->mailbox, "INBOX");
    CHECK(!(it->flags & ME_W_WRONG_PHASE));
    it = h_s(&h, "* 172 EXISTS\r\n* 1 RECENT\r\n* OK [UNSEEN 12] Message 12 is first unseen\r\n"
                 "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n* OK [UIDNEXT 4392] Predicted next UID\r\n"
                 "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
                 "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n"
                 "a003 OK [READ-WRITE] SELECT completed\r\n");
    CHECK(it->explain == TXT_IMAP_EXISTS && it->request_in == 6);
    CHECK(h_nth(it, 1)->explain == TXT_IMAP_RECENT);
    CHECK(h_nth(it, 2)->explain == TXT_IMAP_UNTAGGED_OK && h_nth(it, 2)->explain2 == TXT_IMAP_CODE_UNSEEN);
    CHECK(h_nth(it, 3)->explain2 == TXT_IMAP_CODE_UIDVALIDITY);
    CHECK_STR(h_nth(it, 3)->detail, "UIDVALIDITY 3857529045");
    CHECK(h_nth(it, 4)->explain2 == TXT_IMAP_CODE_UIDNEXT);
    CHECK(h_nth(it, 5)->explain == TXT_IMAP_FLAGS_DATA);
    CHECK(h_nth(it, 6)->explain2 == TXT_IMAP_CODE_PERMANENTFLAGS);
    r = h_nth(it, 7);
    CHECK(r && r->explain == TXT_IMAP_SELECT_OK && r->explain2 == TXT_IMAP_CODE_READ_WRITE);
    CHECK(r->phase == ME_PHASE_AUTHENTICATED && r->request_in == 6 && !h_nth(it, 8));
    CHECK_STR(r->mailbox, "INBOX");
    it = h_c(&h, "a004 FETCH 12 BODY[]\r\n");
    CHECK(it->phase == ME_PHASE_SELECTED && it->phase_start && !(it->flags & ME_W_WRONG_PHASE));
    CHECK_STR(it->mailbox, "INBOX");
    /* a literal full of protocol lookalikes, split in the middle of a line */
    snprintf(buf, sizeof(buf), "* 12 FETCH (BODY[] {%u}\r\n", (unsigned)strlen(lookalike));
    it = h_s(&h, buf);
    CHECK(it->explain == TXT_IMAP_FETCH_DATA && it->request_in == 8 && !it->next);
    CHECK_STR(it->mailbox, "INBOX");
    it = h_feed(&h, ME_SERVER, lookalike, 60);
    CHECK(it->kind == ME_KIND_DATA && it->data_len == 60 && it->explain == TXT_IMAP_LITERAL && !it->next);
    CHECK_STR(it->mailbox, "INBOX");
    it = h_feed(&h, ME_SERVER, lookalike + 60, strlen(lookalike) - 60);
    CHECK(it->kind == ME_KIND_DATA && !it->next && it->auth == NULL);
    it = h_s(&h, ")\r\na004 OK FETCH completed\r\n");
    CHECK(it->kind == ME_KIND_DATA && it->explain == TXT_IMAP_LINE_REST);
    r = h_nth(it, 1);
    CHECK(r && r->explain == TXT_IMAP_TAGGED_OK && r->request_in == 8 && !r->next);
    CHECK(me_session_phase(h.s) == ME_PHASE_SELECTED);
    it = h_c(&h, "a005 UID FETCH 1:* (FLAGS)\r\n");
    CHECK_STR(it->command, "UID FETCH");
    CHECK_STR(it->argument, "1:* (FLAGS)");
    CHECK(it->explain == TXT_IMAP_FETCH && it->explain2 == TXT_IMAP_UID);
    it = h_s(&h, "* 1 FETCH (UID 10 FLAGS (\\Seen))\r\na005 OK UID FETCH completed\r\n");
    CHECK(it->request_in == 13 && h_nth(it, 1)->request_in == 13);
    h_c(&h, "a006 STORE 1 +FLAGS (\\Deleted)\r\n");
    h_s(&h, "* 1 FETCH (FLAGS (\\Deleted \\Seen))\r\na006 OK STORE completed\r\n");
    h_c(&h, "a007 EXPUNGE\r\n");
    it = h_s(&h, "* 1 EXPUNGE\r\na007 OK EXPUNGE completed\r\n");
    CHECK(it->explain == TXT_IMAP_EXPUNGE_DATA && it->request_in == 17);
    it = h_c(&h, "a008 CLOSE\r\n");
    CHECK(it->phase == ME_PHASE_SELECTED);
    it = h_s(&h, "a008 OK CLOSE completed\r\n");
    CHECK(it->explain == TXT_IMAP_CLOSE_OK && it->phase == ME_PHASE_SELECTED);
    CHECK_STR(it->mailbox, "INBOX");
    it = h_c(&h, "a009 LOGOUT\r\n");
    CHECK(it->phase == ME_PHASE_AUTHENTICATED && it->phase_start && it->mailbox == NULL);
    it = h_s(&h, "* BYE IMAP4rev1 Server logging out\r\na009 OK LOGOUT completed\r\n");
    CHECK(it->phase == ME_PHASE_LOGOUT && it->phase_start && it->explain == TXT_IMAP_BYE_LOGOUT);
    CHECK(h_nth(it, 1)->phase == ME_PHASE_LOGOUT && h_nth(it, 1)->explain == TXT_IMAP_LOGOUT_OK);
    CHECK(h_nth(it, 1)->request_in == 21);
}

static void login_forms(void)
{
    h_sess h;
    me_item *it, *c;

    /* quoted strings with escapes */
    h = h_new(ME_PROTO_IMAP, false, true);
    h_s(&h, "* OK ready\r\n");
    it = h_c(&h, "a1 LOGIN \"carol\" \"c\\\"q\\\\x\"\r\n");
    CHECK_STR(it->auth->username, "carol");
    CHECK_STR(it->auth->password, "c\"q\\x");
    CHECK_STR(it->masked, "\"carol\" ********");
    CHECK(!(it->flags & ME_W_MALFORMED) && !(it->flags & ME_W_LOGIN_DISABLED));
    CHECK(!(it->flags & ME_W_TLS_SKIPPED)); /* STARTTLS never offered */
    it = h_c(&h, "a2 LOGIN \"bob\" \"b0b pass\"\r\n");
    CHECK_STR(it->auth->username, "bob");
    CHECK_STR(it->auth->password, "b0b pass");

    /* the password as a synchronizing literal */
    h = h_new(ME_PROTO_IMAP, false, true);
    h_s(&h, "* OK ready\r\n");
    it = h_c(&h, "a1 LOGIN alice {7}\r\n");
    CHECK(it->kind == ME_KIND_DATA && it->explain == TXT_IMAP_LITERAL_WAIT && !it->next);
    it = h_s(&h, "+ Ready for literal data\r\n");
    CHECK(it->kind == ME_KIND_CHALLENGE && it->status == ME_STATUS_CONTINUE);
    CHECK(it->explain == TXT_IMAP_CONT_LITERAL && it->request_in == 2);
    it = h_c(&h, "alicepw\r\n");
    CHECK(it->kind == ME_KIND_DATA && it->data_len == 7 && it->explain == TXT_IMAP_LITERAL);
    c = h_nth(it, 1);
    CHECK(c && c->kind == ME_KIND_COMMAND && !c->next);
    CHECK_STR(c->command, "LOGIN");
    CHECK_STR(c->tag, "a1");
    CHECK_STR(c->auth->username, "alice");
    CHECK_STR(c->auth->password, "alicepw");
    CHECK_STR(c->argument, "alice {7}alicepw");
    CHECK_STR(c->masked, "alice ********");
    CHECK(c->cleartext);
    it = h_s(&h, "a1 OK Logged in\r\n");
    CHECK(it->request_in == 4 && it->auth && it->auth->result == ME_RESULT_SUCCESS);
    CHECK(h_response_in(&h, c) == 5);

    /* the user name as a literal, then the password as another */
    h = h_new(ME_PROTO_IMAP, false, true);
    h_s(&h, "* OK ready\r\n");
    h_c(&h, "a1 LOGIN {5}\r\n");
    h_s(&h, "+ \r\n");
    it = h_c(&h, "alice {7}\r\n");
    CHECK(it->kind == ME_KIND_DATA && h_nth(it, 1) && h_nth(it, 1)->explain == TXT_IMAP_LITERAL_WAIT);
    CHECK(!h_nth(it, 2));
    it = h_s(&h, "+ \r\n");
    CHECK(it->explain == TXT_IMAP_CONT_LITERAL);
    it = h_c(&h, "alicepw\r\n");
    c = h_nth(it, 1);
    CHECK_STR(c->auth->username, "alice");
    CHECK_STR(c->auth->password, "alicepw");
    CHECK_STR(c->masked, "{5}alice ********");
    h_s(&h, "a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");

    /* LITERAL+ for both, one segment */
    h = h_new(ME_PROTO_IMAP, false, true);
    h_s(&h, "* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n");
    it = h_c(&h, "a1 LOGIN {5+}\r\nalice {7+}\r\nalicepw\r\n");
    CHECK(it->explain == TXT_IMAP_LITERAL_PLUS);
    c = h_nth(it, 4);
    CHECK(c && c->kind == ME_KIND_COMMAND && !c->next);
    CHECK_STR(c->auth->username, "alice");
    CHECK_STR(c->auth->password, "alicepw");
    CHECK_STR(c->argument, "{5+}alice {7+}alicepw");
    CHECK_STR(c->masked, "{5+}alice ********");

    /* LITERAL+ cut in segments like a real client does */
    h = h_new(ME_PROTO_IMAP, false, true);
    h_s(&h, "* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n");
    it = h_c(&h, "a1 LOGIN {5+}\r\n");
    CHECK(it->kind == ME_KIND_DATA && !it->next);
    it = h_c(&h, "alice");
    CHECK(it->kind == ME_KIND_DATA && it->explain == TXT_IMAP_LITERAL && it->data_len == 5);
    CHECK(!it->cleartext && it->explain2 != TXT_IMAP_LITERAL_PASSWORD); /* the user name */
    it = h_c(&h, " {7+}\r\n");
    CHECK(it->kind == ME_KIND_DATA && it->explain == TXT_IMAP_LITERAL_PLUS);
    /* the password's first bytes: their own packet shows it crossed in clear */
    it = h_c(&h, "alic");
    CHECK(it->frame == 5 && it->cleartext && (it->flags & ME_W_CLEARTEXT) &&
          it->explain2 == TXT_IMAP_LITERAL_PASSWORD);
    it = h_c(&h, "epw");
    CHECK(it->kind == ME_KIND_DATA && !it->cleartext);
    it = h_c(&h, "\r\n");
    CHECK(it->kind == ME_KIND_COMMAND);
    /* the attempt began with the line (frame 2), its secret crossed in frame 5 */
    CHECK(it->auth->start_frame == 2 && it->auth->secret_frame == 5);
    CHECK_STR(it->auth->password, "alicepw");
    CHECK_STR(it->auth->username, "alice");
    it = h_s(&h, "a1 OK Logged in\r\n");
    CHECK(it->request_in == 7 && it->auth->result == ME_RESULT_SUCCESS);

    /* a quoted user and a literal password with a space, CRLF and quote in it */
    h = h_new(ME_PROTO_IMAP, false, true);
    h_s(&h, "* OK ready\r\n");
    h_c(&h, "a1 LOGIN \"al ice\" {6+}\r\n");
    it = h_c(&h, "p\"w\r\nx\r\n");
    c = h_nth(it, 1);
    CHECK(c && c->kind == ME_KIND_COMMAND);
    CHECK_STR(c->auth->username, "al ice");
    CHECK_STR(c->auth->password, "p\"w\r\nx");
    CHECK_STR(c->masked, "\"al ice\" ********");
}

static void login_fail_retry(void)
{
    h_sess h = h_new(ME_PROTO_IMAP, false, true);
    me_item *it;
    h_s(&h, "* OK ready\r\n");
    it = h_c(&h, "a1 LOGIN alice wrongpw\r\n");
    CHECK(it->auth->attempt == 1);
    it = h_s(&h, "a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
    CHECK(it->status == ME_STATUS_ERROR && it->explain == TXT_IMAP_LOGIN_NO);
    CHECK(it->explain2 == TXT_IMAP_CODE_AUTHENTICATIONFAILED);
    CHECK(it->auth->result == ME_RESULT_FAILURE && (it->flags & ME_W_LOGIN_FAILED));
    CHECK_STR(it->auth->username, "alice");
    it = h_c(&h, "a2 LOGIN alice alicepw\r\n");
    CHECK(it->phase == ME_PHASE_AUTH && it->auth->attempt == 2 && !(it->flags & ME_W_WRONG_PHASE));
    CHECK(it->session_user == NULL);
    it = h_s(&h, "a2 OK Logged in\r\n");
    CHECK(it->auth->result == ME_RESULT_SUCCESS && it->auth->attempt == 2);
    it = h_c(&h, "a3 LIST \"\" *\r\n");
    CHECK(it->phase == ME_PHASE_AUTHENTICATED && it->phase_start);
    CHECK_STR(it->session_user, "alice");
    it = h_s(&h, "* LIST (\\HasNoChildren) \"/\" INBOX\r\na3 OK List completed\r\n");
    CHECK(it->explain == TXT_IMAP_LIST_DATA && it->request_in == 6);
}

static void authenticate(void)
{
    h_sess h;
    me_item *it;

    /* PLAIN with SASL-IR */
    h = h_new(ME_PROTO_IMAP, false, true);
    h_s(&h, "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\r\n");
    it = h_c(&h, "a1 AUTHENTICATE PLAIN AGFsaWNlAGFsaWNlcHc=\r\n");
    CHECK_STR(it->command, "AUTHENTICATE");
    CHECK(it->explain == TXT_IMAP_AUTHENTICATE && it->explain2 == TXT_SASL_PLAIN);
    CHECK_STR(it->auth->mechanism, "PLAIN");
    CHECK_STR(it->auth->username, "alice");
    CHECK_STR(it->auth->password, "alicepw");
    CHECK_STR(it->masked, "PLAIN ********");
    CHECK(it->cleartext && (it->flags & ME_W_BASE64));
    it = h_s(&h, "a1 OK Logged in\r\n");
    CHECK(it->explain == TXT_IMAP_AUTH_OK && it->auth->result == ME_RESULT_SUCCESS);
    it = h_c(&h, "a2 LIST \"\" *\r\n");
    CHECK(it->phase == ME_PHASE_AUTHENTICATED && it->kind == ME_KIND_COMMAND);

    /* PLAIN without initial response */
    h = h_new(ME_PROTO_IMAP, false, true);
    h_s(&h, "* OK ready\r\n");
    it = h_c(&h, "a1 AUTHENTICATE PLAIN\r\n");
    CHECK_STR(it->auth->mechanism, "PLAIN");
    CHECK(it->masked == NULL);
    it = h_s(&h, "+ \r\n");
    CHECK(it->kind == ME_KIND_CHALLENGE && it->status == ME_STATUS_CONTINUE);
    CHECK(it->explain == TXT_SASL_CHALLENGE && it->explain2 == TXT_SASL_EMPTY_CHALLENGE);
    CHECK(it->request_in == 2);
    it = h_c(&h, "AGJvYgBiMGIgcGFzcw==\r\n");
    CHECK(it->kind == ME_KIND_SASL);
    CHECK_STR(it->auth->username, "bob");
    CHECK_STR(it->auth->password, "b0b pass");
    CHECK_STR(it->masked, "********");
    it = h_s(&h, "a1 OK Logged in\r\n");
    CHECK(it->auth->result == ME_RESULT_SUCCESS && it->request_in == 2);
    CHECK_STR(it->session_user, "bob");

    /* LOGIN mechanism */
    h = h_new(ME_PROTO_IMAP, false, true);
    h_s(&h, "* OK ready\r\n");
    h_c(&h, "a1 AUTHENTICATE LOGIN\r\n");
    it = h_s(&h, "+ VXNlcm5hbWU6\r\n");
    CHECK(it->explain2 == TXT_SASL_LOGIN_PROMPT_USER);
    it = h_c(&h, "Y2Fyb2w=\r\n");
    CHECK_STR(it->auth->username, "carol");
    CHECK(!it->cleartext);
    it = h_s(&h, "+ UGFzc3dvcmQ6\r\n");
    CHECK(it->explain2 == TXT_SASL_LOGIN_PROMPT_PASS);
    it = h_c(&h, "YyJxXHg=\r\n");
    CHECK_STR(it->auth->password, "c\"q\\x");
    CHECK(it->cleartext);
    it = h_s(&h, "a1 OK Logged in\r\n");
    CHECK(it->auth->result == ME_RESULT_SUCCESS);
    CHECK_STR(it->auth->mechanism, "LOGIN");

    /* CRAM-MD5 (RFC 2195 example) */
    h = h_new(ME_PROTO_IMAP, false, true);
    h_s(&h, "* OK ready\r\n");
    h_c(&h, "a1 AUTHENTICATE CRAM-MD5\r\n");
    it = h_s(&h, "+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n");
    CHECK(it->explain2 == TXT_SASL_CRAM_CHALLENGE);
    CHECK_STR(it->detail, "<1896.697170952@postoffice.reston.mci.net>");
    it = h_c(&h, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n");
    CHECK_STR(it->auth->username, "tim");
    CHECK_STR(it->auth->digest, "b913a602c7eda7a495b4e6e7334d3890");
    CHECK_STR(it->auth->challenge, "<1896.697170952@postoffice.reston.mci.net>");
    CHECK((it->flags & ME_W_HASH) && !it->cleartext);
    it = h_s(&h, "a1 OK CRAM-MD5 authentication successful\r\n");
    CHECK(it->auth->result == ME_RESULT_SUCCESS);

    /* cancel, then LOGIN */
    h = h_new(ME_PROTO_IMAP, false, true);
    h_s(&h, "* OK ready\r\n");
    h_c(&h, "a1 AUTHENTICATE PLAIN\r\n");
    h_s(&h, "+ \r\n");
    it = h_c(&h, "*\r\n");
    CHECK(it->kind == ME_KIND_SASL && it->explain == TXT_SASL_CANCEL);
    it = h_s(&h, "a1 BAD Authentication aborted by client\r\n");
    CHECK(it->status == ME_STATUS_ERROR && it->auth && it->auth->result == ME_RESULT_FAILURE);
    /* BAD, not NO (RFC 9051 §7.1.3), the answer a cancel must get (§6.2.2, not
     * a syntax error), and the client's cancel: no verdict on a secret */
    CHECK(it->bad && it->explain == TXT_IMAP_AUTH_CANCELLED && it->phase == ME_PHASE_AUTH);
    CHECK(it->auth->failure == ME_FAIL_CANCELLED && !(it->flags & ME_W_LOGIN_FAILED));
    it = h_c(&h, "a2 LOGIN alice alicepw\r\n");
    CHECK(it->kind == ME_KIND_COMMAND && it->auth->attempt == 2);
    it = h_s(&h, "a2 OK\r\n");
    CHECK(it->auth->result == ME_RESULT_SUCCESS);

    /* a command pipelined after AUTHENTICATE with an initial response */
    h = h_new(ME_PROTO_IMAP, false, true);
    h_s(&h, "* OK ready\r\n");
    it = h_c(&h, "a1 AUTHENTICATE PLAIN AGFsaWNlAGFsaWNlcHc=\r\na2 CAPABILITY\r\n");
    CHECK(it->next && it->next->kind == ME_KIND_COMMAND && !(it->next->flags & ME_W_WRONG_PHASE));
    CHECK_STR(it->next->command, "CAPABILITY");
    it = h_s(&h, "a1 OK done\r\n* CAPABILITY IMAP4rev1\r\na2 OK done\r\n");
    CHECK(it->request_in == 2 && h_nth(it, 1)->request_in == 2 && h_nth(it, 2)->request_in == 2);
    CHECK(it->auth && it->auth->result == ME_RESULT_SUCCESS);

    /* XOAUTH2 with SASL-IR: the bearer token is masked */
    h = h_new(ME_PROTO_IMAP, false, true);
    h_s(&h, "* OK ready\r\n");
    it = h_c(&h, "a1 AUTHENTICATE XOAUTH2 dXNlcj1qb2UBYXV0aD1CZWFyZXIgdG9rMTIzAQE=\r\n");
    CHECK_STR(it->auth->username, "joe");
    CHECK_STR(it->auth->token, "tok123");
    CHECK_STR(it->masked, "XOAUTH2 ********");
    CHECK(it->cleartext);
    it = h_s(&h, "a1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n");
    CHECK(it->auth && it->auth->result == ME_RESULT_FAILURE);
}

static void select_fail(void)
{
    h_sess h = logged_in(NULL);
    me_item *it;
    it = h_c(&h, "a2 SELECT Missing\r\n");
    CHECK(it->phase == ME_PHASE_AUTHENTICATED);
    it = h_s(&h, "a2 NO [NONEXISTENT] Mailbox doesn't exist: Missing\r\n");
    CHECK(it->explain == TXT_IMAP_SELECT_NO && it->explain2 == TXT_IMAP_CODE_NONEXISTENT);
    CHECK(it->mailbox == NULL);
    it = h_c(&h, "a3 EXAMINE \"INBOX\"\r\n");
    CHECK(it->phase == ME_PHASE_AUTHENTICATED && !it->phase_start);
    CHECK_STR(it->mailbox, "INBOX");
    it = h_s(&h, "* 2 EXISTS\r\na3 OK [READ-ONLY] Examine completed\r\n");
    CHECK(h_nth(it, 1)->explain == TXT_IMAP_EXAMINE_OK);
    CHECK(h_nth(it, 1)->explain2 == TXT_IMAP_CODE_READ_ONLY);
    it = h_c(&h, "a4 SELECT Missing\r\n");
    CHECK(it->phase == ME_PHASE_SELECTED && it->phase_start);
    CHECK_STR(it->mailbox, "Missing");
    it = h_s(&h, "a4 NO [NONEXISTENT] Mailbox doesn't exist: Missing\r\n");
    CHECK(it->phase == ME_PHASE_SELECTED && it->explain == TXT_IMAP_SELECT_NO);
    CHECK_STR(it->mailbox, "INBOX"); /* still the old one on the line that closes it */
    it = h_c(&h, "a5 FETCH 1 FLAGS\r\n");
    CHECK(it->phase == ME_PHASE_AUTHENTICATED && it->phase_start && it->mailbox == NULL);
    CHECK((it->flags & ME_W_WRONG_PHASE) && it->wrong_phase == ME_PHASE_AUTHENTICATED);
    h_s(&h, "a5 BAD No mailbox selected\r\n");
    /* UNSELECT */
    h_c(&h, "a6 SELECT INBOX\r\n");
    h_s(&h, "a6 OK [READ-WRITE] Select completed\r\n");
    it = h_c(&h, "a7 UNSELECT\r\n");
    CHECK(it->phase == ME_PHASE_SELECTED);
    it = h_s(&h, "a7 OK Unselect completed\r\n");
    CHECK(it->explain == TXT_IMAP_UNSELECT_OK);
    it = h_c(&h, "a8 NOOP\r\n");
    CHECK(it->phase == ME_PHASE_AUTHENTICATED && it->mailbox == NULL);
    /* a SELECT answered BAD is not carried out: the mailbox stays open ... */
    h_c(&h, "a9 SELECT INBOX\r\n");
    h_s(&h, "a9 OK [READ-WRITE] Select completed\r\n");
    h_c(&h, "b1 SELECT\r\n");
    h_s(&h, "b1 BAD Error in IMAP command SELECT: Invalid arguments\r\n");
    it = h_c(&h, "b2 FETCH 1 FLAGS\r\n");
    CHECK(it->phase == ME_PHASE_SELECTED && !(it->flags & ME_W_WRONG_PHASE));
    h_s(&h, "b2 OK Fetch completed\r\n");
    /* ... unless the server said [CLOSED] first (RFC 9051 §7.1; Dovecot):
     * the old mailbox is closed and none opened (helper 20, real Dovecot) */
    h_c(&h, "b3 SELECT\r\n");
    h_s(&h, "* OK [CLOSED] Previous mailbox closed.\r\nb3 BAD Error in IMAP command SELECT: Invalid arguments\r\n");
    it = h_c(&h, "b4 FETCH 1 FLAGS\r\n");
    CHECK(it->phase == ME_PHASE_AUTHENTICATED && it->phase_start && it->mailbox == NULL);
    CHECK((it->flags & ME_W_WRONG_PHASE) && it->wrong_phase == ME_PHASE_AUTHENTICATED);
    h_s(&h, "b4 BAD No mailbox selected\r\n");
    /* two SELECTs pipelined, the BAD first: the [CLOSED] was the other's
     * (helper 22); B opens, nothing drops to Authenticated */
    h_c(&h, "b5 SELECT INBOX\r\n");
    h_s(&h, "b5 OK [READ-WRITE] done\r\n");
    h_c(&h, "b6 SELECT B\r\nb7 SELECT\r\n");
    it = h_s(&h, "* OK [CLOSED] Previous mailbox closed.\r\nb7 BAD Invalid arguments\r\n"
                 "b6 OK [READ-WRITE] Select completed\r\n");
    CHECK(h_nth(it, 1)->phase == ME_PHASE_SELECTED && h_nth(it, 2)->phase == ME_PHASE_SELECTED);
    CHECK(!h_nth(it, 2)->phase_start);
    it = h_c(&h, "b8 FETCH 1 FLAGS\r\n");
    CHECK(it->phase == ME_PHASE_SELECTED && !(it->flags & ME_W_WRONG_PHASE));
    CHECK_STR(it->mailbox, "B");
}

static void append(void)
{
    h_sess h = logged_in(NULL);
    me_item *it, *c;
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "a2 APPEND INBOX (\\Seen) {%u}\r\n", (unsigned)strlen(lookalike));
    it = h_c(&h, cmd);
    CHECK(it->kind == ME_KIND_DATA && it->explain == TXT_IMAP_LITERAL_WAIT);
    it = h_s(&h, "+ OK\r\n");
    CHECK(it->explain == TXT_IMAP_CONT_LITERAL);
    it = h_feed(&h, ME_CLIENT, lookalike, 70);
    CHECK(it->kind == ME_KIND_DATA && !it->next);
    it = h_feed(&h, ME_CLIENT, lookalike + 70, strlen(lookalike) - 70);
    CHECK(it->kind == ME_KIND_DATA && !it->next);
    it = h_c(&h, "\r\n");
    CHECK(it->kind == ME_KIND_COMMAND && !it->next);
    CHECK_STR(it->command, "APPEND");
    CHECK(it->auth == NULL && it->phase == ME_PHASE_AUTHENTICATED);
    c = it;
    it = h_s(&h, "a2 OK [APPENDUID 1700000000 3] Append completed\r\n");
    CHECK(it->explain == TXT_IMAP_APPEND_OK && it->explain2 == TXT_IMAP_CODE_APPENDUID);
    CHECK(it->request_in == c->frame && h_response_in(&h, c) == it->frame);
    CHECK(it->auth == NULL);

    /* a literal the server refuses: its bytes never come */
    it = h_c(&h, "a3 APPEND INBOX {99999999999}\r\n");
    CHECK(it->kind == ME_KIND_DATA);
    it = h_s(&h, "a3 NO [LIMIT] Message too large\r\n");
    CHECK(it->status == ME_STATUS_ERROR && it->explain2 == TXT_IMAP_CODE_LIMIT);
    it = h_c(&h, "a4 NOOP\r\n");
    CHECK(it->kind == ME_KIND_COMMAND);
    CHECK_STR(it->command, "NOOP");
    it = h_c(&h, "a5 APPEND INBOX {3}\r\n");
    it = h_s(&h, "a5 BAD literal refused\r\n");
    CHECK(it->explain2 == TXT_IMAP_LITERAL_REFUSED && it->request_in == it->frame - 1);

    /* MULTIAPPEND with LITERAL+: two messages in one logical line */
    it = h_c(&h, "a6 APPEND INBOX {5+}\r\na1 OK (\\Seen) {4+}\r\n* OK\r\n");
    c = h_nth(it, 4);
    CHECK(c && c->kind == ME_KIND_COMMAND && !c->next);
    CHECK_STR(c->command, "APPEND");
    CHECK(count_auth(it) == 0);
}

static void idle(void)
{
    h_sess h = logged_in(NULL);
    me_item *it, *d;
    h_c(&h, "a2 SELECT INBOX\r\n");
    h_s(&h, "a2 OK [READ-WRITE] Select completed\r\n");
    it = h_c(&h, "a3 IDLE\r\n");
    CHECK(it->phase == ME_PHASE_SELECTED && it->explain == TXT_IMAP_IDLE);
    it = h_s(&h, "+ idling\r\n");
    CHECK(it->kind == ME_KIND_CHALLENGE && it->explain == TXT_IMAP_CONT_IDLE && it->request_in == 6);
    it = h_s(&h, "* 3 EXISTS\r\n* 1 RECENT\r\n");
    CHECK(it->explain == TXT_IMAP_EXISTS && it->next->explain == TXT_IMAP_RECENT);
    d = h_c(&h, "DONE\r\n");
    CHECK(d->kind == ME_KIND_COMMAND && d->tag == NULL && !(d->flags & (ME_W_WRONG_PHASE | ME_W_MALFORMED)));
    CHECK_STR(d->command, "DONE");
    CHECK(d->explain == TXT_IMAP_DONE);
    it = h_s(&h, "a3 OK Idle completed\r\n");
    CHECK(it->explain == TXT_IMAP_IDLE_OK && it->request_in == 6 && h_response_in(&h, d) == it->frame);
    it = h_c(&h, "DONE\r\n");
    CHECK(it->flags & ME_W_MALFORMED); /* no IDLE running */
}

static void starttls(void)
{
    h_sess h = h_new(ME_PROTO_IMAP, false, true);
    me_item *it;
    it = h_s(&h, "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n");
    it = h_c(&h, ". STARTTLS\r\n");
    CHECK_STR(it->tag, ".");
    CHECK(it->explain == TXT_IMAP_STARTTLS);
    it = h_s(&h, ". OK Begin TLS negotiation now\r\n\x16\x03\x03\x00\x10");
    CHECK(it->explain == TXT_IMAP_STARTTLS_OK && (it->flags & ME_W_TLS_START));
    CHECK(it->phase == ME_PHASE_AUTH);
    CHECK(it->next && it->next->kind == ME_KIND_TLS && it->next->phase == ME_PHASE_TLS);
    it = h_c(&h, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" "a1 LOGIN x y\r\n");
    CHECK(it->kind == ME_KIND_TLS && it->phase == ME_PHASE_TLS && it->tls && !it->next && !it->auth);
    /* with the keys, the decrypted session is annotated like a clear one */
    it = me_session_feed(h.s, ME_CLIENT, (const uint8_t *)"a2 LOGIN alice alicepw\r\n", 24, ++h.frame, true);
    CHECK(it->kind == ME_KIND_COMMAND && it->phase == ME_PHASE_AUTH && it->tls);
    CHECK(!it->cleartext && (it->flags & ME_W_PROTECTED));
    CHECK(!(it->flags & (ME_W_LOGIN_DISABLED | ME_W_TLS_SKIPPED | ME_W_CLEARTEXT)));
    CHECK_STR(it->auth->password, "alicepw");
    it = me_session_feed(h.s, ME_SERVER, (const uint8_t *)"a2 OK done\r\n", 12, ++h.frame, true);
    CHECK(it->auth && it->auth->result == ME_RESULT_SUCCESS && it->request_in == h.frame - 1);
}

/* The server's OK to LOGIN was lost (helper 20, editcap): a SELECT behind
 * it completing OK proves the login (RFC 9051 §3, §5.5): success, and
 * Authenticated opens there as a guess; a NO or a command valid before login
 * proves nothing. */
static void lost_login_reply(void)
{
    h_sess h = h_new(ME_PROTO_IMAP, false, true);
    me_item *it;
    h_s(&h, "* OK ready\r\n");
    h_c(&h, "a1 LOGIN alice secret\r\n");
    h_c(&h, "a0 CAPABILITY\r\n");
    it = h_s(&h, "* CAPABILITY IMAP4rev1\r\na0 OK done\r\n");
    CHECK(!h_nth(it, 1)->auth && h_nth(it, 1)->phase == ME_PHASE_AUTH);
    h_c(&h, "a2 SELECT Missing\r\n");
    it = h_s(&h, "a2 NO [NONEXISTENT] no such mailbox\r\n");
    CHECK(!it->auth && it->phase == ME_PHASE_AUTH);
    h_c(&h, "a3 SELECT INBOX\r\n");
    it = h_s(&h, "* 2 EXISTS\r\na3 OK [READ-WRITE] ok\r\n");
    it = h_nth(it, 1);
    CHECK(it->auth && it->auth->result == ME_RESULT_SUCCESS);
    CHECK_STR(it->auth ? it->auth->username : NULL, "alice");
    CHECK(it->phase == ME_PHASE_AUTHENTICATED && it->inferred && it->phase_start);
    CHECK(!(it->flags & ME_W_MIDSESSION));
    it = h_c(&h, "a4 FETCH 1 FLAGS\r\n");
    CHECK(it->phase == ME_PHASE_SELECTED && it->phase_start && !(it->flags & ME_W_WRONG_PHASE));
    it = h_s(&h, "* 1 FETCH (FLAGS (\\Seen))\r\na4 OK done\r\n");
    CHECK(it->phase == ME_PHASE_SELECTED); /* no more waiting behind the LOGIN */
}

/* A state entered by a reply and left by the server's BYE before any line
 * was in it (helper 20): the BYE opens Logout (RFC 9051 §3.4) and carries the
 * state passed through, for the reports' phase list. */
static void passed_before_bye(void)
{
    h_sess h = logged_in(NULL);
    me_item *it = h_s(&h, "* BYE Autologout; idle for too long\r\n");
    CHECK(it->phase == ME_PHASE_LOGOUT && it->phase_start && it->passed == ME_PHASE_AUTHENTICATED);

    h = logged_in(NULL);
    h_c(&h, "a1 NOOP\r\n");
    it = h_s(&h, "a1 OK done\r\n* BYE shutting down\r\n");
    CHECK(h_nth(it, 1)->phase == ME_PHASE_LOGOUT && h_nth(it, 1)->passed == ME_PHASE_NONE);

    /* EXAMINE, then LOGOUT, pipelined; both answered in one segment */
    h = logged_in(NULL);
    h_c(&h, "a2 EXAMINE INBOX\r\na3 LOGOUT\r\n");
    it = h_s(&h, "* 1 EXISTS\r\na2 OK [READ-ONLY] Examine completed\r\n* BYE Logging out\r\n"
                 "a3 OK Logout completed\r\n");
    CHECK(h_nth(it, 1)->explain == TXT_IMAP_EXAMINE_OK);
    CHECK(h_nth(it, 2)->phase == ME_PHASE_LOGOUT && h_nth(it, 2)->passed == ME_PHASE_SELECTED);
}

/* The segment holding a LOGIN's password literal was lost (helper 20): the
 * literal's value is unknown, the line ends at the gap, and the next line is
 * a new command, not the password; the SELECT's OK later proves the login. */
/* A session where "a1 LOGIN alice {6}" got its "+": the literal is next. */
static h_sess login_literal_sent(void)
{
    h_sess h = h_new(ME_PROTO_IMAP, false, true);
    h_s(&h, "* OK ready\r\n");
    h_c(&h, "a1 LOGIN alice {6}\r\n");
    h_s(&h, "+ go\r\n");
    return h;
}

static void lost_literal(void)
{
    h_sess h = login_literal_sent();
    me_item *it;
    /* the server's OK acknowledges "secret\r\n", never captured: the gap is
     * known in the OK's frame, and the LOGIN ends there, before its reply */
    it = me_session_gap(h.s, ME_CLIENT, 8, ++h.frame);
    CHECK(it && it->kind == ME_KIND_COMMAND && it->command && strcmp(it->command, "LOGIN") == 0);
    CHECK(it && it->auth && !it->auth->password && !(it->flags & ME_W_MALFORMED));
    CHECK_STR(it && it->auth ? it->auth->username : NULL, "alice");
    it = me_session_feed(h.s, ME_SERVER, (const uint8_t *)"a1 OK Logged in\r\n", 17, h.frame, false);
    CHECK(it && it->auth && it->auth->result == ME_RESULT_SUCCESS && !it->auth->password);
    CHECK(it && it->explain == TXT_IMAP_LOGIN_OK);
    it = h_c(&h, "a2 SELECT INBOX\r\n");
    CHECK(it && it->command && strcmp(it->command, "SELECT") == 0 && !it->next);
    CHECK(it && it->phase == ME_PHASE_AUTHENTICATED && !(it->flags & ME_W_WRONG_PHASE));

    /* the same, refused, and nothing after: the attempt is still there */
    h = login_literal_sent();
    it = me_session_gap(h.s, ME_CLIENT, 8, ++h.frame);
    CHECK(it && it->auth && !it->auth->password);
    it = me_session_feed(h.s, ME_SERVER, (const uint8_t *)"a1 NO [AUTHENTICATIONFAILED] no\r\n", 33,
                         h.frame, false);
    CHECK(it && it->auth && it->auth->result == ME_RESULT_FAILURE);

    /* the gap not known yet when the OK comes (its acknowledgement ran ahead
     * of the data, helper 22): the OK itself ends the command, before it */
    h = login_literal_sent();
    it = h_s(&h, "a1 OK welcome\r\n");
    CHECK(it && it->dir == ME_CLIENT && it->command && strcmp(it->command, "LOGIN") == 0);
    CHECK(it && (it->flags & ME_W_GAP) && it->auth && !it->auth->password);
    CHECK(h_nth(it, 1) && h_nth(it, 1)->dir == ME_SERVER && h_nth(it, 1)->auth &&
          h_nth(it, 1)->auth->result == ME_RESULT_SUCCESS);
    /* the client's next segment shows the gap; its line is a new command */
    CHECK(me_session_gap(h.s, ME_CLIENT, 8, ++h.frame) == NULL);
    it = h_c(&h, "a2 LIST \"\" *\r\n");
    CHECK(it && it->command && strcmp(it->command, "LIST") == 0 && it->phase == ME_PHASE_AUTHENTICATED);

    /* a gap inside the literal, the line's end still to come: one command,
     * the literal unknown, the gap flagged on what follows it */
    h = h_new(ME_PROTO_IMAP, false, true);
    h_s(&h, "* OK ready\r\n");
    h_c(&h, "a1 LOGIN {5}\r\n");
    h_s(&h, "+ go\r\n");
    CHECK(me_session_gap(h.s, ME_CLIENT, 5, ++h.frame) == NULL); /* "alice" */
    it = h_c(&h, " secret\r\n");
    CHECK(it && it->command && strcmp(it->command, "LOGIN") == 0 && it->auth && !it->auth->username);
    CHECK_STR(it && it->auth ? it->auth->password : NULL, "secret");
    CHECK(it && (it->flags & ME_W_GAP));
}

/* Commands are case-insensitive (RFC 9051 §9): mailedu.command is upper
 * case, the line is shown as sent (helper 20: "a2 select inbox" read
 * "a2 SELECT inbox" in mailedu.line and the transcript). */
static void verb_as_sent(void)
{
    h_sess h = logged_in(NULL);
    me_item *it = h_c(&h, "a2 select inbox\r\n");
    char *t = me_line_text(it, false);
    CHECK_STR(it->command, "SELECT");
    CHECK_STR(it->verb, "select");
    CHECK_STR(t, "a2 select inbox");
    free(t);
    it = h_c(&h, "a3 UID fetch 1 FLAGS\r\n");
    CHECK_STR(it->command, "UID FETCH");
    CHECK_STR(it->verb, "UID fetch");
    it = h_c(&h, "a4 NOOP\r\n");
    CHECK(it->verb == NULL); /* as sent already: nothing more kept */
    /* a tagged status word too (helper 22): "a4 ok" stays "ok", status ok */
    it = h_s(&h, "a4 ok done\r\n");
    t = me_line_text(it, false);
    CHECK(it->status == ME_STATUS_OK);
    CHECK_STR(t, "a4 ok done");
    free(t);
    it = h_s(&h, "a3 OK done\r\n");
    CHECK(it->verb == NULL);
}

static void preauth_and_bye(void)
{
    h_sess h = h_new(ME_PROTO_IMAP, false, true);
    me_item *it;
    it = h_s(&h, "* PREAUTH [CAPABILITY IMAP4rev1] IMAP4rev1 server logged in as Smith\r\n");
    CHECK(it->phase == ME_PHASE_AUTHENTICATED && it->phase_start && it->explain == TXT_IMAP_GREETING_PREAUTH);
    CHECK_STR(it->argument, "PREAUTH [CAPABILITY IMAP4rev1] IMAP4rev1 server logged in as Smith");
    it = h_c(&h, "a1 SELECT INBOX\r\n");
    CHECK(it->phase == ME_PHASE_AUTHENTICATED && !it->phase_start && !(it->flags & ME_W_WRONG_PHASE));
    h_s(&h, "a1 OK [READ-WRITE] done\r\n");
    it = h_c(&h, "a2 LOGIN x y\r\n");
    CHECK((it->flags & ME_W_WRONG_PHASE) && it->wrong_phase == ME_PHASE_SELECTED);
    h_s(&h, "a2 BAD Already logged in\r\n");
    /* RFC 9051 §3.4: the server's BYE is where Logout begins */
    it = h_s(&h, "* BYE Autologout; idle for too long\r\n");
    CHECK(it->phase == ME_PHASE_LOGOUT && it->phase_start && it->explain == TXT_IMAP_BYE);
    it = h_c(&h, "a3 NOOP\r\n");
    CHECK(it->phase == ME_PHASE_LOGOUT && !it->phase_start);
    CHECK((it->flags & ME_W_WRONG_PHASE) && it->wrong_phase == ME_PHASE_LOGOUT);

    /* a greeting that refuses the connection */
    h = h_new(ME_PROTO_IMAP, false, true);
    it = h_s(&h, "* BYE Too many connections\r\n");
    CHECK(it->phase == ME_PHASE_LOGOUT && it->explain == TXT_IMAP_GREETING_BYE && it->status == ME_STATUS_ERROR);
    CHECK_STR(it->argument, "BYE Too many connections");
}

static void pipelining(void)
{
    h_sess h = h_new(ME_PROTO_IMAP, false, true);
    me_item *it;
    h_s(&h, "* OK ready\r\n");
    /* commands pipelined after a LOGIN whose reply has not come */
    it = h_c(&h, "a1 LOGIN alice alicepw\r\na2 SELECT INBOX\r\na3 FETCH 1 FLAGS\r\na4 NOOP\r\n");
    CHECK(h_nth(it, 3) && !h_nth(it, 4));
    CHECK(!(h_nth(it, 1)->flags & ME_W_WRONG_PHASE) && !(h_nth(it, 2)->flags & ME_W_WRONG_PHASE));
    /* the server's replies will open the states: until then the session is
     * where they leave it (with the server's side captured) */
    CHECK(h_nth(it, 1)->phase == ME_PHASE_AUTH && h_nth(it, 2)->phase == ME_PHASE_AUTH);
    /* replies out of order */
    it = h_s(&h, "a1 OK Logged in\r\n* 1 EXISTS\r\na2 OK [READ-WRITE] selected\r\na4 OK NOOP\r\n"
                 "* 1 FETCH (FLAGS (\\Seen))\r\na3 OK Fetch completed\r\n");
    CHECK(it->request_in == 2 && it->auth->result == ME_RESULT_SUCCESS);
    CHECK(h_nth(it, 2)->request_in == 2 && h_nth(it, 2)->explain == TXT_IMAP_SELECT_OK);
    CHECK(h_nth(it, 2)->phase == ME_PHASE_AUTHENTICATED);
    CHECK(h_nth(it, 3)->request_in == 2 && h_nth(it, 3)->phase == ME_PHASE_SELECTED);
    CHECK_STR(h_nth(it, 3)->tag, "a4");
    CHECK(h_nth(it, 5)->request_in == 2);
    /* each reply in the state its command runs in (RFC 9051 §5.5): the
     * SELECT's data in Authenticated, NOOP's OK (behind the SELECT) in Selected */
    CHECK(it->phase == ME_PHASE_AUTH && h_nth(it, 1)->phase == ME_PHASE_AUTHENTICATED);
    CHECK(h_nth(it, 1)->phase_start && h_nth(it, 3)->phase_start);
    /* wrong phase without anything pending */
    h = h_new(ME_PROTO_IMAP, false, true);
    h_s(&h, "* OK ready\r\n");
    it = h_c(&h, "x SELECT INBOX\r\n");
    CHECK((it->flags & ME_W_WRONG_PHASE) && it->wrong_phase == ME_PHASE_AUTH);
    it = h_s(&h, "x BAD Command not permitted in this state\r\n");
    /* BAD: not carried out, not a failed selection (RFC 9051 §7.1.3) */
    CHECK(it->explain == TXT_IMAP_TAGGED_BAD && it->bad && it->status == ME_STATUS_ERROR &&
          it->request_in == 2);
    it = h_c(&h, "y ENABLE UTF8=ACCEPT\r\n");
    CHECK(it->flags & ME_W_WRONG_PHASE);
    it = h_c(&h, "z XAPPLEPUSHSERVICE aps-version 2\r\n");
    CHECK(it->explain == TXT_IMAP_UNKNOWN_CMD && !(it->flags & (ME_W_WRONG_PHASE | ME_W_MALFORMED)));
}

static void mid_session(void)
{
    h_sess h;
    me_item *it;

    /* starts inside a FETCH literal */
    h = h_new(ME_PROTO_IMAP, false, false);
    it = h_s(&h, "Subject: hello\r\n\r\na1 LOGIN x y\r\n");
    CHECK(it->kind == ME_KIND_DATA && it->inferred && (it->flags & ME_W_MIDSESSION));
    CHECK(it->phase == ME_PHASE_SELECTED && !(it->flags & ME_W_MALFORMED));
    CHECK(count_auth(it) == 0);
    it = h_s(&h, ")\r\n* 5 FETCH (FLAGS (\\Seen))\r\na5 OK FETCH completed\r\n");
    CHECK(it->kind == ME_KIND_DATA && !(it->flags & ME_W_MIDSESSION));
    CHECK(h_nth(it, 1)->explain == TXT_IMAP_FETCH_DATA && h_nth(it, 1)->inferred);
    CHECK(h_nth(it, 2)->explain == TXT_IMAP_TAGGED_OK);
    it = h_c(&h, "a6 FETCH 2 BODY[]\r\n");
    CHECK(it->kind == ME_KIND_COMMAND && it->inferred && it->phase == ME_PHASE_SELECTED);
    CHECK(!(it->flags & (ME_W_WRONG_PHASE | ME_W_MIDSESSION)));
    it = h_c(&h, "a7 CLOSE\r\n");
    h_s(&h, "a7 OK done\r\n");
    it = h_c(&h, "a8 LIST \"\" *\r\n");
    CHECK(!it->inferred && it->phase == ME_PHASE_AUTHENTICATED);

    /* the client speaks first: LOGIN */
    h = h_new(ME_PROTO_IMAP, false, false);
    it = h_c(&h, "a1 LOGIN alice alicepw\r\n");
    CHECK(it->inferred && it->phase == ME_PHASE_AUTH && (it->flags & ME_W_MIDSESSION));
    CHECK_STR(it->auth->password, "alicepw");
    it = h_s(&h, "* CAPABILITY IMAP4rev1 IDLE\r\na1 OK Logged in\r\n");
    CHECK(it->phase == ME_PHASE_AUTH && it->inferred);
    it = it->next;
    CHECK(it->auth->result == ME_RESULT_SUCCESS && it->request_in == 1);
    CHECK(it->phase == ME_PHASE_AUTH); /* the reply that causes the transition is in the old phase */
    it = h_c(&h, "a2 SELECT INBOX\r\n");
    CHECK(!it->inferred && it->phase == ME_PHASE_AUTHENTICATED && it->phase_start);

    /* the server speaks first: message data means selected */
    h = h_new(ME_PROTO_IMAP, false, false);
    it = h_s(&h, "* 4 EXISTS\r\n");
    CHECK(it->inferred && it->phase == ME_PHASE_SELECTED && (it->flags & ME_W_MIDSESSION));
    it = h_c(&h, "a9 CLOSE\r\n");
    CHECK(it->inferred && it->phase == ME_PHASE_SELECTED && !(it->flags & ME_W_MIDSESSION));
    h_s(&h, "a9 OK Close completed\r\n");
    it = h_c(&h, "b1 FETCH 1 FLAGS\r\n");
    CHECK(!it->inferred && (it->flags & ME_W_WRONG_PHASE));

    /* the client speaks first: inside an APPEND literal, then a SELECT */
    h = h_new(ME_PROTO_IMAP, false, false);
    it = h_c(&h, "From: Alice <a@b>\r\n\r\nbody\r\n");
    CHECK(it->kind == ME_KIND_DATA && it->inferred && (it->flags & ME_W_MIDSESSION));
    it = h_c(&h, "a4 SELECT INBOX\r\n");
    CHECK(it->kind == ME_KIND_COMMAND && it->inferred && it->phase == ME_PHASE_AUTHENTICATED);
    CHECK(!(it->flags & ME_W_WRONG_PHASE));
    it = h_c(&h, "a5 FETCH 1 FLAGS\r\n");
    CHECK(it->inferred && it->phase == ME_PHASE_SELECTED && !(it->flags & ME_W_WRONG_PHASE));

    /* no handshake, but a greeting */
    h = h_new(ME_PROTO_IMAP, false, false);
    it = h_s(&h, "* OK [CAPABILITY IMAP4rev1] ready\r\n");
    CHECK(it->explain == TXT_IMAP_GREETING && it->phase == ME_PHASE_AUTH);
    /* an untagged OK of a SELECT is not a greeting */
    h = h_new(ME_PROTO_IMAP, false, false);
    it = h_s(&h, "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n");
    CHECK(it->explain == TXT_IMAP_UNTAGGED_OK && it->phase == ME_PHASE_SELECTED && it->inferred);
    /* handshake captured, the client does not wait for the greeting */
    h = h_new(ME_PROTO_IMAP, false, true);
    it = h_c(&h, "a1 CAPABILITY\r\n");
    CHECK(!it->inferred && it->phase == ME_PHASE_AUTH && !(it->flags & ME_W_MIDSESSION));
    it = h_s(&h, "* OK ready\r\n* CAPABILITY IMAP4rev1\r\na1 OK done\r\n");
    CHECK(it->explain == TXT_IMAP_GREETING && h_nth(it, 2)->request_in == 1);
    /* inside IDLE */
    h = h_new(ME_PROTO_IMAP, false, false);
    it = h_c(&h, "DONE\r\n");
    CHECK(it->kind == ME_KIND_COMMAND && it->inferred && !(it->flags & ME_W_MALFORMED));
}

static void garbage(void)
{
    h_sess h = h_new(ME_PROTO_IMAP, false, true);
    me_item *it;
    char *big;
    h_s(&h, "* OK ready\r\n");
    it = h_c(&h, "\r\n");
    CHECK(it && (it->flags & ME_W_MALFORMED) && it->explain == TXT_IMAP_EMPTY_LINE);
    it = h_feed(&h, ME_CLIENT, "\x00\xff\x01\r\n", 5);
    CHECK(it && (it->flags & ME_W_MALFORMED));
    it = h_c(&h, "a1 LOGIN \"alice\r\n");
    CHECK(it && (it->flags & ME_W_MALFORMED) && it->auth);
    CHECK_STR(it->auth->username, "alice");
    h_s(&h, "a1 BAD Missing quote\r\n");
    it = h_c(&h, "a2 LOGIN {\r\n");
    CHECK(it && it->kind == ME_KIND_COMMAND && (it->flags & ME_W_MALFORMED));
    it = h_c(&h, "{\r\n");
    CHECK(it && (it->flags & ME_W_MALFORMED));
    it = h_c(&h, "a3 LOGIN x {99999999999999999999}\r\n");
    CHECK(it && it->kind == ME_KIND_COMMAND && (it->flags & ME_W_MALFORMED));
    it = h_c(&h, "a4 LOGIN x {}\r\n");
    CHECK(it && it->kind == ME_KIND_COMMAND);
    it = h_c(&h, "UID\r\n");
    CHECK(it && (it->flags & ME_W_MALFORMED));
    it = h_c(&h, "a5 UID\r\n");
    CHECK(it && (it->flags & ME_W_MALFORMED));
    it = h_c(&h, "a5 UID REPLACE 1 INBOX {3+}\r\nabc\r\n");
    it = h_nth(it, 2);
    CHECK(it && !(it->flags & ME_W_MALFORMED) && it->explain == TXT_IMAP_UNKNOWN_CMD);
    CHECK_STR(it->command, "UID REPLACE");
    it = h_c(&h, "a6 AUTHENTICATE\r\n");
    CHECK(it && (it->flags & ME_W_MALFORMED));
    it = h_c(&h, "a7 LOGIN a b c\r\n");
    CHECK(it && (it->flags & ME_W_MALFORMED));
    it = h_s(&h, "garbage from the server\r\n");
    CHECK(it && (it->flags & ME_W_MALFORMED) && it->kind == ME_KIND_UNKNOWN);
    it = h_s(&h, "a1 MAYBE later\r\n");
    CHECK(it && (it->flags & ME_W_MALFORMED) && it->explain == TXT_IMAP_BAD_STATUS);
    it = h_s(&h, "* \r\n");
    CHECK(it && (it->flags & ME_W_MALFORMED));
    it = h_s(&h, "*\r\n");
    CHECK(it && (it->flags & ME_W_MALFORMED));
    it = h_s(&h, "+\r\n");
    CHECK(it && it->kind == ME_KIND_CHALLENGE);
    it = h_s(&h, "\r\n");
    CHECK(it && (it->flags & ME_W_MALFORMED));
    it = h_s(&h, "* OK [ALERT unterminated\r\n");
    CHECK(it && (it->flags & ME_W_MALFORMED));
    it = h_s(&h, "* OK [ALERT] System shutdown in 10 minutes\r\n");
    CHECK(it && it->explain2 == TXT_IMAP_CODE_ALERT);
    CHECK_STR(it->detail, "System shutdown in 10 minutes");
    it = h_s(&h, "* NO [TRYCREATE] no such mailbox\r\n");
    CHECK(it && it->status == ME_STATUS_ERROR && it->explain2 == TXT_IMAP_CODE_TRYCREATE);
    /* a server literal marker split between segments */
    it = h_s(&h, "* 1 FETCH (BODY[] {1");
    CHECK(it->kind == ME_KIND_DATA && it->explain == TXT_PARTIAL_LINE);
    it = h_s(&h, "0}\r\n0123456789)\r\n* 2 EXISTS\r\n");
    CHECK(it->explain == TXT_IMAP_FETCH_DATA && h_nth(it, 1)->data_len == 10);
    CHECK(h_nth(it, 2) && h_nth(it, 2)->explain == TXT_IMAP_EXISTS && !h_nth(it, 3));
    /* two literals in one response */
    it = h_s(&h, "* 3 FETCH (BODY[1] {3}\r\nabc BODY[2] {2}\r\nde)\r\n* 4 EXISTS\r\n");
    CHECK(h_nth(it, 1)->kind == ME_KIND_DATA && h_nth(it, 1)->data_len == 5);
    CHECK(h_nth(it, 2) && h_nth(it, 2)->explain == TXT_IMAP_EXISTS && !h_nth(it, 3));
    /* an over-long line */
    big = malloc(40000);
    memset(big, 'A', 40000);
    it = h_feed(&h, ME_CLIENT, big, 40000);
    CHECK(it && it->kind == ME_KIND_DATA);
    it = h_c(&h, "\r\nb1 NOOP\r\n");
    CHECK(it && (it->flags & ME_W_OVERLONG));
    CHECK(it->next && it->next->command && strcmp(it->next->command, "NOOP") == 0);
    free(big);
    /* a huge literal from the server: everything after is its content */
    it = h_s(&h, "* 5 FETCH (BODY[] {99999999999}\r\na9 OK done\r\n");
    CHECK(it->explain == TXT_IMAP_FETCH_DATA && h_nth(it, 1)->kind == ME_KIND_DATA && !h_nth(it, 2));
    it = h_s(&h, "* BYE\r\n");
    CHECK(it->kind == ME_KIND_DATA);
}

/* A line longer than the session keeps still ends in its literal marker: the
 * literal's bytes must not be read as a command. */
static void overlong_literal(void)
{
    h_sess h = h_new(ME_PROTO_IMAP, false, true);
    static char big[20100];
    me_item *it;
    size_t n;
    h_s(&h, "* OK ready\r\n");
    h_c(&h, "a0 LOGIN alice alicepw\r\n");
    h_s(&h, "a0 OK done\r\n");
    n = (size_t)snprintf(big, sizeof(big), "a1 SEARCH TEXT ");
    memset(big + n, 'A', 20000);
    n += 20000;
    n += (size_t)snprintf(big + n, sizeof(big) - n, " {12}\r\n");
    /* in two segments, so that the session has to keep the line */
    h_feed(&h, ME_CLIENT, big, 10000);
    it = h_feed(&h, ME_CLIENT, big + 10000, n - 10000);
    CHECK(it && (it->flags & ME_W_OVERLONG));
    h_s(&h, "+ Ready\r\n");
    it = h_c(&h, "a9 LOGIN x y\r\n");
    for (; it; it = it->next) {
        CHECK(it->auth == NULL);
        CHECK(!(it->command && strcmp(it->command, "LOGIN") == 0));
    }
}

/* What a failed LOGIN's reply says of the secret (RFC 9051 §7.1, RFC 5530
 * §3): a plain NO or AUTHENTICATIONFAILED the credentials,
 * AUTHORIZATIONFAILED a right secret, UNAVAILABLE and PRIVACYREQUIRED no
 * verdict, BAD a command not carried out (printed as BAD). */
static void login_failure_codes(void)
{
    static const struct { const char *reply; me_failure why; } cases[] = {
        {"a1 NO Login failed\r\n", ME_FAIL_CREDENTIALS},
        {"a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n", ME_FAIL_CREDENTIALS},
        {"a1 NO [AUTHORIZATIONFAILED] No such authorization-ID\r\n", ME_FAIL_AUTHORIZATION},
        {"a1 NO [UNAVAILABLE] Try later\r\n", ME_FAIL_REFUSED},
        {"a1 NO [PRIVACYREQUIRED] Use STARTTLS\r\n", ME_FAIL_REFUSED},
        {"a1 BAD Missing arguments\r\n", ME_FAIL_REFUSED}};
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        h_sess h = h_new(ME_PROTO_IMAP, false, true);
        me_item *it;
        h_s(&h, "* OK ready\r\n");
        h_c(&h, "a1 LOGIN alice secret\r\n");
        it = h_s(&h, cases[i].reply);
        CHECK(it->auth && it->auth->result == ME_RESULT_FAILURE && it->auth->failure == cases[i].why);
        CHECK(!(it->flags & ME_W_LOGIN_FAILED) == (cases[i].why != ME_FAIL_CREDENTIALS));
        CHECK(it->bad == (strstr(cases[i].reply, " BAD ") != NULL));
    }
    {   /* LOGIN once logged in (RFC 9051 §6.2.3: valid in Not Authenticated
         * only): its NO refuses the command; the session stays logged in */
        h_sess h = h_new(ME_PROTO_IMAP, false, true);
        me_item *it;
        h_s(&h, "* OK ready\r\n");
        h_c(&h, "a1 LOGIN alice secret\r\n");
        h_s(&h, "a1 OK logged in\r\n");
        h_c(&h, "a2 LOGIN bob other\r\n");
        it = h_s(&h, "a2 NO Already logged in\r\n");
        CHECK(it->auth && it->auth->failure == ME_FAIL_REFUSED && !(it->flags & ME_W_LOGIN_FAILED));
        CHECK(it->explain == TXT_IMAP_TAGGED_NO && it->phase == ME_PHASE_AUTHENTICATED);
    }
    {   /* LOGINDISABLED outside TLS (RFC 9051 §6.2.3): the server refuses
         * LOGIN without looking at the password, even with a plain NO */
        h_sess h = h_new(ME_PROTO_IMAP, false, true);
        me_item *it;
        h_s(&h, "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n");
        h_c(&h, "a1 LOGIN alice secret\r\n");
        it = h_s(&h, "a1 NO Login refused\r\n");
        CHECK(it->auth && it->auth->failure == ME_FAIL_REFUSED && !(it->flags & ME_W_LOGIN_FAILED));
    }
    {   /* the server says BYE before its NO (RFC 9051 §7.1.5): the session is
         * over, so the NO claims no state; a plain NO still judged the secret */
        h_sess h = h_new(ME_PROTO_IMAP, false, true);
        me_item *it;
        h_s(&h, "* OK ready\r\n");
        h_c(&h, "a1 LOGIN alice secret\r\n");
        h_s(&h, "* BYE Too many failures\r\n");
        it = h_s(&h, "a1 NO Login failed\r\n");
        CHECK(it->explain == TXT_IMAP_TAGGED_NO && it->auth && it->auth->failure == ME_FAIL_CREDENTIALS);
    }
}

/* Raw DEFLATE of TEXT with a sync flush, as RFC 4978 §2 sends each message. */
static size_t deflated(z_stream *z, const char *text, unsigned char *out, size_t cap)
{
    z->next_in = (Bytef *)(uintptr_t)text;
    z->avail_in = (uInt)strlen(text);
    z->next_out = out;
    z->avail_out = (uInt)cap;
    deflate(z, Z_SYNC_FLUSH);
    return cap - z->avail_out;
}

/* COMPRESS=DEFLATE (RFC 4978 §3): after the OK both directions are inflated
 * and read on; a gap ends inflating, and what follows is counted. */
static void compress_deflate(void)
{
    h_sess h = h_new(ME_PROTO_IMAP, false, true);
    z_stream zc, zs;
    unsigned char buf[512];
    size_t n;
    me_item *it;
    memset(&zc, 0, sizeof zc);
    memset(&zs, 0, sizeof zs);
    deflateInit2(&zc, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    h_s(&h, "* OK ready\r\n");
    h_c(&h, "a1 LOGIN alice alicepw\r\n");
    h_s(&h, "a1 OK done\r\n");
    it = h_c(&h, "a2 COMPRESS DEFLATE\r\n");
    CHECK(it->explain == TXT_IMAP_COMPRESS && !(it->flags & ME_W_WRONG_PHASE));
    it = h_s(&h, "a2 OK Begin compression\r\n");
    CHECK(it->explain == TXT_IMAP_COMPRESS_OK);
    n = deflated(&zc, "a3 SELECT INBOX\r\n", buf, sizeof buf);
    it = h_feed(&h, ME_CLIENT, buf, n);
    CHECK(it->kind == ME_KIND_COMMAND && it->command && strcmp(it->command, "SELECT") == 0);
    n = deflated(&zs, "* 2 EXISTS\r\na3 OK [READ-WRITE] done\r\n", buf, sizeof buf);
    it = h_feed(&h, ME_SERVER, buf, n);
    CHECK(h_nth(it, 1) && h_nth(it, 1)->explain == TXT_IMAP_SELECT_OK);
    /* a command whose compressed bytes come in two segments */
    n = deflated(&zc, "a4 FETCH 1 (BODY[])\r\n", buf, sizeof buf);
    it = h_feed(&h, ME_CLIENT, buf, 3);
    CHECK(it && it->explain == TXT_PARTIAL_LINE);
    it = h_feed(&h, ME_CLIENT, buf + 3, n - 3);
    CHECK(it->kind == ME_KIND_COMMAND && it->phase == ME_PHASE_SELECTED && it->command &&
          strcmp(it->command, "FETCH") == 0);
    /* bytes of the server's stream lost: nothing after can be inflated */
    (void)deflated(&zs, "* 1 FETCH (FLAGS ())\r\n", buf, sizeof buf);
    me_session_gap(h.s, ME_SERVER, 10, h.frame);
    n = deflated(&zs, "a4 OK done\r\n", buf, sizeof buf);
    it = h_feed(&h, ME_SERVER, buf, n);
    CHECK(it->kind == ME_KIND_DATA && it->explain == TXT_COMPRESSED_LOST && it->data_len == n &&
          !it->next);
    deflateEnd(&zc);
    deflateEnd(&zs);

    /* a decompression bomb: 2 MiB of lines in a few KB; past ME_MAX_INFLATE
     * from one packet the direction is no longer inflated, and it says so */
    {
        static char big[2 * 1024 * 1024 + 1];
        static unsigned char small[65536];
        size_t i;
        me_item *last;
        h = h_new(ME_PROTO_IMAP, false, true);
        memset(&zs, 0, sizeof zs);
        deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
        for (i = 0; i + 16 <= sizeof big - 1; i += 16)
            memcpy(big + i, "* 1 EXISTS xxx\r\n", 16);
        big[i] = '\0';
        h_s(&h, "* OK ready\r\n");
        h_c(&h, "a1 LOGIN alice alicepw\r\n");
        h_s(&h, "a1 OK done\r\n");
        h_c(&h, "a2 COMPRESS DEFLATE\r\n");
        h_s(&h, "a2 OK Begin compression\r\n");
        n = deflated(&zs, big, small, sizeof small);
        CHECK(n < 16384);
        it = h_feed(&h, ME_SERVER, small, n);
        for (last = it; last && last->next; last = last->next)
            ;
        CHECK(last && last->explain == TXT_COMPRESSED_LIMIT);
        n = deflated(&zs, "a3 OK done\r\n", small, sizeof small);
        it = h_feed(&h, ME_SERVER, small, n);
        CHECK(it->explain == TXT_COMPRESSED_LIMIT && it->data_len == n);
        deflateEnd(&zs);
    }
}

int main(void)
{
    login_failure_codes();
    overlong_literal();
    rfc_dialogue();
    login_forms();
    login_fail_retry();
    authenticate();
    select_fail();
    append();
    idle();
    starttls();
    preauth_and_bye();
    lost_login_reply();
    passed_before_bye();
    verb_as_sent();
    lost_literal();
    pipelining();
    mid_session();
    garbage();
    compress_deflate();
    return h_done("test_imap");
}
