// Output paths are checked before the work starts, not when the result is
// written hours later: the parent folder is created and a probe file is
// created and removed there. Errors name the flag, the path and the OS error.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <utility>
#include <vector>

namespace sxb::app {

// A file to be written (--json, --predictions, --out): its folder exists or is
// created, and a file can be created in it; `path` itself is not a folder.
// "-" (standard output) and an existing device or FIFO are written in place
// (models/io/atomic_file.h): only checked to be writable.
void check_output_file(const std::string& path, const std::string& flag);

// A path and the flag (or derived file) that names it.
using NamedPath = std::pair<std::string, std::string>;  // {flag, path}

// A cache folder the run can do without (evaluate's W_eff cache): when it
// cannot be created or written, a warning on stderr names the folder and how to
// choose another, and "" is returned (no cache); else `dir`. `given` says
// whether the user named it with --cache-dir (else it is the default).
std::string usable_cache_dir(const std::string& dir, bool given);

// Before any work: no output is one of the inputs (by name or, when both
// exist, the same file through links), and no two outputs are the same file.
// Empty paths are skipped (flags not given); two outputs on the same
// character device (/dev/null) are allowed.
void check_distinct_paths(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs);

// Every text option of the tree refuses an empty value ("--json ''" is a
// usage error, not "no --json").
void no_empty_values(CLI::App& app);

// A folder to be written into (--cache-dir, a results folder): created if
// needed, and a file can be created in it.
void check_output_dir(const std::string& dir, const std::string& flag);

}  // namespace sxb::app
