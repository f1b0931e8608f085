/* packet-mailedu-tap.h - mailedu's taps and reports (-z mailedu,...), and its
 * feed of Wireshark's credentials tap.  See packet-mailedu-tap.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef PACKET_MAILEDU_TAP_H
#define PACKET_MAILEDU_TAP_H

#include <epan/packet.h>

#include "plugin/mailedu.h"

/* Registers the "mailedu" tap, the -z mailedu,tree stats tree (Statistics ->
 * mailedu in the GUI) and the -z mailedu,sessions / transcript / hashes
 * reports.  Called once from proto_register_mailedu(). */
void mailedu_tap_register(void);

/* Resolves the fields and taps the reports refer to (mailedu.auth.password,
 * the "credentials" tap).  Called once from proto_reg_handoff_mailedu(). */
void mailedu_tap_handoff(void);

/* What the "mailedu" tap hands its listeners for a frame: its conversation's
 * tcp.stream index and its records. */
typedef struct mailedu_tap_data {
    guint32 stream;
    const me_item *items;
} mailedu_tap_data;

/* Hands the records of this frame (the list the engines returned; NULL:
 * nothing) of the conversation with tcp.stream index STREAM to the taps that
 * have listeners: the mailedu reports and Wireshark's credentials tap.
 * Called on every pass; costs one test per tap when nobody listens. */
void mailedu_tap_queue(packet_info *pinfo, guint32 stream, const me_item *items);

#endif
