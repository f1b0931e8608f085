/* packet-mailedu.c - Wireshark glue for mailedu: registration, fields,
 * preferences, expert info and the protocol tree.
 *
 * mailedu is a postdissector.  On the first pass it reads each TCP segment of
 * a mail conversation (the builtin POP/IMAP/SMTP dissectors have run already),
 * feeds the bytes to the protocol engine of plugin/ and keeps the records the
 * engine returns in per-frame data (file scope).  Every pass, first or later,
 * renders the tree from those records only, so tshark -2, GUI clicks in any
 * order and reloads show the same thing.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "config.h"

#include <string.h>

#include <epan/conversation.h>
#include <epan/expert.h>
#include <epan/packet.h>
#include <epan/prefs.h>
#include <epan/proto_data.h>
#include <ws_version.h>

#include "packet-mailedu-tap.h"
#include "plugin/mailedu.h"

#ifndef VERSION
#define VERSION "0.1.0"
#endif

#if WIRESHARK_VERSION_MAJOR > 4 || (WIRESHARK_VERSION_MAJOR == 4 && WIRESHARK_VERSION_MINOR >= 2)
#define MAILEDU_FVALUE(fi) ((fi)->value)
#else
#define MAILEDU_FVALUE(fi) (&(fi)->value)
#endif

/* 4.4: heuristic dissectors return bool and bool preferences take a bool *
 * (gboolean is an int: GCC 14 rejects the mismatched pointers). */
#if WIRESHARK_VERSION_MAJOR > 4 || (WIRESHARK_VERSION_MAJOR == 4 && WIRESHARK_VERSION_MINOR >= 4)
typedef bool mailedu_heur_ret;
typedef bool mailedu_pref_bool;
#else
typedef gboolean mailedu_heur_ret;
typedef gboolean mailedu_pref_bool;
#endif

/* 4.6 renamed get_data_source_name() (a "Name (N bytes)" string, freed with
 * wmem_free(NULL, ...)) to get_data_source_description(). */
#if WIRESHARK_VERSION_MAJOR > 4 || (WIRESHARK_VERSION_MAJOR == 4 && WIRESHARK_VERSION_MINOR >= 6)
#define mailedu_data_source_name get_data_source_description
#else
#define mailedu_data_source_name get_data_source_name
#endif

void proto_register_mailedu(void);
void proto_reg_handoff_mailedu(void);

static int proto_mailedu = -1;

static int hf_proto = -1;
static int hf_direction = -1;
static int hf_phase = -1;
static int hf_phase_start = -1;
static int hf_phase_inferred = -1;
static int hf_line = -1;
static int hf_auth = -1;
static int hf_command = -1;
static int hf_argument = -1;
static int hf_tag = -1;
static int hf_status = -1;
static int hf_reply_code = -1;
static int hf_enhanced = -1;
static int hf_explain = -1;
static int hf_rfc = -1;
static int hf_detail = -1;
static int hf_request_in = -1;
static int hf_response_in = -1;
static int hf_data_len = -1;
static int hf_auth_mechanism = -1;
static int hf_auth_username = -1;
static int hf_auth_password = -1;
static int hf_auth_token = -1;
static int hf_auth_challenge = -1;
static int hf_auth_digest = -1;
static int hf_auth_authzid = -1;
static int hf_auth_domain = -1;
static int hf_auth_host = -1;
static int hf_auth_decoded = -1;
static int hf_auth_attempt = -1;
static int hf_auth_result = -1;
static int hf_auth_cleartext = -1;
static int hf_session_user = -1;
static int hf_tls = -1;
static int hf_mail_from = -1;
static int hf_mail_rcpt = -1;
static int hf_mailbox = -1;

static gint ett_mailedu = -1;
static gint ett_line = -1;
static gint ett_auth = -1;

static expert_field ei_cleartext = EI_INIT;
static expert_field ei_base64 = EI_INIT;
static expert_field ei_hash = EI_INIT;
static expert_field ei_tls_skipped = EI_INIT;
static expert_field ei_login_failed = EI_INIT;
static expert_field ei_login_disabled = EI_INIT;
static expert_field ei_protected = EI_INIT;
static expert_field ei_tls_not_started = EI_INIT;
static expert_field ei_phase_change = EI_INIT;
static expert_field ei_tls_start = EI_INIT;
static expert_field ei_midsession = EI_INIT;
static expert_field ei_gap = EI_INIT;
static expert_field ei_wrong_phase = EI_INIT;
static expert_field ei_malformed = EI_INIT;
static expert_field ei_overlong = EI_INIT;

/* Preferences */
static gint pref_language = ME_LANG_EN;
static mailedu_pref_bool pref_mask_passwords = FALSE;
static mailedu_pref_bool pref_info_column = TRUE;

/* Fields of other protocols we read (resolved at handoff). */
static int hf_tcp_payload = -1;
static int hf_tcp_seq_raw = -1;
static int hf_tcp_len = -1;
static int hf_tcp_flags = -1;

static dissector_handle_t mailedu_handle;
static int proto_pop = -1, proto_imap = -1, proto_smtp = -1;
static dissector_table_t tcp_port_table;
static dissector_table_t tls_port_table;

/* Per-conversation state, created on the first frame of every TCP
 * conversation.  proto stays ME_PROTO_NONE for conversations that are not
 * mail; the heuristic may still recognise them on a later segment. */
#define MAILEDU_MAX_HELD 8           /* out-of-order segments kept per direction */
#define MAILEDU_MAX_HELD_BYTES 262144

typedef struct {
    guint32 seq, len;                /* TCP sequence number and segment length */
    guint8 *data;                    /* captured bytes (may be shorter than len) */
    guint32 caplen;
} held_seg;

typedef struct {
    gboolean init;
    guint32 next;                    /* next expected sequence number */
    held_seg held[MAILEDU_MAX_HELD];
    guint nheld;
    guint32 held_bytes;
} flow_state;

typedef struct {
    me_proto proto;
    me_session *sess;
    guint16 server_port;
    gboolean tls_port;               /* implicit TLS (995, 993, 465) */
    gboolean syn;                    /* the handshake was captured */
    gboolean by_heuristic;
    gboolean gave_up;                /* the heuristic decided it is not mail */
    guint16 tried_port[2];           /* sides whose first line was looked at */
    guint ntried;
    guint8 *greeting;                /* an ambiguous "220" greeting, until the client speaks */
    guint32 greeting_len;
    /* heuristic: first bytes of each side (by source port) until a line ends,
     * so a greeting sent one byte per segment is still recognised */
    guint16 probe_port[2];
    guint8 *probe[2];
    guint32 probe_len[2];
    /* SYN seen: the first data byte of each side (by source port) */
    guint16 isn_port[2];
    guint32 isn_next[2];
    guint nisn;
    guint frames;                    /* frames seen, to stop looking for SYNs */
    guint32 heur_frame;              /* last frame the recognition looked at */
    flow_state *flow;                /* [2], only for mail sessions */
} mailedu_conv;

#define MAILEDU_PROBE_MAX 512

static dissector_handle_t mailedu_handoff_handle; /* conversation dissector after the heuristic */
static dissector_handle_t pop_handle, imap_handle, smtp_handle;

static void *wmem_file_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return wmem_alloc0(wmem_file_scope(), n);
}

static const me_alloc file_alloc = {wmem_file_alloc, NULL};

static gboolean recognise(mailedu_conv *mc, conversation_t *conv, packet_info *pinfo,
                          const guint8 *p, guint len);

/* ---- first pass: analysis ---- */

static field_info *first_field(proto_tree *tree, int hf)
{
    GPtrArray *a;
    if (hf < 0 || !tree)
        return NULL;
    a = proto_get_finfo_ptr_array(tree, hf);
    if (!a || a->len == 0)
        return NULL;
    return (field_info *)g_ptr_array_index(a, a->len - 1); /* innermost TCP layer */
}

static me_proto proto_of_handle(dissector_handle_t h)
{
    int id;
    if (!h)
        return ME_PROTO_NONE;
    id = dissector_handle_get_protocol_index(h);
    if (id == proto_pop)
        return ME_PROTO_POP3;
    if (id == proto_imap)
        return ME_PROTO_IMAP;
    if (id == proto_smtp)
        return ME_PROTO_SMTP;
    return ME_PROTO_NONE;
}

/* Which side is the server and which protocol, from the port tables the
 * builtin dissectors (and "Decode As") use. */
static me_proto classify(packet_info *pinfo, guint16 *server_port, gboolean *tls)
{
    const guint32 ports[2] = {pinfo->destport, pinfo->srcport};
    int i;
    for (i = 0; i < 2; i++) {
        me_proto p = proto_of_handle(dissector_get_uint_handle(tcp_port_table, ports[i]));
        if (p != ME_PROTO_NONE) {
            *server_port = (guint16)ports[i];
            *tls = FALSE;
            return p;
        }
    }
    for (i = 0; i < 2; i++) {
        me_proto p = ME_PROTO_NONE;
        if (tls_port_table)
            p = proto_of_handle(dissector_get_uint_handle(tls_port_table, ports[i]));
        if (p == ME_PROTO_NONE) { /* implicit-TLS ports (RFC 8314) */
            if (ports[i] == 995) p = ME_PROTO_POP3;
            else if (ports[i] == 993) p = ME_PROTO_IMAP;
            else if (ports[i] == 465) p = ME_PROTO_SMTP;
        }
        if (p != ME_PROTO_NONE) {
            *server_port = (guint16)ports[i];
            *tls = TRUE;
            return p;
        }
    }
    return ME_PROTO_NONE;
}

static mailedu_conv *conv_state(packet_info *pinfo, conversation_t **convp)
{
    conversation_t *conv = find_conversation_pinfo(pinfo, 0);
    if (convp)
        *convp = conv;
    return conv ? (mailedu_conv *)conversation_get_proto_data(conv, proto_mailedu) : NULL;
}

static me_item *append_items(me_item *a, me_item *b)
{
    me_item *t;
    if (!a)
        return b;
    for (t = a; t->next; t = t->next)
        ;
    t->next = b;
    return a;
}

/* TLS 1.3 decrypts its own handshake and alerts too ("Decrypted TLS" data
 * sources); mail is text, so a record that starts with a handshake type and a
 * consistent length, or a 2-byte alert, is not mail data. */
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

/* Feeds one segment's new bytes: the decrypted TLS data of the frame when the
 * user gave keys, else the TCP payload. */
static me_item *feed_bytes(mailedu_conv *mc, packet_info *pinfo, me_dir dir, const guint8 *p,
                           guint32 n)
{
    me_item *items = NULL;
    if (me_session_tls(mc->sess)) {
        GSList *l;
        for (l = pinfo->data_src; l; l = l->next) {
            struct data_source *src = (struct data_source *)l->data;
            char *name = mailedu_data_source_name(src);
            gboolean dec = name && g_str_has_prefix(name, "Decrypted TLS");
            wmem_free(NULL, name);
            if (dec) {
                tvbuff_t *t = get_data_source_tvb(src);
                guint len = tvb_captured_length(t);
                if (len && !tls_control_record(tvb_get_ptr(t, 0, len), len))
                    items = append_items(items, me_session_feed(mc->sess, dir, tvb_get_ptr(t, 0, len),
                                                                len, pinfo->num, TRUE));
            }
        }
        if (items)
            return items;
    }
    return me_session_feed(mc->sess, dir, p, n, pinfo->num, FALSE);
}

/* Segments that arrived before a missing one are held, then fed in order. */
static me_item *feed_held(mailedu_conv *mc, packet_info *pinfo, me_dir dir, me_item *items,
                          gboolean force)
{
    flow_state *f = &mc->flow[dir];
    for (;;) {
        guint i, best = f->nheld;
        for (i = 0; i < f->nheld; i++)
            if (best == f->nheld || (gint32)(f->held[i].seq - f->held[best].seq) < 0)
                best = i;
        if (best == f->nheld)
            return items;
        {
            held_seg h = f->held[best];
            gint32 rel = (gint32)(h.seq - f->next);
            if (rel > 0 && !force)
                return items;
            f->held[best] = f->held[--f->nheld];
            f->held_bytes -= h.caplen;
            if (rel > 0) {
                me_session_gap(mc->sess, dir, (size_t)rel);
                rel = 0;
            }
            if ((guint32)(-rel) < h.caplen) {
                guint32 skip = (guint32)(-rel);
                items = append_items(items, me_session_feed(mc->sess, dir, h.data + skip,
                                                            h.caplen - skip, pinfo->num, FALSE));
            }
            if ((gint32)(h.seq + h.len - f->next) > 0) {
                if (h.caplen < h.len)
                    me_session_gap(mc->sess, dir, h.len - h.caplen);
                f->next = h.seq + h.len;
            }
        }
    }
}

static void analyse(packet_info *pinfo, proto_tree *tree)
{
    conversation_t *conv;
    mailedu_conv *mc = conv_state(pinfo, &conv);
    field_info *fpay, *fseq, *flen;
    flow_state *f;
    me_dir dir;
    guint32 seq, seglen, caplen, skip = 0;
    gint32 rel;
    const guint8 *bytes;
    me_item *items = NULL;

    if (!conv)
        return;
    if (!mc) {
        mc = wmem_new0(wmem_file_scope(), mailedu_conv);
        mc->proto = classify(pinfo, &mc->server_port, &mc->tls_port);
        conversation_add_proto_data(conv, proto_mailedu, mc);
    }
    if (mc->frames < 4 && mc->nisn < 2) {
        mc->frames++;
        /* remember where each side's data starts, so that a first data
         * segment that arrives out of order is recognised as such */
        field_info *fflags = first_field(tree, hf_tcp_flags);
        fseq = first_field(tree, hf_tcp_seq_raw);
        if (fflags && fseq && tvb_bytes_exist(fflags->ds_tvb, fflags->start, 2) &&
            tvb_bytes_exist(fseq->ds_tvb, fseq->start, 4) &&
            (tvb_get_ntohs(fflags->ds_tvb, fflags->start) & 0x0002)) {
            guint i;
            mc->syn = TRUE;
            for (i = 0; i < mc->nisn && mc->isn_port[i] != pinfo->srcport; i++)
                ;
            if (i == mc->nisn)
                mc->nisn++;
            mc->isn_port[i] = (guint16)pinfo->srcport;
            mc->isn_next[i] = tvb_get_ntohl(fseq->ds_tvb, fseq->start) + 1;
        }
    }
    if (mc->proto == ME_PROTO_NONE) {
        /* not mail (yet); if a port-registered dissector took the segment,
         * the TCP heuristic never saw it: look here */
        if (mc->gave_up || mc->heur_frame == pinfo->num)
            return;
        fpay = first_field(tree, hf_tcp_payload);
        if (!fpay || fpay->length <= 0 ||
            !recognise(mc, conv, pinfo, tvb_get_ptr(fpay->ds_tvb, fpay->start, fpay->length),
                       (guint)fpay->length))
            return;
    }
    if (!mc->sess) {
        guint i, d;
        mc->sess = me_session_new(&file_alloc, mc->proto, mc->tls_port, mc->syn);
        mc->flow = wmem_alloc0_array(wmem_file_scope(), flow_state, 2);
        if (mc->greeting) /* the greeting that made us wait: state only, no records */
            me_session_feed(mc->sess, ME_SERVER, mc->greeting, mc->greeting_len, 0, FALSE);
        for (i = 0; i < 2; i++) { /* bytes the heuristic looked at in earlier segments */
            if (mc->probe_len[i]) {
                d = mc->probe_port[i] == mc->server_port ? ME_SERVER : ME_CLIENT;
                me_session_feed(mc->sess, (me_dir)d, mc->probe[i], mc->probe_len[i], 0, FALSE);
            }
        }
    }
    fpay = first_field(tree, hf_tcp_payload);
    fseq = first_field(tree, hf_tcp_seq_raw);
    flen = first_field(tree, hf_tcp_len);
    if (!fseq || !flen || !fseq->ds_tvb || !tvb_bytes_exist(fseq->ds_tvb, fseq->start, 4))
        return;
    seglen = fvalue_get_uinteger(MAILEDU_FVALUE(flen));
    if (seglen == 0)
        return; /* pure ACK, SYN, FIN: not a mail packet */
    dir = pinfo->srcport == mc->server_port ? ME_SERVER : ME_CLIENT;
    f = &mc->flow[dir];
    seq = tvb_get_ntohl(fseq->ds_tvb, fseq->start);
    caplen = fpay ? (guint32)fpay->length : 0;
    if (caplen > seglen)
        caplen = seglen; /* Ethernet padding is not payload */
    bytes = (fpay && caplen) ? tvb_get_ptr(fpay->ds_tvb, fpay->start, caplen) : NULL;

    if (!f->init) {
        /* a side's data starts right after its SYN; when the heuristic had
         * to look at earlier segments, the current one sets the start */
        guint i;
        f->init = TRUE;
        f->next = seq;
        for (i = 0; i < mc->nisn && !mc->by_heuristic; i++)
            if (mc->isn_port[i] == pinfo->srcport)
                f->next = mc->isn_next[i];
    }
    rel = (gint32)(seq - f->next);
    if (rel > 0 && !me_session_tls(mc->sess)) {
        /* bytes are missing before this segment: it may be early (out of
         * order) or the missing ones were never captured; hold it a while */
        if (f->nheld < MAILEDU_MAX_HELD && f->held_bytes + caplen <= MAILEDU_MAX_HELD_BYTES) {
            held_seg *h = &f->held[f->nheld++];
            h->seq = seq;
            h->len = seglen;
            h->caplen = caplen;
            h->data = caplen ? (guint8 *)wmem_memdup(wmem_file_scope(), bytes, caplen) : NULL;
            f->held_bytes += caplen;
            items = me_session_note(mc->sess, dir, seglen, pinfo->num, TXT_OUT_OF_ORDER);
            p_add_proto_data(wmem_file_scope(), pinfo, proto_mailedu, 0, items);
            return;
        }
        /* too much held: the gap is real, go on without the missing bytes */
        items = feed_held(mc, pinfo, dir, NULL, TRUE);
        rel = (gint32)(seq - f->next);
        if (rel > 0)
            me_session_gap(mc->sess, dir, (size_t)rel);
    } else if (rel > 0) {
        rel = 0; /* inside TLS, lost bytes are the TLS dissector's concern */
    }
    if (rel < 0) {
        /* retransmission or overlap: only bytes beyond what we saw are new */
        if ((guint32)(-rel) >= seglen) {
            items = append_items(items, me_session_note(mc->sess, dir, seglen, pinfo->num, TXT_DUPLICATE));
            p_add_proto_data(wmem_file_scope(), pinfo, proto_mailedu, 0, items);
            return;
        }
        skip = (guint32)(-rel);
    }
    if (rel >= 0 || (gint32)(seq + seglen - f->next) > 0)
        f->next = seq + seglen;
    if (skip < caplen)
        items = append_items(items, feed_bytes(mc, pinfo, dir, bytes + skip, caplen - skip));
    else
        items = append_items(items, me_session_note(mc->sess, dir, seglen, pinfo->num, TXT_GAP_DATA));
    if (caplen < seglen && !me_session_tls(mc->sess)) /* cut by the snapshot length */
        me_session_gap(mc->sess, dir, seglen - caplen);
    items = feed_held(mc, pinfo, dir, items, FALSE);
    if (items)
        p_add_proto_data(wmem_file_scope(), pinfo, proto_mailedu, 0, items);
}

/* ---- the heuristic for mail on any port ---- */

/* Hands a recognised conversation to the builtin dissector, with match_uint
 * set to the server port: POP/IMAP/SMTP tell requests from replies by it. */
static int dissect_handoff(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    mailedu_conv *mc = conv_state(pinfo, NULL);
    dissector_handle_t h = NULL;
    if (!mc)
        return 0;
    switch (mc->proto) {
    case ME_PROTO_POP3: h = pop_handle; break;
    case ME_PROTO_IMAP: h = imap_handle; break;
    case ME_PROTO_SMTP: h = smtp_handle; break;
    default: return 0;
    }
    pinfo->match_uint = mc->server_port;
    return call_dissector_with_data(h, tvb, pinfo, tree, data);
}

/* The recognition itself, shared by the TCP heuristic and by the postdissector
 * for conversations a port-registered dissector took (a client port that
 * happens to be registered, e.g. 44321): decided on the first pass only. */
/* This side's first line was not mail; after both sides, give up. */
static gboolean side_tried(mailedu_conv *mc, packet_info *pinfo)
{
    if (mc->ntried < 2)
        mc->tried_port[mc->ntried++] = (guint16)pinfo->srcport;
    if (mc->ntried == 2)
        mc->gave_up = TRUE;
    return FALSE;
}

static gboolean recognise(mailedu_conv *mc, conversation_t *conv, packet_info *pinfo,
                          const guint8 *p, guint len)
{
    bool from_server = false, maybe_smtp = false;
    me_proto guess;
    guint i;

    mc->heur_frame = pinfo->num;
    if (mc->gave_up || len == 0 || PINFO_FD_VISITED(pinfo))
        return FALSE;
    /* Only the first line of each side is evidence: a mail protocol shows
     * itself there (greeting or first command), while later lines of other
     * protocols may carry anything, e.g. "+OK" in an HTTP body. */
    for (i = 0; i < mc->ntried; i++)
        if (mc->tried_port[i] == pinfo->srcport)
            return FALSE;
    /* look at this side's first line, however it was segmented */
    for (i = 0; i < 2 && mc->probe[i] && mc->probe_port[i] != pinfo->srcport; i++)
        ;
    if (i < 2 && (mc->probe_len[i] || !memchr(p, '\n', len))) {
        guint32 room = MAILEDU_PROBE_MAX - mc->probe_len[i], take = MIN(room, len);
        guint8 *buf;
        if (!mc->probe[i]) {
            mc->probe[i] = (guint8 *)wmem_alloc(wmem_file_scope(), MAILEDU_PROBE_MAX);
            mc->probe_port[i] = (guint16)pinfo->srcport;
        }
        buf = mc->probe[i];
        memcpy(buf + mc->probe_len[i], p, take);
        guess = me_guess_protocol(buf, mc->probe_len[i] + take, &from_server, &maybe_smtp);
        if (guess == ME_PROTO_NONE && !memchr(buf, '\n', mc->probe_len[i] + take) &&
            mc->probe_len[i] + take < MAILEDU_PROBE_MAX) {
            mc->probe_len[i] += take; /* no line yet: wait, this is not a try */
            return FALSE;
        }
        if (guess != ME_PROTO_NONE)
            goto decided; /* earlier bytes are in probe[i], this segment is fed by analyse */
        if (maybe_smtp && !mc->greeting) {
            mc->greeting_len = mc->probe_len[i] + take;
            mc->greeting = (guint8 *)wmem_memdup(wmem_file_scope(), buf, mc->greeting_len);
        }
        mc->probe_len[i] = 0;
        return side_tried(mc, pinfo);
    }
    guess = me_guess_protocol(p, len, &from_server, &maybe_smtp);
    if (guess == ME_PROTO_NONE && mc->greeting && !from_server && len >= 5 &&
        (g_ascii_strncasecmp((const char *)p, "EHLO ", 5) == 0 ||
         g_ascii_strncasecmp((const char *)p, "HELO ", 5) == 0)) {
        guess = ME_PROTO_SMTP; /* "220 ..." then EHLO: SMTP, not FTP */
    }
    if (guess == ME_PROTO_NONE) {
        if (maybe_smtp && !mc->greeting) {
            mc->greeting_len = MIN(len, 1024);
            mc->greeting = (guint8 *)wmem_memdup(wmem_file_scope(), p, mc->greeting_len);
        }
        return side_tried(mc, pinfo);
    }
decided:
    if (mc->greeting && guess != ME_PROTO_SMTP)
        mc->greeting = NULL; /* a "220" greeting only ever leads to SMTP */
    mc->proto = guess;
    mc->by_heuristic = TRUE;
    mc->server_port = (guint16)(from_server ? pinfo->srcport : pinfo->destport);
    conversation_set_dissector(conv, mailedu_handoff_handle);
    return TRUE;
}

static mailedu_heur_ret dissect_heur(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
                                     void *data)
{
    conversation_t *conv = find_or_create_conversation(pinfo);
    mailedu_conv *mc = (mailedu_conv *)conversation_get_proto_data(conv, proto_mailedu);
    guint len = tvb_captured_length(tvb);

    if (mc && mc->proto != ME_PROTO_NONE) {
        if (!mc->by_heuristic)
            return FALSE;
        dissect_handoff(tvb, pinfo, tree, data);
        return TRUE;
    }
    if (!mc) {
        mc = wmem_new0(wmem_file_scope(), mailedu_conv);
        conversation_add_proto_data(conv, proto_mailedu, mc);
    }
    if (!recognise(mc, conv, pinfo, len ? tvb_get_ptr(tvb, 0, len) : NULL, len))
        return FALSE;
    dissect_handoff(tvb, pinfo, tree, data);
    return TRUE;
}

/* ---- every pass: rendering ---- */

static const char *lang_text(me_text_id id)
{
    return me_text(id, (me_lang)pref_language);
}

static void add_str(proto_tree *t, int hf, tvbuff_t *tvb, const char *v)
{
    proto_item *pi;
    if (!v)
        return;
    pi = proto_tree_add_string(t, hf, tvb, 0, 0, v);
    proto_item_set_generated(pi);
}

static const char *masked(const char *v)
{
    return (v && pref_mask_passwords) ? "********" : v;
}

static void add_explain(proto_tree *t, tvbuff_t *tvb, me_text_id id)
{
    if (id == TXT_NONE)
        return;
    add_str(t, hf_explain, tvb, lang_text(id));
    if (*me_text_rfc(id))
        add_str(t, hf_rfc, tvb, me_text_rfc(id));
}

static void add_expert(packet_info *pinfo, proto_item *pi, const me_item *it)
{
    const guint32 f = it->flags;
    if (f & ME_W_CLEARTEXT)
        expert_add_info_format(pinfo, pi, &ei_cleartext, "%s", lang_text(TXT_EI_CLEARTEXT));
    if (f & ME_W_BASE64)
        expert_add_info_format(pinfo, pi, &ei_base64, "%s", lang_text(TXT_EI_BASE64));
    if (f & ME_W_HASH)
        expert_add_info_format(pinfo, pi, &ei_hash, "%s", lang_text(TXT_EI_HASH));
    if (f & ME_W_TLS_SKIPPED)
        expert_add_info_format(pinfo, pi, &ei_tls_skipped, "%s", lang_text(TXT_EI_TLS_SKIPPED));
    if (f & ME_W_LOGIN_DISABLED)
        expert_add_info_format(pinfo, pi, &ei_login_disabled, "%s",
                               lang_text(TXT_EI_LOGIN_DISABLED));
    if (f & ME_W_LOGIN_FAILED)
        expert_add_info_format(pinfo, pi, &ei_login_failed, "%s (%s)",
                               lang_text(TXT_EI_LOGIN_FAILED),
                               it->auth && it->auth->username ? it->auth->username : "?");
    if (f & ME_W_TLS_NOT_STARTED)
        expert_add_info_format(pinfo, pi, &ei_tls_not_started, "%s", lang_text(TXT_EI_TLS_NOT_STARTED));
    if (f & ME_W_PROTECTED)
        expert_add_info_format(pinfo, pi, &ei_protected, "%s", lang_text(TXT_EI_PROTECTED));
    if (f & ME_W_PHASE_CHANGE)
        expert_add_info_format(pinfo, pi, &ei_phase_change, "%s: %s",
                               lang_text(TXT_EI_PHASE_CHANGE), me_phase_name(it->phase));
    if (f & ME_W_TLS_START)
        expert_add_info_format(pinfo, pi, &ei_tls_start, "%s", lang_text(TXT_EI_TLS_START));
    if (f & ME_W_MIDSESSION)
        expert_add_info_format(pinfo, pi, &ei_midsession, "%s", lang_text(TXT_EI_MIDSESSION));
    if (f & ME_W_GAP)
        expert_add_info_format(pinfo, pi, &ei_gap, "%s", lang_text(TXT_EI_GAP));
    if (f & ME_W_WRONG_PHASE)
        expert_add_info_format(pinfo, pi, &ei_wrong_phase, "%s (%s): %s", lang_text(TXT_EI_WRONG_PHASE),
                               me_phase_name(it->wrong_phase),
                               it->command ? it->command : "");
    if (f & ME_W_MALFORMED)
        expert_add_info_format(pinfo, pi, &ei_malformed, "%s", lang_text(TXT_EI_MALFORMED));
    if (f & ME_W_OVERLONG)
        expert_add_info_format(pinfo, pi, &ei_overlong, "%s", lang_text(TXT_EI_OVERLONG));
}

static void add_auth(proto_tree *t, tvbuff_t *tvb, const me_item *it)
{
    const me_auth *a = it->auth;
    proto_item *pi;
    add_str(t, hf_auth_mechanism, tvb, a->mechanism);
    add_str(t, hf_auth_username, tvb, a->username);
    add_str(t, hf_auth_password, tvb, masked(a->password));
    add_str(t, hf_auth_token, tvb, masked(a->token));
    add_str(t, hf_auth_challenge, tvb, a->challenge);
    add_str(t, hf_auth_digest, tvb, a->digest);
    add_str(t, hf_auth_authzid, tvb, a->authzid);
    add_str(t, hf_auth_domain, tvb, a->domain);
    add_str(t, hf_auth_host, tvb, a->host);
    add_str(t, hf_auth_decoded, tvb,
            (a->password || a->token) && pref_mask_passwords ? "********" : a->decoded);
    if (a->attempt) {
        pi = proto_tree_add_uint(t, hf_auth_attempt, tvb, 0, 0, a->attempt);
        proto_item_set_generated(pi);
    }
    if (a->result != ME_RESULT_NONE)
        add_str(t, hf_auth_result, tvb, me_result_name(a->result));
    if (it->cleartext) {
        pi = proto_tree_add_boolean(t, hf_auth_cleartext, tvb, 0, 0, TRUE);
        proto_item_set_generated(pi);
    }
}

static const char *line_summary(wmem_allocator_t *pool, const me_item *it)
{
    const char *arg = it->masked && pref_mask_passwords ? it->masked : it->argument;
    switch (it->kind) {
    case ME_KIND_COMMAND:
        return wmem_strdup_printf(pool, "C: %s%s%s%s%s", it->tag ? it->tag : "",
                                  it->tag ? " " : "", it->command ? it->command : "",
                                  arg ? " " : "", arg ? arg : "");
    case ME_KIND_REPLY:
    case ME_KIND_CHALLENGE:
        return wmem_strdup_printf(pool, "S: %s %s", me_status_name(it->status),
                                  arg ? arg : "");
    case ME_KIND_SASL:
        return wmem_strdup_printf(pool, "C: %s", arg ? arg : "");
    default:
        return wmem_strdup_printf(pool, "%s: %u bytes",
                                  it->dir == ME_SERVER ? "S" : "C", it->data_len);
    }
}

static void render_line(tvbuff_t *tvb, packet_info *pinfo, proto_tree *t, const me_item *it)
{
    proto_item *pi;
    const char *arg = it->masked && pref_mask_passwords ? it->masked : it->argument;

    add_str(t, hf_command, tvb, it->command);
    add_str(t, hf_argument, tvb, arg);
    add_str(t, hf_tag, tvb, it->tag);
    if (it->status != ME_STATUS_NONE)
        add_str(t, hf_status, tvb, me_status_name(it->status));
    if (it->reply_code) {
        pi = proto_tree_add_uint(t, hf_reply_code, tvb, 0, 0, it->reply_code);
        proto_item_set_generated(pi);
    }
    add_str(t, hf_enhanced, tvb, it->enhanced);
    add_explain(t, tvb, it->explain);
    add_explain(t, tvb, it->explain2);
    add_str(t, hf_detail, tvb, it->detail);
    if (it->request_in) {
        pi = proto_tree_add_uint(t, hf_request_in, tvb, 0, 0, it->request_in);
        proto_item_set_generated(pi);
    }
    if (it->response_in) {
        pi = proto_tree_add_uint(t, hf_response_in, tvb, 0, 0, it->response_in);
        proto_item_set_generated(pi);
    }
    if (it->data_len) {
        pi = proto_tree_add_uint(t, hf_data_len, tvb, 0, 0, it->data_len);
        proto_item_set_generated(pi);
    }
    if (it->auth) {
        proto_tree *at;
        pi = proto_tree_add_item(t, hf_auth, tvb, 0, 0, ENC_NA);
        proto_item_set_generated(pi);
        at = proto_item_add_subtree(pi, ett_auth);
        add_auth(at, tvb, it);
    }
    add_str(t, hf_mail_from, tvb, it->mail_from);
    add_str(t, hf_mail_rcpt, tvb, it->rcpt);
    add_str(t, hf_mailbox, tvb, it->mailbox);
    add_expert(pinfo, t ? proto_tree_get_parent(t) : NULL, it);
}

static void render(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, const me_item *items)
{
    proto_item *ti, *pi;
    proto_tree *mt;
    const me_item *it, *last = items;
    me_phase shown[8];
    unsigned nshown = 0, i, nitems = 0;
    gboolean start = FALSE, inferred = FALSE;

    for (it = items; it; it = it->next) {
        nitems++;
        last = it;
        start |= it->phase_start;
        inferred |= it->inferred;
        for (i = 0; i < nshown && shown[i] != it->phase; i++)
            ;
        if (i == nshown && nshown < G_N_ELEMENTS(shown))
            shown[nshown++] = it->phase;
    }
    if (pref_info_column && nshown)
        col_prepend_fstr(pinfo->cinfo, COL_INFO, "[%s] ", me_phase_name(shown[0]));

    ti = proto_tree_add_item(tree, proto_mailedu, tvb, 0, 0, ENC_NA);
    proto_item_set_generated(ti);
    proto_item_append_text(ti, ": %s [%s] %s", me_proto_name(items->proto),
                           me_phase_name(items->phase), lang_text(items->explain));
    mt = proto_item_add_subtree(ti, ett_mailedu);
    add_str(mt, hf_proto, tvb, me_proto_name(items->proto));
    add_str(mt, hf_direction, tvb, me_dir_name(items->dir));
    for (i = 0; i < nshown; i++)
        add_str(mt, hf_phase, tvb, me_phase_name(shown[i]));
    pi = proto_tree_add_boolean(mt, hf_phase_start, tvb, 0, 0, start);
    proto_item_set_generated(pi);
    if (inferred) {
        pi = proto_tree_add_boolean(mt, hf_phase_inferred, tvb, 0, 0, TRUE);
        proto_item_set_generated(pi);
    }
    pi = proto_tree_add_boolean(mt, hf_tls, tvb, 0, 0, last->tls);
    proto_item_set_generated(pi);
    add_str(mt, hf_session_user, tvb, last->session_user);

    for (it = items; it; it = it->next) {
        proto_tree *lt = mt;
        if (nitems > 1) {
            pi = proto_tree_add_string(mt, hf_line, tvb, 0, 0, line_summary(pinfo->pool, it));
            proto_item_set_generated(pi);
            lt = proto_item_add_subtree(pi, ett_line);
        }
        render_line(tvb, pinfo, lt, it);
    }
}

static int dissect_mailedu(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    const me_item *items;
    if (pinfo->ptype != PT_TCP)
        return 0;
    if (!PINFO_FD_VISITED(pinfo))
        analyse(pinfo, tree);
    items = (const me_item *)p_get_proto_data(wmem_file_scope(), pinfo, proto_mailedu, 0);
    if (!items)
        return 0;
    mailedu_tap_queue(pinfo, items);
    render(tvb, pinfo, tree, items);
    return 0; /* a postdissector consumes nothing */
}

/* Decrypted TLS data on a port nobody associates with mail (implicit TLS on a
 * lab port): recognised from the greeting or first command inside TLS. */
static mailedu_heur_ret dissect_heur_tls(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
                                         void *data)
{
    conversation_t *conv = find_or_create_conversation(pinfo);
    mailedu_conv *mc = (mailedu_conv *)conversation_get_proto_data(conv, proto_mailedu);
    guint len = tvb_captured_length(tvb);
    bool from_server = false, maybe_smtp = false;
    me_proto guess;

    if (mc && mc->proto != ME_PROTO_NONE) {
        if (!mc->by_heuristic || !mc->tls_port)
            return FALSE;
        dissect_handoff(tvb, pinfo, tree, data);
        return TRUE;
    }
    if (len == 0 || PINFO_FD_VISITED(pinfo))
        return FALSE;
    guess = me_guess_protocol(tvb_get_ptr(tvb, 0, len), len, &from_server, &maybe_smtp);
    if (guess == ME_PROTO_NONE)
        return FALSE;
    if (!mc) {
        mc = wmem_new0(wmem_file_scope(), mailedu_conv);
        conversation_add_proto_data(conv, proto_mailedu, mc);
    }
    mc->proto = guess;
    mc->by_heuristic = TRUE;
    mc->tls_port = TRUE;
    mc->server_port = (guint16)(from_server ? pinfo->srcport : pinfo->destport);
    dissect_handoff(tvb, pinfo, tree, data);
    return TRUE;
}

/* ---- registration ---- */

void proto_register_mailedu(void)
{
    static hf_register_info hf[] = {
        {&hf_proto, {"Protocol", "mailedu.proto", FT_STRING, BASE_NONE, NULL, 0, "pop3, smtp or imap", HFILL}},
        {&hf_direction, {"Direction", "mailedu.direction", FT_STRING, BASE_NONE, NULL, 0, "client or server: who sent the line", HFILL}},
        {&hf_phase, {"Phase", "mailedu.phase", FT_STRING, BASE_NONE, NULL, 0, "Session phase of this packet", HFILL}},
        {&hf_phase_start, {"Phase start", "mailedu.phase.start", FT_BOOLEAN, BASE_NONE, NULL, 0, "This packet begins a new phase", HFILL}},
        {&hf_phase_inferred, {"Phase inferred", "mailedu.phase.inferred", FT_BOOLEAN, BASE_NONE, NULL, 0, "Phase inferred because the capture began mid-session", HFILL}},
        {&hf_line, {"Line", "mailedu.line", FT_STRING, BASE_NONE, NULL, 0, "One line of a packet that carries several", HFILL}},
        {&hf_auth, {"Credentials", "mailedu.auth", FT_NONE, BASE_NONE, NULL, 0, "What this line tells about a login", HFILL}},
        {&hf_command, {"Command", "mailedu.command", FT_STRING, BASE_NONE, NULL, 0, "Command verb, upper case", HFILL}},
        {&hf_argument, {"Argument", "mailedu.argument", FT_STRING, BASE_NONE, NULL, 0, "Arguments of the command or text of the reply", HFILL}},
        {&hf_tag, {"Tag", "mailedu.tag", FT_STRING, BASE_NONE, NULL, 0, "IMAP tag", HFILL}},
        {&hf_status, {"Status", "mailedu.status", FT_STRING, BASE_NONE, NULL, 0, "ok, error or continue", HFILL}},
        {&hf_reply_code, {"Reply code", "mailedu.reply_code", FT_UINT16, BASE_DEC, NULL, 0, "SMTP reply code", HFILL}},
        {&hf_enhanced, {"Enhanced status code", "mailedu.enhanced_status", FT_STRING, BASE_NONE, NULL, 0, "SMTP enhanced status code (RFC 3463)", HFILL}},
        {&hf_explain, {"Explanation", "mailedu.explain", FT_STRING, BASE_NONE, NULL, 0, "What the line means", HFILL}},
        {&hf_rfc, {"Reference", "mailedu.rfc", FT_STRING, BASE_NONE, NULL, 0, "Where the standard says so", HFILL}},
        {&hf_detail, {"Detail", "mailedu.detail", FT_STRING, BASE_NONE, NULL, 0, "Decoded or extra information", HFILL}},
        {&hf_request_in, {"Request in", "mailedu.request_in", FT_FRAMENUM, BASE_NONE, FRAMENUM_TYPE(FT_FRAMENUM_REQUEST), 0, "The command this reply answers", HFILL}},
        {&hf_response_in, {"Response in", "mailedu.response_in", FT_FRAMENUM, BASE_NONE, FRAMENUM_TYPE(FT_FRAMENUM_RESPONSE), 0, "The reply to this command", HFILL}},
        {&hf_data_len, {"Data length", "mailedu.data_len", FT_UINT32, BASE_DEC, NULL, 0, "Bytes of message content, literal or encrypted data", HFILL}},
        {&hf_auth_mechanism, {"Mechanism", "mailedu.auth.mechanism", FT_STRING, BASE_NONE, NULL, 0, "Authentication mechanism", HFILL}},
        {&hf_auth_username, {"Username", "mailedu.auth.username", FT_STRING, BASE_NONE, NULL, 0, "Decoded user name", HFILL}},
        {&hf_auth_password, {"Password", "mailedu.auth.password", FT_STRING, BASE_NONE, NULL, 0, "Decoded password", HFILL}},
        {&hf_auth_token, {"Token", "mailedu.auth.token", FT_STRING, BASE_NONE, NULL, 0, "OAuth bearer token", HFILL}},
        {&hf_auth_challenge, {"Challenge", "mailedu.auth.challenge", FT_STRING, BASE_NONE, NULL, 0, "APOP timestamp, CRAM-MD5 or NTLM challenge", HFILL}},
        {&hf_auth_digest, {"Digest", "mailedu.auth.digest", FT_STRING, BASE_NONE, NULL, 0, "APOP/CRAM-MD5 digest or NTLM response", HFILL}},
        {&hf_auth_authzid, {"Authorization id", "mailedu.auth.authzid", FT_STRING, BASE_NONE, NULL, 0, "SASL authorization identity", HFILL}},
        {&hf_auth_domain, {"Domain", "mailedu.auth.domain", FT_STRING, BASE_NONE, NULL, 0, "NTLM domain", HFILL}},
        {&hf_auth_host, {"Workstation", "mailedu.auth.host", FT_STRING, BASE_NONE, NULL, 0, "NTLM workstation", HFILL}},
        {&hf_auth_decoded, {"Decoded", "mailedu.auth.decoded", FT_STRING, BASE_NONE, NULL, 0, "The SASL message decoded from base64", HFILL}},
        {&hf_auth_attempt, {"Attempt", "mailedu.auth.attempt", FT_UINT32, BASE_DEC, NULL, 0, "Login attempt number in the session", HFILL}},
        {&hf_auth_result, {"Result", "mailedu.auth.result", FT_STRING, BASE_NONE, NULL, 0, "success or failure", HFILL}},
        {&hf_auth_cleartext, {"Cleartext secret", "mailedu.auth.cleartext", FT_BOOLEAN, BASE_NONE, NULL, 0, "A reusable secret is readable in this packet", HFILL}},
        {&hf_session_user, {"Session user", "mailedu.session.user", FT_STRING, BASE_NONE, NULL, 0, "User of this session", HFILL}},
        {&hf_tls, {"TLS", "mailedu.tls", FT_BOOLEAN, BASE_NONE, NULL, 0, "The session is protected by TLS here", HFILL}},
        {&hf_mail_from, {"Mail from", "mailedu.mail.from", FT_STRING, BASE_NONE, NULL, 0, "SMTP envelope sender", HFILL}},
        {&hf_mail_rcpt, {"Recipient", "mailedu.mail.rcpt", FT_STRING, BASE_NONE, NULL, 0, "SMTP envelope recipient", HFILL}},
        {&hf_mailbox, {"Mailbox", "mailedu.mailbox", FT_STRING, BASE_NONE, NULL, 0, "IMAP mailbox selected", HFILL}},
    };
    static gint *ett[] = {&ett_mailedu, &ett_line, &ett_auth};
    static ei_register_info ei[] = {
        {&ei_cleartext, {"mailedu.cleartext", PI_SECURITY, PI_WARN, "Cleartext password or token sent", EXPFILL}},
        {&ei_base64, {"mailedu.base64", PI_SECURITY, PI_NOTE, "Base64 is not encryption", EXPFILL}},
        {&ei_hash, {"mailedu.hash_exposed", PI_SECURITY, PI_NOTE, "Hash exposed for offline cracking", EXPFILL}},
        {&ei_tls_skipped, {"mailedu.tls_skipped", PI_SECURITY, PI_WARN, "Server offered STARTTLS/STLS but the client logged in without it", EXPFILL}},
        {&ei_login_disabled, {"mailedu.login_disabled", PI_SECURITY, PI_WARN, "LOGIN sent although the server announced LOGINDISABLED", EXPFILL}},
        {&ei_login_failed, {"mailedu.login_failed", PI_SECURITY, PI_NOTE, "Login failed", EXPFILL}},
        {&ei_tls_not_started, {"mailedu.tls_not_started", PI_SEQUENCE, PI_NOTE, "Readable data after STARTTLS: capture of decrypted traffic", EXPFILL}},
        {&ei_protected, {"mailedu.protected", PI_SECURITY, PI_CHAT, "Credential protected by TLS on the wire", EXPFILL}},
        {&ei_phase_change, {"mailedu.phase_change", PI_SEQUENCE, PI_CHAT, "Phase change", EXPFILL}},
        {&ei_tls_start, {"mailedu.tls_start", PI_SEQUENCE, PI_CHAT, "Session upgraded to TLS", EXPFILL}},
        {&ei_midsession, {"mailedu.midsession", PI_SEQUENCE, PI_NOTE, "Capture began mid-session", EXPFILL}},
        {&ei_gap, {"mailedu.gap", PI_SEQUENCE, PI_NOTE, "Bytes missing from the capture", EXPFILL}},
        {&ei_wrong_phase, {"mailedu.wrong_phase", PI_PROTOCOL, PI_WARN, "Command not valid in this phase", EXPFILL}},
        {&ei_malformed, {"mailedu.malformed", PI_MALFORMED, PI_ERROR, "Malformed line", EXPFILL}},
        {&ei_overlong, {"mailedu.overlong", PI_MALFORMED, PI_ERROR, "Over-long line", EXPFILL}},
    };
    static const enum_val_t languages[] = {
        {"en", "English", ME_LANG_EN},
        {"id", "Bahasa Indonesia", ME_LANG_ID},
        {NULL, NULL, 0},
    };
    module_t *m;
    expert_module_t *em;

    proto_mailedu = proto_register_protocol("Mail protocols tutor (POP3, SMTP, IMAP)", "mailedu",
                                            "mailedu");
    proto_register_field_array(proto_mailedu, hf, array_length(hf));
    proto_register_subtree_array(ett, array_length(ett));
    em = expert_register_protocol(proto_mailedu);
    expert_register_field_array(em, ei, array_length(ei));

    m = prefs_register_protocol(proto_mailedu, NULL);
    prefs_register_enum_preference(m, "language", "Language of explanations",
                                   "en: English, id: Bahasa Indonesia", &pref_language, languages,
                                   FALSE);
    prefs_register_bool_preference(m, "mask_passwords", "Mask passwords",
                                   "Show ******** instead of passwords and tokens",
                                   &pref_mask_passwords);
    prefs_register_bool_preference(m, "info_column", "Phase in the Info column",
                                   "Prefix the Info column with the phase, e.g. [auth]",
                                   &pref_info_column);
    mailedu_tap_register();
}

void proto_reg_handoff_mailedu(void)
{
    GArray *wanted = g_array_new(FALSE, FALSE, (guint)sizeof(int));

    mailedu_handle = create_dissector_handle(dissect_mailedu, proto_mailedu);
    register_postdissector(mailedu_handle);

    tcp_port_table = find_dissector_table("tcp.port");
    tls_port_table = find_dissector_table("tls.port");
    pop_handle = find_dissector("pop");
    imap_handle = find_dissector("imap");
    smtp_handle = find_dissector("smtp");
    /* no protocol of its own: frames show the builtin protocol, not an extra layer */
    mailedu_handoff_handle = create_dissector_handle(dissect_handoff, -1);
    heur_dissector_add("tcp", dissect_heur, "Mail protocols on any TCP port (mailedu)",
                       "mailedu_tcp", proto_mailedu, HEURISTIC_ENABLE);
    heur_dissector_add("tls", dissect_heur_tls, "Mail protocols inside TLS on any port (mailedu)",
                       "mailedu_tls", proto_mailedu, HEURISTIC_ENABLE);
    proto_pop = proto_get_id_by_filter_name("pop");
    proto_imap = proto_get_id_by_filter_name("imap");
    proto_smtp = proto_get_id_by_filter_name("smtp");

    hf_tcp_payload = proto_registrar_get_id_byname("tcp.payload");
    hf_tcp_seq_raw = proto_registrar_get_id_byname("tcp.seq_raw");
    hf_tcp_len = proto_registrar_get_id_byname("tcp.len");
    hf_tcp_flags = proto_registrar_get_id_byname("tcp.flags");
    g_array_append_val(wanted, hf_tcp_payload);
    g_array_append_val(wanted, hf_tcp_seq_raw);
    g_array_append_val(wanted, hf_tcp_len);
    g_array_append_val(wanted, hf_tcp_flags);
    set_postdissector_wanted_hfids(mailedu_handle, wanted);
    mailedu_tap_handoff();
}
