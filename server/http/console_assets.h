// The web console's pages (server/http/console/: HTML, CSS, JavaScript,
// hand-written, no framework, nothing fetched from elsewhere), compiled
// into ocxd by the build (embed_assets.cmake), so a running daemon needs no
// files of its own to serve them.
//
// Thread-safe: constant data.
#ifndef OCX_SERVER_HTTP_CONSOLE_ASSETS_H_
#define OCX_SERVER_HTTP_CONSOLE_ASSETS_H_

#include <cstddef>

#include "absl/types/span.h"

namespace ocx::server {

struct ConsoleAsset {
  const char* path;  // "/index.html", "/console.js"
  const unsigned char* data;
  size_t size;
};

absl::Span<const ConsoleAsset> ConsoleAssets();

}  // namespace ocx::server

#endif  // OCX_SERVER_HTTP_CONSOLE_ASSETS_H_
