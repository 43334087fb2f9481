#include "common/fnv1a.h"

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace ocx {
namespace {

constexpr uint64_t kPrime = 1099511628211ull;

}  // namespace

void Fnv1a64::Update(absl::string_view bytes) {
  uint64_t h = hash_;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kPrime;
  }
  hash_ = h;
}

void Fnv1a64::UpdateInt(int64_t v) {
  char bytes[8];
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff);
  }
  Update(absl::string_view(bytes, 8));
}

void Fnv1a64::UpdateField(absl::string_view bytes) {
  UpdateInt(static_cast<int64_t>(bytes.size()));
  Update(bytes);
}

std::string FingerprintHex(uint64_t value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[i] = kHex[value & 0xf];
    value >>= 4;
  }
  return out;
}

std::string DeterministicBytes(const google::protobuf::Message& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

}  // namespace ocx
