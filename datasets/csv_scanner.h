// The CSV scanner (scanner.h has the rules): RFC 4180 records, one byte at
// a time; the first non-blank record is the header.
//
// Thread-compatible: one scanner per file.
#ifndef OCX_DATASETS_CSV_SCANNER_H_
#define OCX_DATASETS_CSV_SCANNER_H_

#include <memory>

#include "datasets/scanner.h"

namespace ocx::datasets {

// `rows`: where to keep the records as rows keyed by the header, or nullptr.
std::unique_ptr<SampleScanner> MakeCsvScanner(ScannedRows* rows);

}  // namespace ocx::datasets

#endif  // OCX_DATASETS_CSV_SCANNER_H_
