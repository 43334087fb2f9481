// The grammar of `reader_cfg.test_range` (and `train_range`), shared by
// validation and by whoever applies a range to a dataset.
//
// Forms, as OpenCompass's load_partial_dataset reads them:
//   ""            all rows
//   "100"         an integer >= 0: a count of rows (OpenCompass treats 0 and
//                 counts >= the dataset size as "all")
//   "0.5"         a decimal number in (0, 1]: a ratio of the rows; a decimal
//                 number > 1 is a count (its integer part)
//   "[0:100]"     Python slices: [a:b], [a:b:c], [:b], [a:], [::c], with
//   "[10:][::2]"  optional whitespace and negative integers; step != 0.
//                 Several slices apply in turn (SizePartitioner chains them).
//   "100[0:50]"   a count or ratio followed by slices: the slices apply to
//   "0.5[::2]"    the rows the count or ratio selected. This is what a
//                 partitioner writes when it splits a dataset whose range is
//                 a count or ratio (OpenCompass built "100[0:50]" too, and
//                 then crashed on it: #2430).
//
// Thread-safe: no shared state.
#ifndef OCX_SPEC_TEST_RANGE_H_
#define OCX_SPEC_TEST_RANGE_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ocx::spec {

struct PySlice {
  std::optional<int64_t> start;
  std::optional<int64_t> stop;
  std::optional<int64_t> step;  // never 0 when set
};

struct TestRange {
  enum class Kind { kAll, kCount, kRatio, kSlices };
  Kind kind = Kind::kAll;
  int64_t count = 0;  // kCount
  double ratio = 0;   // kRatio, in (0, 1]
  // kSlices: the slices, applied in order. kCount and kRatio: slices applied
  // after the count or ratio (empty for a plain count or ratio).
  std::vector<PySlice> slices;

  // kSlices only: the row indices of a dataset of `size` rows that the
  // slices select, with Python's semantics (out-of-range bounds clamp).
  // Materialises up to `size` indices; Count() does not.
  std::vector<int64_t> SliceIndices(int64_t size) const;

  // How many of a dataset's `size` rows the range selects, in O(number of
  // slices), for every kind. A count selects min(count, size) rows, and all
  // of them when it is 0 (OpenCompass's load_partial_dataset); a ratio
  // floor(ratio * size); slices as SliceIndices(size).size() (then applied
  // to the rows the count or ratio selected). 0 for size <= 0.
  int64_t Count(int64_t size) const;
};

// The number of items Python's `seq[slice]` yields for a sequence of
// `length` items (CPython's PySlice_AdjustIndices). 0 for length <= 0.
int64_t SliceLength(const PySlice& slice, int64_t length);

// Parses `text` (surrounding whitespace ignored). INVALID_ARGUMENT with a
// message that says which forms are accepted, without a field path.
absl::StatusOr<TestRange> ParseTestRange(absl::string_view text);

}  // namespace ocx::spec

#endif  // OCX_SPEC_TEST_RANGE_H_
