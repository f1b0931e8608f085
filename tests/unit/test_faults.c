/* test_faults.c - the field faults of issue 12, as transcripts.  Every
 * expected value comes from the RFC named beside it, not from a run. */
#include "harness.h"

#define PH(it, p) ((it) && (it)->phase == ME_PHASE_##p)

/* Fault 3: RFC 5321 §4.1.4 - a refused command leaves the server's state. */
static void smtp_refused_command_keeps_state(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it;
    h_s(&h, "220 mail.example.com ESMTP Postfix\r\n");
    h_c(&h, "helo client.example.com\r\n");
    h_s(&h, "250 mail.example.com\r\n");
    h_c(&h, "mail from:<alice@example.com>\r\n");
    h_s(&h, "250 2.1.0 Ok\r\n");
    it = h_c(&h, "mail from:<bob@example.com>\r\n");
    CHECK((it->flags & ME_W_WRONG_PHASE) && it->wrong_phase == ME_PHASE_ENVELOPE);
    h_s(&h, "503 5.5.1 Error: nested MAIL command\r\n");
    it = h_c(&h, "rcpt to:<bob@example.com>\r\n");
    CHECK(PH(it, ENVELOPE) && !(it->flags & ME_W_WRONG_PHASE));
    h_s(&h, "250 2.1.5 Ok\r\n");
    it = h_c(&h, "data\r\n");
    CHECK(PH(it, DATA) && !(it->flags & ME_W_WRONG_PHASE));
    h_s(&h, "354 End data with <CR><LF>.<CR><LF>\r\n");
    h_c(&h, "Subject: x\r\n\r\nhi\r\n.\r\n");
    h_s(&h, "250 2.0.0 Ok: queued\r\n");
    /* several invalid transactions: RCPT and DATA without MAIL, DATA without RCPT */
    it = h_c(&h, "RCPT TO:<c@example.com>\r\n");
    CHECK(it->flags & ME_W_WRONG_PHASE);
    h_s(&h, "503 5.5.1 Error: need MAIL command\r\n");
    it = h_c(&h, "MAIL FROM:<a@example.com>\r\n");
    CHECK(!(it->flags & ME_W_WRONG_PHASE));
    h_s(&h, "250 2.1.0 Ok\r\n");
    it = h_c(&h, "DATA\r\n");
    CHECK(it->flags & ME_W_WRONG_PHASE); /* §3.3: no recipient yet */
    h_s(&h, "554 5.5.1 Error: no valid recipients\r\n");
    it = h_c(&h, "RCPT TO:<nobody@example.com>\r\n");
    CHECK(!(it->flags & ME_W_WRONG_PHASE));
    h_s(&h, "550 5.1.1 unknown user\r\n");
    it = h_c(&h, "DATA\r\n");
    CHECK(it->flags & ME_W_WRONG_PHASE); /* the only RCPT was refused */
    h_s(&h, "554 5.5.1 Error: no valid recipients\r\n");
    it = h_c(&h, "RCPT TO:<c@example.com>\r\n");
    CHECK(!(it->flags & ME_W_WRONG_PHASE));
    h_s(&h, "250 2.1.5 Ok\r\n");
    it = h_c(&h, "DATA\r\n");
    CHECK(!(it->flags & ME_W_WRONG_PHASE));
}

/* Fault 5: only the client side.  LOGIN has exactly two client messages
 * (draft-murchison-sasl-login §2); MAIL FROM:<...> is no base64 (RFC 4954 §4). */
static void smtp_client_only_auth_login(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it;
    /* the handshake was captured and the client's ACK covers 49 server
     * bytes the capture lacks (what the glue tells with me_session_unseen):
     * the greeting was sent, so the EHLO opens hello (RFC 5321 §3.1, RFC
     * 9293 §3.4), with one note that bytes are missing */
    me_session_unseen(h.s, ME_SERVER, 49);
    it = h_c(&h, "EHLO laptop\r\n");
    CHECK(PH(it, HELLO) && !(it->flags & ME_W_WRONG_PHASE) && (it->flags & ME_W_GAP));
    it = h_c(&h, "AUTH LOGIN\r\n");
    CHECK(PH(it, AUTH) && it->phase_start && !(it->flags & ME_W_WRONG_PHASE));
    it = h_c(&h, "a2ltQGV4YW1wbGUubmV0\r\n"); /* kim@example.net */
    CHECK(it->kind == ME_KIND_SASL && it->auth);
    CHECK_STR(it->auth->username, "kim@example.net");
    it = h_c(&h, "TWFwbGUtTGVhZi0y\r\n"); /* Maple-Leaf-2 */
    CHECK(it->kind == ME_KIND_SASL && it->cleartext);
    CHECK_STR(it->auth->password, "Maple-Leaf-2");
    it = h_c(&h, "MAIL FROM:<kim@example.net>\r\n");
    CHECK(it->kind == ME_KIND_COMMAND && PH(it, ENVELOPE) && it->phase_start);
    CHECK_STR(it->mail_from, "kim@example.net");
    it = h_c(&h, "RCPT TO:<lee@example.org>\r\n");
    CHECK(it->kind == ME_KIND_COMMAND && PH(it, ENVELOPE));
    CHECK_STR(it->rcpt, "lee@example.org");
    it = h_c(&h, "DATA\r\n");
    CHECK(it->kind == ME_KIND_COMMAND && PH(it, DATA) && it->phase_start);
    it = h_c(&h, "Subject: one side\r\n\r\nhello\r\n.\r\n");
    CHECK(it->kind == ME_KIND_DATA && it->next && it->next->explain == TXT_SMTP_END_OF_DATA);
    it = h_c(&h, "QUIT\r\n");
    CHECK(it->kind == ME_KIND_COMMAND && PH(it, QUIT) && it->phase_start);

    /* base64 that is also a verb ("DATA") after a PLAIN initial response */
    h = h_new(ME_PROTO_SMTP, false, true);
    me_session_unseen(h.s, ME_SERVER, 49);
    h_c(&h, "EHLO laptop\r\n");
    it = h_c(&h, "AUTH PLAIN AGtpbQBNYXBsZS1MZWFmLTI=\r\n");
    CHECK_STR(it->auth->password, "Maple-Leaf-2");
    it = h_c(&h, "NOOP\r\n");
    CHECK(it->kind == ME_KIND_COMMAND);
}

/* Fault 5, POP3: AUTH PLAIN then commands, client side only. */
static void pop3_client_only(void)
{
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    me_item *it;
    it = h_c(&h, "AUTH PLAIN AGJvYgBzM2NyZXQ=\r\n"); /* \0bob\0s3cret */
    CHECK_STR(it->auth->password, "s3cret");
    it = h_c(&h, "STAT\r\n");
    CHECK(it->kind == ME_KIND_COMMAND && PH(it, TRANSACTION));
    it = h_c(&h, "QUIT\r\n");
    CHECK(it->kind == ME_KIND_COMMAND && PH(it, TRANSACTION));
}

/* Fault 6: RFC 2449 §6.6 pipelining.  With the server's side captured, the
 * commands behind the login stay in AUTHORIZATION, unflagged, and their
 * replies show the state they ran in: TRANSACTION after the +OK, UPDATE at
 * QUIT's reply (RFC 1939 §4, §6). */
static void pop3_pipelined_phases(void)
{
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    me_item *it;
    int i;
    h_s(&h, "+OK ready\r\n");
    it = h_c(&h, "USER alice\r\nPASS alicepw\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nQUIT\r\n");
    for (i = 0; i < 7; i++)
        CHECK(PH(h_nth(it, i), AUTH) && !(h_nth(it, i)->flags & ME_W_WRONG_PHASE) &&
              (i == 0 || !h_nth(it, i)->phase_start));
    it = h_s(&h, "+OK\r\n+OK Logged in.\r\n+OK 1 5\r\n+OK 1 messages:\r\n1 5\r\n.\r\n"
                 "+OK\r\n1 abc\r\n.\r\n+OK 5 octets\r\nhi\r\n.\r\n+OK Logging out.\r\n");
    CHECK(PH(it, AUTH) && PH(it->next, AUTH) && it->next->auth);
    CHECK(it->next->auth->result == ME_RESULT_SUCCESS);
    CHECK(PH(h_nth(it, 2), TRANSACTION) && h_nth(it, 2)->phase_start && h_nth(it, 2)->explain == TXT_POP3_STAT_OK);
    while (it->next)
        it = it->next;
    CHECK(it->kind == ME_KIND_REPLY && PH(it, UPDATE) && it->phase_start);
    CHECK(it->explain == TXT_POP3_QUIT_UPDATE);
}

/* The same with a wrong password: the session never leaves AUTHORIZATION
 * (RFC 1939 §4), so neither the refused commands nor their -ERR are in
 * TRANSACTION, and QUIT only ends the session (§6: no UPDATE). */
static void pop3_pipelined_failed_login(void)
{
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    me_item *it;
    h_s(&h, "+OK ready\r\n");
    it = h_c(&h, "USER alice\r\nPASS nope\r\nSTAT\r\nRETR 1\r\nQUIT\r\n");
    CHECK(PH(h_nth(it, 2), AUTH) && PH(h_nth(it, 4), AUTH) && !(h_nth(it, 2)->flags & ME_W_WRONG_PHASE));
    it = h_s(&h, "+OK\r\n-ERR [AUTH] Authentication failed.\r\n-ERR Unknown command.\r\n"
                 "-ERR Unknown command.\r\n+OK Logging out\r\n");
    CHECK(it->next->auth && it->next->auth->result == ME_RESULT_FAILURE);
    for (; it; it = it->next)
        CHECK(PH(it, AUTH) && !it->phase_start);
}

/* Without the server's side there is no reply to wait for: the commands
 * behind the login are recorded in TRANSACTION, as if it had succeeded. */
static void pop3_pipelined_client_only(void)
{
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    me_item *it;
    me_session_unseen(h.s, ME_SERVER, 49); /* the greeting, acknowledged but not captured */
    it = h_c(&h, "USER alice\r\nPASS alicepw\r\nSTAT\r\nQUIT\r\n");
    CHECK(PH(h_nth(it, 1), AUTH) && PH(h_nth(it, 2), TRANSACTION) && h_nth(it, 2)->phase_start);
    CHECK(PH(h_nth(it, 3), TRANSACTION) && !(h_nth(it, 3)->flags & ME_W_WRONG_PHASE));
}

/* A client segment lost (a gap in its stream, RFC 9293 §3.4) may have held
 * the command that changed the state: the next command valid only in a later
 * state makes that state a guess, with no fault of the client flagged
 * (helper 19: a lost PASS made UIDL, LIST, TOP and RETR "not valid").
 * Without a loss the same command is flagged. */
static void lost_client_bytes(void)
{
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    me_item *it;
    h_s(&h, "+OK ready\r\n");
    h_c(&h, "USER alice\r\n");
    h_s(&h, "+OK\r\n");
    h_s(&h, "+OK Logged in.\r\n");
    me_session_gap(h.s, ME_CLIENT, 15, h.frame); /* "PASS alicepw\r\n" */
    it = h_c(&h, "UIDL\r\n");
    CHECK(PH(it, TRANSACTION) && it->phase_start && it->inferred && !(it->flags & ME_W_WRONG_PHASE));
    CHECK(!(it->flags & ME_W_MIDSESSION));
    h_s(&h, "+OK\r\n1 a\r\n.\r\n");
    it = h_c(&h, "QUIT\r\n");
    CHECK(PH(it, TRANSACTION));

    h = h_new(ME_PROTO_POP3, false, true);
    h_s(&h, "+OK ready\r\n");
    it = h_c(&h, "UIDL\r\n");
    CHECK(PH(it, AUTH) && (it->flags & ME_W_WRONG_PHASE) && !it->inferred);

    h = h_new(ME_PROTO_IMAP, false, true);
    h_s(&h, "* OK ready\r\n");
    h_s(&h, "a1 OK LOGIN completed\r\n");
    me_session_gap(h.s, ME_CLIENT, 24, h.frame); /* "a1 LOGIN alice secret\r\n" */
    it = h_c(&h, "a2 SELECT INBOX\r\n");
    CHECK(PH(it, AUTHENTICATED) && it->inferred && !(it->flags & ME_W_WRONG_PHASE));

    h = h_new(ME_PROTO_IMAP, false, true);
    h_s(&h, "* OK ready\r\n");
    it = h_c(&h, "a2 SELECT INBOX\r\n");
    CHECK(PH(it, AUTH) && (it->flags & ME_W_WRONG_PHASE));
}

/* A body's closing ".CRLF" split across segments (helper 19): the "." is
 * held as part of a line, the CRLF that completes it is the end of the
 * response, and a line's bytes count in the frames they came in. */
static void split_terminator(void)
{
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    me_item *it;
    h_pop3_login(&h);
    h_c(&h, "RETR 1\r\n");
    it = h_s(&h, "+OK 12 octets\r\nbody\r");
    CHECK(it->next && it->next->explain == TXT_POP3_MESSAGE_DATA && it->next->data_len == 5);
    it = h_s(&h, "\n.");
    CHECK(it && it->explain == TXT_POP3_MESSAGE_DATA && it->data_len == 1 && !it->next);
    it = h_s(&h, "\r");
    CHECK(it && it->explain == TXT_PARTIAL_LINE && it->data_len == 1);
    it = h_s(&h, "\n");
    CHECK(it && it->explain == TXT_BODY_END && !it->next);
    h_c(&h, "STAT\r\n");
    it = h_s(&h, "+OK 1 12\r\n");
    CHECK(it && it->kind == ME_KIND_REPLY && it->explain == TXT_POP3_STAT_OK);
    /* a dot-stuffed line ("..") split after its first dot is content */
    h_c(&h, "RETR 1\r\n");
    h_s(&h, "+OK 4 octets\r\n.");
    it = h_s(&h, ".\r\n");
    CHECK(it && it->explain == TXT_POP3_MESSAGE_DATA && it->data_len == 4);
    it = h_s(&h, ".\r\n");
    CHECK(it && it->explain == TXT_BODY_END);
}

/* Bytes of the client lost in SMTP (helper 19, a pipelined AUTH..DATA
 * segment lost): a gap inside a message body is flagged on the next body
 * record, and a reply whose command was lost takes its phase from its code
 * (RFC 5321 §4.2), as a guess. */
static void smtp_lost_client_bytes(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it;
    h_s(&h, "220 mx ESMTP\r\n");
    h_c(&h, "EHLO c\r\n");
    h_s(&h, "250 mx\r\n");
    h_c(&h, "MAIL FROM:<a@example.test>\r\n");
    h_s(&h, "250 ok\r\n");
    h_c(&h, "RCPT TO:<b@example.test>\r\n");
    h_s(&h, "250 ok\r\n");
    h_c(&h, "DATA\r\n");
    h_s(&h, "354 go\r\n");
    it = h_c(&h, "Subject: x\r\n");
    CHECK(it && !(it->flags & ME_W_GAP));
    me_session_gap(h.s, ME_CLIENT, 40, h.frame);
    it = h_c(&h, "more\r\n");
    CHECK(it && it->explain == TXT_SMTP_MESSAGE_DATA && (it->flags & ME_W_GAP));
    h_c(&h, ".\r\n");
    h_s(&h, "250 queued\r\n");
    me_session_gap(h.s, ME_CLIENT, 29, h.frame); /* "MAIL FROM:<c@example.test>\r\n" */
    it = h_s(&h, "250 2.1.0 Ok\r\n");
    CHECK(it && PH(it, ENVELOPE) && it->inferred && it->phase_start);
}

/* A capture begun mid-session at the +OK of a listing (helper 19: editcap
 * from a UIDL reply): a greeting is one line (RFC 1939 §4), so the +OK
 * followed by listing lines in the same segment is a reply, in TRANSACTION
 * (a guess), and its lines are the listing, not malformed.  A lone +OK
 * stays the greeting it most likely is. */
static void pop3_midsession_listing(void)
{
    h_sess h = h_new(ME_PROTO_POP3, false, false);
    me_item *it = h_s(&h, "+OK\r\n1 abc\r\n2 def\r\n.\r\n");
    CHECK(it && it->explain == TXT_POP3_OK && PH(it, TRANSACTION) && it->inferred);
    CHECK(it->next && it->next->explain == TXT_POP3_LISTING_DATA && !(it->next->flags & ME_W_MALFORMED));
    CHECK(!it->next->next);
    it = h_c(&h, "STAT\r\n");
    CHECK(it && PH(it, TRANSACTION) && !(it->flags & ME_W_WRONG_PHASE));

    h = h_new(ME_PROTO_POP3, false, false);
    it = h_s(&h, "+OK POP3 ready\r\n");
    CHECK(it && it->explain == TXT_POP3_GREETING && PH(it, AUTH));
    it = h_c(&h, "USER alice\r\n");
    CHECK(it && PH(it, AUTH));
}

/* Fault 7: only a command that tries to log in can fail a login (RFC 1939 §4). */
static void pop3_user_after_login(void)
{
    h_sess h = h_new(ME_PROTO_POP3, false, true);
    me_item *it;
    h_s(&h, "+OK ready\r\n");
    h_c(&h, "USER alice\r\n");
    h_s(&h, "+OK\r\n");
    h_c(&h, "PASS alicepw\r\n");
    it = h_s(&h, "+OK Logged in.\r\n");
    CHECK(it->auth && it->auth->attempt == 1 && it->auth->result == ME_RESULT_SUCCESS);
    it = h_c(&h, "USER bob\r\n");
    CHECK(PH(it, TRANSACTION) && (it->flags & ME_W_WRONG_PHASE) && !it->auth);
    it = h_s(&h, "-ERR Unknown command.\r\n");
    CHECK(it->status == ME_STATUS_ERROR && !(it->flags & ME_W_LOGIN_FAILED));
    CHECK(!it->auth);
    CHECK_STR(it->session_user, "alice");
    /* but a PASS after the login carries a secret: an attempt, as Wireshark's
     * own credentials list has it, whatever the phase; refusing it changes no
     * phase (RFC 1939 §4) */
    it = h_c(&h, "PASS bobpw\r\n");
    CHECK(PH(it, TRANSACTION) && (it->flags & ME_W_WRONG_PHASE) && (it->flags & ME_W_CLEARTEXT));
    CHECK(it->auth && it->auth->attempt == 2);
    CHECK(it->auth && it->auth->password && strcmp(it->auth->password, "bobpw") == 0);
    CHECK(it->auth && it->auth->username && strcmp(it->auth->username, "bob") == 0);
    it = h_s(&h, "-ERR Unknown command.\r\n");
    CHECK(it->auth && it->auth->attempt == 2 && it->auth->result == ME_RESULT_FAILURE);
    CHECK(it->explain == TXT_POP3_ERR); /* not "the session stays in AUTHORIZATION" */
    CHECK(PH(it, TRANSACTION));
    CHECK_STR(it->session_user, "alice");
    it = h_c(&h, "STAT\r\n");
    CHECK(PH(it, TRANSACTION) && !(it->flags & ME_W_WRONG_PHASE));
}

/* Fault 8: an empty AUTH PLAIN password is no readable secret (RFC 4616 §2). */
static void empty_password(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it;
    h_s(&h, "220 mx ESMTP\r\n");
    h_c(&h, "EHLO c\r\n");
    h_s(&h, "250-mx\r\n250 AUTH PLAIN\r\n");
    it = h_c(&h, "AUTH PLAIN AGFsaWNlAA==\r\n"); /* \0alice\0 */
    CHECK_STR(it->auth->username, "alice");
    CHECK_STR(it->auth->password, "");
    CHECK(!it->cleartext && !(it->flags & ME_W_CLEARTEXT));
    CHECK(it->explain2 == TXT_AUTH_EMPTY_PASSWORD);
    h = h_new(ME_PROTO_POP3, false, true);
    h_s(&h, "+OK ready\r\n");
    h_c(&h, "USER alice\r\n");
    h_s(&h, "+OK\r\n");
    it = h_c(&h, "PASS\r\n");
    CHECK(!it->cleartext && it->explain2 == TXT_AUTH_EMPTY_PASSWORD);
}

/* Fault 8: a body ended by a bare-LF dot (RFC 5321 §4.1.1.4 wants CRLF, but
 * servers accept LF) ends the data phase. */
static void bare_lf_dot(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it;
    h_s(&h, "220 mx ESMTP\r\n");
    h_c(&h, "EHLO c\r\n");
    h_s(&h, "250 mx\r\n");
    h_c(&h, "MAIL FROM:<a@b>\r\n");
    h_s(&h, "250 ok\r\n");
    h_c(&h, "RCPT TO:<c@d>\r\n");
    h_s(&h, "250 ok\r\n");
    h_c(&h, "DATA\r\n");
    h_s(&h, "354 go\r\n");
    it = h_c(&h, "Subject: x\n\nhello\n.\n");
    CHECK(it && it->next && it->next->explain == TXT_SMTP_END_OF_DATA);
    it = h_s(&h, "250 queued\r\n");
    CHECK(PH(it, DATA) && it->explain == TXT_SMTP_EOD_OK);
    it = h_c(&h, "QUIT\r\n");
    CHECK(PH(it, QUIT));
    it = h_s(&h, "221 bye\r\n");
    CHECK(PH(it, QUIT));
}

/* Fault 8: EHLO before the banner (RFC 5321 §3.1: the client waits for the
 * greeting).  The EHLO stays in phase greeting, flagged; its 250 opens hello. */
static void ehlo_before_banner(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it;
    it = h_c(&h, "EHLO early.example\r\n");
    CHECK(PH(it, GREETING) && (it->flags & ME_W_WRONG_PHASE));
    CHECK(it->wrong_phase == ME_PHASE_GREETING);
    it = h_s(&h, "220 mx ESMTP\r\n");
    CHECK(PH(it, GREETING) && !it->phase_start && it->explain == TXT_SMTP_GREETING);
    it = h_s(&h, "250 mx\r\n");
    CHECK(PH(it, HELLO) && it->phase_start && it->request_in == 1);
    it = h_c(&h, "MAIL FROM:<a@b>\r\n");
    CHECK(PH(it, ENVELOPE) && !(it->flags & ME_W_WRONG_PHASE));
}

/* Fault 4(a): a readable greeting on an implicit-TLS port is clear text. */
static void clear_greeting_on_tls_port(void)
{
    static const uint8_t hello[] = {0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00};
    h_sess h = h_new(ME_PROTO_SMTP, true, true);
    me_item *it;
    it = h_feed(&h, ME_CLIENT, hello, sizeof(hello));
    CHECK(it->kind == ME_KIND_TLS && it->tls && PH(it, TLS));
    it = h_s(&h, "220-poczta.example.pl ESMTP\r\n220 ready\r\n");
    CHECK(it->kind == ME_KIND_REPLY && !it->tls && PH(it, GREETING));
    CHECK(it->explain == TXT_SMTP_GREETING && it->reply_code == 220);
    CHECK(it->explain2 == TXT_CLEAR_ON_TLS_PORT);
    /* a server that answers with TLS stays TLS */
    h = h_new(ME_PROTO_IMAP, true, true);
    h_feed(&h, ME_CLIENT, hello, sizeof(hello));
    it = h_feed(&h, ME_SERVER, hello, sizeof(hello));
    CHECK(it->kind == ME_KIND_TLS && it->tls);
    it = h_s(&h, "* OK looks like text but inside TLS\r\n");
    CHECK(it->kind == ME_KIND_TLS && it->tls);
}

/* Fault 4(b): plaintext after the STARTTLS OK in the same segment (RFC 3207 §4.2). */
static void plaintext_after_starttls_ok(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it;
    h_s(&h, "220 mx ESMTP\r\n");
    h_c(&h, "EHLO c\r\n");
    h_s(&h, "250-mx\r\n250 STARTTLS\r\n");
    h_c(&h, "STARTTLS\r\n");
    it = h_s(&h, "220 2.0.0 Ready to start TLS\r\n250-injected\r\n");
    CHECK(it->explain == TXT_SMTP_STARTTLS_OK && (it->flags & ME_W_TLS_START));
    it = it->next;
    CHECK(it && it->kind == ME_KIND_UNKNOWN && !it->tls && (it->flags & ME_W_PLAIN_BEFORE_TLS));
    CHECK(it && it->explain == TXT_PLAIN_BEFORE_TLS && !it->next);
    CHECK_STR(it ? it->argument : NULL, "250-injected");
    it = h_feed(&h, ME_SERVER, "\x16\x03\x03\x00\x02\x02\x00", 7); /* ServerHello start */
    CHECK(it->kind == ME_KIND_TLS && it->tls);
    /* IMAP: the same shape, RFC 9051 §6.2.1 */
    h = h_new(ME_PROTO_IMAP, false, true);
    h_s(&h, "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n");
    h_c(&h, "a STARTTLS\r\n");
    it = h_s(&h, "a OK Begin TLS negotiation now\r\n* OK injected\r\n");
    CHECK(it->next && (it->next->flags & ME_W_PLAIN_BEFORE_TLS) && !it->next->tls);
}

/* A client that sends everything before the greeting, which comes later
 * (Arkime's smtp-subject-windows shape): every early line stays in greeting,
 * flagged (RFC 5321 §3.1), and the replies open the phases in turn, so they
 * read greeting, hello, envelope, data as the session really went. */
static void smtp_early_talker(void)
{
    h_sess h = h_new(ME_PROTO_SMTP, false, true);
    me_item *it, *x;
    int i;
    it = h_c(&h, "EHLO desk\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
    for (i = 0, x = it; x; x = x->next, i++)
        CHECK(x->kind == ME_KIND_COMMAND && PH(x, GREETING) && (x->flags & ME_W_WRONG_PHASE) &&
              x->wrong_phase == ME_PHASE_GREETING && x->phase_start == (i == 0));
    CHECK(i == 4);
    it = h_s(&h, "220-mx.example.org ESMTP\r\n220 ready\r\n");
    CHECK(PH(it, GREETING) && !it->phase_start && it->explain == TXT_SMTP_GREETING);
    it = h_s(&h, "250 mx.example.org\r\n");
    CHECK(PH(it, HELLO) && it->phase_start);
    it = h_s(&h, "250 sender ok\r\n");
    CHECK(PH(it, ENVELOPE) && it->phase_start);
    it = h_s(&h, "250 recipient ok\r\n");
    CHECK(PH(it, ENVELOPE) && !it->phase_start);
    it = h_s(&h, "354 go ahead\r\n");
    CHECK(PH(it, DATA) && it->phase_start);
    it = h_c(&h, "hi\r\n.\r\n");
    CHECK(PH(it, DATA));
    it = h_s(&h, "250 queued\r\n");
    CHECK(PH(it, DATA) && it->explain == TXT_SMTP_EOD_OK);
    it = h_c(&h, "QUIT\r\n");
    CHECK(PH(it, QUIT) && it->phase_start && !(it->flags & ME_W_WRONG_PHASE));
}

int main(void)
{
    smtp_early_talker();
    smtp_refused_command_keeps_state();
    smtp_client_only_auth_login();
    pop3_client_only();
    pop3_pipelined_phases();
    pop3_pipelined_failed_login();
    pop3_pipelined_client_only();
    lost_client_bytes();
    split_terminator();
    smtp_lost_client_bytes();
    pop3_midsession_listing();
    pop3_user_after_login();
    empty_password();
    bare_lf_dot();
    ehlo_before_banner();
    clear_greeting_on_tls_port();
    plaintext_after_starttls_ok();
    return h_done("test_faults");
}
