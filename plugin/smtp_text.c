/* smtp_text.c - SMTP reply lines and display strings: reply parsing (RFC
 * 5321 §4.2), enhanced status codes (RFC 3463) and their explanations, and
 * wire text made safe to display.  Split from smtp.c, which keeps the state
 * machine; see smtp_text.h for the contracts. */
#include <string.h>

#include "internal.h"
#include "smtp_text.h"

/* The bytes as a displayable string: valid UTF-8 kept, control bytes and
 * invalid sequences written as \xNN.  Wire text is never trusted raw. */
static const char *clean(me_session *s, const char *p, size_t n, bool rec)
{
    static const char hexd[] = "0123456789abcdef";
    const uint8_t *u = (const uint8_t *)p;
    size_t i = 0, o = 0, l;
    char *r;
    while (i < n) {
        if (u[i] < 0x20 || u[i] == 0x7f || !(l = me_utf8_seq(u + i, n - i)))
            break;
        i += l;
    }
    if (i == n)
        return rec ? me_rstrndup(s, p, n) : me_strndup(s, p, n);
    r = rec ? me_ralloc(s, 4 * n + 1) : s->a.alloc(s->a.ctx, 4 * n + 1);
    for (i = 0; i < n;) {
        l = (u[i] < 0x20 || u[i] == 0x7f) ? 0 : me_utf8_seq(u + i, n - i);
        if (l) {
            memcpy(r + o, p + i, l);
            o += l;
            i += l;
        } else {
            r[o++] = '\\';
            r[o++] = 'x';
            r[o++] = hexd[u[i] >> 4];
            r[o++] = hexd[u[i] & 15];
            i++;
        }
    }
    r[o] = '\0';
    return r;
}

const char *me_smtp_clean(me_session *s, const char *p, size_t n)
{
    return clean(s, p, n, false);
}

const char *me_smtp_clean_rec(me_session *s, const char *p, size_t n)
{
    return clean(s, p, n, true);
}

/* "ddd", "ddd text" or "ddd-text", first digit 2-5 (RFC 5321 §4.2).  The
 * second digit should be 0-5, but servers do send codes like 472: accepted. */
bool me_smtp_parse_reply(const char *l, size_t n, int *code, char *sep, const char **text,
                        size_t *tl)
{
    if (n < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '9' || l[2] < '0' ||
        l[2] > '9')
        return false;
    if (n > 3 && l[3] != ' ' && l[3] != '-')
        return false;
    *code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
    *sep = n > 3 ? l[3] : ' ';
    *text = n > 4 ? l + 4 : l + n;
    *tl = n > 4 ? n - 4 : 0;
    if (*code != 334) /* "250- 4404 byte chunk": the text, not the spaces (334 keeps its payload) */
        while (*tl && **text == ' ')
            (*text)++, (*tl)--;
    return true;
}

/* Enhanced status code "c.sss.ddd" at the start of the text (RFC 3463 §2). */
size_t me_smtp_enhanced_len(const char *t, size_t n)
{
    size_t i = 1, part;
    int dots = 0;
    if (n < 5 || (t[0] != '2' && t[0] != '4' && t[0] != '5') || t[1] != '.')
        return 0;
    while (dots < 2) {
        if (t[i] != '.')
            return 0;
        i++;
        part = 0;
        while (i < n && t[i] >= '0' && t[i] <= '9' && part < 3)
            i++, part++;
        if (part == 0)
            return 0;
        dots++;
    }
    if (i < n && t[i] != ' ')
        return 0;
    return i;
}

me_text_id me_smtp_code_text(int code)
{
    switch (code) {
    case 211: return TXT_SMTP_R211;
    case 214: return TXT_SMTP_R214;
    case 220: return TXT_SMTP_R220;
    case 221: return TXT_SMTP_R221;
    case 235: return TXT_SMTP_R235;
    case 250: return TXT_SMTP_R250;
    case 251: return TXT_SMTP_R251;
    case 252: return TXT_SMTP_R252;
    case 334: return TXT_SMTP_R334;
    case 354: return TXT_SMTP_R354;
    case 421: return TXT_SMTP_R421;
    case 432: return TXT_SMTP_R432;
    case 450: return TXT_SMTP_R450;
    case 451: return TXT_SMTP_R451;
    case 452: return TXT_SMTP_R452;
    case 453: return TXT_SMTP_R453;
    case 454: return TXT_SMTP_R454;
    case 455: return TXT_SMTP_R455;
    case 500: return TXT_SMTP_R500;
    case 501: return TXT_SMTP_R501;
    case 502: return TXT_SMTP_R502;
    case 503: return TXT_SMTP_R503;
    case 504: return TXT_SMTP_R504;
    case 521: return TXT_SMTP_R521;
    case 530: return TXT_SMTP_R530;
    case 534: return TXT_SMTP_R534;
    case 535: return TXT_SMTP_R535;
    case 538: return TXT_SMTP_R538;
    case 550: return TXT_SMTP_R550;
    case 551: return TXT_SMTP_R551;
    case 552: return TXT_SMTP_R552;
    case 553: return TXT_SMTP_R553;
    case 554: return TXT_SMTP_R554;
    case 555: return TXT_SMTP_R555;
    case 556: return TXT_SMTP_R556;
    case 557: return TXT_SMTP_R557;
    default: break;
    }
    switch (code / 100) {
    case 2: return TXT_SMTP_CLASS_2;
    case 3: return TXT_SMTP_CLASS_3;
    case 4: return TXT_SMTP_CLASS_4;
    default: return TXT_SMTP_CLASS_5;
    }
}

me_text_id me_smtp_class_text(int code)
{
    return me_smtp_code_text(code / 100 * 100 + 99); /* no such code: falls to the class */
}

/* RFC 3463: by class.subject.detail where a detail is well known, else by subject. */
me_text_id me_smtp_enhanced_text(const char *e)
{
    unsigned cls, subj = 0, det = 0;
    const char *q = e + 2;
    static const struct {
        unsigned cls, subj, det; /* cls 0: any class */
        me_text_id t;
    } known[] = {
        {2, 0, 0, TXT_SMTP_E_2_0_0}, {2, 1, 0, TXT_SMTP_E_2_1_0}, {0, 1, 1, TXT_SMTP_E_X_1_1}, {0, 1, 2, TXT_SMTP_E_X_1_2},
        {0, 1, 3, TXT_SMTP_E_X_1_3}, {0, 1, 5, TXT_SMTP_E_X_1_5}, {0, 1, 6, TXT_SMTP_E_X_1_6},
        {0, 1, 7, TXT_SMTP_E_X_1_7}, {0, 1, 8, TXT_SMTP_E_X_1_8}, {0, 2, 1, TXT_SMTP_E_X_2_1},
        {0, 2, 2, TXT_SMTP_E_X_2_2}, {0, 2, 3, TXT_SMTP_E_X_2_3}, {0, 3, 4, TXT_SMTP_E_X_3_4},
        {0, 4, 2, TXT_SMTP_E_X_4_2}, {0, 4, 7, TXT_SMTP_E_X_4_7}, {0, 5, 1, TXT_SMTP_E_X_5_1},
        {0, 5, 2, TXT_SMTP_E_X_5_2}, {0, 5, 3, TXT_SMTP_E_X_5_3}, {0, 5, 4, TXT_SMTP_E_X_5_4},
        {2, 7, 0, TXT_SMTP_E_2_7_0}, {0, 7, 0, TXT_SMTP_E_X_7_0}, {0, 7, 1, TXT_SMTP_E_X_7_1},
        {0, 7, 8, TXT_SMTP_E_X_7_8}, {0, 7, 9, TXT_SMTP_E_X_7_9}, {0, 7, 11, TXT_SMTP_E_X_7_11},
        {0, 7, 12, TXT_SMTP_E_X_7_12},
    };
    static const me_text_id subjects[] = {TXT_SMTP_E_X0, TXT_SMTP_E_X1, TXT_SMTP_E_X2,
                                          TXT_SMTP_E_X3, TXT_SMTP_E_X4, TXT_SMTP_E_X5,
                                          TXT_SMTP_E_X6, TXT_SMTP_E_X7};
    size_t i;
    cls = (unsigned)(e[0] - '0');
    while (*q >= '0' && *q <= '9')
        subj = subj * 10 + (unsigned)(*q++ - '0');
    if (*q == '.')
        q++;
    while (*q >= '0' && *q <= '9')
        det = det * 10 + (unsigned)(*q++ - '0');
    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if ((known[i].cls == 0 || known[i].cls == cls) && known[i].subj == subj &&
            known[i].det == det)
            return known[i].t;
    return subj < 8 ? subjects[subj] : TXT_NONE;
}

