/* fuzz_session.c - libFuzzer target: one engine (FUZZ_PROTO: ME_PROTO_POP3,
 * _SMTP or _IMAP) through me_session_feed, the way the glue drives it.
 *
 * Input: one byte of session flags (bit 0 implicit TLS, bit 1 handshake seen),
 * then operations until the input ends, each one byte (bit 0 direction, bit 1
 * decrypted, bits 2-3: 0/1 feed, 2 gap (its records too), 3 note) and a chunk (fz_chunk): the
 * bytes to feed, or whose length is the gap / the note's size.  Every
 * operation is a new frame; every record is read back (fz_walk), the frame's
 * records now and all of them at the end (response_in is written later). */
#include "fuzz_common.h"

#ifndef FUZZ_PROTO
#error "build with -DFUZZ_PROTO=ME_PROTO_POP3 (or _SMTP, _IMAP)"
#endif

#define MAX_FRAMES 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static me_item *heads[MAX_FRAMES];
    fz_in in = {data, size};
    int flags = fz_byte(&in), op;
    uint32_t frame = 0, nheads = 0, i;
    volatile size_t sink = 0;
    me_session *s;

    if (flags < 0)
        return 0;
    s = me_session_new(&fz_allocator, FUZZ_PROTO, flags & 1, (flags & 2) != 0);
    while ((op = fz_byte(&in)) >= 0 && frame < MAX_FRAMES) {
        const uint8_t *p;
        size_t n = fz_chunk(&in, &p, 65535);
        me_dir dir = (op & 1) ? ME_SERVER : ME_CLIENT;
        me_item *head = NULL;
        frame++;
        switch ((op >> 2) & 3) {
        case 2:
            head = me_session_gap(s, dir, n, frame);
            break;
        case 3:
            head = me_session_note(s, dir, n, frame, TXT_OUT_OF_ORDER);
            break;
        default:
            head = me_session_feed(s, dir, p, n, frame, (op & 2) != 0);
            if (n > 0 && !head)
                __builtin_trap(); /* contract: at least one record when len > 0 */
            break;
        }
        sink += fz_walk(head);
        if (head)
            heads[nheads++] = head;
    }
    for (i = 0; i < nheads; i++)
        sink += fz_walk(heads[i]);
    (void)me_session_phase(s);
    (void)sink;
    fz_free_all();
    return 0;
}
