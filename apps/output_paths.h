// Output paths are checked before the work starts, not when the result is
// written hours later: the parent folder is created and a probe file is
// created and removed there. Errors name the flag, the path and the OS error.
#pragma once

#include <string>

namespace sxb::app {

// A file to be written (--json, --predictions, --out): its folder exists or is
// created, and a file can be created in it; `path` itself is not a folder.
void check_output_file(const std::string& path, const std::string& flag);

// A folder to be written into (--cache-dir, a results folder): created if
// needed, and a file can be created in it.
void check_output_dir(const std::string& dir, const std::string& flag);

}  // namespace sxb::app
