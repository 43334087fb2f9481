// FNV-1a 64 (http://www.isthe.com/chongo/tech/comp/fnv/): a stable,
// non-cryptographic hash that is the same on every machine and every run
// (std::hash is not). Output fingerprints (partitioners/fingerprint.h) and
// the summary's dataset versions are built on it.
//
// Thread-compatible: a hasher is a value; no shared state.
#ifndef OCX_COMMON_FNV1A_H_
#define OCX_COMMON_FNV1A_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace ocx {

// Streaming FNV-1a 64. Copyable, so a common prefix is hashed once.
// Update is inline: planning hashes every task's outputs.
class Fnv1a64 {
 public:
  void Update(absl::string_view bytes) {
    uint64_t h = hash_;
    for (unsigned char c : bytes) {
      h ^= c;
      h *= kPrime;
    }
    hash_ = h;
  }
  // The length (8 bytes, little endian) and then the bytes: concatenations
  // of length-prefixed fields cannot collide by shifting a boundary.
  void UpdateField(absl::string_view bytes) {
    UpdateInt(static_cast<int64_t>(bytes.size()));
    Update(bytes);
  }
  // `v` as 8 bytes, little endian.
  void UpdateInt(int64_t v) {
    char bytes[8];
    for (int i = 0; i < 8; ++i) {
      bytes[i] =
          static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff);
    }
    Update(absl::string_view(bytes, 8));
  }
  uint64_t value() const { return hash_; }

 private:
  static constexpr uint64_t kPrime = 1099511628211ull;
  uint64_t hash_ = 14695981039346656037ull;  // offset basis
};

// 16 lowercase hex digits.
std::string FingerprintHex(uint64_t value);

// The deterministic serialization of `message` (map keys sorted), so that
// equal messages hash equally; proto3 leaves unset fields out of the bytes.
std::string DeterministicBytes(const google::protobuf::Message& message);

}  // namespace ocx

#endif  // OCX_COMMON_FNV1A_H_
