#pragma once

namespace tandem::util {

// Semantic version of this build, e.g. "0.1.0".
const char* version();
// Short git commit the binary was built from ("unknown" outside a checkout; "-dirty" suffix
// when the tree had uncommitted changes).
const char* git_commit();

}  // namespace tandem::util
