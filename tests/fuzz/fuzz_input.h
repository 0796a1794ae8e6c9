// Shared by the libFuzzer targets (tests/fuzz/fuzz_*.cpp): the fuzzer's bytes
// as a file for the readers that take a path, and the one rule of every
// target: sxb::Error is the expected answer to bad input; any other exception
// is left uncaught, so it aborts at its throw site and libFuzzer reports it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "kernels/common/error.h"

namespace sxb::fuzz {

// A directory of this process (one per fuzzing job), removed at exit.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::filesystem::path d = std::filesystem::path(base && *base ? base : "/tmp") /
                              ("sxb-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    std::atexit([] { std::error_code ec; std::filesystem::remove_all(scratch_dir(), ec); });
    return d;
  }();
  return dir;
}

// Writes the bytes to `name` under the scratch directory (sub-folders made) and returns its path.
inline std::string as_file(const std::uint8_t* data, std::size_t size, const std::string& name) {
  const std::filesystem::path p = scratch_dir() / name;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return p.string();
}

// Runs `read`; an sxb::Error is the expected rejection of bad input.
// Returns true when `read` accepted the input.
template <class Read>
bool accepts(Read&& read) {
  try {
    read();
    return true;
  } catch (const sxb::Error&) {
    return false;
  }
}

// A broken property of an accepted input: a finding.
[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz finding: %s\n", what.c_str());
  std::abort();
}

}  // namespace sxb::fuzz
