// The program's version and the git revision it was built from, for reports,
// model metadata and cache keys. Only version.cpp sees the build's defines,
// so a new revision recompiles one file.
#pragma once

#include <string>

namespace sxb {

const char* version();       // e.g. "0.1.0"
const char* git_revision();  // `git describe --always --dirty` at configure time, or "unknown"
std::string version_line();  // "0.1.0 (abc1234)"

}  // namespace sxb
