// sparsexbar: crossbar non-ideality simulator. Errors end the program with a
// one-line reason and exit status 1 (2 for command-line usage errors).
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <exception>

#include "apps/commands.h"
#include "apps/flag_names.h"
#include "apps/number_options.h"
#include "apps/output_paths.h"
#include "engine/crossbar/backend.h"
#include "kernels/common/error.h"
#include "engine/io/version.h"

namespace {

// When OpenBLAS fell back to its generic kernels on a CPU that has AVX2 or
// AVX-512 (engine/crossbar/backend.h), start again once with OPENBLAS_CORETYPE set:
// the library reads it only when it loads. A user's own setting is kept.
void restart_with_better_blas_core(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE")) return;
  std::string detected;
  const std::string better = sxb::better_blas_core(detected);
  if (better.empty()) return;
  std::fprintf(stderr, "sparsexbar: OpenBLAS chose its %s kernels on this CPU; using OPENBLAS_CORETYPE=%s\n",
               detected.c_str(), better.c_str());
  if (setenv("OPENBLAS_CORETYPE", better.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: go on with the generic kernels
}

}  // namespace

int main(int argc, char** argv) {
  restart_with_better_blas_core(argv);
  CLI::App app{"SparseXbar: exact crossbar circuit simulation for sparse DNNs on non-ideal analog hardware"};
  app.set_version_flag("--version", sxb::version_line());
  app.require_subcommand(1);
  sxb::app::add_tile_command(app);
  sxb::app::add_bench_command(app);
  sxb::app::add_demo_command(app);
  sxb::app::add_train_command(app);
  sxb::app::add_software_eval_command(app);
  sxb::app::add_prune_command(app);
  sxb::app::add_evaluate_command(app);
  sxb::app::add_sweep_command(app);
  sxb::app::add_weff_command(app);
  sxb::app::strict_numbers(app);
  sxb::app::no_empty_values(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 2 (CLI11's own codes are 100+).
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const sxb::Error& e) {
    std::fprintf(stderr, "sparsexbar: error: %s\n", sxb::app::cli_message(e).c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sparsexbar: internal error: %s\n", e.what());
    return 1;
  }
  // A table that did not reach standard output (a full disk, a closed pipe) is a failure.
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    std::fprintf(stderr, "sparsexbar: error: standard output: write failed (%s)\n", std::strerror(errno));
    return 1;
  }
  return 0;
}
