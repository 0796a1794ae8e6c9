// SHA-256 content hashes (OpenSSL) that key the on-disk caches of expensive
// results (effective weights, trained demo models).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace sxb {

class ContentHash {
 public:
  ContentHash();
  ~ContentHash();
  ContentHash(const ContentHash&) = delete;
  ContentHash& operator=(const ContentHash&) = delete;

  ContentHash& add(const void* data, std::size_t bytes);
  // The length first, so that ("ab", "c") and ("a", "bc") differ.
  ContentHash& add(const std::string& text);
  // 64 lower-case hex digits; the hash cannot be extended afterwards.
  std::string hex();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The first 16 hex digits of the SHA-256 of `text` (as ContentHash::add(text)):
// short names of cache entries and sweep points.
std::string short_hash(const std::string& text);

}  // namespace sxb
