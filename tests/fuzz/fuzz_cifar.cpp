// libFuzzer target: CIFAR binary files (engine/data/dataset.h). The first
// byte picks the layout (CIFAR-10, CIFAR-100 fine, CIFAR-100 coarse); the rest
// is the file. An accepted file holds whole 32x32x3 images, one label each.
#include "engine/data/dataset.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sxb;
  if (size == 0) return 0;
  const int kind = data[0] % 3;
  const std::string path = fuzz::as_file(data + 1, size - 1, "data_batch.bin");
  Dataset d;
  if (!fuzz::accepts([&] { d = kind == 0 ? read_cifar10_binary({path}) : read_cifar100_binary({path}, kind == 2); }))
    return 0;
  if (d.images.size() != d.size() * kImageBytes) fuzz::finding("cifar: images and labels disagree");
  for (int label : d.labels)
    if (label < 0 || label >= d.num_classes) fuzz::finding("cifar: label out of range");
  return 0;
}
