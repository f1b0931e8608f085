/* report_text.c - the reports people read: the sessions table and the
 * transcript (the dialogue as lab handouts print it). */
#include <stdio.h>
#include <string.h>

#include "report_int.h"

/* Words of the headings, English and Bahasa Indonesia side by side. */
typedef enum {
    L_SESSION, L_CLIENT, L_SERVER, L_PHASE, L_USER, L_LOGIN, L_DECRYPTED,
    L_NOT_DECRYPTED, L_OFFERED, L_SKIPPED, L_REFUSED, L_REFUSED_SKIPPED, L_FRAMES, L_PASSWORD, L_TOKEN, L_SUCCESS, L_FAILURE,
    L_BYTES_TLS, L_BYTES_DUP, L_BYTES_DATA,
    L_WHY_CREDENTIALS, L_WHY_AUTHORIZATION, L_WHY_REFUSED, L_WHY_CANCELLED, /* me_failure order */
    L_NO_REPLY, L_TLS_NONE, L_COUNT
} lab_id;

static void frame_or_dash(me_buf *out, const char *before, uint32_t frame)
{
    if (frame)
        me_buf_printf(out, "%s%u", before, frame);
    else
        me_buf_printf(out, "%s-", before);
}

static const char *label(lab_id id, me_lang lang)
{
    static const char *const t[L_COUNT][2] = {
        {"Session", "Sesi"},
        {"client", "klien"},
        {"server", "server"},
        {"phase", "fase"},
        {"user", "pengguna"},
        {"login attempt", "percobaan login"},
        {" (decrypted with keys)", " (didekripsi dengan kunci)"},
        {" (not decrypted)", " (tidak didekripsi)"},
        {", offered by the server", ", ditawarkan oleh server"},
        {", SKIPPED: the client logged in without it", ", DILEWATI: klien login tanpa TLS"},
        {", REFUSED: the server would not start it", ", DITOLAK: server tidak mau memulai TLS"},
        {", REFUSED: the server would not start it, and the client logged in without it",
         ", DITOLAK: server tidak mau memulai TLS, lalu klien login tanpa TLS"},
        {"frames", "frame"},
        {"password", "kata sandi"},
        {"token", "token"},
        {"success", "berhasil"},
        {"failure", "gagal"},
        {"[%u bytes of TLS]", "[%u byte data TLS]"},
        {"[%u bytes, retransmitted]", "[%u byte, dikirim ulang]"},
        {"[%u bytes of data]", "[%u byte data]"},
        {"the server rejected the user name or password",
         "server menolak nama pengguna atau kata sandi"},
        {"the password was right, but the server refused the session",
         "kata sandi benar, tetapi server menolak sesinya"},
        {"refused without checking the password", "ditolak tanpa memeriksa kata sandi"},
        {"the client cancelled the login", "klien membatalkan login"},
        {"no reply from the server in the capture (the connection closed or the capture ended first)",
         "tidak ada balasan server di capture (koneksi ditutup atau capture berakhir lebih dulu)"},
        {"none", "tidak ada"},
    };
    return t[id][lang == ME_LANG_ID ? 1 : 0];
}

/* Whether the headings say the server refused TLS: it did, and no TLS began
 * later in the session (a second STARTTLS that worked makes it moot). */
static bool refused(const rep_session *s)
{
    return s->refused && !s->any_tls;
}

/* ---- the table ---- */

#define NCOL 8
#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif

/* Characters in n bytes of valid UTF-8: the bytes that are not continuation
 * bytes (RFC 3629 §3), as a terminal pads them. */
static size_t utf8_chars(const char *v, size_t n)
{
    size_t i, c = 0;
    for (i = 0; i < n; i++)
        c += ((unsigned char)v[i] & 0xc0) != 0x80;
    return c;
}

/* Appends cell v (n bytes of valid UTF-8), then spaces up to width + 2
 * characters unless it is the row's last. */
static void cell(me_buf *b, const char *v, size_t n, size_t width, bool last)
{
    static const char spaces[] = "                                ";
    size_t chars = utf8_chars(v, n), pad;
    me_buf_putn(b, v, n);
    if (last)
        return;
    for (pad = width + 2 - chars; pad > 0; pad -= MIN(pad, sizeof spaces - 1))
        me_buf_putn(b, spaces, MIN(pad, sizeof spaces - 1));
}

/* The columns of one session row. */
static void session_row(const rep_session *s, char cols[NCOL][96])
{
    size_t i, ok = 0;
    snprintf(cols[0], 96, "%u", s->stream);
    snprintf(cols[1], 96, "%s", me_proto_name(s->proto));
    rep_endpoint(cols[2], 96, s->client, s->cport);
    rep_endpoint(cols[3], 96, s->server, s->sport);
    snprintf(cols[4], 96, "%s%s%s", rep_tls_mode(s), s->decrypted ? "+keys" : "",
             refused(s) ? " REFUSED" : s->skipped ? " SKIPPED" : "");
    snprintf(cols[5], 96, "%.90s", s->user ? s->user : "-");
    for (i = 0; i < s->nlogins; i++)
        ok += s->logins[i].result == ME_RESULT_SUCCESS;
    snprintf(cols[6], 96, "%zu (%zu ok)%s", s->nlogins, ok, s->cleartext ? " CLEARTEXT" : "");
    snprintf(cols[7], 96, "%u-%u", s->first_frame, s->last_frame);
}

/* The login attempts under the table, one line each. */
static void logins_list(const rep_session *s, const me_rep_opts *o, me_buf *out)
{
    size_t i;
    for (i = 0; i < s->nlogins; i++) {
        const rep_login *l = &s->logins[i];
        const char *secret = l->password ? rep_secret(o, l->password)
                             : l->token  ? rep_secret(o, l->token)
                                         : l->digest;
        me_buf_printf(out, "  stream %u #%u %s user=", s->stream, l->attempt,
                      l->mechanism ? l->mechanism : "?");
        me_buf_utf8(out, l->username ? l->username : "-");
        me_buf_puts(out, l->digest && !l->password ? " digest=" : " secret=");
        me_buf_utf8(out, secret ? secret : "-");
        me_buf_printf(out, " result=%s", l->result ? me_result_name(l->result) : "none");
        if (l->result == ME_RESULT_FAILURE && me_failure_name(l->failure))
            me_buf_printf(out, " why=%s", me_failure_name(l->failure));
        /* always three positions, "-" where there is none: which is which must not shift */
        frame_or_dash(out, " frames=", l->start_frame);
        frame_or_dash(out, "/", l->secret_frame);
        frame_or_dash(out, "/", l->result_frame);
        me_buf_puts(out, l->cleartext ? " CLEARTEXT\n" : l->tls ? " in-TLS\n" : "\n");
    }
}


static void strs_list(me_buf *out, const char *key, const rep_strs *l)
{
    size_t i;
    if (!l->n)
        return;
    me_buf_printf(out, " %s=", key);
    for (i = 0; i < l->n; i++) {
        if (i)
            me_buf_puts(out, ",");
        me_buf_utf8(out, l->v[i]);
    }
}

/* The rest of a session that SPEC's sessions report lists (the JSON's
 * phases, envelope, mailboxes and warnings), one line each. */
static void details_list(const rep_session *s, me_buf *out)
{
    size_t i;
    bool first = true;
    me_buf_printf(out, "  stream %u phases=", s->stream);
    for (i = 0; i < s->nphases; i++)
        me_buf_printf(out, "%s%s@%u", i ? "," : "", me_phase_name(s->phases[i].phase),
                      s->phases[i].frame);
    if (!s->nphases)
        me_buf_puts(out, "-");
    if (s->inferred)
        me_buf_puts(out, " phases_inferred");
    strs_list(out, "from", &s->mail_from);
    strs_list(out, "to", &s->rcpt_to);
    strs_list(out, "accepted", &s->rcpt_ok);
    strs_list(out, "mailboxes", &s->mailboxes);
    for (i = 0; i < REP_NWARN; i++)
        if (s->warn[i] && me_warning_name(1u << i)) {
            me_buf_printf(out, "%s%s:%u", first ? " warnings=" : ",", me_warning_name(1u << i),
                          s->warn[i]);
            first = false;
        }
    me_buf_puts(out, "\n");
}

void me_report_table(const me_report *r, const me_rep_opts *o, me_buf *out)
{
    /* headings in the reader's language; the key=value words of the lines
     * stay as the JSON names them, for grep and scripts */
    static const char *const heads[2][NCOL] = {
        {"stream", "proto", "client", "server", "tls", "user", "logins", "frames"},
        {"stream", "proto", "klien", "server", "tls", "pengguna", "login", "frame"}};
    const bool id = o->lang == ME_LANG_ID;
    const char *const *head = heads[id];
    const rep_session *s;
    char cols[NCOL][96];
    me_buf rows = {0};
    const char *c, *e;
    size_t w[NCOL], i;
    if (!r->count) {
        rep_none_found(r, o, out);
        me_buf_puts(out, "\n");
        return;
    }
    for (i = 0; i < NCOL; i++)
        w[i] = strlen(head[i]);
    /* Each cell is formatted once, as printed (valid UTF-8, so it has no
     * control byte: '\n' ends it here), and the widths come from that. */
    REP_FOREACH(r, s) {
        session_row(s, cols);
        for (i = 0; i < NCOL; i++) {
            size_t start = rows.len, n;
            me_buf_utf8(&rows, cols[i]);
            if ((n = utf8_chars(rows.p + start, rows.len - start)) > w[i])
                w[i] = n;
            me_buf_putn(&rows, "\n", 1);
        }
    }
    for (i = 0; i < NCOL; i++)
        cell(out, head[i], strlen(head[i]), w[i], i + 1 == NCOL);
    me_buf_putn(out, "\n", 1);
    for (c = rows.p; c && *c; me_buf_putn(out, "\n", 1))
        for (i = 0; i < NCOL; i++, c = e + 1) {
            e = strchr(c, '\n');
            cell(out, c, (size_t)(e - c), w[i], i + 1 == NCOL);
        }
    me_buf_free(&rows);
    me_buf_puts(out, id ? "\nPercobaan login (stream #percobaan mekanisme pengguna rahasia hasil [sebab] "
                          "frames=awal/rahasia/hasil):\n"
                        : "\nLogin attempts (stream #attempt mechanism user secret result [why] "
                          "frames=start/secret/result):\n");
    REP_FOREACH(r, s)
        logins_list(s, o, out);
    me_buf_puts(out, id ? "\nFase, amplop, kotak surat, peringatan (stream phases=fase@frame pertama "
                          "from= to= accepted= mailboxes= warnings=nama:jumlah):\n"
                        : "\nPhases, envelope, mailboxes, warnings (stream phases=phase@first frame "
                          "from= to= accepted= mailboxes= warnings=name:count):\n");
    REP_FOREACH(r, s)
        details_list(s, out);
    me_buf_puts(out, id ? "\nFakta per sesi (stream kesimpulan aturan (RFC): jumlah):\n"
                        : "\nFacts per session (stream verdict rule (RFC): counts):\n");
    REP_FOREACH(r, s)
        rep_facts_brief(out, s, o->lang);
}


/* ---- the transcript ---- */

static const char RULE[] =
    "==============================================================================\n";

static void session_header(const rep_session *s, const me_rep_opts *o, me_buf *out)
{
    size_t i;
    char up[8] = {0}, ep[80]; /* ep: an address (at most 46 bytes as text) and a port */
    const char *p = me_proto_name(s->proto);
    for (i = 0; p[i] && i + 1 < sizeof up; i++)
        up[i] = (char)(p[i] >= 'a' && p[i] <= 'z' ? p[i] - 'a' + 'A' : p[i]);
    me_buf_puts(out, RULE);
    me_buf_printf(out, "%s %u: %s  %s ", label(L_SESSION, o->lang), s->stream, up,
                  label(L_CLIENT, o->lang));
    me_buf_utf8(out, rep_endpoint(ep, sizeof ep, s->client, s->cport));
    me_buf_printf(out, " -> %s ", label(L_SERVER, o->lang));
    me_buf_utf8(out, rep_endpoint(ep, sizeof ep, s->server, s->sport));
    /* the mode as the JSON names it; "none" is a word of the heading's language */
    me_buf_printf(out, "\nTLS: %s%s%s%s",
                  strcmp(rep_tls_mode(s), "none") ? rep_tls_mode(s) : label(L_TLS_NONE, o->lang),
                  s->any_tls ? label(s->decrypted ? L_DECRYPTED : L_NOT_DECRYPTED, o->lang) : "",
                  s->offered ? label(L_OFFERED, o->lang) : "",
                  refused(s) ? label(s->skipped ? L_REFUSED_SKIPPED : L_REFUSED, o->lang)
                  : s->skipped ? label(L_SKIPPED, o->lang) : "");
    me_buf_printf(out, "   %s: ", label(L_USER, o->lang));
    me_buf_utf8(out, s->user ? s->user : "-");
    me_buf_printf(out, "   %s %u-%u\n", label(L_FRAMES, o->lang), s->first_frame, s->last_frame);
    rep_facts_text(out, s, o, "");
    me_buf_puts(out, RULE);
}

/* The warning bits of a line that the transcript prints as "!!" lines: all
 * but the phase change, which is shown as a heading instead. */
static uint32_t warning_lines(const rep_line *l)
{
    return l->flags & ~(uint32_t)ME_W_PHASE_CHANGE;
}

/* Whether one of the line's warnings says the text id: then the explanation
 * is printed once, marked "!!", not once plain and once as the warning. */
static bool is_warning_text(const rep_line *l, me_text_id id)
{
    uint32_t rest = warning_lines(l), bit;
    while ((bit = me_warning_next(&rest)) != 0)
        if (me_warning_text(bit) == id)
            return true;
    return false;
}

static void explain_line(me_buf *out, const rep_line *l, me_text_id id, const me_rep_opts *o)
{
    if (id == TXT_NONE || !*me_text(id, o->lang))
        return;
    me_buf_puts(out, is_warning_text(l, id) ? "          !! " : "          ");
    me_buf_utf8(out, me_text(id, o->lang));
    if (*me_text_rfc(id))
        me_buf_printf(out, " [%s]", me_text_rfc(id));
    me_buf_puts(out, "\n");
}

static void credential_notes(const rep_line *l, const me_rep_opts *o, me_buf *out)
{
    if (!l->attempt)
        return;
    if (l->username && (l->password || l->token)) {
        me_buf_printf(out, "          >> %s %u: %s=", label(L_LOGIN, o->lang), l->attempt,
                      label(L_USER, o->lang));
        me_buf_utf8(out, l->username);
        me_buf_printf(out, " %s=", label(l->password ? L_PASSWORD : L_TOKEN, o->lang));
        me_buf_utf8(out, rep_secret(o, l->password ? l->password : l->token));
        me_buf_puts(out, "\n");
    }
    if (l->result != ME_RESULT_NONE) {
        me_buf_printf(out, "          >> %s %u: %s (", label(L_LOGIN, o->lang), l->attempt,
                      label(l->result == ME_RESULT_SUCCESS ? L_SUCCESS : L_FAILURE, o->lang));
        me_buf_utf8(out, l->username ? l->username : "-");
        me_buf_puts(out, ")");
        if (l->result == ME_RESULT_FAILURE && l->failure != ME_FAIL_NONE)
            me_buf_printf(out, ": %s", label((lab_id)(L_WHY_CREDENTIALS + l->failure - 1), o->lang));
        me_buf_puts(out, "\n");
    }
}

static void one_line(const rep_line *l, const me_rep_opts *o, me_buf *out)
{
    uint32_t rest, bit;
    me_buf_printf(out, "  %6u %s: ", l->frame, l->dir == ME_SERVER ? "S" : "C");
    if (l->counted) /* a byte count: in the reader's language */
        me_buf_printf(out, label(l->kind == ME_KIND_TLS ? L_BYTES_TLS :
                                 l->kind == ME_KIND_DUPLICATE ? L_BYTES_DUP : L_BYTES_DATA, o->lang),
                      l->data_len);
    else
        me_buf_utf8(out, o->mask && l->masked ? l->masked : l->text);
    me_buf_puts(out, "\n");
    explain_line(out, l, l->explain, o);
    explain_line(out, l, l->explain2, o);
    if (l->detail && *l->detail) {
        me_buf_puts(out, "          ");
        me_buf_utf8(out, l->detail);
        me_buf_puts(out, "\n");
    }
    credential_notes(l, o, out);
    for (rest = warning_lines(l); (bit = me_warning_next(&rest)) != 0;)
        if (me_warning_text(bit) != TXT_NONE && me_warning_text(bit) != l->explain &&
            me_warning_text(bit) != l->explain2) {
            me_buf_puts(out, "          !! ");
            me_buf_utf8(out, me_text(me_warning_text(bit), o->lang));
            me_buf_puts(out, "\n");
        }
}

static void session_dialogue(const rep_session *s, const me_rep_opts *o, me_buf *out)
{
    size_t i;
    uint32_t last_server = 0;
    me_phase shown = ME_PHASE_NONE;
    for (i = 0; i < s->nlines; i++) {
        const rep_line *l = &s->lines[i];
        if (i == 0 || l->phase != shown) {
            /* the RFC's state name and the filter value, in the reader's language */
            me_text_id ph = me_phase_text(s->proto, l->phase);
            me_buf_printf(out, "%s--- ", i ? "\n" : "");
            if (ph == TXT_NONE)
                me_buf_printf(out, "%s: %s", label(L_PHASE, o->lang), me_phase_name(l->phase));
            else
                me_buf_utf8(out, me_text(ph, o->lang));
            me_buf_puts(out, " ---\n");
            shown = l->phase;
        }
        one_line(l, o, out);
    }
    /* an attempt whose secret the server never answered (nothing of the
     * server comes after it): say so, or its end reads as nothing.  One the
     * client gave up before sending a secret (USER, then QUIT) is none. */
    for (i = 0; i < s->nlines; i++)
        if (s->lines[i].dir == ME_SERVER && s->lines[i].frame > last_server)
            last_server = s->lines[i].frame;
    for (i = 0; i < s->nlogins && !s->truncated; i++)
        if (s->logins[i].result == ME_RESULT_NONE && s->logins[i].secret_frame &&
            last_server <= s->logins[i].secret_frame)
            me_buf_printf(out, "          >> %s %u: %s\n", label(L_LOGIN, o->lang),
                          s->logins[i].attempt, label(L_NO_REPLY, o->lang));
    if (s->truncated)
        me_buf_puts(out, "  [... more lines not kept ...]\n");
    me_buf_puts(out, "\n");
}

void me_report_transcript(const me_report *r, const me_rep_opts *o, me_buf *out)
{
    const rep_session *s;
    bool any = false;
    REP_FOREACH(r, s) {
        if (o->stream >= 0 && (long)s->stream != o->stream)
            continue;
        session_header(s, o, out);
        session_dialogue(s, o, out);
        any = true;
    }
    if (!any) {
        rep_none_found(r, o, out);
        me_buf_puts(out, "\n");
    }
}
