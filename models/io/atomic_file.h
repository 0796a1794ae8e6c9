// Output files are written atomically: to a temporary file beside the target,
// flushed, then renamed over it, so readers never see a half-written file.
// Only regular files (or names not yet taken) are replaced that way: "-" is
// standard output, and a character device or FIFO (/dev/null, /dev/stdout, a
// pipe) is written in place, never replaced by a regular file. Every write
// error is an Error naming the path.
#pragma once

#include <string>

namespace sxb {

void write_file_atomic(const std::string& path, const std::string& content);

// True when `path` is written in place rather than replaced: "-", or an
// existing file that is neither a regular file nor a folder.
bool written_in_place(const std::string& path);

}  // namespace sxb
