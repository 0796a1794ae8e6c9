// conv2d kernels of the CPU network engine (Google Benchmark) on the VGG11
// width-1.0 CIFAR layer shapes at batch 128: forward, and backward with the
// input gradient. Counter `GFLOPs`: 2 * multiply-adds per second (the
// backward does two products, the forward one).
//   OMP_NUM_THREADS=1 build/bench/bench_conv --benchmark_format=json
#include <benchmark/benchmark.h>

#include <vector>

#include "kernels/nn/layers.h"

namespace {

struct Layer {
  int in_channels, out_channels, size;
};

// VGG11 (width 1.0) conv layers: input channels, output channels, feature-map side.
const Layer kVgg11[] = {{3, 64, 32},   {64, 128, 16},  {128, 256, 8}, {256, 256, 8},
                        {256, 512, 4}, {512, 512, 4}, {512, 512, 2}};

sxb::nn::Conv2dShape shape_of(const Layer& l, int batch) {
  sxb::nn::Conv2dShape s;
  s.batch = batch;
  s.in_channels = l.in_channels;
  s.out_channels = l.out_channels;
  s.height = s.width = l.size;
  s.kernel_h = s.kernel_w = 3;
  s.padding = 1;
  return s;
}

std::vector<float> values(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(static_cast<int>(i * 2654435761u % 2001) - 1000) * 1e-3f;
  return v;
}

double multiply_adds(const sxb::nn::Conv2dShape& s) {
  return static_cast<double>(s.batch) * s.out_channels * s.out_height() * s.out_width() * s.in_channels * 9;
}

void conv_forward(benchmark::State& state) {
  const sxb::nn::Conv2dShape s = shape_of(kVgg11[state.range(0)], static_cast<int>(state.range(1)));
  const auto x = values(static_cast<std::size_t>(s.batch) * s.in_channels * s.height * s.width);
  const auto w = values(static_cast<std::size_t>(s.out_channels) * s.in_channels * 9);
  const auto b = values(s.out_channels);
  std::vector<float> y(static_cast<std::size_t>(s.batch) * s.out_channels * s.out_height() * s.out_width());
  for (auto _ : state) {
    sxb::nn::cpu::conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOPs"] = benchmark::Counter(2e-9 * multiply_adds(s), benchmark::Counter::kIsIterationInvariantRate);
}

void conv_backward(benchmark::State& state) {
  const sxb::nn::Conv2dShape s = shape_of(kVgg11[state.range(0)], static_cast<int>(state.range(1)));
  const std::size_t in = static_cast<std::size_t>(s.batch) * s.in_channels * s.height * s.width;
  const auto x = values(in);
  const auto w = values(static_cast<std::size_t>(s.out_channels) * s.in_channels * 9);
  const auto dy = values(static_cast<std::size_t>(s.batch) * s.out_channels * s.out_height() * s.out_width());
  std::vector<float> dx(in), dw(w.size()), db(s.out_channels);
  const bool input_grad = state.range(0) > 0;  // the first layer's input needs none
  for (auto _ : state) {
    sxb::nn::cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), input_grad ? dx.data() : nullptr, dw.data(),
                                  db.data());
    benchmark::DoNotOptimize(dw.data());
  }
  state.counters["GFLOPs"] = benchmark::Counter((input_grad ? 4e-9 : 2e-9) * multiply_adds(s),
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void vgg11_layers(benchmark::internal::Benchmark* b) {
  b->ArgNames({"layer", "batch"});
  for (int l = 0; l < static_cast<int>(std::size(kVgg11)); ++l) b->Args({l, 128});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(conv_forward)->Apply(vgg11_layers);
BENCHMARK(conv_backward)->Apply(vgg11_layers);

}  // namespace

BENCHMARK_MAIN();
