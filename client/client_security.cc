#include "client/client_security.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"

namespace ocx::client {
namespace {

absl::StatusOr<std::string> Read(const char* flag, const std::string& path,
                                 bool pem) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, " ", path, ": cannot read (", text.status().message(), ")"));
  }
  if (pem && text->find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": not a PEM file"));
  }
  return text;
}

absl::StatusOr<std::string> TokenOf(const std::string& path) {
  absl::StatusOr<std::string> text = Read("--token-file", path, false);
  if (!text.ok()) return text.status();
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty() && line[0] != '#') return std::string(line);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--token-file ", path, ": holds no token"));
}

}  // namespace

absl::StatusOr<ClientSecurity> LoadClientSecurity(
    const ClientSecurityFiles& files) {
  ClientSecurity security;
  if (files.tls_cert.empty() != files.tls_key.empty()) {
    return absl::InvalidArgumentError(
        "give both --tls-cert and --tls-key (a client certificate and its "
        "key), or neither");
  }
  security.tls = !files.tls_ca.empty() || !files.tls_cert.empty();
  if (!files.tls_ca.empty()) {
    absl::StatusOr<std::string> ca = Read("--tls-ca", files.tls_ca, true);
    if (!ca.ok()) return ca.status();
    security.root_certs = *std::move(ca);
  }
  if (!files.tls_cert.empty()) {
    absl::StatusOr<std::string> cert = Read("--tls-cert", files.tls_cert, true);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = Read("--tls-key", files.tls_key, true);
    if (!key.ok()) return key.status();
    security.cert_chain = *std::move(cert);
    security.private_key = *std::move(key);
  }
  if (!files.token_file.empty()) {
    absl::StatusOr<std::string> token = TokenOf(files.token_file);
    if (!token.ok()) return token.status();
    security.token = *std::move(token);
  }
  return security;
}

}  // namespace ocx::client
