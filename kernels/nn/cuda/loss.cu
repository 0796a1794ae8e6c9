// Softmax cross-entropy on the GPU: one thread per sample (log-sum-exp in
// double, as kernels/nn/cpu/loss.cpp), then one block that adds the
// per-sample losses and hits in a fixed tree order.
#include <cmath>

#include "kernels/nn/cuda/common.cuh"
#include "kernels/nn/cuda/layers_cuda.h"

namespace sxb::nn::gpu {

namespace {

struct SampleResults {
  double* loss;
  int* correct;
};

SampleResults split_workspace(void* workspace, int batch) {
  double* loss = static_cast<double*>(workspace);
  return {loss, reinterpret_cast<int*>(loss + batch)};
}

__global__ void sample_loss_kernel(int batch, int classes, const float* __restrict__ logits,
                                   const int* __restrict__ labels, float* __restrict__ dlogits, double* loss,
                                   int* correct) {
  SXB_GRID_LOOP(n, static_cast<std::size_t>(batch)) {
    const float* z = logits + n * classes;
    int best = 0;  // first index of the largest logit
    for (int k = 1; k < classes; ++k)
      if (z[k] > z[best]) best = k;
    const double z_max = z[best];
    double sum = 0.0;
    for (int k = 0; k < classes; ++k) sum += exp(static_cast<double>(z[k]) - z_max);
    const int label = labels[n];
    const bool valid = label >= 0 && label < classes;
    loss[n] = valid ? z_max + log(sum) - z[label] : nan("");
    correct[n] = best == label ? 1 : 0;
    if (dlogits) {
      float* d = dlogits + n * classes;
      for (int k = 0; k < classes; ++k) {
        const double e = exp(static_cast<double>(z[k]) - z_max);
        d[k] = static_cast<float>((e / sum - (k == label ? 1.0 : 0.0)) / batch);
      }
    }
  }
}

__global__ void loss_totals_kernel(int batch, const double* __restrict__ loss, const int* __restrict__ correct,
                                   LossTotals* totals) {
  __shared__ double scratch[kReduceThreads];
  double sum = 0.0, hits = 0.0;
  for (int n = threadIdx.x; n < batch; n += kReduceThreads) {
    sum += loss[n];
    hits += correct[n];
  }
  sum = block_sum(sum, scratch);
  hits = block_sum(hits, scratch);
  if (threadIdx.x == 0) {
    totals->loss_sum = sum;
    totals->correct = static_cast<int>(hits);
  }
}

}  // namespace

std::size_t loss_workspace_bytes(int batch) {
  return static_cast<std::size_t>(batch) * (sizeof(double) + sizeof(int));
}

void softmax_cross_entropy(const Queue& q, int batch, int classes, const float* logits, const int* labels,
                           float* dlogits, void* workspace, LossTotals* totals) {
  const SampleResults r = split_workspace(workspace, batch);
  cuda::launch(sample_loss_kernel, blocks_for(static_cast<std::size_t>(batch)), kThreads, 0, q.stream, batch, classes,
               logits, labels, dlogits, r.loss, r.correct);
  cuda::launch(loss_totals_kernel, 1, kReduceThreads, 0, q.stream, batch, static_cast<const double*>(r.loss),
               static_cast<const int*>(r.correct), totals);
}

}  // namespace sxb::nn::gpu
