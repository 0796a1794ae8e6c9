#include "engine/io/content_hash.h"

#include <openssl/evp.h>

#include <cstdint>

#include "kernels/common/error.h"

namespace sxb {

struct ContentHash::State {
  EVP_MD_CTX* ctx = nullptr;
  bool done = false;
};

ContentHash::ContentHash() : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  SXB_REQUIRE(state_->ctx && EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr) == 1,
              "content hash: OpenSSL could not start SHA-256");
}

ContentHash::~ContentHash() { EVP_MD_CTX_free(state_->ctx); }

ContentHash& ContentHash::add(const void* data, std::size_t bytes) {
  SXB_REQUIRE(!state_->done, "content hash: add() after hex()");
  SXB_REQUIRE(EVP_DigestUpdate(state_->ctx, data, bytes) == 1, "content hash: SHA-256 update failed");
  return *this;
}

ContentHash& ContentHash::add(const std::string& text) {
  const std::uint64_t n = text.size();
  add(&n, sizeof n);
  return add(text.data(), text.size());
}

std::string ContentHash::hex() {
  SXB_REQUIRE(!state_->done, "content hash: hex() called twice");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  SXB_REQUIRE(EVP_DigestFinal_ex(state_->ctx, digest, &length) == 1, "content hash: SHA-256 final failed");
  state_->done = true;
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned int k = 0; k < length; ++k) {
    out += digits[digest[k] >> 4];
    out += digits[digest[k] & 15];
  }
  return out;
}

std::string short_hash(const std::string& text) {
  ContentHash h;
  return h.add(text).hex().substr(0, 16);
}

}  // namespace sxb
