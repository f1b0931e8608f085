/* warnings.c - names of the warning bits, from warnings.def */
#include <stddef.h>

#include "mailedu.h"

#define ME_WARNING(id, b, name, group, severity, summary, text, detail) \
    _Static_assert((b) < ME_W_BITS, #id ": bit out of range");
#include "warnings.def"
#undef ME_WARNING

const char *me_warning_name(uint32_t bit)
{
#define ME_WARNING(id, b, name, group, severity, summary, text, detail) \
    if (bit == (1u << (b)))                                            \
        return name;
#include "warnings.def"
#undef ME_WARNING
    return NULL;
}

me_text_id me_warning_text(uint32_t bit)
{
#define ME_WARNING(id, b, name, group, severity, summary, text, detail) \
    if (bit == (1u << (b)))                                            \
        return text;
#include "warnings.def"
#undef ME_WARNING
    return TXT_NONE;
}

uint32_t me_warning_next(uint32_t *flags)
{
    while (*flags) {
        uint32_t bit = *flags & (~*flags + 1u); /* the lowest bit set */
        *flags &= ~bit;
        if (me_warning_name(bit))
            return bit;
    }
    return 0;
}
