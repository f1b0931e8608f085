/* imap.c - engine placeholder until its issue lands */
#include "internal.h"
static void init(me_session *s) { s->phase = ME_PHASE_AUTH; }
static void line(me_session *s, me_dir dir, const char *l, size_t n) { (void)l; (void)n; me_item_new(s, dir, ME_KIND_UNKNOWN); }
static void body_end(me_session *s, me_dir dir) { (void)s; (void)dir; }
static void counted(me_session *s, me_dir dir, const uint8_t *d, size_t n, bool done) { (void)s, (void)dir, (void)d, (void)n, (void)done; }
const me_engine me_imap_engine = {init, line, body_end, counted};
