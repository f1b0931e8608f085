/* packet-mailedu.h - what mailedu's glue files share.
 *
 * The path of a byte: packet-mailedu.c (first pass: reads the TCP segment
 * through the wanted-fields table) -> plugin/stream.c (order, gaps) ->
 * plugin/session.c (lines, counted bytes) -> an engine (plugin/pop3.c,
 * smtp.c, imap.c) -> immutable records kept per frame -> packet-mailedu-tree.c
 * (the protocol tree and expert info, every pass) and the taps.
 * packet-mailedu-heur.c decides which conversations are mail (ports, the
 * heuristic on any port, a builtin mail dissector inside a tunnel) and hands
 * recognised ones to the builtin POP/IMAP/SMTP dissectors.
 * SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef PACKET_MAILEDU_H
#define PACKET_MAILEDU_H

#include <epan/conversation.h>
#include <epan/packet.h>

#include "packet-mailedu-version.h"
#include "plugin/detect.h"
#include "plugin/mailedu.h"
#include "plugin/stream.h"

extern int proto_mailedu;

/* Preferences (Edit -> Preferences -> Protocols -> mailedu). */
typedef struct mailedu_prefs_t {
    gint language;                   /* me_lang */
    mailedu_pref_bool mask_passwords;
    mailedu_pref_bool info_column;
} mailedu_prefs_t;
extern mailedu_prefs_t mailedu_prefs;

/* How a conversation was found to be mail. */
typedef enum {
    MAILEDU_BY_PORT = 0,   /* a mail port (or Decode As) in the tcp/tls port tables */
    MAILEDU_BY_HEURISTIC,  /* the first lines, on any port */
    MAILEDU_BY_LAYER       /* a builtin mail dissector ran inside a tunnel (SOCKS, HTTP CONNECT) */
} mailedu_origin;

/* Per-conversation state, in file scope, created on the first frame of every
 * TCP conversation.  Three concerns: what it is (recognition), where each
 * side's bytes are (ordering), what they mean (the session). */
typedef struct mailedu_conv {
    /* recognition */
    guint32 stream;                  /* Wireshark's tcp.stream index */
    me_proto proto;                  /* ME_PROTO_NONE: not mail (yet) */
    mailedu_origin origin;
    guint16 server_port;
    gboolean tls_port;               /* implicit TLS (995, 993, 465, or TLS on a lab port) */
    me_detect *detect;               /* the heuristic's state, until decided */
    guint32 detect_frame;            /* last frame recognition looked at */
    /* ordering: where each side's data starts (its SYN), and the streams */
    gboolean syn;
    guint8 nisn, frames;
    guint16 isn_port[2];
    guint32 isn_next[2];
    guint32 replayed[2];             /* [me_dir] first bytes the heuristic held and replayed */
    me_stream *flow[2];              /* [me_dir], mail conversations only */
    guint16 socks_port;              /* DST.PORT of a SOCKS5 CONNECT seen here (RFC 1928 §4) */
    /* meaning */
    me_session *sess;
    me_kept *kept;                   /* the session's records, also once it is freed */
    guint8 fin;                      /* 1 << me_dir: that side sent FIN or RST */
    gboolean closed;                 /* both sides finished: sess and flow freed */
} mailedu_conv;

/* Memory for everything kept across frames: wmem file scope. */
extern const me_alloc mailedu_file_alloc;

/* packet-mailedu.c: S (NUL-terminated; NULL allowed) as valid UTF-8, which
 * every string Wireshark takes must be (field values, column and expert
 * texts, tap records): S itself when it is, else a copy in POOL with each
 * invalid sequence replaced by U+FFFD, as Wireshark's own UTF-8 decoding
 * does (get_utf_8_string).  The records keep what was sent, any bytes; the
 * reports clean their text themselves (plugin/report.c). */
const char *mailedu_utf8(wmem_allocator_t *pool, const char *s);

/* packet-mailedu.c: the state of the frame's innermost TCP conversation
 * (found by its tcp.stream index, from TREE when it has the field), created
 * on demand in file scope.  NULL when create is FALSE and none exists, or
 * when the frame has no TCP conversation. */
mailedu_conv *mailedu_conv_get(packet_info *pinfo, proto_tree *tree, gboolean create);

/* packet-mailedu-heur.c */
void mailedu_heur_handoff(void);
/* Which side is the server and which protocol, from the tcp and tls port
 * tables the builtin dissectors (and Decode As) use; ME_PROTO_NONE if no mail port. */
me_proto mailedu_classify_port(packet_info *pinfo, guint16 *server_port, gboolean *tls);
/* The mail protocol the tcp.port table gives PORT, or ME_PROTO_NONE. */
me_proto mailedu_port_proto(guint32 port);
/* Recognition on any port (first pass): TRUE once the conversation is mail;
 * never while the heuristic mailedu_tcp is disabled. */
gboolean mailedu_recognise(mailedu_conv *mc, packet_info *pinfo, const guint8 *p, guint len);
/* A builtin POP/IMAP/SMTP dissector ran on this frame where no port says mail
 * (a tunnel): records the protocol and the server side from the bytes it got. */
void mailedu_recognise_layer(mailedu_conv *mc, packet_info *pinfo, me_proto proto,
                             const guint8 *p, guint len);

/* packet-mailedu-tree.c */
void mailedu_tree_register(int proto);
/* Resolves what rendering asks about others (Wireshark's expert tap and
 * protocol).  Called once from proto_reg_handoff_mailedu(). */
void mailedu_tree_handoff(void);
void mailedu_tree_render(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
                         const mailedu_conv *mc, const me_item *items);

#endif /* PACKET_MAILEDU_H */
