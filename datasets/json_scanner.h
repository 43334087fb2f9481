// The JSON and JSON Lines scanner (scanner.h has the rules): a validating
// JSON parser that reads one byte at a time, so that chunk boundaries do
// not matter, and builds google.protobuf.Value rows only when asked to.
//
// Thread-compatible: one scanner per file.
#ifndef OCX_DATASETS_JSON_SCANNER_H_
#define OCX_DATASETS_JSON_SCANNER_H_

#include <memory>

#include "absl/strings/string_view.h"
#include "datasets/scanner.h"

namespace ocx::datasets {

// `lines`: JSON Lines (each non-blank line one sample) rather than one JSON
// document. The other arguments are MakeScanner's.
std::unique_ptr<SampleScanner> MakeJsonScanner(bool lines,
                                               absl::string_view split,
                                               absl::string_view split_setting,
                                               ScannedRows* rows);

}  // namespace ocx::datasets

#endif  // OCX_DATASETS_JSON_SCANNER_H_
