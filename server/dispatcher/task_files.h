// Output bookkeeping: the files a task needs before it starts and leaves
// when it succeeds, checked and recorded through the work-dir layout
// (common/work_dir_layout.h). Paths in TaskParams are relative to its
// work_dir.
//
// Thread-safe: no shared state (RecordOutputs writes through the store
// it is given, on the caller's transaction).
#ifndef OCX_SERVER_DISPATCHER_TASK_FILES_H_
#define OCX_SERVER_DISPATCHER_TASK_FILES_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "common/owned_files.h"
#include "ocx/v1/resources.pb.h"
#include "server/store/store.h"

namespace ocx::server {

// The expected_outputs that do not exist, joined with ", " ("" when all
// do). A task that exits 0 without them has failed.
std::string MissingOutputs(const ocx::v1::TaskParams& params);

// The required_inputs (the parts manifest's files) that do not exist,
// joined ("" when all do); after 10 of them only a count ("and 3 more").
std::string MissingInputs(const ocx::v1::TaskParams& params);

// Records the fingerprint, size and mtime of each expected output of a
// task that succeeded (keyed reuse, DESIGN.md decision 7). Skips outputs
// that are gone and tasks planned before fingerprints existed.
absl::Status RecordOutputs(store::Store* store, const std::string& task_id,
                           const ocx::v1::TaskParams& params, int64_t now);

// The TaskError a failed ocx-task left in `attempt_dir` (error.json), or
// nullopt when there is none or it is not a TaskError (a `command` task
// may write anything there).
std::optional<ocx::v1::TaskError> ReadTaskError(const std::string& attempt_dir);

// Writes the task's task.json (proto JSON, original field names, 0640)
// unless it exists: it is written once, before the first attempt, and
// never changes. Params stored by reference are expanded from `spec` (the
// evaluation's stored spec) first, so task.json always carries the full
// configs. Its directories and the file are made for `owner`, never through
// a symbolic link (common/owned_files.h).
absl::Status WriteTaskJson(const ocx::v1::TaskParams& params,
                           const ocx::v1::EvaluationSpec& spec,
                           const FileOwner& owner = {});

}  // namespace ocx::server

#endif  // OCX_SERVER_DISPATCHER_TASK_FILES_H_
