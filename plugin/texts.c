/* texts.c - table built from texts.def */
#include "texts.h"

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
