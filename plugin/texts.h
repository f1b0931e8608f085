/* texts.h - explanations shown to students, in English and Bahasa Indonesia.
 * The texts live in texts.def, one X(...) entry per id with both languages side
 * by side; texts.c refuses to compile if either language is left empty. */
#ifndef MAILEDU_TEXTS_H
#define MAILEDU_TEXTS_H

#include <stdbool.h>

typedef enum {
    TXT_NONE = 0,
#define T(id, rfc, en, idn) id,
#include "texts.def"
#undef T
    TXT_COUNT
} me_text_id;

typedef enum { ME_LANG_EN = 0, ME_LANG_ID = 1 } me_lang;

/* The explanation in the language; "" for TXT_NONE. */
const char *me_text(me_text_id id, me_lang lang);
/* The RFC reference ("RFC 1939 §7"), or "" when none applies. */
const char *me_text_rfc(me_text_id id);
/* The identifier's name ("TXT_POP3_USER"), for tests. */
const char *me_text_name(me_text_id id);

#endif
