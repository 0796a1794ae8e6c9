// Linked instead of nn_backend_cuda.cpp when the project is built without
// nvcc: the CUDA backend of the network engine is absent.
#include "models/nn_backend.h"

namespace sxb::nn {

namespace {
constexpr const char* kNoCuda = "built without CUDA (no nvcc at configure time)";
}

bool cuda_nn_available(std::string* reason) {
  if (reason) *reason = kNoCuda;
  return false;
}

std::unique_ptr<Backend> make_cuda_backend() {
  throw Error(std::string("CUDA backend of the network engine requested, but ") + kNoCuda);
}

}  // namespace sxb::nn
