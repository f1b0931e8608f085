/* texts.c - table built from texts.def */
#include "mailedu.h"

/* Every entry must have both languages: an empty literal has sizeof 1. */
#define T(id, rfc, en, idn)                                                   \
    _Static_assert(sizeof(en) > 1, #id " lacks its English text");           \
    _Static_assert(sizeof(idn) > 1, #id " lacks its Indonesian text");
#include "texts.def"
#undef T

static const struct {
    const char *name, *rfc, *en, *id;
} table[TXT_COUNT] = {
    {"TXT_NONE", "", "", ""},
#define T(id, rfc, en, idn) {#id, rfc, en, idn},
#include "texts.def"
#undef T
};

const char *me_text(me_text_id id, me_lang lang)
{
    if ((unsigned)id >= TXT_COUNT)
        return "";
    return lang == ME_LANG_ID ? table[id].id : table[id].en;
}

const char *me_text_rfc(me_text_id id)
{
    return (unsigned)id < TXT_COUNT ? table[id].rfc : "";
}

const char *me_text_name(me_text_id id)
{
    return (unsigned)id < TXT_COUNT ? table[id].name : "";
}

me_text_id me_phase_text(me_proto proto, me_phase ph)
{
    switch (ph) {
    case ME_PHASE_AUTH:
        return proto == ME_PROTO_POP3 ? TXT_PHASE_POP3_AUTH
             : proto == ME_PROTO_IMAP ? TXT_PHASE_IMAP_AUTH : TXT_PHASE_SMTP_AUTH;
    case ME_PHASE_TRANSACTION: return TXT_PHASE_POP3_TRANSACTION;
    case ME_PHASE_UPDATE: return TXT_PHASE_POP3_UPDATE;
    case ME_PHASE_GREETING: return TXT_PHASE_SMTP_GREETING;
    case ME_PHASE_HELLO: return TXT_PHASE_SMTP_HELLO;
    case ME_PHASE_ENVELOPE: return TXT_PHASE_SMTP_ENVELOPE;
    case ME_PHASE_DATA: return TXT_PHASE_SMTP_DATA;
    case ME_PHASE_QUIT: return TXT_PHASE_SMTP_QUIT;
    case ME_PHASE_AUTHENTICATED: return TXT_PHASE_IMAP_AUTHENTICATED;
    case ME_PHASE_SELECTED: return TXT_PHASE_IMAP_SELECTED;
    case ME_PHASE_LOGOUT: return TXT_PHASE_IMAP_LOGOUT;
    case ME_PHASE_TLS: return TXT_PHASE_TLS;
    default: return TXT_NONE;
    }
}
