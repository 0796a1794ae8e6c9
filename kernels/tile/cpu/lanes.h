// Tiles side by side in SIMD lanes: the batched form of the column sweep.
//
// W tiles of one shape are solved together, tile l in lane l of every value:
// a matrix element is one Lanes<W> vector (the element of each tile), so
// every operation of the sweep becomes a vector operation over tiles. There
// is no horizontal operation, so a tile's result depends on nothing but its
// own lane: it is the same in any batch, at any position, with any padding,
// and for either width. W is 8 where a vector register holds 8 doubles
// (AVX-512) and 4 where it holds 4 (AVX2); the kernels are compiled for both.
#pragma once

#include <cstddef>
#include <memory>
#include <new>

namespace sxb::cpu {

// The widths the kernels are built for; the widest bounds the workspace.
inline constexpr int kMaxLanes = 8;

// GCC/Clang vector extension; element-wise arithmetic, lane l = tile l.
// Aligned to its size even where the compiler's baseline target would align
// it less (the wide clones use aligned loads).
template <int W>
struct LaneVector {
  typedef double type __attribute__((vector_size(W * sizeof(double)), aligned(W * sizeof(double))));
};
template <int W>
using Lanes = typename LaneVector<W>::type;
// The result of comparing two Lanes: all bits set where true.
template <int W>
using LaneMask = decltype(Lanes<W>{} < Lanes<W>{});

// A growable array of Lanes at their full alignment (std::vector would drop
// the alignment attribute of its template argument). Contents are
// unspecified after a resize that grows it.
template <int W>
class LaneBuffer {
 public:
  void resize(std::size_t n) {
    if (n > capacity_) {
      data_.reset(::operator new(n * sizeof(Lanes<W>), std::align_val_t{alignof(Lanes<W>)}));
      capacity_ = n;
    }
    size_ = n;
  }
  Lanes<W>* data() { return static_cast<Lanes<W>*>(data_.get()); }
  std::size_t size() const { return size_; }
  Lanes<W>& operator[](std::size_t i) { return data()[i]; }

 private:
  struct Free {
    void operator()(void* p) const { ::operator delete(p, std::align_val_t{alignof(Lanes<W>)}); }
  };
  std::unique_ptr<void, Free> data_;
  std::size_t size_ = 0, capacity_ = 0;
};

}  // namespace sxb::cpu
