// Runs the `sparsexbar` tool (SXB_CLI, the built binary) through the shell and
// returns its exit status and its output (stdout and stderr together).
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace sxb::test {

struct CliRun {
  int status = -1;     // exit status; 128 + N when killed by signal N
  std::string output;  // stdout and stderr
};

// Runs shell text `cmd` (its own redirections) and captures its stdout.
inline CliRun run_shell(const std::string& cmd) {
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
  const int w = pclose(p);
  r.status = WIFEXITED(w) ? WEXITSTATUS(w) : WIFSIGNALED(w) ? 128 + WTERMSIG(w) : -1;
  return r;
}

// `args` is shell text; `redirect` replaces the default "2>&1" (stdout and
// stderr both captured) when the test routes stdout elsewhere.
inline CliRun run_cli(const std::string& args, const std::string& redirect = "2>&1") {
  return run_shell(std::string(SXB_CLI) + " " + args + " " + redirect);
}

}  // namespace sxb::test
