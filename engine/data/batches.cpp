#include "engine/data/batches.h"

#include <cmath>
#include <numeric>

#include "kernels/common/error.h"
#include "kernels/common/counter_rng.h"

namespace sxb {
namespace {

// Purposes of the counter-based draws (any distinct constants).
constexpr std::uint64_t kShuffle = 0x5348554646ULL, kAugment = 0x4155474dULL;
constexpr int kPad = 4;
constexpr int kPlane = kImageSize * kImageSize;

}  // namespace

Normalization channel_statistics(const Dataset& d) {
  SXB_REQUIRE(d.size() > 0, "channel statistics of an empty data set");
  Normalization norm;
  for (int c = 0; c < kImageChannels; ++c) {
    std::uint64_t sum = 0, squares = 0;  // exact integer sums of bytes
    for (std::size_t k = 0; k < d.size(); ++k) {
      const std::uint8_t* plane = d.image(k) + c * kPlane;
      for (int i = 0; i < kPlane; ++i) {
        sum += plane[i];
        squares += static_cast<std::uint64_t>(plane[i]) * plane[i];
      }
    }
    const double n = static_cast<double>(d.size()) * kPlane;
    const double mean = sum / n, var = std::max(0.0, squares / n - mean * mean);
    norm.mean[c] = static_cast<float>(mean / 255.0);
    norm.std[c] = static_cast<float>(std::max(std::sqrt(var), 1e-3) / 255.0);
  }
  return norm;
}

std::uint64_t counter_hash(std::uint64_t seed, std::uint64_t purpose, std::uint64_t a, std::uint64_t b) {
  return rng::counter_hash(seed, purpose, a, b);
}

std::vector<int> epoch_order(std::size_t n, std::uint64_t seed, std::uint64_t epoch) {
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  for (std::size_t k = n; k > 1; --k) {
    const std::size_t j = counter_hash(seed, kShuffle, epoch, k) % k;  // bias < k / 2^64
    std::swap(order[k - 1], order[j]);
  }
  return order;
}

void make_batch(const Dataset& d, const int* indices, int n, const Normalization& norm,
                const Augmentation* augment, std::size_t first_position, float* out, int* labels) {
  float scale[kImageChannels], shift[kImageChannels];  // x = byte * scale + shift
  for (int c = 0; c < kImageChannels; ++c) {
    scale[c] = 1.0f / (255.0f * norm.std[c]);
    shift[c] = -norm.mean[c] / norm.std[c];
  }
  for (int k = 0; k < n; ++k) {
    const std::uint8_t* image = d.image(static_cast<std::size_t>(indices[k]));
    labels[k] = d.labels[static_cast<std::size_t>(indices[k])];
    int dy = 0, dx = 0;
    bool flip = false;
    if (augment) {
      const std::uint64_t r = counter_hash(augment->seed, kAugment, augment->epoch, first_position + k);
      dy = static_cast<int>(r % (2 * kPad + 1)) - kPad;
      dx = static_cast<int>((r >> 16) % (2 * kPad + 1)) - kPad;
      flip = (r >> 32) & 1;
    }
    float* o = out + static_cast<std::size_t>(k) * kImageBytes;
    for (int c = 0; c < kImageChannels; ++c) {
      const std::uint8_t* plane = image + c * kPlane;
      for (int y = 0; y < kImageSize; ++y) {
        const int sy = y + dy;
        for (int x = 0; x < kImageSize; ++x) {
          const int sx = (flip ? kImageSize - 1 - x : x) + dx;
          const bool inside = sy >= 0 && sy < kImageSize && sx >= 0 && sx < kImageSize;
          const float byte = inside ? plane[sy * kImageSize + sx] : 0.0f;
          o[c * kPlane + y * kImageSize + x] = byte * scale[c] + shift[c];
        }
      }
    }
  }
}

BatchPrefetcher::BatchPrefetcher(const Dataset& d, const Normalization& norm, std::uint64_t seed, int batch,
                                 int first_epoch, int first_step, int end_epoch, int capacity)
    : data_(d), norm_(norm), seed_(seed), batch_(batch), first_epoch_(first_epoch), first_step_(first_step),
      end_epoch_(end_epoch), capacity_(std::max(1, capacity)) {
  SXB_REQUIRE(batch > 0 && d.size() > 0, "batch prefetcher: empty data set or batch");
  thread_ = std::thread([this] { produce(); });
}

BatchPrefetcher::~BatchPrefetcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void BatchPrefetcher::produce() {
  try {
    const std::size_t n = data_.size();
    const int steps = static_cast<int>((n + batch_ - 1) / batch_);
    for (int epoch = first_epoch_; epoch < end_epoch_; ++epoch) {
      const std::vector<int> order = epoch_order(n, seed_, static_cast<std::uint64_t>(epoch));
      const Augmentation augment{seed_, static_cast<std::uint64_t>(epoch)};
      for (int step = epoch == first_epoch_ ? first_step_ : 0; step < steps; ++step) {
        HostBatch b;
        b.epoch = epoch;
        b.step = step;
        const std::size_t first = static_cast<std::size_t>(step) * batch_;
        b.size = static_cast<int>(std::min<std::size_t>(batch_, n - first));
        b.images.resize(static_cast<std::size_t>(b.size) * kImageBytes);
        b.labels.resize(static_cast<std::size_t>(b.size));
        make_batch(data_, order.data() + first, b.size, norm_, &augment, first, b.images.data(), b.labels.data());
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return stop_ || static_cast<int>(queue_.size()) < capacity_; });
        if (stop_) return;
        queue_.push_back(std::move(b));
        changed_.notify_all();
      }
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::current_exception();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  done_ = true;
  changed_.notify_all();
}

std::optional<HostBatch> BatchPrefetcher::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return !queue_.empty() || done_; });
  if (queue_.empty()) {
    if (error_) std::rethrow_exception(error_);
    return std::nullopt;
  }
  HostBatch b = std::move(queue_.front());
  queue_.pop_front();
  changed_.notify_all();
  return b;
}

}  // namespace sxb
