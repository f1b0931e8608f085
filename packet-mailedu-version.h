/* packet-mailedu-version.h - the Wireshark API differences mailedu meets,
 * checked once.  Baseline 4.0 (Debian 12); 4.4 (Debian 13) and 4.6 (sid)
 * build from the same source.
 * SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef PACKET_MAILEDU_VERSION_H
#define PACKET_MAILEDU_VERSION_H

#include <ws_version.h>

#define MAILEDU_WS_AT_LEAST(maj, min)                                                      \
    (WIRESHARK_VERSION_MAJOR > (maj) ||                                                    \
     (WIRESHARK_VERSION_MAJOR == (maj) && WIRESHARK_VERSION_MINOR >= (min)))

/* 4.2: field_info.value became a pointer. */
#if MAILEDU_WS_AT_LEAST(4, 2)
#define MAILEDU_FVALUE(fi) ((fi)->value)
#else
#define MAILEDU_FVALUE(fi) (&(fi)->value)
#endif

/* 4.4: heuristic dissectors return bool and bool preferences take a bool *
 * (gboolean is an int: GCC 14 rejects the mismatched pointers); plugins may
 * describe themselves with plugin_describe(). */
#if MAILEDU_WS_AT_LEAST(4, 4)
#define MAILEDU_HAVE_PLUGIN_DESCRIBE 1
typedef bool mailedu_heur_ret;
typedef bool mailedu_pref_bool;
#else
#define MAILEDU_HAVE_PLUGIN_DESCRIBE 0
typedef gboolean mailedu_heur_ret;
typedef gboolean mailedu_pref_bool;
#endif

/* 4.6 renamed get_data_source_name() (a "Name (N bytes)" string, freed with
 * wmem_free(NULL, ...)) to get_data_source_description(). */
#if MAILEDU_WS_AT_LEAST(4, 6)
#define mailedu_data_source_name get_data_source_description
#else
#define mailedu_data_source_name get_data_source_name
#endif

/* 4.6: a -z report's init callback (stat_tap_init_cb) returns bool, true
 * when the argument was taken.  mailedu exits with a message on a bad one. */
#if MAILEDU_WS_AT_LEAST(4, 6)
typedef bool mailedu_stat_init_ret;
#define MAILEDU_STAT_INIT_DONE return true
#else
typedef void mailedu_stat_init_ret;
#define MAILEDU_STAT_INIT_DONE return
#endif

#endif /* PACKET_MAILEDU_VERSION_H */
