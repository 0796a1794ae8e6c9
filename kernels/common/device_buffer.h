// Move-only owners of device memory and of a CUDA stream. Allocation errors
// throw sxb::Error; destructors never throw (a failed release is logged).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdio>
#include <utility>

#include "kernels/common/cuda_check.h"

namespace sxb::cuda {

namespace detail {
// Logs a failed release unless the runtime is already shutting down.
inline void log_release_error(cudaError_t code, const char* what) {
  if (code != cudaSuccess && code != cudaErrorCudartUnloading)
    std::fprintf(stderr, "sparsexbar: %s failed: %s\n", what, cudaGetErrorString(code));
}
}  // namespace detail

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t count) { resize(count); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      count_ = std::exchange(other.count_, 0);
    }
    return *this;
  }

  // Discards the contents; reallocates only when growing.
  void resize(std::size_t count) {
    if (count <= count_) return;
    release();
    void* fresh = nullptr;
    SXB_CUDA_CHECK(cudaMalloc(&fresh, count * sizeof(T)));
    data_ = static_cast<T*>(fresh);
    count_ = count;
  }

  T* data() const { return data_; }
  std::size_t size() const { return count_; }

 private:
  void release() noexcept {
    if (data_) detail::log_release_error(cudaFree(data_), "cudaFree");
    data_ = nullptr;
    count_ = 0;
  }

  T* data_ = nullptr;
  std::size_t count_ = 0;
};

// A non-blocking stream, so that no work lands on the legacy default stream.
class Stream {
 public:
  Stream() { SXB_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  ~Stream() {
    if (stream_) detail::log_release_error(cudaStreamDestroy(stream_), "cudaStreamDestroy");
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  Stream(Stream&& other) noexcept : stream_(std::exchange(other.stream_, nullptr)) {}
  Stream& operator=(Stream&&) = delete;

  cudaStream_t get() const { return stream_; }
  void synchronize() const { SXB_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

 private:
  cudaStream_t stream_ = nullptr;
};

}  // namespace sxb::cuda
