// The process's limit on open descriptors. The default soft limit (1024) is far below
// what max_connections allows, while the hard limit usually is not: raise the soft one.
#pragma once

#include <sys/resource.h>

#include <string>

namespace sockhost {

// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the limit now in force.
rlim_t raise_descriptor_limit();

}  // namespace sockhost
