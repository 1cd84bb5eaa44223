// The host function table handed to plugins (sockhost_host_api in plugin.h).
#pragma once

#include <sockhost/plugin.h>

namespace sockhost {

// Static table; valid for the life of the process.
const sockhost_host_api *host_api_table();

}  // namespace sockhost
