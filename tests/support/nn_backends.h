// The network backends a backend-independent test runs on, in the style of
// tests/support/tile_backends.h: one table of cases, instantiated per
// backend. A test binary built with SXB_GPU_INSTANCES holds the CUDA backend
// (ctest label gpu, SKIPPED without a usable GPU), otherwise the CPU one.
// Each case runs the same operations on the backend under test and on its
// oracle and compares them with the tolerance of the operation: the CPU
// backend against plain loops (tests/support/loop_backend.h), the CUDA
// backend against the CPU backend (which the loops check).
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/crossbar/backend.h"
#include "models/nn_backend.h"
#include "kernels/common/error.h"
#include "tests/support/loop_backend.h"
#include "tests/support/nn_checks.h"
#include "tests/support/random_values.h"
#include "tests/support/skip.h"

namespace sxb::test_support {

struct NnBackendUnderTest {
  std::string name;
  bool on_gpu = false;  // skipped unless cuda_nn_capability() is usable
  // The tile solver of the same device, for the crossbar cases (W_eff of
  // whole networks), checked against the reference solver.
  sxb::Backend tile_backend = sxb::Backend::Cpu;

  CudaCapability capability() const { return on_gpu ? nn::cuda_nn_capability() : CudaCapability{true, ""}; }
  CudaCapability tile_capability() const { return on_gpu ? cuda_tile_capability() : CudaCapability{true, ""}; }
  std::unique_ptr<nn::Backend> make() const { return on_gpu ? nn::make_cuda_backend() : nn::make_cpu_backend(); }
  std::unique_ptr<nn::Backend> make_oracle() const {
    if (on_gpu) return nn::make_cpu_backend();
    return std::make_unique<LoopBackend>();
  }
};

inline std::ostream& operator<<(std::ostream& os, const NnBackendUnderTest& b) { return os << b.name; }

inline std::vector<NnBackendUnderTest> nn_backends_under_test() {
#ifdef SXB_GPU_INSTANCES
  return {{"cuda", true, sxb::Backend::Cuda}};
#else
  return {{"cpu", false, sxb::Backend::Cpu}};
#endif
}

inline std::string nn_backend_name(const ::testing::TestParamInfo<NnBackendUnderTest>& info) {
  return info.param.name;
}

// The fixture of a case: the backend under test (dev_) and its oracle (ref_),
// made per test; SKIPPED when the backend is not usable here. Without a
// usable GPU the probe must say why and the CUDA backend must refuse.
class NnBackendPair : public ::testing::TestWithParam<NnBackendUnderTest> {
 protected:
  // One tensor on each backend.
  struct Pair {
    nn::Tensor ref, dev;
  };

  void SetUp() override {
    const CudaCapability capability = GetParam().capability();
    if (!capability.usable) {
      EXPECT_FALSE(capability.reason.empty());
      EXPECT_THROW(GetParam().make(), Error);
    }
    SXB_SKIP_UNLESS_USABLE(capability);
    ref_ = GetParam().make_oracle();
    dev_ = GetParam().make();
  }

  Pair both(const std::vector<int>& shape, const std::vector<float>& values) {
    return {nn::from_host(*ref_, shape, values), nn::from_host(*dev_, shape, values)};
  }
  Pair random(const std::vector<int>& shape, std::uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
    std::size_t n = 1;
    for (int d : shape) n *= static_cast<std::size_t>(d);
    return both(shape, random_values(n, seed, lo, hi));
  }
  // Outputs start as NaN on both sides: an element a kernel fails to write shows.
  Pair output(const std::vector<int>& shape) {
    Pair p{ref_->empty(shape), dev_->empty(shape)};
    ref_->fill(p.ref, std::numeric_limits<float>::quiet_NaN());
    dev_->fill(p.dev, std::numeric_limits<float>::quiet_NaN());
    return p;
  }
  // max |dev - ref| / max |ref|.
  double error(const Pair& p) { return relative_error(nn::to_host(*dev_, p.dev), nn::to_host(*ref_, p.ref)); }
  bool identical(const Pair& p) { return same_bits(nn::to_host(*dev_, p.dev), nn::to_host(*ref_, p.ref)); }
  template <class T>
  static std::vector<T> download_as(nn::Backend& b, const nn::Tensor& t) {
    std::vector<T> v(t.numel());
    b.download(t, v.data());
    return v;
  }

  std::unique_ptr<nn::Backend> ref_, dev_;
};

}  // namespace sxb::test_support

// Instantiates the cases of `suite` (a TEST_P fixture derived from
// NnBackendPair) on the backends of this binary.
#ifdef SXB_GPU_INSTANCES
#define SXB_INSTANTIATE_NN_BACKENDS(suite)                                                                    \
  INSTANTIATE_TEST_SUITE_P(Gpu, suite, ::testing::ValuesIn(::sxb::test_support::nn_backends_under_test()), \
                           ::sxb::test_support::nn_backend_name)
#else
#define SXB_INSTANTIATE_NN_BACKENDS(suite)                                                                    \
  INSTANTIATE_TEST_SUITE_P(Cpu, suite, ::testing::ValuesIn(::sxb::test_support::nn_backends_under_test()), \
                           ::sxb::test_support::nn_backend_name)
#endif
