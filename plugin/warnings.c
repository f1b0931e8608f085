/* warnings.c - names of the warning bits, from warnings.def */
#include <stddef.h>

#include "mailedu.h"

const char *me_warning_name(uint32_t bit)
{
#define ME_WARNING(id, b, name, group, severity, summary, text, detail) \
    if (bit == (1u << (b)))                                            \
        return name;
#include "warnings.def"
#undef ME_WARNING
    return NULL;
}
