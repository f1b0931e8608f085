/* packet-mailedu-heur.c - which TCP conversations are mail, and handing them
 * to Wireshark's builtin POP/IMAP/SMTP dissectors.
 *
 * Three ways a conversation becomes mail: a mail port in the tcp or tls port
 * tables (including Decode As); the heuristics "mailedu_tcp" and
 * "mailedu_tls" recognising the first lines on any port (plugin/detect.c
 * decides, this file only passes bytes); a builtin mail dissector that ran
 * inside a tunnel (SOCKS, HTTP CONNECT).
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "config.h"

#include "packet-mailedu.h"

static int proto_pop = -1, proto_imap = -1, proto_smtp = -1;
static dissector_table_t tcp_port_table;
static dissector_table_t tls_port_table;
static dissector_handle_t pop_handle, imap_handle, smtp_handle;
static dissector_handle_t handoff_handle; /* conversation dissector after the heuristic */
static heur_dtbl_entry_t *heur_tcp;        /* mailedu_tcp: the user may turn it off */

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

me_proto mailedu_port_proto(guint32 port)
{
    return proto_of_handle(dissector_get_uint_handle(tcp_port_table, port));
}

/* Implicit-TLS ports (RFC 8314 §3.3, §7.3) when no table names them. */
static me_proto implicit_tls_port(guint32 port)
{
    switch (port) {
    case 995: return ME_PROTO_POP3;
    case 993: return ME_PROTO_IMAP;
    case 465: return ME_PROTO_SMTP;
    default: return ME_PROTO_NONE;
    }
}

me_proto mailedu_classify_port(packet_info *pinfo, guint16 *server_port, gboolean *tls)
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
        if (p == ME_PROTO_NONE)
            p = implicit_tls_port(ports[i]);
        if (p != ME_PROTO_NONE) {
            *server_port = (guint16)ports[i];
            *tls = TRUE;
            return p;
        }
    }
    return ME_PROTO_NONE;
}

/* Hands a recognised conversation to the builtin dissector, with match_uint
 * set to the server port: POP/IMAP/SMTP tell requests from replies by it. */
static int dissect_handoff(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    mailedu_conv *mc = mailedu_conv_get(pinfo, tree, FALSE);
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

/* Shared by the TCP heuristic and the postdissector (for conversations a
 * port-registered dissector took, e.g. a client port that happens to be
 * registered): decided on the first pass only. */
gboolean mailedu_recognise(mailedu_conv *mc, packet_info *pinfo, const guint8 *p, guint len)
{
    conversation_t *conv;
    mc->detect_frame = pinfo->num;
    /* the postdissector looks where a port's dissector took the segment:
     * that is the heuristic's work too, and off when the user turned it off
     * (Analyze > Enabled Protocols, --disable-heuristic mailedu_tcp) */
    if (len == 0 || PINFO_FD_VISITED(pinfo) || (heur_tcp && !heur_tcp->enabled))
        return FALSE;
    if (!mc->detect)
        mc->detect = me_detect_new(&mailedu_file_alloc);
    if (me_detect_segment(mc->detect, (uint16_t)pinfo->srcport, (uint16_t)pinfo->destport, p,
                          len) != ME_DETECT_MAIL)
        return FALSE;
    mc->proto = me_detect_proto(mc->detect);
    mc->server_port = me_detect_server_port(mc->detect);
    mc->origin = MAILEDU_BY_HEURISTIC;
    conv = find_conversation_pinfo(pinfo, 0);
    if (conv)
        conversation_set_dissector(conv, handoff_handle);
    return TRUE;
}

void mailedu_recognise_layer(mailedu_conv *mc, packet_info *pinfo, me_proto proto,
                             const guint8 *p, guint len)
{
    bool from_server = false, maybe_smtp = false;
    me_proto guess = len ? me_guess_protocol(p, len, &from_server, &maybe_smtp) : ME_PROTO_NONE;
    /* The builtin dissector's own idea of direction comes from the tunnel's
     * ports and may be backwards (HTTP CONNECT): the mail bytes decide.  A
     * "220" greeting that could also be FTP is SMTP here: SMTP's dissector ran. */
    if (guess == ME_PROTO_NONE && !maybe_smtp)
        from_server = false;
    else if (maybe_smtp)
        from_server = true;
    mc->proto = proto;
    mc->origin = MAILEDU_BY_LAYER;
    mc->server_port = (guint16)(from_server ? pinfo->srcport : pinfo->destport);
    me_detect_free(mc->detect); /* what it looked at was the tunnel's, not mail */
    mc->detect = NULL;
}

static mailedu_heur_ret dissect_heur(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
                                     void *data)
{
    mailedu_conv *mc = mailedu_conv_get(pinfo, tree, TRUE);
    guint len = tvb_captured_length(tvb);

    if (mc->proto != ME_PROTO_NONE) {
        if (mc->origin != MAILEDU_BY_HEURISTIC)
            return FALSE;
        dissect_handoff(tvb, pinfo, tree, data);
        return TRUE;
    }
    if (!mailedu_recognise(mc, pinfo, len ? tvb_get_ptr(tvb, 0, len) : NULL, len))
        return FALSE;
    dissect_handoff(tvb, pinfo, tree, data);
    return TRUE;
}

/* Decrypted TLS data on a port nobody associates with mail (implicit TLS on a
 * lab port): recognised from the greeting or first command inside TLS. */
static mailedu_heur_ret dissect_heur_tls(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
                                         void *data)
{
    mailedu_conv *mc = mailedu_conv_get(pinfo, tree, TRUE);
    guint len = tvb_captured_length(tvb);
    bool from_server = false, maybe_smtp = false;
    me_proto guess;

    if (mc->proto != ME_PROTO_NONE) {
        if (mc->origin != MAILEDU_BY_HEURISTIC || !mc->tls_port)
            return FALSE;
        dissect_handoff(tvb, pinfo, tree, data);
        return TRUE;
    }
    if (len == 0 || PINFO_FD_VISITED(pinfo))
        return FALSE;
    guess = me_guess_protocol(tvb_get_ptr(tvb, 0, len), len, &from_server, &maybe_smtp);
    if (guess == ME_PROTO_NONE)
        return FALSE;
    mc->proto = guess;
    mc->origin = MAILEDU_BY_HEURISTIC;
    mc->tls_port = TRUE;
    mc->server_port = (guint16)(from_server ? pinfo->srcport : pinfo->destport);
    dissect_handoff(tvb, pinfo, tree, data);
    return TRUE;
}

void mailedu_heur_handoff(void)
{
    tcp_port_table = find_dissector_table("tcp.port");
    tls_port_table = find_dissector_table("tls.port");
    pop_handle = find_dissector("pop");
    imap_handle = find_dissector("imap");
    smtp_handle = find_dissector("smtp");
    proto_pop = proto_get_id_by_filter_name("pop");
    proto_imap = proto_get_id_by_filter_name("imap");
    proto_smtp = proto_get_id_by_filter_name("smtp");
    /* no protocol of its own: frames show the builtin protocol, not an extra layer */
    handoff_handle = create_dissector_handle(dissect_handoff, -1);
    heur_dissector_add("tcp", dissect_heur, "Mail protocols on any TCP port (mailedu)",
                       "mailedu_tcp", proto_mailedu, HEURISTIC_ENABLE);
    heur_dissector_add("tls", dissect_heur_tls, "Mail protocols inside TLS on any port (mailedu)",
                       "mailedu_tls", proto_mailedu, HEURISTIC_ENABLE);
    heur_tcp = find_heur_dissector_by_unique_short_name("mailedu_tcp");
}
