#include "server/http/http_tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"

namespace ocx::server {
namespace {

// OpenSSL's reason for the last failure; its error queue is left empty.
std::string OpenSslReason() {
  unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "cannot be used";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

absl::Status Unusable(const char* field, const std::string& path) {
  return absl::InvalidArgumentError(
      absl::StrCat("access.tls.", field, ": ", path, ": ", OpenSslReason()));
}

// The file's read error under the field's name, as the gRPC listener says
// it (tls_credentials.h).
absl::Status Readable(const char* field, const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (text.ok()) return absl::OkStatus();
  return absl::Status(
      text.status().code(),
      absl::StrCat("access.tls.", field, ": ", text.status().message()));
}

std::string SubjectCn(X509* cert) {
  char cn[256];
  int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName,
                                    cn, sizeof(cn));
  return n > 0 ? std::string(cn, static_cast<size_t>(n)) : "";
}

}  // namespace

absl::Status ConfigureTls(const HttpTlsFiles& files, SSL_CTX* ctx) {
  ERR_clear_error();
  if (files.cert_file.empty() || files.key_file.empty()) {
    return absl::InvalidArgumentError(
        "access.tls: set both cert_file and key_file (--tls-cert, "
        "--tls-key)");
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (absl::Status s = Readable("cert_file", files.cert_file); !s.ok()) {
    return s;
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, files.cert_file.c_str()) != 1) {
    return Unusable("cert_file", files.cert_file);
  }
  if (absl::Status s = Readable("key_file", files.key_file); !s.ok()) return s;
  if (SSL_CTX_use_PrivateKey_file(ctx, files.key_file.c_str(),
                                  SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return Unusable("key_file", files.key_file);
  }
  if (files.client_ca_file.empty()) return absl::OkStatus();
  if (absl::Status s = Readable("client_ca_file", files.client_ca_file);
      !s.ok()) {
    return s;
  }
  STACK_OF(X509_NAME)* names =
      SSL_load_client_CA_file(files.client_ca_file.c_str());
  if (names == nullptr ||
      SSL_CTX_load_verify_locations(ctx, files.client_ca_file.c_str(),
                                    nullptr) != 1) {
    if (names != nullptr) sk_X509_NAME_pop_free(names, X509_NAME_free);
    return Unusable("client_ca_file", files.client_ca_file);
  }
  SSL_CTX_set_client_CA_list(ctx, names);
  // Ask for a certificate and verify one that comes, but let a client
  // without one in: it may send a bearer token.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  // Resumed sessions keep the verified certificate; OpenSSL refuses to
  // resume without a context id when it verifies peers.
  static constexpr unsigned char kSessionContext[] = "ocxd-http";
  SSL_CTX_set_session_id_context(ctx, kSessionContext,
                                 sizeof(kSessionContext) - 1);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> CertificateNames(
    const std::string& cert_file) {
  ERR_clear_error();
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_file(cert_file.c_str(), "r"), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      bio != nullptr ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)
                     : nullptr,
      X509_free);
  if (cert == nullptr) return Unusable("cert_file", cert_file);
  std::vector<std::string> names;
  auto* sans = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
    if (name->type == GEN_DNS) {
      const ASN1_STRING* dns = name->d.dNSName;
      names.emplace_back(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
          static_cast<size_t>(ASN1_STRING_length(dns)));
    } else if (name->type == GEN_IPADD) {
      const ASN1_STRING* ip = name->d.iPAddress;
      int family = ASN1_STRING_length(ip) == 4 ? AF_INET : AF_INET6;
      char text[INET6_ADDRSTRLEN];
      if (ASN1_STRING_length(ip) == 4 || ASN1_STRING_length(ip) == 16) {
        if (inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof(text))) {
          names.emplace_back(text);
        }
      }
    }
  }
  if (sans != nullptr) GENERAL_NAMES_free(sans);
  std::string cn = SubjectCn(cert.get());
  if (!cn.empty()) names.push_back(cn);
  std::vector<std::string> unique;
  for (std::string& name : names) {
    absl::AsciiStrToLower(&name);
    if (std::find(unique.begin(), unique.end(), name) == unique.end()) {
      unique.push_back(std::move(name));
    }
  }
  return unique;
}

std::string VerifiedClientName(const SSL* ssl) {
  if (ssl == nullptr) return "";
  std::unique_ptr<X509, decltype(&X509_free)> peer(
      SSL_get1_peer_certificate(ssl), X509_free);
  if (peer == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return "";
  return SubjectCn(peer.get());
}

}  // namespace ocx::server
