/* packet-mailedu-tap.c - mailedu's taps: the "mailedu" tap with its reports
 * (-z mailedu,tree as a stats_tree, -z mailedu,sessions[,json][,FILTER],
 * -z mailedu,transcript[,STREAM], -z mailedu,hashes[,FILTER], -z mailedu,ladder[,STREAM]
 * as SVG) and records
 * for Wireshark's own "credentials" tap (Tools -> Credentials, -z credentials).
 *
 * The dissector queues each frame's records (on every pass, only when a
 * listener exists); the reports fold them into per-session summaries with the
 * Wireshark-free plugin/report*.c and print them when tshark draws.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <epan/address.h>
#include <epan/stat_tap_ui.h>
#include <epan/stats_tree.h>
#include <epan/tap.h>
#include <epan/to_str.h>
#include <wsutil/strtoi.h>
#include <epan/dissectors/packet-tcp.h>

#include "packet-mailedu.h"
#include "packet-mailedu-tap.h"
#include "plugin/report.h"

#ifndef VERSION
#define VERSION "0.1.0"
#endif

#define MAILEDU_JSON_MAX_LINES 500 /* docs/sessions-schema.md: `lines` per session */

/* Wireshark's tap_credential_t (epan/tap-credentials.h, not installed by the
 * Debian dev package): the same layout in 4.0, 4.4 and 4.6. */
typedef struct {
    guint num;            /* frame of the password */
    guint username_num;   /* frame of the user name */
    guint password_hf_id; /* field holding the password, for the GUI's jump */
    gchar *username;
    const gchar *proto;
    gchar *info;
} mailedu_credential;

static int mailedu_tap = -1;
static int credentials_tap = -1;
static int hf_password = -1, hf_token = -1, hf_digest = -1;

/* ---- the credentials tap ---- */

static const char *cred_proto(me_proto p)
{
    switch (p) {
    case ME_PROTO_POP3: return "POP3 (mailedu)";
    case ME_PROTO_SMTP: return "SMTP (mailedu)";
    case ME_PROTO_IMAP: return "IMAP (mailedu)";
    default: return "mailedu";
    }
}

/* One record per line that carries a secret: password, token or digest. */
static void queue_credential(packet_info *pinfo, const me_item *it, gboolean mask)
{
    const me_auth *a = it->auth;
    mailedu_credential *c;
    const char *what, *secret;
    if (a->password) {
        what = "password";
        secret = mask ? "********" : a->password;
    } else if (a->token) {
        what = "token";
        secret = mask ? "********" : a->token;
    } else {
        what = "digest";
        secret = a->digest;
    }
    c = wmem_new0(pinfo->pool, mailedu_credential);
    /* num: where the password crossed (an IMAP literal's own packet) */
    c->num = a->secret_frame ? a->secret_frame : it->frame;
    c->username_num = it->frame;
    c->password_hf_id = (guint)(a->password ? hf_password : a->token ? hf_token : hf_digest);
    c->username = wmem_strdup(pinfo->pool, a->username ? mailedu_utf8(pinfo->pool, a->username) : "");
    c->proto = cred_proto(it->proto);
    c->info = (gchar *)mailedu_utf8(pinfo->pool,
                                    wmem_strdup_printf(pinfo->pool, "%s %s: %s%s",
                                                       a->mechanism ? a->mechanism : "?", what, secret,
                                                       it->tls ? " (inside TLS)" : ""));
    tap_queue_packet(credentials_tap, pinfo, c);
}

void mailedu_tap_queue(packet_info *pinfo, guint32 stream, const me_item *items)
{
    const me_item *it;
    if (!items)
        return;
    if (have_tap_listener(mailedu_tap)) {
        mailedu_tap_data *d = wmem_new(pinfo->pool, mailedu_tap_data);
        d->stream = stream;
        d->items = items;
        tap_queue_packet(mailedu_tap, pinfo, d);
    }
    if (credentials_tap >= 0 && have_tap_listener(credentials_tap)) {
        gboolean mask = (gboolean)mailedu_prefs.mask_passwords;
        for (it = items; it; it = it->next)
            if (it->auth && (it->auth->password || it->auth->token || it->auth->digest))
                queue_credential(pinfo, it, mask);
    }
}

/* ---- -z mailedu,tree (Statistics -> mailedu) ---- */

static int st_lines = -1, st_logins = -1, st_warnings = -1;

static void tree_init(stats_tree *st)
{
    st_lines = stats_tree_create_node(st, "Lines: protocol > phase > command or reply", 0,
                                      STAT_DT_INT, TRUE);
    st_logins = stats_tree_create_node(st, "Login results: protocol > mechanism > result", 0,
                                       STAT_DT_INT, TRUE);
    st_warnings = stats_tree_create_node(st, "Warnings by kind", 0, STAT_DT_INT, TRUE);
}

/* The leaf of a line under its phase: the command verb, or the reply status. */
static const char *tree_leaf(const me_item *it, char *buf, size_t n)
{
    switch (it->kind) {
    case ME_KIND_COMMAND:
        return it->command && *it->command ? it->command : "(command)";
    case ME_KIND_REPLY:
    case ME_KIND_CHALLENGE:
        if (it->reply_code) {
            snprintf(buf, n, "reply %u", it->reply_code);
            return buf;
        }
        snprintf(buf, n, "reply %s", it->status ? me_status_name(it->status) : "data");
        return buf;
    case ME_KIND_SASL: return "SASL response";
    case ME_KIND_DATA: return "content bytes";
    case ME_KIND_TLS: return "TLS bytes";
    case ME_KIND_DUPLICATE: return "retransmitted bytes";
    default: return "unknown line";
    }
}

static tap_packet_status tree_packet(stats_tree *st, packet_info *pinfo,
                                     epan_dissect_t *edt _U_, const void *data,
                                     tap_flags_t flags _U_)
{
    const me_item *it;
    char buf[32];
    uint32_t rest, bit;
    for (it = ((const mailedu_tap_data *)data)->items; it; it = it->next) {
        int p, ph;
        tick_stat_node(st, "Lines: protocol > phase > command or reply", 0, TRUE);
        p = tick_stat_node(st, me_proto_name(it->proto), st_lines, TRUE);
        ph = tick_stat_node(st, me_phase_name(it->phase), p, TRUE);
        tick_stat_node(st, mailedu_utf8(pinfo->pool, tree_leaf(it, buf, sizeof buf)), ph, FALSE);
        if (it->auth && it->auth->result != ME_RESULT_NONE) {
            tick_stat_node(st, "Login results: protocol > mechanism > result", 0, TRUE);
            p = tick_stat_node(st, me_proto_name(it->proto), st_logins, TRUE);
            ph = tick_stat_node(st, it->auth->mechanism ? mailedu_utf8(pinfo->pool, it->auth->mechanism) : "?",
                                p, TRUE);
            ph = tick_stat_node(st, me_result_name(it->auth->result), ph, TRUE);
            if (me_failure_name(it->auth->failure))
                tick_stat_node(st, me_failure_name(it->auth->failure), ph, FALSE);
        }
        for (rest = it->flags; (bit = me_warning_next(&rest)) != 0;) {
            tick_stat_node(st, "Warnings by kind", 0, TRUE);
            tick_stat_node(st, me_warning_name(bit), st_warnings, FALSE);
        }
    }
    return TAP_PACKET_REDRAW;
}

/* ---- -z mailedu,sessions / transcript / hashes ---- */

typedef enum { OUT_TABLE, OUT_JSON, OUT_TRANSCRIPT, OUT_HASHES, OUT_LADDER } out_kind;

typedef struct {
    out_kind kind;
    long stream;    /* transcript: one tcp.stream, or -1 */
    me_report *rep;
} report_listener;

static void report_reset(void *tapdata)
{
    me_report_reset(((report_listener *)tapdata)->rep);
}

static tap_packet_status report_packet(void *tapdata, packet_info *pinfo,
                                       epan_dissect_t *edt _U_, const void *data,
                                       tap_flags_t flags _U_)
{
    report_listener *l = (report_listener *)tapdata;
    const mailedu_tap_data *d = (const mailedu_tap_data *)data;
    me_rep_frame f;
    f.stream = d->stream;
    f.frame = pinfo->num;
    f.secs = (int64_t)pinfo->abs_ts.secs;
    f.usecs = pinfo->abs_ts.nsecs / 1000;
    f.src = f.dst = NULL; /* formatted once per session: the report keeps the first */
    if (!me_report_has_session(l->rep, d->stream)) {
        f.src = address_to_str(pinfo->pool, &pinfo->src);
        f.dst = address_to_str(pinfo->pool, &pinfo->dst);
    }
    f.sport = (uint16_t)pinfo->srcport;
    f.dport = (uint16_t)pinfo->destport;
    me_report_add(l->rep, &f, d->items);
    return TAP_PACKET_REDRAW;
}

/* The base name of the capture file.  A plugin cannot reach tshark's or
 * Wireshark's capture_file, so on Linux it is read from the command line
 * (-r FILE, -rFILE, -nr FILE, --read-file FILE); elsewhere it stays "". */
static char *capture_name(void)
{
    gchar *cmd = NULL;
    gsize len = 0, i = 0;
    char *name = NULL;
    gboolean next = FALSE;
    if (!g_file_get_contents("/proc/self/cmdline", &cmd, &len, NULL))
        return g_strdup("");
    while (i < len) {
        const char *a = cmd + i;
        size_t n = strlen(a);
        if (next) {
            g_free(name);
            name = g_path_get_basename(a);
            next = FALSE;
        } else if (strcmp(a, "--read-file") == 0) {
            next = TRUE;
        } else if (a[0] == '-' && a[1] != '-' && n >= 2) {
            const char *r = strchr(a + 1, 'r');
            /* a cluster of one-letter flags that ends in r takes the next word */
            if (r && r[1] == '\0' && strspn(a + 1, "nqr2VxlPSHL") == n - 1)
                next = TRUE;
            else if (a[1] == 'r' && a[2]) {
                g_free(name);
                name = g_path_get_basename(a + 2);
            }
        }
        i += n + 1;
    }
    g_free(cmd);
    return name ? name : g_strdup("");
}

static void report_draw(void *tapdata)
{
    static const char *const titles[] = {"sessions", "sessions (json)", "transcript", "hashes",
                                         "ladder"};
    report_listener *l = (report_listener *)tapdata;
    me_rep_opts o;
    me_buf out = {0};
    char *cap = capture_name();
    char *gen = g_strdup_printf("mailedu %s", VERSION);
    o.lang = (me_lang)mailedu_prefs.language;
    o.mask = (gboolean)mailedu_prefs.mask_passwords;
    o.capture = cap;
    o.generator = gen;
    o.stream = l->stream;
    switch (l->kind) {
    case OUT_TABLE: me_report_table(l->rep, &o, &out); break;
    case OUT_JSON: me_report_json(l->rep, &o, &out); break;
    case OUT_TRANSCRIPT: me_report_transcript(l->rep, &o, &out); break;
    case OUT_HASHES: me_report_hashes(l->rep, &o, &out); break;
    case OUT_LADDER: me_report_ladder(l->rep, &o, &out); break;
    }
    if (l->kind == OUT_LADDER) /* markers as XML comments: the output is an SVG file as is */
        printf("<!-- === mailedu ladder === -->\n%s<!-- === end === -->\n", out.p ? out.p : "");
    else
        printf("=== mailedu %s ===\n%s=== end ===\n", titles[l->kind], out.p ? out.p : "");
    me_buf_free(&out);
    g_free(cap);
    g_free(gen);
}

static void report_finish(void *tapdata)
{
    report_listener *l = (report_listener *)tapdata;
    me_report_free(l->rep);
    g_free(l);
}

static G_NORETURN void bad_argument(const char *opt, const char *why)
{
    fprintf(stderr, "mailedu: invalid -z argument \"%s\": %s\n", opt, why);
    exit(1);
}

static void start_listener(const char *opt, out_kind kind, long stream, const char *filter)
{
    report_listener *l = g_new0(report_listener, 1);
    GString *err;
    l->kind = kind;
    l->stream = stream;
    /* dialogue lines are kept only by the outputs that print them: the
     * table and the hashes print none (a 100k-packet capture's lines were
     * 20 % of the table's memory) */
    l->rep = me_report_new(kind == OUT_JSON || kind == OUT_LADDER ? MAILEDU_JSON_MAX_LINES
                           : kind == OUT_TABLE || kind == OUT_HASHES ? 0
                                                                     : (size_t)-1);
    err = register_tap_listener("mailedu", l, filter && *filter ? filter : NULL,
                                TL_REQUIRES_NOTHING, report_reset, report_packet, report_draw,
                                report_finish);
    if (err) {
        char *why = g_strdup_printf("the filter does not compile: %s", err->str);
        g_string_free(err, TRUE);
        bad_argument(opt, why);
    }
}

/* mailedu,sessions[,json][,FILTER] */
static mailedu_stat_init_ret sessions_init(const char *opt, void *userdata _U_)
{
    const char *rest = opt + strlen("mailedu,sessions");
    out_kind kind = OUT_TABLE;
    if (*rest && *rest != ',')
        bad_argument(opt, "expected mailedu,sessions[,json][,FILTER]");
    if (*rest == ',')
        rest++;
    if (strncmp(rest, "json", 4) == 0 && (rest[4] == '\0' || rest[4] == ',')) {
        kind = OUT_JSON;
        rest += rest[4] == ',' ? 5 : 4;
    }
    start_listener(opt, kind, -1, rest);
    MAILEDU_STAT_INIT_DONE;
}

/* The optional ",STREAM" after a report's name (NAME is what comes before
 * it): a tcp.stream index, which Wireshark numbers from 0 as an unsigned
 * 32-bit integer; -1 when absent.  Anything else ends tshark with a clear
 * error, never a silent empty report (4294967296 used to pass). */
static long stream_argument(const char *opt, const char *name)
{
    const char *rest = opt + strlen(name);
    guint32 stream;
    if (!*rest)
        return -1;
    if (*rest == ',' && g_ascii_isdigit(rest[1]) && ws_strtou32(rest + 1, NULL, &stream))
        return (long)stream;
    bad_argument(opt, g_strdup_printf(*rest == ','
                                          ? "STREAM must be a tcp.stream number from 0 to 4294967295 "
                                            "(%s[,STREAM])"
                                          : "expected %s[,STREAM]",
                                      name)); /* exits */
}

/* mailedu,transcript[,STREAM] */
static mailedu_stat_init_ret transcript_init(const char *opt, void *userdata _U_)
{
    start_listener(opt, OUT_TRANSCRIPT, stream_argument(opt, "mailedu,transcript"), NULL);
    MAILEDU_STAT_INIT_DONE;
}

/* mailedu,ladder[,STREAM] */
static mailedu_stat_init_ret ladder_init(const char *opt, void *userdata _U_)
{
    start_listener(opt, OUT_LADDER, stream_argument(opt, "mailedu,ladder"), NULL);
    MAILEDU_STAT_INIT_DONE;
}

/* mailedu,hashes[,FILTER] */
static mailedu_stat_init_ret hashes_init(const char *opt, void *userdata _U_)
{
    const char *rest = opt + strlen("mailedu,hashes");
    if (*rest && *rest != ',')
        bad_argument(opt, "expected mailedu,hashes[,FILTER]");
    start_listener(opt, OUT_HASHES, -1, *rest ? rest + 1 : NULL);
    MAILEDU_STAT_INIT_DONE;
}

/* ---- registration ---- */

void mailedu_tap_register(void)
{
    static stat_tap_ui sessions_ui = {REGISTER_STAT_GROUP_GENERIC, "mailedu sessions",
                                      "mailedu,sessions", sessions_init, 0, NULL};
    static stat_tap_ui transcript_ui = {REGISTER_STAT_GROUP_GENERIC, "mailedu transcript",
                                        "mailedu,transcript", transcript_init, 0, NULL};
    static stat_tap_ui hashes_ui = {REGISTER_STAT_GROUP_GENERIC, "mailedu hashes",
                                    "mailedu,hashes", hashes_init, 0, NULL};
    static stat_tap_ui ladder_ui = {REGISTER_STAT_GROUP_GENERIC, "mailedu ladder",
                                    "mailedu,ladder", ladder_init, 0, NULL};
    mailedu_tap = register_tap("mailedu");
    stats_tree_register_plugin("mailedu", "mailedu", "mailedu", 0, tree_packet, tree_init, NULL);
    register_stat_tap_ui(&sessions_ui, NULL);
    register_stat_tap_ui(&transcript_ui, NULL);
    register_stat_tap_ui(&hashes_ui, NULL);
    register_stat_tap_ui(&ladder_ui, NULL);
}

void mailedu_tap_handoff(void)
{
    credentials_tap = find_tap_id("credentials");
    if (credentials_tap < 0)
        credentials_tap = register_tap("credentials"); /* the same id the builtins use */
    hf_password = proto_registrar_get_id_byname("mailedu.auth.password");
    hf_token = proto_registrar_get_id_byname("mailedu.auth.token");
    hf_digest = proto_registrar_get_id_byname("mailedu.auth.digest");
}
