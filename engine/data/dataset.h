// Image classification data sets held in memory: 32x32 RGB images as bytes
// (CHW per image) with integer labels. Sources: the official CIFAR-10/100
// binary files, image folders (one sub-folder per class, JPEG/PNG), and the
// built-in synthetic set (engine/data/synthetic.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sxb {

inline constexpr int kImageChannels = 3, kImageSize = 32;
inline constexpr int kImageBytes = kImageChannels * kImageSize * kImageSize;

struct Dataset {
  std::string source;                    // where it came from, for reports
  std::vector<std::uint8_t> images;      // size() * kImageBytes, CHW, R then G then B planes
  std::vector<int> labels;
  std::vector<std::string> class_names;  // may be empty (then classes are numbered)
  int num_classes = 0;

  std::size_t size() const { return labels.size(); }
  const std::uint8_t* image(std::size_t k) const { return images.data() + k * kImageBytes; }
};

enum class Split { Train, Test };

// Official binary layouts: CIFAR-10 records are 1 label byte + 3072 pixel
// bytes; CIFAR-100 records are coarse + fine label bytes + 3072 pixel bytes.
// `files` are read in order; a size that is not a whole number of records,
// or a label out of range, is an error naming the file and record.
Dataset read_cifar10_binary(const std::vector<std::string>& files);
Dataset read_cifar100_binary(const std::vector<std::string>& files, bool coarse_labels = false);

// A directory as distributed: cifar-10-batches-bin/ (data_batch_1..5.bin,
// test_batch.bin, batches.meta.txt) or cifar-100-binary/ (train.bin, test.bin,
// fine_label_names.txt, coarse_label_names.txt).
Dataset load_cifar10_dir(const std::string& dir, Split split);
Dataset load_cifar100_dir(const std::string& dir, Split split, bool coarse_labels = false);

// One sub-folder per class of .png/.jpg/.jpeg files (engine/data/image_folder.cpp).
// With train/ and test/ sub-folders: the class list is train/'s class folders
// sorted by name (= label order), and test/'s folders take the label of the
// same name (one that training lacks is an error). Without them: image k of
// each class in name order is a test image when k % 5 == 4 (a fifth held out),
// the others are training images, so test accuracy never sees training images.
// Errors, each naming the path: an empty class folder, a file beside the class
// folders, anything in a class folder that is not an image, an image that does
// not decode (PNG: also a chunk CRC mismatch; JPEG, decoded by libjpeg-turbo as
// Pillow decodes it: also any libjpeg warning about the data, such as a
// truncated file), an image that is not 32x32.
// Hidden entries (names starting with '.') are skipped.
Dataset load_image_folder(const std::string& dir, Split split);

// "cifar10:DIR", "cifar100:DIR", "cifar100-coarse:DIR", "folder:DIR" or
// "synthetic" (optionally "synthetic:N" images); errors name the spec.
Dataset load_dataset(const std::string& spec, Split split, std::uint64_t seed = 1);

// The first `per_class` images of each class, in the set's order (a class
// with fewer keeps all of them); per_class >= 1.
Dataset first_per_class(const Dataset& d, int per_class);

// The spec with a relative DIR taken from `root` ("folder:cifar10-jpeg" with
// root "/data" -> "folder:/data/cifar10-jpeg"); absolute DIRs, synthetic specs
// and an empty root leave it as it is. Sweep files name their data this way,
// so that a point's id does not depend on where a machine keeps the data.
std::string resolve_data_spec(const std::string& spec, const std::string& root);

// What load_dataset would refuse without reading any image: an unknown kind,
// a bad synthetic count, a folder that does not exist. Errors name the spec.
void check_data_spec(const std::string& spec);

}  // namespace sxb
