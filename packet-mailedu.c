/* packet-mailedu.c - mailedu's registration, preferences and first pass, and
 * the entry points Wireshark's plugin loader looks for.
 *
 * mailedu is a postdissector.  On the first pass it reads each TCP segment of
 * a mail conversation (the builtin POP/IMAP/SMTP dissectors have run already)
 * through one table of wanted fields, puts the segment in order
 * (plugin/stream.c), feeds the new bytes to the session (plugin/session.c) and
 * keeps the records it returns packed in their session (plugin/pack.c).  The
 * first pass renders the records as made, later passes the unpacked kept form
 * (packet-mailedu-tree.c); both hold the same values, so tshark -2, GUI clicks
 * in any order and reloads show the same thing.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "packet-mailedu.h"

#include <epan/charsets.h>
#include <epan/prefs.h>
#include <epan/dissectors/packet-tcp.h>
#include <wsutil/wslog.h>
#if MAILEDU_HAVE_PLUGIN_DESCRIBE
#include <wsutil/plugins.h>
#endif

#include "packet-mailedu-tap.h"

#ifndef VERSION
#define VERSION "0.2.0"
#endif

void proto_register_mailedu(void);
void proto_reg_handoff_mailedu(void);

int proto_mailedu = -1;
mailedu_prefs_t mailedu_prefs = {ME_LANG_EN, FALSE, TRUE};

static dissector_handle_t mailedu_handle;

/* ---- the fields of other dissectors the first pass reads ---- */

typedef enum {
    WF_TCP_STREAM = 0, /* the conversation's index: the key of mailedu's state */
    WF_HTTP_CODE,    /* a CONNECT's 2xx reply with bytes after it (RFC 9110 §9.3.6) */
    WF_HTTP_FOR_URI,
    WF_SOCKS_VERSION, /* a SOCKS5 reply with bytes after it (RFC 1928 §6) */
    WF_SOCKS_COMMAND,
    WF_SOCKS_RESULTS,
    WF_SOCKS_PORT,
    WF_COUNT
} wanted_field;

static const char *const wanted_name[WF_COUNT] = {
    "tcp.stream",
    "http.response.code", "http.response_for.uri", "socks.version",
    "socks.command", "socks.results", "socks.port"};
/* Other names a wanted field has had: Wireshark 4.4 and later name the
 * request's URI on the response http.request.uri (4.0: http.response_for.uri). */
static const char *const wanted_alias[WF_COUNT] = {
    [WF_HTTP_FOR_URI] = "http.request.uri"};
static int wanted_hf[WF_COUNT]; /* set for every field at handoff */

/* Protocols whose items mailedu finds among the tree's top-level items,
 * which Wireshark always makes real: walking those few costs less than
 * wanting them, which indexes them on every frame. */
typedef enum {
    TP_TCP = 0,      /* TCP's item spans its header (read_segment) */
    TP_IP,           /* IP's items start at their header: the segment's end */
    TP_IPV6,
    TP_POP,          /* the builtin dissectors' items: where their bytes start */
    TP_IMAP,
    TP_SMTP,
    TP_COUNT
} top_proto;

static const char *const top_name[TP_COUNT] = {"tcp", "ip", "ipv6", "pop", "imap", "smtp"};
static int top_id[TP_COUNT]; /* set for every protocol at handoff */

/* The last (innermost) top-level item of each protocol in this frame, and
 * the IP item that carries the last TCP item (the last before it). */
typedef struct top_items {
    field_info *fi[TP_COUNT];
    field_info *ip;     /* the last IP item seen so far in the walk */
    field_info *tcp_ip; /* the one before the last TCP item: its carrier */
} top_items;

static void note_top(proto_node *node, gpointer data)
{
    top_items *t = (top_items *)data;
    field_info *fi = PNODE_FINFO(node);
    guint i;
    if (!fi || !fi->hfinfo)
        return;
    for (i = 0; i < TP_COUNT; i++)
        if (fi->hfinfo->id == top_id[i]) {
            t->fi[i] = fi;
            if (i == TP_IP || i == TP_IPV6)
                t->ip = fi;
            else if (i == TP_TCP)
                t->tcp_ip = t->ip;
        }
}

#define TCP_FIN 0x001
#define TCP_SYN 0x002
#define TCP_RST 0x004
#define TCP_ACK 0x010

/* The innermost occurrence of a wanted field in this frame, or NULL. */
static field_info *wanted(proto_tree *tree, wanted_field w)
{
    GPtrArray *a;
    if (wanted_hf[w] < 0 || !tree)
        return NULL;
    a = proto_get_finfo_ptr_array(tree, wanted_hf[w]);
    if (!a || a->len == 0)
        return NULL;
    return (field_info *)g_ptr_array_index(a, a->len - 1);
}

/* One TCP segment as the first pass sees it. */
typedef struct segment {
    guint32 seq, ack, seglen, caplen;
    guint16 flags;
    const guint8 *bytes;           /* caplen captured payload bytes */
    tvbuff_t *ds;                  /* the data source the payload is in, */
    gint pstart;                   /* and where it starts there */
    me_proto layer;                /* a builtin mail dissector ran on this frame */
    guint32 layer_offset;          /* where its bytes start in the payload */
    guint16 socks_connect;         /* a SOCKS5 CONNECT's DST.PORT, or 0 */
    guint32 socks_tail;            /* a SOCKS5 success reply followed by tunnel
                                    * bytes: where they start in the payload, or 0 */
} segment;

/* The field starts inside this segment's captured payload. */
static gboolean in_payload(const field_info *fi, const segment *s)
{
    return fi && s->caplen && fi->ds_tvb == s->ds && fi->start >= s->pstart &&
           fi->start < s->pstart + (gint)s->caplen;
}

/* A 2xx reply to CONNECT (its request-URI is in authority form, host:port,
 * RFC 9112 §3.2.3) with bytes after its header block (which ends with an
 * empty line, RFC 9112 §2.1) in the same segment: the tunnel starts there
 * (RFC 9110 §9.3.6), but Wireshark's HTTP dissector reads them as a body.
 * They are mail if the URI's port is a mail port. */
static void read_connect_reply(proto_tree *tree, segment *s)
{
    field_info *code = wanted(tree, WF_HTTP_CODE), *uri = wanted(tree, WF_HTTP_FOR_URI);
    const char *u, *colon;
    const guint8 *from, *end;
    guint32 c;
    if (!in_payload(code, s) || !uri)
        return;
    c = fvalue_get_uinteger(MAILEDU_FVALUE(code));
    u = fvalue_get_string(MAILEDU_FVALUE(uri));
    if (c < 200 || c > 299 || !u || strchr(u, '/') || !(colon = strrchr(u, ':')))
        return;
    from = s->bytes + (code->start - s->pstart);
    end = ws_memmem(from, (size_t)(s->bytes + s->caplen - from), "\r\n\r\n", 4);
    if (!end || end + 4 >= s->bytes + s->caplen)
        return;
    s->layer = mailedu_port_proto((guint32)strtoul(colon + 1, NULL, 10));
    s->layer_offset = (guint32)(end + 4 - s->bytes);
}

/* A field's unsigned value, if it is in this segment's payload. */
static gboolean payload_uint(proto_tree *tree, wanted_field w, const segment *s, guint32 *v,
                             field_info **out)
{
    field_info *fi = wanted(tree, w);
    if (!in_payload(fi, s))
        return FALSE;
    *v = fvalue_get_uinteger(MAILEDU_FVALUE(fi));
    if (out)
        *out = fi;
    return TRUE;
}

/* SOCKS5 (RFC 1928): the client's CONNECT names the port the tunnel goes to
 * (§4: VER CMD RSV ATYP DST.ADDR DST.PORT), and the server's success reply
 * (§6: VER REP=0 RSV ATYP BND.ADDR BND.PORT) ends with BND.PORT; what follows
 * it in the same segment is the tunnel's first bytes (a greeting), which
 * Wireshark's SOCKS dissector does not hand on. */
static void read_socks(proto_tree *tree, segment *s)
{
    field_info *port;
    guint32 ver, v, end;
    if (!payload_uint(tree, WF_SOCKS_VERSION, s, &ver, NULL) || ver != 5 ||
        !payload_uint(tree, WF_SOCKS_PORT, s, &v, &port))
        return;
    if (payload_uint(tree, WF_SOCKS_COMMAND, s, &ver, NULL)) {
        if (ver == 1) /* CONNECT */
            s->socks_connect = (guint16)v;
        return;
    }
    end = (guint32)(port->start + port->length - s->pstart);
    if (payload_uint(tree, WF_SOCKS_RESULTS, s, &v, NULL) && v == 0 && end < s->caplen)
        s->socks_tail = end;
}

/* Which builtin mail dissector (or tunnel) has the payload's bytes. */
static void read_layer(proto_tree *tree, const top_items *top, segment *s)
{
    static const struct { top_proto t; me_proto p; } layers[] = {
        {TP_POP, ME_PROTO_POP3}, {TP_IMAP, ME_PROTO_IMAP}, {TP_SMTP, ME_PROTO_SMTP}};
    guint i;
    if (!s->caplen)
        return;
    for (i = 0; i < G_N_ELEMENTS(layers); i++) {
        field_info *fi = top->fi[layers[i].t];
        if (in_payload(fi, s)) {
            s->layer = layers[i].p;
            s->layer_offset = (guint32)(fi->start - s->pstart);
            return;
        }
    }
    read_connect_reply(tree, s);
    if (s->layer == ME_PROTO_NONE)
        read_socks(tree, s);
}

/* Where the TCP segment ends in its data source: where the IP datagram that
 * carries it ends, by the IP header's length field (RFC 791 §3.1 Total
 * Length; RFC 8200 §3 Payload Length, after the 40-byte fixed header), as
 * Wireshark's IP dissectors cut TCP's data: never past the frame's reported
 * length, and the whole frame when the field is 0 (segmentation offload, an
 * IPv6 jumbogram).  Captured bytes after that end are link-layer padding, not
 * payload.  Without an IP item in the same data source (a datagram
 * reassembled from fragments is its own data source, exactly as long as the
 * datagram), the data source's end.  IP is a top-level item, always real, so
 * reading its length costs no wanted field (issue 13). */
static gint segment_end(const field_info *ip, tvbuff_t *ds)
{
    gint end = (gint)tvb_reported_length(ds);
    guint8 version;
    guint len;
    if (!ip || ip->ds_tvb != ds || !tvb_bytes_exist(ds, ip->start, 6))
        return end;
    version = tvb_get_guint8(ds, ip->start) >> 4;
    if (version == 4)
        len = tvb_get_ntohs(ds, ip->start + 2);
    else if (version == 6 && (len = tvb_get_ntohs(ds, ip->start + 4)) != 0)
        len += 40;
    else
        return end;
    return len ? MIN(end, ip->start + (gint)len) : end;
}

/* The segment comes from its TCP header (RFC 9293 §3.1), which TCP's
 * top-level item spans: sequence number at 4, acknowledgment number at 8,
 * then the data offset (header length in 32-bit words, high 4 bits) and the
 * flags (low 12 bits of those 2 bytes); the payload starts after the header
 * and ends where the IP datagram does (segment_end).  TOP gets the frame's
 * top-level protocol items; the caller reads the layer under the payload
 * when it matters.  FALSE when the frame has no whole TCP header. */
static gboolean read_segment(proto_tree *tree, top_items *top, segment *s)
{
    field_info *ftcp;
    gint hdr, avail, end;
    memset(s, 0, sizeof *s);
    memset(top, 0, sizeof *top);
    if (!tree)
        return FALSE;
    proto_tree_children_foreach(tree, note_top, top);
    ftcp = top->fi[TP_TCP];
    if (!ftcp || !ftcp->ds_tvb || !tvb_bytes_exist(ftcp->ds_tvb, ftcp->start, 20))
        return FALSE;
    hdr = ftcp->start;
    s->ds = ftcp->ds_tvb;
    s->seq = tvb_get_ntohl(s->ds, hdr + 4);
    s->flags = tvb_get_ntohs(s->ds, hdr + 12) & 0x0fff;
    if (s->flags & TCP_ACK)
        s->ack = tvb_get_ntohl(s->ds, hdr + 8);
    s->pstart = hdr + (tvb_get_guint8(s->ds, hdr + 12) >> 4) * 4;
    end = segment_end(top->tcp_ip, s->ds);
    if (s->pstart < hdr + 20 || s->pstart > end)
        return FALSE; /* a header length TCP calls bogus: it gives no segment */
    s->seglen = (guint32)(end - s->pstart);
    avail = tvb_captured_length_remaining(s->ds, s->pstart);
    if (s->seglen > 0 && avail > 0) {
        s->caplen = MIN((guint32)avail, s->seglen); /* Ethernet padding is not payload */
        s->bytes = tvb_get_ptr(s->ds, s->pstart, (gint)s->caplen);
    }
    return TRUE;
}

/* ---- conversations ---- */

static void *wmem_file_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return wmem_alloc0(wmem_file_scope(), n);
}

static void wmem_file_free(void *ctx, void *p)
{
    (void)ctx;
    wmem_free(wmem_file_scope(), p);
}

const me_alloc mailedu_file_alloc = {wmem_file_alloc, NULL, wmem_file_free};

const char *mailedu_utf8(wmem_allocator_t *pool, const char *s)
{
    if (!s || g_utf8_validate(s, -1, NULL))
        return s;
    return (const char *)get_utf_8_string(pool, (const guint8 *)s, (gint)strlen(s));
}

/* Records are made in the packet's pool and packed into file scope at the
 * end of the frame (plugin/pack.c): most of a made record is empty slots. */
static void *wmem_pool_alloc(void *ctx, size_t n)
{
    return wmem_alloc0((wmem_allocator_t *)ctx, n);
}

/* mailedu's state of each TCP conversation, keyed by its tcp.stream index + 1
 * (a direct map has no key 0).  The map is made at registration and emptied
 * by Wireshark when the file closes (wmem_map_new_autoreset).  An integer
 * lookup instead of a search by addresses and ports on every TCP frame, and
 * no node in the conversation's own data tree (issue 13). */
static wmem_map_t *conv_by_stream;

/* The tcp.stream index of the frame's innermost TCP conversation: the field
 * when the tree has it (the postdissector always does: it is a wanted field),
 * else TCP's own conversation data (a heuristic called without a tree). */
static guint32 stream_of(packet_info *pinfo, proto_tree *tree)
{
    field_info *fi = wanted(tree, WF_TCP_STREAM);
    struct tcp_analysis *tcpd;
    if (fi)
        return fvalue_get_uinteger(MAILEDU_FVALUE(fi));
    tcpd = get_tcp_conversation_data(NULL, pinfo);
    return tcpd ? tcpd->stream : G_MAXUINT32;
}

mailedu_conv *mailedu_conv_get(packet_info *pinfo, proto_tree *tree, gboolean create)
{
    guint32 stream = stream_of(pinfo, tree);
    gpointer key = GUINT_TO_POINTER(stream + 1);
    mailedu_conv *mc;
    if (stream == G_MAXUINT32)
        return NULL;
    mc = (mailedu_conv *)wmem_map_lookup(conv_by_stream, key);
    if (!mc && create) {
        mc = wmem_new0(wmem_file_scope(), mailedu_conv);
        mc->stream = stream;
        mc->proto = mailedu_classify_port(pinfo, &mc->server_port, &mc->tls_port);
        wmem_map_insert(conv_by_stream, key, mc);
    }
    return mc;
}

/* Remembers where each side's data starts (RFC 9293 §3.4: after the SYN), so
 * that a first data segment that arrives out of order is seen as such: the
 * first byte of the side on port; own: from that side's own SYN, which
 * overrides what its peer's acknowledgement told. */
static void note_isn(mailedu_conv *mc, guint32 port, guint32 next, gboolean own)
{
    guint i;
    for (i = 0; i < mc->nisn && mc->isn_port[i] != port; i++)
        ;
    if (i == mc->nisn) {
        if (mc->nisn >= 2)
            return;
        mc->nisn++;
    } else if (!own) {
        return;
    }
    mc->isn_port[i] = (guint16)port;
    mc->isn_next[i] = next;
}

/* The handshake's first bytes of each side (RFC 9293 §3.5): a SYN's own
 * sequence number, and, when only one side is captured, the peer's from the
 * acknowledgement of its SYN (the SYN-ACK, or the third segment). */
static void note_handshake(mailedu_conv *mc, packet_info *pinfo, const segment *s)
{
    if (mc->frames >= 4)
        return;
    mc->frames++;
    if (s->flags & TCP_SYN) {
        mc->syn = TRUE;
        note_isn(mc, pinfo->srcport, s->seq + 1, TRUE);
        if (s->flags & TCP_ACK)
            note_isn(mc, pinfo->destport, s->ack, FALSE);
    } else if (mc->syn && (s->flags & TCP_ACK) && s->seglen == 0) {
        note_isn(mc, pinfo->destport, s->ack, FALSE);
    }
}

static void replay_detected(void *ctx, me_dir dir, const uint8_t *p, size_t n)
{
    mailedu_conv *mc = (mailedu_conv *)ctx;
    me_session_feed(mc->sess, dir, p, n, 0, FALSE); /* state only: no frame */
    mc->replayed[dir] += (guint32)n; /* that side's first bytes: its stream starts after them */
}

/* Both sides have finished and all their bytes were read: the session's
 * working state goes back to file scope's free lists, where the next
 * sessions take it (a capture of many sessions needs memory for those open
 * at once, not for all; issue 13).  Its records stay. */
static void finish_session(mailedu_conv *mc)
{
    me_session_free(mc->sess);
    me_stream_free(mc->flow[ME_CLIENT]);
    me_stream_free(mc->flow[ME_SERVER]);
    mc->sess = NULL;
    mc->flow[ME_CLIENT] = mc->flow[ME_SERVER] = NULL;
    mc->closed = TRUE;
}

static void start_session(mailedu_conv *mc, const me_alloc *records)
{
    mc->sess = me_session_new(&mailedu_file_alloc, mc->proto, mc->tls_port, mc->syn);
    mc->kept = me_session_kept(mc->sess);
    me_session_use_records(mc->sess, records);
    mc->flow[ME_CLIENT] = me_stream_new(&mailedu_file_alloc);
    mc->flow[ME_SERVER] = me_stream_new(&mailedu_file_alloc);
    if (mc->detect) /* bytes the heuristic looked at in earlier segments */
        me_detect_replay(mc->detect, replay_detected, mc);
    me_detect_free(mc->detect); /* the session has what it needs */
    mc->detect = NULL;
}

/* Is this frame's segment mail, and from which conversation?  Recognises it
 * if needed (first pass only). */
static gboolean is_mail(mailedu_conv *mc, packet_info *pinfo, const segment *s)
{
    if (mc->proto != ME_PROTO_NONE)
        return TRUE;
    if (s->layer != ME_PROTO_NONE) {
        mailedu_recognise_layer(mc, pinfo, s->layer, s->bytes + s->layer_offset,
                                s->caplen - s->layer_offset);
        return TRUE;
    }
    /* not mail (yet); if a port-registered dissector took the segment, the
     * TCP heuristic never saw it: look here */
    if (mc->detect_frame == pinfo->num || s->caplen == 0)
        return FALSE;
    return mailedu_recognise(mc, pinfo, s->bytes, s->caplen);
}

/* ---- feeding a segment through the stream to the session ---- */

typedef struct feed_ctx {
    mailedu_conv *mc;
    packet_info *pinfo;
    me_dir dir;
    me_item *head, *tail;
} feed_ctx;

static void add_items(feed_ctx *f, me_item *it)
{
    if (!it)
        return;
    if (f->tail)
        f->tail->next = it;
    else
        f->head = it;
    for (f->tail = it; f->tail->next; f->tail = f->tail->next)
        ;
}

/* TLS 1.3 decrypts its own handshake and alerts too ("Decrypted TLS" data
 * sources); mail is text, so a record that starts with a handshake type and a
 * consistent length (RFC 8446 §4), or a 2-byte alert (§6), is not mail data. */
static gboolean tls_control_record(const guint8 *d, guint len)
{
    static const guint8 hs_types[] = {4, 5, 8, 11, 13, 15, 20, 24};
    guint i;
    if (len == 2 && (d[0] == 1 || d[0] == 2))
        return TRUE;
    if (len < 4)
        return FALSE;
    for (i = 0; i < G_N_ELEMENTS(hs_types); i++)
        if (d[0] == hs_types[i] && ((guint)d[1] << 16 | (guint)d[2] << 8 | d[3]) + 4 <= len)
            return TRUE;
    return FALSE;
}

/* Inside TLS, the readable bytes are the frame's decrypted data, if the user
 * gave keys.  Returns TRUE when some were fed. */
static gboolean feed_decrypted(feed_ctx *f)
{
    gboolean any = FALSE;
    GSList *l;
    for (l = f->pinfo->data_src; l; l = l->next) {
        struct data_source *src = (struct data_source *)l->data;
        char *name = mailedu_data_source_name(src);
        gboolean dec = name && g_str_has_prefix(name, "Decrypted TLS");
        wmem_free(NULL, name);
        if (dec) {
            tvbuff_t *t = get_data_source_tvb(src);
            guint len = tvb_captured_length(t);
            if (len && !tls_control_record(tvb_get_ptr(t, 0, len), len)) {
                add_items(f, me_session_feed(f->mc->sess, f->dir, tvb_get_ptr(t, 0, len), len,
                                             f->pinfo->num, TRUE));
                any = TRUE;
            }
        }
    }
    return any;
}

static void sink_data(void *ctx, const uint8_t *p, size_t n)
{
    feed_ctx *f = (feed_ctx *)ctx;
    if (me_session_tls(f->mc->sess) && feed_decrypted(f))
        return;
    add_items(f, me_session_feed(f->mc->sess, f->dir, p, n, f->pinfo->num, FALSE));
}

static void sink_gap(void *ctx, uint64_t n)
{
    feed_ctx *f = (feed_ctx *)ctx;
    add_items(f, me_session_gap(f->mc->sess, f->dir, (size_t)n, f->pinfo->num));
}

/* The stream of one direction; it starts at the SYN's next byte when the
 * handshake was seen, after the first bytes the heuristic held to decide
 * (they were that side's first line, and the session has read them), so
 * that a conversation the heuristic found knows where each side's bytes
 * start as one on a mail port does (an ACK of a greeting never captured).
 * Not in a tunnel: its mail starts where the tunnel's own bytes end. */
static me_stream *flow_of(mailedu_conv *mc, guint32 port, me_dir dir)
{
    me_stream *st = mc->flow[dir];
    guint i;
    if (!me_stream_started(st) && mc->origin != MAILEDU_BY_LAYER)
        for (i = 0; i < mc->nisn; i++)
            if (mc->isn_port[i] == port)
                me_stream_start(st, mc->isn_next[i] + mc->replayed[dir]);
    return st;
}

static void feed_segment(mailedu_conv *mc, packet_info *pinfo, const segment *s, feed_ctx *f)
{
    const me_stream_sink sink = {sink_data, sink_gap, f};
    guint32 off = mc->origin == MAILEDU_BY_LAYER ? s->layer_offset : 0;
    gboolean tls = me_session_tls(mc->sess);
    me_stream_verdict v;

    me_session_seen(mc->sess, f->dir);
    if (s->flags & TCP_ACK) { /* the peer got these bytes: missing ones are lost */
        guint32 unseen;
        f->dir = (me_dir)!f->dir;
        me_stream_ack(flow_of(mc, pinfo->destport, f->dir), s->ack, &sink);
        /* acknowledged and never seen, told with this side's data.  A FIN
         * takes one sequence number and carries no byte (RFC 9293 §3.4), and
         * the shortest mail line is its CRLF: one is no line. */
        unseen = s->seglen > 0 ? me_stream_unseen(mc->flow[f->dir]) : 0;
        if (unseen >= 2)
            me_session_unseen(mc->sess, f->dir, unseen);
        f->dir = (me_dir)!f->dir;
    }
    if (mc->origin == MAILEDU_BY_LAYER) {
        me_stream *own = mc->flow[f->dir], *peer = mc->flow[!f->dir];
        /* The tunnel's first mail segment acknowledges the peer's bytes up to
         * where the peer's mail will start: what it sent before was the
         * tunnel's own (the CONNECT or SOCKS request). */
        if (s->layer != ME_PROTO_NONE && (s->flags & TCP_ACK) && !me_stream_started(own) &&
            !me_stream_started(peer))
            me_stream_start(peer, s->ack);
        /* A segment no mail dissector had is the tunnel's own bytes, unless
         * it reaches where this side's mail goes on: Wireshark gives no
         * dissector a retransmission, even one whose first copy the capture
         * lacks (a HELO seen only as a retransmission). */
        if (s->layer == ME_PROTO_NONE) {
            if (!me_stream_reaches(own, s->seq, s->seglen))
                return;
            off = 0;
        }
    }
    v = me_stream_segment(flow_of(mc, pinfo->srcport, f->dir), s->seq + off, s->seglen - off,
                          s->bytes ? s->bytes + off : NULL, s->caplen - off, !tls, &sink);
    if (v == ME_STREAM_HELD)
        add_items(f, me_session_note(mc->sess, f->dir, s->seglen, pinfo->num, TXT_OUT_OF_ORDER));
    else if (v == ME_STREAM_DUPLICATE)
        add_items(f, me_session_note(mc->sess, f->dir, s->seglen, pinfo->num, TXT_DUPLICATE));
    else if (v == ME_STREAM_DELIVERED && !f->head)
        add_items(f, me_session_note(mc->sess, f->dir, s->seglen, pinfo->num, TXT_GAP_DATA));
    if (s->flags & (TCP_FIN | TCP_RST)) { /* nothing more is coming from this side */
        me_stream_flush(mc->flow[f->dir], &sink);
        mc->fin |= (guint8)(1u << f->dir);
    }
}

/* The first look at a frame: feeds its segment to its session and keeps the
 * records made.  Returns the mail conversation it belongs to, or NULL; *made
 * gets the records as made (packet pool) when they were kept, else NULL. */
static mailedu_conv *analyse(packet_info *pinfo, proto_tree *tree, const me_item **made)
{
    mailedu_conv *mc;
    segment s;
    top_items top;
    feed_ctx f;
    me_alloc records;

    if (!read_segment(tree, &top, &s))
        return NULL;
    /* a conversation costs mailedu nothing until it carries payload; only its
     * SYN is remembered (where each side's bytes start) */
    if (!(mc = mailedu_conv_get(pinfo, tree, s.seglen > 0 || (s.flags & TCP_SYN))) ||
        mc->closed)
        return NULL;
    /* which builtin dissector (or tunnel) has the bytes matters while the
     * conversation is not known to be mail, and in a tunnel on every frame */
    if (mc->proto == ME_PROTO_NONE || mc->origin == MAILEDU_BY_LAYER)
        read_layer(tree, &top, &s);
    note_handshake(mc, pinfo, &s);
    if (s.socks_connect)
        mc->socks_port = s.socks_connect;
    else if (s.socks_tail && mc->socks_port && mc->proto == ME_PROTO_NONE) {
        s.layer = mailedu_port_proto(mc->socks_port);
        s.layer_offset = s.socks_tail;
    }
    if (s.seglen == 0 && !(mc->sess && (s.flags & TCP_ACK)))
        return NULL; /* no payload, and nothing it acknowledges can matter */
    if (s.seglen > 0 && !is_mail(mc, pinfo, &s))
        return NULL;
    records.alloc = wmem_pool_alloc;
    records.ctx = pinfo->pool;
    records.free = NULL;
    if (!mc->sess)
        start_session(mc, &records);
    me_session_use_records(mc->sess, &records);
    memset(&f, 0, sizeof f);
    f.mc = mc;
    f.pinfo = pinfo;
    f.dir = pinfo->srcport == mc->server_port ? ME_SERVER : ME_CLIENT;
    feed_segment(mc, pinfo, &s, &f);
    /* kept in the session, not with p_add_proto_data: that costs 40 bytes a
     * frame more than the records themselves (issue 13) */
    if (me_keep(mc->kept, pinfo->num, f.head))
        *made = f.head;
    me_session_use_records(mc->sess, NULL); /* the pool goes with the packet */
    if (mc->fin == 3)
        finish_session(mc);
    return mc;
}

static int dissect_mailedu(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    const me_item *items = NULL;
    mailedu_conv *mc;
    me_alloc pool = {wmem_pool_alloc, NULL, NULL};
    if (pinfo->ptype != PT_TCP)
        return 0;
    if (!PINFO_FD_VISITED(pinfo)) {
        /* the records just kept, as made: unpacking them again here would
         * give the same values (a command's reply never comes in its own
         * frame), twice the work on every mail frame */
        mc = analyse(pinfo, tree, &items);
    } else {
        mc = mailedu_conv_get(pinfo, tree, FALSE);
        pool.ctx = pinfo->pool;
        if (mc && mc->kept)
            items = me_kept_unpack(mc->kept, pinfo->num, &pool);
    }
    if (!mc || !items)
        return 0;
    mailedu_tap_queue(pinfo, mc->stream, items);
    mailedu_tree_render(tvb, pinfo, tree, mc, items);
    return 0; /* a postdissector consumes nothing */
}

/* ---- registration ---- */

/* Wireshark 4.0 (measured; later versions not checked) primes a postdissector's wanted fields on every
 * frame even while its protocol is disabled, which makes tshark build a tree
 * and real items it would not otherwise: a disabled mailedu cost 1.1-1.4x
 * Wireshark's time.  So the wish is renewed at each file's start (init
 * routines run when a file is opened and on every redissection, after
 * Enabled Protocols or --disable-protocol are applied): the fields when
 * mailedu is enabled, none when it is not. */
static void mailedu_init(void)
{
    GArray *ids = NULL;
    guint i;
    if (proto_is_protocol_enabled(find_protocol_by_id(proto_mailedu))) {
        ids = g_array_new(FALSE, FALSE, (guint)sizeof(int));
        for (i = 0; i < WF_COUNT; i++)
            if (wanted_hf[i] >= 0)
                g_array_append_val(ids, wanted_hf[i]);
    }
    set_postdissector_wanted_hfids(mailedu_handle, ids); /* frees the last wish */
}

void proto_register_mailedu(void)
{
    static const enum_val_t languages[] = {
        {"en", "English", ME_LANG_EN},
        {"id", "Bahasa Indonesia", ME_LANG_ID},
        {NULL, NULL, 0},
    };
    module_t *m;

    proto_mailedu = proto_register_protocol("Mail protocols tutor (POP3, SMTP, IMAP)", "mailedu",
                                            "mailedu");
    mailedu_tree_register(proto_mailedu);
    register_init_routine(mailedu_init);
    conv_by_stream = wmem_map_new_autoreset(wmem_epan_scope(), wmem_file_scope(), g_direct_hash,
                                            g_direct_equal);

    m = prefs_register_protocol(proto_mailedu, NULL);
    prefs_register_enum_preference(m, "language", "Language of explanations",
                                   "en: English, id: Bahasa Indonesia", &mailedu_prefs.language,
                                   languages, FALSE);
    prefs_register_bool_preference(m, "mask_passwords", "Mask passwords",
                                   "Show ******** instead of passwords and tokens",
                                   &mailedu_prefs.mask_passwords);
    prefs_register_bool_preference(m, "info_column", "Phase in the Info column",
                                   "Prefix the Info column with the phase, e.g. [auth]",
                                   &mailedu_prefs.info_column);
    mailedu_tap_register();
}

void proto_reg_handoff_mailedu(void)
{
    guint i;

    mailedu_handle = create_dissector_handle(dissect_mailedu, proto_mailedu);
    register_postdissector(mailedu_handle);
    for (i = 0; i < TP_COUNT; i++)
        top_id[i] = proto_get_id_by_filter_name(top_name[i]);
    for (i = 0; i < WF_COUNT; i++) {
        wanted_hf[i] = proto_registrar_get_id_byname(wanted_name[i]);
        if (wanted_hf[i] < 0 && wanted_alias[i])
            wanted_hf[i] = proto_registrar_get_id_byname(wanted_alias[i]);
        if (wanted_hf[i] < 0)
            ws_warning("mailedu: Wireshark has no field \"%s\"; mailedu needs it and "
                       "will not annotate what depends on it", wanted_name[i]);
    }
    mailedu_init(); /* for whoever dissects before opening a file */
    mailedu_heur_handoff();
    mailedu_tap_handoff();
    mailedu_tree_handoff();
}

/* ---- the plugin loader's entry points ---- */

WS_DLL_PUBLIC_DEF const char plugin_version[] = VERSION;
WS_DLL_PUBLIC_DEF const int plugin_want_major = WIRESHARK_VERSION_MAJOR;
WS_DLL_PUBLIC_DEF const int plugin_want_minor = WIRESHARK_VERSION_MINOR;

WS_DLL_PUBLIC void plugin_register(void);
#if MAILEDU_HAVE_PLUGIN_DESCRIBE
WS_DLL_PUBLIC uint32_t plugin_describe(void);
uint32_t plugin_describe(void)
{
    return WS_PLUGIN_DESC_DISSECTOR;
}
#endif

void plugin_register(void)
{
    static proto_plugin plug;
    plug.register_protoinfo = proto_register_mailedu;
    plug.register_handoff = proto_reg_handoff_mailedu;
    proto_register_plugin(&plug);
}
