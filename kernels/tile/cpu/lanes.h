// Tiles side by side in SIMD lanes: the batched form of the column sweep.
//
// kLanes tiles of one shape are solved together, tile l in lane l of every
// value: a matrix element is one Lanes vector (the element of each tile), so
// every operation of the sweep becomes a vector operation over tiles. There
// is no horizontal operation, so a tile's result depends on nothing but its
// own lane: it is the same in any batch, at any position, with any padding.
#pragma once

#include <cstddef>
#include <memory>
#include <new>

namespace sxb::cpu {

inline constexpr int kLanes = 8;

// GCC/Clang vector extension; element-wise arithmetic, lane l = tile l.
// Aligned to its size even where the compiler's baseline target would align
// it less (the AVX-512 clones use aligned loads).
using Lanes = double __attribute__((vector_size(kLanes * sizeof(double)), aligned(kLanes * sizeof(double))));
// The result of comparing two Lanes: all bits set where true.
using LaneMask = decltype(Lanes{} < Lanes{});

// A growable array of Lanes at their full alignment (std::vector would drop
// the alignment attribute of its template argument). Contents are
// unspecified after a resize that grows it.
class LaneBuffer {
 public:
  void resize(std::size_t n) {
    if (n > capacity_) {
      data_.reset(::operator new(n * sizeof(Lanes), std::align_val_t{alignof(Lanes)}));
      capacity_ = n;
    }
    size_ = n;
  }
  Lanes* data() { return static_cast<Lanes*>(data_.get()); }
  std::size_t size() const { return size_; }
  Lanes& operator[](std::size_t i) { return data()[i]; }

 private:
  struct Free {
    void operator()(void* p) const { ::operator delete(p, std::align_val_t{alignof(Lanes)}); }
  };
  std::unique_ptr<void, Free> data_;
  std::size_t size_ = 0, capacity_ = 0;
};

}  // namespace sxb::cpu
