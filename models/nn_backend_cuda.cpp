// The CUDA backend of the neural-network engine: tensors in stream-ordered
// device memory (a memory pool of the backend that keeps freed blocks for
// reuse), layer kernels from kernels/nn/cuda (sxb::nn::gpu), cuBLAS for the
// GEMMs, everything on one non-blocking stream. Only download() and the loss
// wait for the GPU. Built only with CUDA (else nn_backend_cuda_stub.cpp).
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cusparse.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include "kernels/common/cuda_check.h"
#include "kernels/common/device_buffer.h"
#include "kernels/common/gpu_info.h"
#include "kernels/nn/cuda/kernel_probe.h"
#include "kernels/nn/cuda/cublas_check.h"
#include "kernels/nn/cuda/cusparse_check.h"
#include "kernels/nn/cuda/layers_cuda.h"
#include "kernels/nn/cuda/tile_product_cuda.h"
#include "models/nn_backend.h"

namespace sxb::nn {
namespace {

using cuda::kDevice;
using cuda::detail::log_release_error;

struct StreamDeleter {
  void operator()(cudaStream_t s) const noexcept { log_release_error(cudaStreamDestroy(s), "cudaStreamDestroy"); }
};
struct PoolDeleter {
  void operator()(cudaMemPool_t p) const noexcept { log_release_error(cudaMemPoolDestroy(p), "cudaMemPoolDestroy"); }
};
struct BlasDeleter {
  void operator()(cublasHandle_t h) const noexcept {
    const cublasStatus_t status = cublasDestroy(h);
    if (status != CUBLAS_STATUS_SUCCESS)
      std::fprintf(stderr, "sparsexbar: cublasDestroy failed: %s\n", cublasGetStatusString(status));
  }
};
struct SparseDeleter {
  void operator()(cusparseHandle_t h) const noexcept {
    const cusparseStatus_t status = cusparseDestroy(h);
    if (status != CUSPARSE_STATUS_SUCCESS)
      std::fprintf(stderr, "sparsexbar: cusparseDestroy failed: %s\n", cusparseGetErrorString(status));
  }
};
struct PinnedDeleter {
  void operator()(void* p) const noexcept { log_release_error(cudaFreeHost(p), "cudaFreeHost"); }
};

// What every tensor of the backend needs to free itself: the stream, the
// memory pool, the cuBLAS handle. Tensors hold it by shared_ptr, so it lives
// until the backend and its last tensor are gone.
class DeviceContext {
 public:
  DeviceContext() {
    SXB_CUDA_CHECK(cudaSetDevice(kDevice));
    int pools = 0;
    SXB_CUDA_CHECK(cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, kDevice));
    SXB_REQUIRE(pools != 0, "CUDA backend: " + cuda::gpu_info().name + " does not support memory pools");

    cudaStream_t stream = nullptr;
    SXB_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    stream_.reset(stream);

    cudaMemPoolProps props{};
    props.allocType = cudaMemAllocationTypePinned;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = kDevice;
    cudaMemPool_t pool = nullptr;
    SXB_CUDA_CHECK(cudaMemPoolCreate(&pool, &props));
    pool_.reset(pool);
    std::uint64_t keep_everything = UINT64_MAX;  // freed blocks stay in the pool for reuse
    SXB_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep_everything));

    cublasHandle_t blas = nullptr;
    SXB_CUBLAS_CHECK(cublasCreate(&blas));
    blas_.reset(blas);
    SXB_CUBLAS_CHECK(cublasSetStream(blas, stream));
    SXB_CUBLAS_CHECK(cublasSetMathMode(blas, CUBLAS_DEFAULT_MATH));  // FP32 arithmetic, no TF32

    cusparseHandle_t sparse = nullptr;
    SXB_CUSPARSE_CHECK(cusparseCreate(&sparse));
    sparse_.reset(sparse);
    SXB_CUSPARSE_CHECK(cusparseSetStream(sparse, stream));

    void* pinned = nullptr;
    SXB_CUDA_CHECK(cudaMallocHost(&pinned, sizeof(gpu::LossTotals)));
    totals_host_.reset(pinned);
  }
  ~DeviceContext() {
    if (stream_) log_release_error(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize");
  }
  DeviceContext(const DeviceContext&) = delete;
  DeviceContext& operator=(const DeviceContext&) = delete;

  gpu::Queue queue() const { return {stream_.get(), blas_.get(), sparse_.get()}; }
  cudaStream_t stream() const { return stream_.get(); }
  gpu::LossTotals* totals_host() const { return static_cast<gpu::LossTotals*>(totals_host_.get()); }

  void synchronize() const { SXB_CUDA_CHECK(cudaStreamSynchronize(stream_.get())); }

  // Stream-ordered: usable by work enqueued after this call.
  void* allocate(std::size_t bytes) {
    void* p = nullptr;
    const cudaError_t code = cudaMallocFromPoolAsync(&p, bytes, pool_.get(), stream_.get());
    if (code != cudaSuccess) {
      (void)cudaGetLastError();
      throw Error(fmt::format("CUDA backend: cannot allocate {:.1f} MiB on {} ({})", bytes / 1048576.0,
                              cuda::gpu_info().name, cuda::describe_cuda_error(code, "cudaMallocFromPoolAsync")));
    }
    return p;
  }
  // Stream-ordered: the memory is reused only after the work enqueued so far.
  void release(void* p) noexcept { log_release_error(cudaFreeAsync(p, stream_.get()), "cudaFreeAsync"); }

 private:
  // Declaration order = reverse destruction order: the stream goes last.
  std::unique_ptr<CUstream_st, StreamDeleter> stream_;
  std::unique_ptr<CUmemPoolHandle_st, PoolDeleter> pool_;
  std::unique_ptr<cublasContext, BlasDeleter> blas_;
  std::unique_ptr<cusparseContext, SparseDeleter> sparse_;
  std::unique_ptr<void, PinnedDeleter> totals_host_;
};

// Device scratch memory for one operation, released (stream-ordered) at scope exit.
class Scratch {
 public:
  Scratch(DeviceContext& ctx, std::size_t bytes) : ctx_(ctx), data_(ctx.allocate(std::max<std::size_t>(bytes, 1))) {}
  ~Scratch() { ctx_.release(data_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <class T>
  T* as() const {
    return static_cast<T*>(data_);
  }

 private:
  DeviceContext& ctx_;
  void* data_;
};

// Scratch blocks handed out on request (cuSPARSE's buffers), all released at scope exit.
class ScratchList {
 public:
  explicit ScratchList(DeviceContext& ctx) : ctx_(ctx) {}
  gpu::ScratchFn fn() {
    return [this](std::size_t bytes) { return blocks_.emplace_back(std::make_unique<Scratch>(ctx_, bytes))->as<void>(); };
  }

 private:
  DeviceContext& ctx_;
  std::vector<std::unique_ptr<Scratch>> blocks_;
};

// A layer's tile pairs on the device, owned with the context they belong to.
class DeviceTileProduct final : public TileProductHandle {
 public:
  DeviceTileProduct(std::shared_ptr<DeviceContext> ctx, std::unique_ptr<gpu::DeviceTileLayer> layer)
      : ctx_(std::move(ctx)), layer_(std::move(layer)) {}
  const DeviceContext* context() const { return ctx_.get(); }
  const gpu::DeviceTileLayer& layer() const { return *layer_; }

 private:
  std::shared_ptr<DeviceContext> ctx_;
  std::unique_ptr<gpu::DeviceTileLayer> layer_;
};

class CudaBackend final : public Backend {
 public:
  CudaBackend() : ctx_(std::make_shared<DeviceContext>()) {}

  std::string name() const override { return "cuda"; }
  std::string describe() const override {
    const cuda::DeviceInfo& info = cuda::gpu_info();
    return fmt::format("CUDA, {} ({:.0f} GiB)", info.name, info.total_bytes / 1073741824.0);
  }

  Tensor empty(std::vector<int> shape, DType dtype) override {
    std::size_t n = 1;
    for (int d : shape) n *= static_cast<std::size_t>(std::max(d, 0));
    // At least one element so the handle is never null; 256-byte granules.
    const std::size_t bytes = (std::max<std::size_t>(n * dtype_size(dtype), 1) + 255) / 256 * 256;
    void* p = ctx_->allocate(bytes);
    std::shared_ptr<void> storage(p, [ctx = ctx_](void* q) { ctx->release(q); });
    return Tensor(std::move(shape), dtype, std::move(storage));
  }
  // From pageable host memory: the call returns once `host` has been read
  // (staged by the driver), so the caller may reuse it at once.
  void upload(const void* host, const Tensor& dst) override {
    if (dst.bytes())
      SXB_CUDA_CHECK(cudaMemcpyAsync(dst.data<void>(), host, dst.bytes(), cudaMemcpyHostToDevice, ctx_->stream()));
  }
  void download(const Tensor& src, void* host) override {
    if (!src.bytes()) return;
    SXB_CUDA_CHECK(cudaMemcpyAsync(host, src.data<void>(), src.bytes(), cudaMemcpyDeviceToHost, ctx_->stream()));
    ctx_->synchronize();
  }
  void copy(const Tensor& src, const Tensor& dst) override {
    if (src.bytes() && src.data<void>() != dst.data<void>())
      SXB_CUDA_CHECK(cudaMemcpyAsync(dst.data<void>(), src.data<void>(), src.bytes(), cudaMemcpyDeviceToDevice,
                                     ctx_->stream()));
  }
  void fill(const Tensor& dst, float value) override { gpu::fill(q(), dst.numel(), value, dst.data<float>()); }

  void conv2d_forward(const Conv2dShape& s, const Tensor& x, const Tensor& weight, const Tensor* bias,
                      const Tensor& y) override {
    const gpu::ConvPlan plan = gpu::plan_conv2d(s);
    Scratch workspace(*ctx_, plan.workspace_floats() * sizeof(float));
    gpu::conv2d_forward(q(), s, plan, workspace.as<float>(), x.data<float>(), weight.data<float>(), f32(bias),
                        y.data<float>());
  }
  void conv2d_forward_sparse(const Conv2dShape& s, const Tensor& x, const SparseWeight& weight, const Tensor* bias,
                             const Tensor& y) override {
    const gpu::ConvPlan plan = gpu::plan_conv2d(s);
    Scratch workspace(*ctx_, plan.workspace_floats() * sizeof(float));
    ScratchList buffers(*ctx_);
    gpu::conv2d_forward_csr(q(), s, plan, workspace.as<float>(), x.data<float>(), view(weight), f32(bias),
                            y.data<float>(), buffers.fn());
  }
  void linear_forward_sparse(const LinearShape& s, const Tensor& x, const SparseWeight& weight, const Tensor* bias,
                             const Tensor& y) override {
    ScratchList buffers(*ctx_);
    gpu::linear_forward_csr(q(), s, x.data<float>(), view(weight), f32(bias), y.data<float>(), buffers.fn());
  }
  void conv2d_backward(const Conv2dShape& s, const Tensor& x, const Tensor& weight, const Tensor& dy,
                       const Tensor* dx, const Tensor& dweight, const Tensor* dbias) override {
    const gpu::ConvPlan plan = gpu::plan_conv2d(s);
    Scratch workspace(*ctx_, plan.workspace_floats() * sizeof(float));
    gpu::conv2d_backward(q(), s, plan, workspace.as<float>(), x.data<float>(), weight.data<float>(),
                         dy.data<float>(), f32(dx), dweight.data<float>(), f32(dbias));
  }
  void batch_norm_forward_train(const BatchNormShape& s, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                float eps, float momentum, const Tensor& running_mean, const Tensor& running_var,
                                const Tensor& y, const Tensor& saved_mean, const Tensor& saved_inv_std) override {
    gpu::batch_norm_forward_train(q(), s, x.data<float>(), gamma.data<float>(), beta.data<float>(), eps, momentum,
                                  running_mean.data<float>(), running_var.data<float>(), y.data<float>(),
                                  saved_mean.data<float>(), saved_inv_std.data<float>());
  }
  void batch_norm_forward_eval(const BatchNormShape& s, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                               const Tensor& running_mean, const Tensor& running_var, float eps,
                               const Tensor& y) override {
    gpu::batch_norm_forward_eval(q(), s, x.data<float>(), gamma.data<float>(), beta.data<float>(),
                                 running_mean.data<float>(), running_var.data<float>(), eps, y.data<float>());
  }
  void batch_norm_backward(const BatchNormShape& s, const Tensor& x, const Tensor& gamma, const Tensor& saved_mean,
                           const Tensor& saved_inv_std, const Tensor& dy, const Tensor* dx, const Tensor& dgamma,
                           const Tensor& dbeta) override {
    gpu::batch_norm_backward(q(), s, x.data<float>(), gamma.data<float>(), saved_mean.data<float>(),
                             saved_inv_std.data<float>(), dy.data<float>(), f32(dx), dgamma.data<float>(),
                             dbeta.data<float>());
  }
  void relu_forward(const Tensor& x, const Tensor& y) override {
    gpu::relu_forward(q(), x.numel(), x.data<float>(), y.data<float>());
  }
  void relu_backward(const Tensor& y, const Tensor& dy, const Tensor& dx) override {
    gpu::relu_backward(q(), y.numel(), y.data<float>(), dy.data<float>(), dx.data<float>());
  }
  void max_pool2x2_forward(const PoolShape& s, const Tensor& x, const Tensor& y, const Tensor& argmax) override {
    gpu::max_pool2x2_forward(q(), s, x.data<float>(), y.data<float>(), argmax.data<std::int32_t>());
  }
  void max_pool2x2_backward(const PoolShape& s, const Tensor& dy, const Tensor& argmax, const Tensor& dx) override {
    gpu::max_pool2x2_backward(q(), s, dy.data<float>(), argmax.data<std::int32_t>(), dx.data<float>());
  }
  void linear_forward(const LinearShape& s, const Tensor& x, const Tensor& weight, const Tensor* bias,
                      const Tensor& y) override {
    gpu::linear_forward(q(), s, x.data<float>(), weight.data<float>(), f32(bias), y.data<float>());
  }
  void linear_backward(const LinearShape& s, const Tensor& x, const Tensor& weight, const Tensor& dy,
                       const Tensor* dx, const Tensor& dweight, const Tensor* dbias) override {
    gpu::linear_backward(q(), s, x.data<float>(), weight.data<float>(), dy.data<float>(), f32(dx),
                         dweight.data<float>(), f32(dbias));
  }
  void dropout_forward(float p, std::uint64_t seed, std::uint64_t step, const Tensor& x, const Tensor& y) override {
    gpu::dropout_apply(q(), x.numel(), p, seed, step, x.data<float>(), y.data<float>());
  }
  void dropout_backward(float p, std::uint64_t seed, std::uint64_t step, const Tensor& dy,
                        const Tensor& dx) override {
    gpu::dropout_apply(q(), dy.numel(), p, seed, step, dy.data<float>(), dx.data<float>());
  }
  LossResult softmax_cross_entropy(const Tensor& logits, const Tensor& labels, const Tensor* dlogits) override {
    const int batch = logits.dim(0), classes = logits.dim(1);
    // [totals | per-sample losses and hits]
    constexpr std::size_t kHead = (sizeof(gpu::LossTotals) + 255) / 256 * 256;
    Scratch workspace(*ctx_, kHead + gpu::loss_workspace_bytes(batch));
    auto* totals = workspace.as<gpu::LossTotals>();
    gpu::softmax_cross_entropy(q(), batch, classes, logits.data<float>(), labels.data<std::int32_t>(), f32(dlogits),
                               workspace.as<unsigned char>() + kHead, totals);
    SXB_CUDA_CHECK(cudaMemcpyAsync(ctx_->totals_host(), totals, sizeof(gpu::LossTotals), cudaMemcpyDeviceToHost,
                                   ctx_->stream()));
    ctx_->synchronize();
    const gpu::LossTotals t = *ctx_->totals_host();
    LossResult r;
    r.loss = batch > 0 ? t.loss_sum / batch : 0.0;
    r.correct = t.correct;
    return r;
  }
  void sgd_step(const SgdParams& p, const Tensor& param, const Tensor& grad, const Tensor* momentum_buf,
                const Tensor* mask) override {
    gpu::sgd_step(q(), param.numel(), p, param.data<float>(), grad.data<float>(), f32(momentum_buf),
                  mask ? mask->data<std::uint8_t>() : nullptr);
  }
  void clamp(const Tensor& t, float lo, float hi) override { gpu::clamp(q(), t.numel(), lo, hi, t.data<float>()); }

  std::unique_ptr<TileProductHandle> prepare_tile_product(const TileProductLayer& layer) override {
    return std::make_unique<DeviceTileProduct>(ctx_, gpu::upload_tile_layer(layer, ctx_->stream()));
  }
  TileProductCounts tile_product(const TileProductHandle& layer, const TileConverters& c, const Conv2dShape* conv,
                                 int batch, const Tensor& x, const Tensor* bias, const Tensor& y) override {
    const auto* d = dynamic_cast<const DeviceTileProduct*>(&layer);
    SXB_REQUIRE(d && d->context() == ctx_.get(), "tile product: the layer was prepared on another backend");
    ScratchList buffers(*ctx_);
    return gpu::tile_product(q(), d->layer(), c, conv, batch, x.data<float>(), f32(bias), y.data<float>(),
                             buffers.fn());
  }

 private:
  gpu::Queue q() const { return ctx_->queue(); }
  static float* f32(const Tensor* t) { return t ? t->data<float>() : nullptr; }
  static CsrView view(const SparseWeight& w) {
    return {w.rows, w.cols, w.nnz(), w.row_ptr.data<std::int32_t>(), w.col_idx.data<std::int32_t>(),
            w.values.data<float>()};
  }

  std::shared_ptr<DeviceContext> ctx_;
};

}  // namespace

bool cuda_nn_available(std::string* reason) {
  static const CudaCapability capability = [] {
    const cuda::DeviceInfo& gpu = cuda::gpu_info();
    if (!gpu.available) return CudaCapability{false, gpu.reason};
    if (std::string problem = gpu::kernel_problem(); !problem.empty()) return CudaCapability{false, gpu.name + ": " + problem};
    return CudaCapability{true, ""};
  }();
  if (!capability.usable && reason) *reason = capability.reason;
  return capability.usable;
}

std::unique_ptr<Backend> make_cuda_backend() {
  std::string reason;
  SXB_REQUIRE(cuda_nn_available(&reason), "CUDA backend of the network engine requested, but " + reason);
  return std::make_unique<CudaBackend>();
}

}  // namespace sxb::nn
