/* test_recognise.c - recognition of a conversation segment by segment
 * (plugin/detect.c me_detect_*): the state the glue used to keep. */
#include "detect.h"
#include "harness.h"

#define SRV 2110
#define CLI 40000

static me_detect_verdict seg(me_detect *d, uint16_t src, uint16_t dst, const char *t)
{
    return me_detect_segment(d, src, dst, (const uint8_t *)t, strlen(t));
}

typedef struct {
    char text[2][256]; /* [me_dir] */
} replayed;

static void on_replay(void *ctx, me_dir dir, const uint8_t *p, size_t n)
{
    replayed *r = (replayed *)ctx;
    strncat(r->text[dir], (const char *)p, n);
}

static void greeting_decides(void)
{
    me_detect *d = me_detect_new(&h_alloc);
    CHECK(seg(d, SRV, CLI, "+OK POP3 ready\r\n") == ME_DETECT_MAIL);
    CHECK(me_detect_proto(d) == ME_PROTO_POP3);
    CHECK(me_detect_server_port(d) == SRV);
    /* final: later segments do not change it */
    CHECK(seg(d, CLI, SRV, "GET / HTTP/1.1\r\n") == ME_DETECT_MAIL);
}

static void first_line_in_pieces(void)
{
    replayed r = {{"", ""}};
    me_detect *d = me_detect_new(&h_alloc);
    CHECK(seg(d, SRV, CLI, "* O") == ME_DETECT_WAIT);
    CHECK(seg(d, SRV, CLI, "K [CAPA") == ME_DETECT_WAIT);
    CHECK(seg(d, SRV, CLI, "BILITY IMAP4rev1] hi\r\n") == ME_DETECT_MAIL);
    CHECK(me_detect_proto(d) == ME_PROTO_IMAP);
    CHECK(me_detect_server_port(d) == SRV);
    me_detect_replay(d, on_replay, &r);
    /* the earlier pieces are replayed; the deciding segment is the caller's */
    CHECK_STR(r.text[ME_SERVER], "* OK [CAPA");
    CHECK_STR(r.text[ME_CLIENT], "");
}

static void ambiguous_220_then_ehlo(void)
{
    replayed r = {{"", ""}};
    me_detect *d = me_detect_new(&h_alloc);
    CHECK(seg(d, SRV, CLI, "220 welcome\r\n") == ME_DETECT_WAIT); /* FTP greets the same way */
    CHECK(seg(d, CLI, SRV, "EHLO lab.example\r\n") == ME_DETECT_MAIL);
    CHECK(me_detect_proto(d) == ME_PROTO_SMTP);
    CHECK(me_detect_server_port(d) == SRV); /* the EHLO's destination */
    me_detect_replay(d, on_replay, &r);
    CHECK_STR(r.text[ME_SERVER], "220 welcome\r\n");
}

static void ambiguous_220_then_ftp(void)
{
    me_detect *d = me_detect_new(&h_alloc);
    CHECK(seg(d, SRV, CLI, "220 welcome\r\n") == ME_DETECT_WAIT);
    CHECK(seg(d, CLI, SRV, "USER anonymous\r\n") == ME_DETECT_NOT_MAIL);
    CHECK(me_detect_proto(d) == ME_PROTO_NONE);
    /* final: a later "+OK" in the data cannot turn it into POP3 */
    CHECK(seg(d, SRV, CLI, "+OK\r\n") == ME_DETECT_NOT_MAIL);
}

static void only_first_lines_count(void)
{
    me_detect *d = me_detect_new(&h_alloc);
    CHECK(seg(d, CLI, SRV, "GET / HTTP/1.1\r\n") == ME_DETECT_WAIT);
    /* the same side's later lines are not evidence */
    CHECK(seg(d, CLI, SRV, "CAPA\r\n") == ME_DETECT_WAIT);
    CHECK(seg(d, SRV, CLI, "HTTP/1.1 200 OK\r\n") == ME_DETECT_NOT_MAIL);
}

static void binary_never_waits_forever(void)
{
    me_detect *d = me_detect_new(&h_alloc);
    static const char bin[] = "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03";
    CHECK(me_detect_segment(d, CLI, SRV, (const uint8_t *)bin, sizeof bin - 1) == ME_DETECT_WAIT);
    CHECK(me_detect_segment(d, SRV, CLI, (const uint8_t *)bin, sizeof bin - 1) == ME_DETECT_NOT_MAIL);
}

int main(void)
{
    greeting_decides();
    first_line_in_pieces();
    ambiguous_220_then_ehlo();
    ambiguous_220_then_ftp();
    only_first_lines_count();
    binary_never_waits_forever();
    return h_done("recognise");
}
