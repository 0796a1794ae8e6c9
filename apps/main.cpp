// sparsexbar: crossbar non-ideality simulator. Errors end the program with a
// one-line reason and exit status 1 (2 for command-line usage errors).
#include <cstdio>
#include <exception>

#include "apps/commands.h"
#include "kernels/error.h"

int main(int argc, char** argv) {
  CLI::App app{"SparseXbar: exact crossbar circuit simulation for sparse DNNs on non-ideal analog hardware"};
  app.set_version_flag("--version", std::string(SPARSEXBAR_VERSION) + " (" + SPARSEXBAR_GIT + ")");
  app.require_subcommand(1);
  sxb::app::add_tile_command(app);
  sxb::app::add_bench_command(app);
  sxb::app::add_demo_command(app);
  sxb::app::add_train_command(app);
  sxb::app::add_eval_command(app);
  sxb::app::add_prune_command(app);
  sxb::app::add_evaluate_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const sxb::Error& e) {
    std::fprintf(stderr, "sparsexbar: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sparsexbar: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
