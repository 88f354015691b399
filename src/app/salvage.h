// `tributary salvage`: the operator's path out of damaged log data (docs/formats/storage.md).
// It finds every partition log under the data directory that holds damage, says what removing
// it loses (file, bytes, offsets) and where numbering continues, and with `apply` removes it.
#pragma once

#include <cstdio>

#include "app/config.h"

namespace trib::app {

// Exit codes: 0 nothing damaged (or all of it salvaged with `apply`), 1 a failure, 3 damage
// found and left in place (a dry run).
int run_salvage(const config& cfg, bool apply, std::FILE* out);

}  // namespace trib::app
