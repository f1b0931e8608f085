/* plugin.c - entry points the Wireshark plugin loader looks for.
 * SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <epan/packet.h>
#include <epan/proto.h>
#include <ws_version.h>
#if WIRESHARK_VERSION_MAJOR > 4 || (WIRESHARK_VERSION_MAJOR == 4 && WIRESHARK_VERSION_MINOR >= 4)
#include <wsutil/plugins.h>
#endif

void proto_register_mailedu(void);
void proto_reg_handoff_mailedu(void);

WS_DLL_PUBLIC_DEF const char plugin_version[] = VERSION;
WS_DLL_PUBLIC_DEF const int plugin_want_major = WIRESHARK_VERSION_MAJOR;
WS_DLL_PUBLIC_DEF const int plugin_want_minor = WIRESHARK_VERSION_MINOR;

WS_DLL_PUBLIC void plugin_register(void);
#if WIRESHARK_VERSION_MAJOR > 4 || (WIRESHARK_VERSION_MAJOR == 4 && WIRESHARK_VERSION_MINOR >= 4)
WS_DLL_PUBLIC uint32_t plugin_describe(void);
uint32_t plugin_describe(void)
{
    return WS_PLUGIN_DESC_DISSECTOR;
}
#endif

void plugin_register(void)
{
    static proto_plugin plug;
    plug.register_protoinfo = proto_register_mailedu;
    plug.register_handoff = proto_reg_handoff_mailedu;
    proto_register_plugin(&plug);
}
