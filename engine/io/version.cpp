#include "engine/io/version.h"

#include "git_revision.h"  // generated at build time: SPARSEXBAR_GIT

namespace sxb {

const char* version() { return SPARSEXBAR_VERSION; }
const char* git_revision() { return SPARSEXBAR_GIT; }
std::string version_line() { return std::string(version()) + " (" + git_revision() + ")"; }

}  // namespace sxb
