#include "server/daemon/token_file.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"

namespace ocx::daemon {
namespace {

std::array<unsigned char, 32> Sha256(absl::string_view data) {
  std::array<unsigned char, 32> digest;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         digest.data());
  return digest;
}

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

std::string Sha256Hex(absl::string_view data) {
  std::array<unsigned char, 32> digest = Sha256(data);
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(digest.data()), digest.size()));
}

absl::StatusOr<TokenFile> TokenFile::Parse(absl::string_view text,
                                           const std::string& path) {
  TokenFile file;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 2 || fields[1].size() != 64 ||
        !IsLowerHex(fields[1])) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", line_number,
          ": expected \"<user> <sha256 hex of the token>\" (64 hex digits; "
          "make one with: printf %s TOKEN | sha256sum)"));
    }
    Entry entry;
    entry.user = std::string(fields[0]);
    std::string bytes =
        absl::HexStringToBytes(absl::AsciiStrToLower(fields[1]));
    std::copy(bytes.begin(), bytes.end(), entry.hash.begin());
    file.entries_.push_back(std::move(entry));
  }
  return file;
}

absl::StatusOr<TokenFile> TokenFile::Load(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return PosixError(absl::StrCat("access.token_file ", path), errno);
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "access.token_file ", path,
        " may be written by group or others, who could then add their own "
        "token for any user; run: chmod go-w ",
        path));
  }
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return absl::Status(
        text.status().code(),
        absl::StrCat("access.token_file: ", text.status().message()));
  }
  return Parse(*text, path);
}

absl::StatusOr<std::string> TokenFile::UserOf(absl::string_view token) const {
  const std::array<unsigned char, 32> hash = Sha256(token);
  // Every entry is compared, in constant time, whatever matched.
  const Entry* match = nullptr;
  for (const Entry& entry : entries_) {
    if (CRYPTO_memcmp(entry.hash.data(), hash.data(), hash.size()) == 0) {
      match = &entry;
    }
  }
  if (match == nullptr) {
    return absl::UnauthenticatedError(
        "the bearer token is not in ocxd's access.token_file; check "
        "ocxctl --token-file (the file holds the token itself, the daemon's "
        "file its sha256)");
  }
  return match->user;
}

}  // namespace ocx::daemon
