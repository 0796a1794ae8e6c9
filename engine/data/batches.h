// Batches for training and evaluation, built on the host: per-channel input
// normalisation, the seeded random crop (zero padding 4, as torchvision's
// RandomCrop(32, padding=4) on the byte image) and horizontal flip, the seeded
// shuffle of each epoch, and a background thread that prepares batches ahead
// of the training loop.
//
// Every random choice is a counter-based draw: a hash of (seed, purpose,
// epoch, position), so a batch depends on nothing but its epoch and step —
// not on thread count, timing, or whether the run was resumed.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "engine/data/dataset.h"

namespace sxb {

struct Normalization {
  std::array<float, 3> mean{0.0f, 0.0f, 0.0f};  // of pixel / 255, per channel
  std::array<float, 3> std{1.0f, 1.0f, 1.0f};   // population standard deviation
};

// Mean and standard deviation of each channel of pixel / 255 over the whole set.
Normalization channel_statistics(const Dataset& d);

// A counter-based random 64-bit value.
std::uint64_t counter_hash(std::uint64_t seed, std::uint64_t purpose, std::uint64_t a, std::uint64_t b);

// The order of the images in epoch `epoch`: a Fisher-Yates shuffle of 0..n-1.
std::vector<int> epoch_order(std::size_t n, std::uint64_t seed, std::uint64_t epoch);

struct Augmentation {
  std::uint64_t seed = 0;
  std::uint64_t epoch = 0;
};

// Writes images[indices[0..n)] to out [n, 3, 32, 32] as (pixel / 255 - mean) / std
// and their labels to labels[0..n). With `augment`, the image at epoch position
// `first_position + k` is shifted by a random offset in [-4, 4]^2 (zero bytes
// enter from the border) and flipped left-right with probability 1/2.
void make_batch(const Dataset& d, const int* indices, int n, const Normalization& norm,
                const Augmentation* augment, std::size_t first_position, float* out, int* labels);

struct HostBatch {
  int epoch = 0, step = 0;  // step within the epoch
  int size = 0;
  std::vector<float> images;  // [size, 3, 32, 32]
  std::vector<int> labels;
};

// Training batches of epochs [first_epoch, end_epoch), starting at step
// `first_step` of the first epoch (after a resume), built by one background
// thread into a queue of at most `capacity` batches. Batch `step` of an epoch
// holds positions [step * batch, min((step + 1) * batch, n)) of epoch_order.
class BatchPrefetcher {
 public:
  BatchPrefetcher(const Dataset& d, const Normalization& norm, std::uint64_t seed, int batch, int first_epoch,
                  int first_step, int end_epoch, int capacity = 3);
  ~BatchPrefetcher();
  BatchPrefetcher(const BatchPrefetcher&) = delete;
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;

  // The next batch, or nullopt after the last. Rethrows an error of the producer.
  std::optional<HostBatch> next();

 private:
  void produce();

  const Dataset& data_;
  Normalization norm_;
  std::uint64_t seed_;
  int batch_, first_epoch_, first_step_, end_epoch_, capacity_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<HostBatch> queue_;
  bool done_ = false, stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace sxb
