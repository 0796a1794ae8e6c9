// Output files are written atomically: to a temporary file beside the target,
// flushed, then renamed over it, so readers never see a half-written file.
#pragma once

#include <string>

namespace sxb {

void write_file_atomic(const std::string& path, const std::string& content);

}  // namespace sxb
