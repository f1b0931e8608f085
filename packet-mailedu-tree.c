/* packet-mailedu-tree.c - mailedu's protocol tree and expert info: the
 * records a frame got on the first pass, rendered on every pass (first or
 * later, in any order), so one pass, -2 and the GUI show the same thing.
 * Fields and expert items are registered here, where they are used; the
 * expert items come from one table (plugin/warnings.def).
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "config.h"

#include <epan/expert.h>
#include <epan/tap.h>

#include "packet-mailedu.h"
#include "plugin/report.h"

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
static int hf_auth_failure = -1;
static int hf_auth_cleartext = -1;
static int hf_session_user = -1;
static int hf_tls = -1;
static int hf_mail_from = -1;
static int hf_mail_rcpt = -1;
static int hf_mailbox = -1;

static gint ett_mailedu = -1;
static gint ett_line = -1;
static gint ett_auth = -1;

/* One expert field per row of warnings.def, in the same order. */
enum {
#define ME_WARNING(id, bit, name, group, severity, summary, text, detail) EI_##id,
#include "plugin/warnings.def"
#undef ME_WARNING
    EI_COUNT
};
static expert_field ei[EI_COUNT];

static int expert_tap = 0;    /* Wireshark's "expert" tap (-z expert, Expert Info); 0: not yet found */
static int proto_ws_expert = -1; /* its _ws.expert fields */

/* ---- every pass: rendering ---- */

static const char *lang_text(me_text_id id)
{
    return me_text(id, (me_lang)mailedu_prefs.language);
}

/* Is the field shown or asked for (a filter, a column, -e, a visible tree)?
 * Wireshark fakes an unwanted item only under a parent it kept, and not the
 * texts mailedu makes for it, so mailedu skips what nobody wants: with a
 * filter on mailedu.phase, the phase is the one field it adds (issue 13). */
static gboolean wanted_field(proto_tree *t, int hf)
{
    return t && proto_field_is_referenced(t, hf);
}

static void add_str(proto_tree *t, int hf, tvbuff_t *tvb, const char *v)
{
    if (v && wanted_field(t, hf))
        proto_item_set_generated(proto_tree_add_string(t, hf, tvb, 0, 0, mailedu_utf8(PNODE_POOL(t), v)));
}

static void add_uint(proto_tree *t, int hf, tvbuff_t *tvb, guint32 v)
{
    if (wanted_field(t, hf))
        proto_item_set_generated(proto_tree_add_uint(t, hf, tvb, 0, 0, v));
}

/* Flags are present only when true, like Wireshark's own. */
static void add_flag(proto_tree *t, int hf, tvbuff_t *tvb, gboolean v)
{
    if (v && wanted_field(t, hf))
        proto_item_set_generated(proto_tree_add_boolean(t, hf, tvb, 0, 0, TRUE));
}

static const char *masked(const char *v)
{
    return (v && mailedu_prefs.mask_passwords) ? "********" : v;
}

static void add_explain(proto_tree *t, tvbuff_t *tvb, me_text_id id)
{
    if (id == TXT_NONE)
        return;
    add_str(t, hf_explain, tvb, lang_text(id));
    if (*me_text_rfc(id))
        add_str(t, hf_rfc, tvb, me_text_rfc(id));
}

/* A phase as messages name it: the RFC's state name and the filter value, in
 * the chosen language ("fase transaksi (TRANSACTION) - transaction"). */
static const char *phase_label(me_proto proto, me_phase ph)
{
    me_text_id id = me_phase_text(proto, ph);
    return id == TXT_NONE ? me_phase_name(ph) : lang_text(id);
}

/* The text after a warning's message, per the DETAIL column of warnings.def. */
enum { DETAIL_PLAIN, DETAIL_USER, DETAIL_PHASE, DETAIL_WRONG_PHASE };

/* A warning with its message in the reader's language and its detail, on PI;
 * or, when nobody reads the rendering (COUNT_ONLY), only counted toward the
 * capture's highest severity: on no item, with its summary, formatting
 * nothing. */
static void add_one_expert(packet_info *pinfo, proto_item *pi, const me_item *it, int e,
                           me_text_id text, int detail, gboolean count_only)
{
    const char *msg, *user;
    if (count_only) {
        expert_add_info(pinfo, NULL, &ei[e]);
        return;
    }
    msg = lang_text(text);
    user = it->auth && it->auth->username && *it->auth->username
               ? mailedu_utf8(pinfo->pool, it->auth->username) : NULL;
    switch (detail) {
    case DETAIL_USER:
        if (user) {
            expert_add_info_format(pinfo, pi, &ei[e], "%s (%s)", msg, user);
            return;
        }
        break;
    case DETAIL_PHASE:
        expert_add_info_format(pinfo, pi, &ei[e], "%s: %s", msg, phase_label(it->proto, it->phase));
        return;
    case DETAIL_WRONG_PHASE:
        /* the section that says which commands each state allows */
        expert_add_info_format(pinfo, pi, &ei[e], "%s (%s): %s [%s]", msg,
                               phase_label(it->proto, it->wrong_phase),
                               it->command ? mailedu_utf8(pinfo->pool, it->command) : "",
                               it->proto == ME_PROTO_POP3   ? "RFC 1939 §3"
                               : it->proto == ME_PROTO_SMTP ? "RFC 5321 §4.1.4"
                                                            : "RFC 9051 §3");
        return;
    default:
        break;
    }
    expert_add_info_format(pinfo, pi, &ei[e], "%s", msg);
}

static void add_expert(packet_info *pinfo, proto_item *pi, const me_item *it, gboolean count_only)
{
#define ME_WARNING(id, bit, name, group, severity, summary, text, detail) \
    if (it->flags & ME_W_##id)                                            \
        add_one_expert(pinfo, pi, it, EI_##id, text, DETAIL_##detail, count_only);
#include "plugin/warnings.def"
#undef ME_WARNING
}

static void add_auth(proto_tree *t, tvbuff_t *tvb, const me_item *it)
{
    const me_auth *a = it->auth;
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
            (a->password || a->token) && mailedu_prefs.mask_passwords ? "********" : a->decoded);
    if (a->attempt)
        add_uint(t, hf_auth_attempt, tvb, a->attempt);
    if (a->result != ME_RESULT_NONE)
        add_str(t, hf_auth_result, tvb, me_result_name(a->result));
    if (a->result == ME_RESULT_FAILURE)
        add_str(t, hf_auth_failure, tvb, me_failure_name(a->failure));
    /* the flag marks the packet the secret's bytes are in: not a command
     * whose password came frames before, as an IMAP literal */
    add_flag(t, hf_auth_cleartext, tvb, it->cleartext && !a->secret_frame);
}

/* The line as the transcript prints it (me_line_text: the status as sent,
 * the command, the text; byte counts for bodies), after its direction. */
static const char *line_summary_raw(wmem_allocator_t *pool, const me_item *it)
{
    char *t = me_line_text(it, it->masked && mailedu_prefs.mask_passwords);
    const char *r = wmem_strdup_printf(pool, "%s: %s", it->dir == ME_SERVER ? "S" : "C", t);
    free(t);
    return r;
}

/* The line as the Info column and the tree's line items show it. */
static const char *line_summary(wmem_allocator_t *pool, const me_item *it)
{
    return mailedu_utf8(pool, line_summary_raw(pool, it));
}

static void render_line(tvbuff_t *tvb, packet_info *pinfo, proto_tree *t, const me_item *it)
{
    proto_item *pi;
    const char *arg = it->masked && mailedu_prefs.mask_passwords ? it->masked : it->argument;

    add_str(t, hf_command, tvb, it->command);
    add_str(t, hf_argument, tvb, arg);
    add_str(t, hf_tag, tvb, it->tag);
    if (it->status != ME_STATUS_NONE)
        add_str(t, hf_status, tvb, me_status_name(it->status));
    if (it->reply_code)
        add_uint(t, hf_reply_code, tvb, it->reply_code);
    add_str(t, hf_enhanced, tvb, it->enhanced);
    add_explain(t, tvb, it->explain);
    add_explain(t, tvb, it->explain2);
    add_str(t, hf_detail, tvb, it->detail);
    if (it->request_in)
        add_uint(t, hf_request_in, tvb, it->request_in);
    if (it->response_in)
        add_uint(t, hf_response_in, tvb, it->response_in);
    if (it->data_len)
        add_uint(t, hf_data_len, tvb, it->data_len);
    if (!it->auth && it->cleartext) /* the bytes of a password sent apart from its command */
        add_flag(t, hf_auth_cleartext, tvb, TRUE);
    if (it->auth) {
        proto_tree *at = t; /* without the subtree when nobody sees it */
        if (wanted_field(t, hf_auth)) {
            pi = proto_tree_add_item(t, hf_auth, tvb, 0, 0, ENC_NA);
            proto_item_set_generated(pi);
            at = proto_item_add_subtree(pi, ett_auth);
        }
        add_auth(at, tvb, it);
    }
    add_str(t, hf_mail_from, tvb, it->mail_from);
    add_str(t, hf_mail_rcpt, tvb, it->rcpt);
    add_str(t, hf_mailbox, tvb, it->mailbox);
    add_expert(pinfo, t ? proto_tree_get_parent(t) : NULL, it, FALSE);
}

/* Lines rendered per frame at most: the session's bound plus the few records
 * a frame can get besides (notes of held segments, several feeds). */
#define MAX_RENDERED (ME_MAX_FRAME_RECORDS + 64u)
#define INFO_LINES 16u /* line summaries in the Info column at most */

/* mailedu's own summary of a frame's lines in the Info column, instead of the
 * builtin dissector's, where that one would mislead: with mask_passwords its
 * "C: PASS secret" would still show the secret on the projector; inside a
 * tunnel it may say C: for the server's lines (HTTP CONNECT). */
static gboolean own_info_wanted(const mailedu_conv *mc, const me_item *items)
{
    const me_item *it;
    if (mc && mc->origin == MAILEDU_BY_LAYER)
        return TRUE;
    for (it = items; it; it = it->next)
        if (it->inflated) /* the builtin dissector's Info is compressed bytes */
            return TRUE;
    if (!mailedu_prefs.mask_passwords)
        return FALSE;
    for (it = items; it; it = it->next)
        if (it->cleartext || it->masked || (it->auth && (it->auth->password || it->auth->token)))
            return TRUE;
    return FALSE;
}

static void own_info_column(packet_info *pinfo, const me_item *items)
{
    const me_item *it;
    unsigned n = 0;
    col_clear(pinfo->cinfo, COL_INFO);
    for (it = items; it; it = it->next) {
        if (n++ == INFO_LINES) { /* a column, not a transcript */
            col_append_str(pinfo->cinfo, COL_INFO, " | ...");
            break;
        }
        col_append_sep_str(pinfo->cinfo, COL_INFO, " | ", line_summary(pinfo->pool, it));
    }
}

/* "[phase] " before the Info column's text.  col_prepend_fstr would format
 * and copy it twice per column: a quarter of mailedu's rendering (issue 13).
 * The old text is copied first, since the column's buffer is rewritten;
 * the fence goes, as nothing after the postdissector writes to Info. */
static void prefix_info(packet_info *pinfo, const char *phase)
{
    const char *old;
    if (!pinfo->cinfo || !col_get_writable(pinfo->cinfo, -1) ||
        !(old = col_get_text(pinfo->cinfo, COL_INFO)))
        return;
    old = wmem_strdup(pinfo->pool, old);
    col_clear_fence(pinfo->cinfo, COL_INFO);
    col_add_lstr(pinfo->cinfo, COL_INFO, "[", phase, "] ", old, COL_ADD_LSTR_TERMINATOR);
}

/* Does anyone read what rendering makes on this pass: the columns, a visible
 * tree, a filter, -e or a colouring rule on a mailedu field (each marks the
 * protocol referenced), the expert tap or a _ws.expert field?  In a run that
 * only reports (-q -z mailedu,sessions, -z credentials) nobody does. */
static gboolean rendering_read(packet_info *pinfo, proto_tree *tree)
{
    if (expert_tap <= 0) /* Wireshark registers it after the handoffs; 0: not found */
        expert_tap = find_tap_id("expert");
    return pinfo->cinfo ||
           (tree && (proto_field_is_referenced(tree, proto_mailedu) ||
                     (proto_ws_expert >= 0 && proto_field_is_referenced(tree, proto_ws_expert)))) ||
           (expert_tap > 0 && have_tap_listener(expert_tap));
}

void mailedu_tree_render(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
                         const mailedu_conv *mc, const me_item *items)
{
    proto_item *ti, *pi;
    proto_tree *mt;
    const me_item *it, *last = items;
    me_phase shown[8];
    unsigned nshown = 0, i, nitems = 0;
    gboolean start = FALSE, inferred = FALSE;

    if (!rendering_read(pinfo, tree)) { /* the taps have the records already */
        for (it = items; it; it = it->next)
            add_expert(pinfo, NULL, it, TRUE);
        return;
    }
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
    if (own_info_wanted(mc, items))
        own_info_column(pinfo, items);
    if (mailedu_prefs.info_column && nshown)
        prefix_info(pinfo, me_phase_name(shown[0]));

    ti = proto_tree_add_item(tree, proto_mailedu, tvb, 0, 0, ENC_NA);
    proto_item_set_generated(ti);
    proto_item_append_text(ti, ": %s [%s] %s", me_proto_name(items->proto),
                           me_phase_name(items->phase), lang_text(items->explain));
    mt = proto_item_add_subtree(ti, ett_mailedu);
    add_str(mt, hf_proto, tvb, me_proto_name(items->proto));
    /* the packet's sender: its own lines come last (a command whose end was
     * lost is completed by the reply that reveals it, records before it) */
    add_str(mt, hf_direction, tvb, me_dir_name(last->dir));
    for (i = 0; i < nshown; i++)
        add_str(mt, hf_phase, tvb, me_phase_name(shown[i]));
    add_flag(mt, hf_phase_start, tvb, start);
    add_flag(mt, hf_phase_inferred, tvb, inferred);
    add_flag(mt, hf_tls, tvb, last->tls);
    add_str(mt, hf_session_user, tvb, last->session_user);

    for (it = items, i = 0; it; it = it->next, i++) {
        proto_tree *lt = mt;
        if (i == MAX_RENDERED) { /* the session bounds records; this bounds the tree too */
            pi = proto_tree_add_string_format_value(mt, hf_line, tvb, 0, 0, "", "%u more records not shown",
                                                    nitems - i);
            proto_item_set_generated(pi);
            break;
        }
        /* every record's line, as mailedu.line (README: "the line as
         * sent"); with several, each line's fields go under it */
        if (wanted_field(mt, hf_line)) {
            pi = proto_tree_add_string(mt, hf_line, tvb, 0, 0, line_summary(pinfo->pool, it));
            proto_item_set_generated(pi);
            if (nitems > 1)
                lt = proto_item_add_subtree(pi, ett_line);
        }
        render_line(tvb, pinfo, lt, it);
    }
}


/* ---- registration ---- */

void mailedu_tree_handoff(void)
{
    proto_ws_expert = proto_get_id_by_filter_name("_ws.expert");
}

void mailedu_tree_register(int proto)
{
    static hf_register_info hf[] = {
        {&hf_proto, {"Protocol", "mailedu.proto", FT_STRING, BASE_NONE, NULL, 0, "pop3, smtp or imap", HFILL}},
        {&hf_direction, {"Direction", "mailedu.direction", FT_STRING, BASE_NONE, NULL, 0, "client or server: who sent the line", HFILL}},
        {&hf_phase, {"Phase", "mailedu.phase", FT_STRING, BASE_NONE, NULL, 0, "Session phase of this packet", HFILL}},
        {&hf_phase_start, {"Phase start", "mailedu.phase.start", FT_BOOLEAN, BASE_NONE, NULL, 0, "This packet begins a new phase", HFILL}},
        {&hf_phase_inferred, {"Phase inferred", "mailedu.phase.inferred", FT_BOOLEAN, BASE_NONE, NULL, 0, "Phase inferred because the capture began mid-session", HFILL}},
        {&hf_line, {"Line", "mailedu.line", FT_STRING, BASE_NONE, NULL, 0, "The line as sent (passwords masked per mask_passwords); in a packet of several lines, each with its fields under it", HFILL}},
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
        {&hf_auth_failure, {"Why it failed", "mailedu.auth.failure", FT_STRING, BASE_NONE, NULL, 0,
                            "credentials (user name or password rejected), authorization (password right, "
                            "session refused), refused (the password was not checked), cancelled (by the client)",
                            HFILL}},
        {&hf_auth_cleartext, {"Cleartext secret", "mailedu.auth.cleartext", FT_BOOLEAN, BASE_NONE, NULL, 0, "A password or token can be read in this packet (base64 counts as readable)", HFILL}},
        {&hf_session_user, {"Session user", "mailedu.session.user", FT_STRING, BASE_NONE, NULL, 0, "User of this session", HFILL}},
        {&hf_tls, {"TLS", "mailedu.tls", FT_BOOLEAN, BASE_NONE, NULL, 0, "The session is protected by TLS here", HFILL}},
        {&hf_mail_from, {"Mail from", "mailedu.mail.from", FT_STRING, BASE_NONE, NULL, 0, "SMTP envelope sender", HFILL}},
        {&hf_mail_rcpt, {"Recipient", "mailedu.mail.rcpt", FT_STRING, BASE_NONE, NULL, 0, "SMTP envelope recipient", HFILL}},
        {&hf_mailbox, {"Mailbox", "mailedu.mailbox", FT_STRING, BASE_NONE, NULL, 0, "IMAP mailbox selected", HFILL}},
    };
    static gint *ett[] = {&ett_mailedu, &ett_line, &ett_auth};
    static ei_register_info eri[] = {
#define ME_WARNING(id, bit, name, group, severity, summary, text, detail) \
    {&ei[EI_##id], {"mailedu." name, PI_##group, PI_##severity, summary, EXPFILL}},
#include "plugin/warnings.def"
#undef ME_WARNING
    };
    expert_module_t *em;

    proto_register_field_array(proto, hf, array_length(hf));
    proto_register_subtree_array(ett, array_length(ett));
    em = expert_register_protocol(proto);
    expert_register_field_array(em, eri, array_length(eri));
}
