/* fuzz_detect.c - libFuzzer target: recognition of a mail conversation on any
 * port (plugin/detect.c), then the replay of what it kept into a session of
 * the recognised protocol, as the glue does.  Input: operations, each one byte
 * (bit 0: sent by the side on port 2110, else by the client on 40000) and a
 * chunk of payload. */
#include "detect.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void replay(void *ctx, me_dir dir, const uint8_t *p, size_t n)
{
    me_session_feed((me_session *)ctx, dir, p, n, 0, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {data, size};
    me_detect *d = me_detect_new(&fz_allocator);
    me_detect_verdict v = ME_DETECT_WAIT;
    int op, steps = 0;
    volatile size_t sink = 0;

    while (v == ME_DETECT_WAIT && (op = fz_byte(&in)) >= 0 && steps++ < 256) {
        const uint8_t *p;
        size_t n = fz_chunk(&in, &p, 65535);
        bool srv = op & 1;
        v = me_detect_segment(d, srv ? 2110 : 40000, srv ? 40000 : 2110, p, n);
        if (v == ME_DETECT_MAIL) {
            me_proto proto = me_detect_proto(d);
            me_session *s;
            if (proto == ME_PROTO_NONE || (me_detect_server_port(d) != 2110 &&
                                           me_detect_server_port(d) != 40000))
                __builtin_trap(); /* a verdict names a protocol and one of the two ports */
            s = me_session_new(&fz_allocator, proto, false, true);
            me_detect_replay(d, replay, s);
            if (n)
                sink += fz_walk(me_session_feed(s, srv ? ME_SERVER : ME_CLIENT, p, n, 1, false));
        }
    }
    {
        bool from_server = false, maybe_smtp = false;
        sink += (size_t)me_guess_protocol(data, size, &from_server, &maybe_smtp);
    }
    (void)sink;
    fz_free_all();
    return 0;
}
