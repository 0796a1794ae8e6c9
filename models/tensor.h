// Tensors of the neural-network engine: a shape, an element type and a handle
// to memory owned by the backend that allocated it (host memory for the CPU
// backend, device memory for a GPU backend). Copies of a Tensor share its
// storage, like a shared_ptr; only the allocating backend dereferences data().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/common/error.h"

namespace sxb::nn {

enum class DType { F32, I32, U8 };

inline std::size_t dtype_size(DType t) { return t == DType::U8 ? 1 : 4; }

class Tensor {
 public:
  Tensor() = default;
  // `storage` holds at least numel(shape) * dtype_size(dtype) bytes.
  Tensor(std::vector<int> shape, DType dtype, std::shared_ptr<void> storage)
      : shape_(std::move(shape)), dtype_(dtype), storage_(std::move(storage)) {
    numel_ = 1;
    for (int d : shape_) {
      SXB_REQUIRE(d >= 0, "tensor: negative dimension in " + shape_string());
      numel_ *= static_cast<std::size_t>(d);
    }
  }

  bool empty() const { return !storage_; }
  const std::vector<int>& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int dim(int k) const { return shape_.at(static_cast<std::size_t>(k)); }
  std::size_t numel() const { return numel_; }
  std::size_t bytes() const { return numel_ * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }

  // Backend memory (see the header comment).
  template <class T>
  T* data() const {
    return static_cast<T*>(storage_.get());
  }

  // The same storage viewed with another shape of equal element count.
  Tensor reshaped(std::vector<int> shape) const {
    Tensor t(std::move(shape), dtype_, storage_);
    SXB_REQUIRE(t.numel_ == numel_, "tensor: cannot view " + shape_string() + " as " + t.shape_string());
    return t;
  }

  std::string shape_string() const {
    std::string s = "[";
    for (std::size_t k = 0; k < shape_.size(); ++k) s += (k ? ", " : "") + std::to_string(shape_[k]);
    return s + "]";
  }

 private:
  std::vector<int> shape_;
  DType dtype_ = DType::F32;
  std::shared_ptr<void> storage_;
  std::size_t numel_ = 0;
};

}  // namespace sxb::nn
