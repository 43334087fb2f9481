// Store: the reuse records: output fingerprints and counted dataset sizes.
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/store.h"
#include "server/store/store_internal.h"

namespace ocx::store {

using internal::kPutDatasetSize;
using internal::kPutOutput;

absl::Status Store::PutDatasetSize(const DatasetSizeRecord& r,
                                   int64_t update_ms) {
  OCX_ASSIGN_OR_RETURN(
      Statement * s,
      Cached(kPutDatasetSize,
             "INSERT OR REPLACE INTO dataset_sizes (path, reader, file_size, "
             "mtime_ns, num_samples, update_ms) VALUES (?,?,?,?,?,?)"));
  s->Bind(1, r.path)
      .Bind(2, r.reader)
      .Bind(3, r.file_size)
      .Bind(4, r.mtime_ns)
      .Bind(5, r.num_samples)
      .Bind(6, update_ms);
  return s->Run();
}

absl::Status Store::PutOutput(const OutputRecord& r, int64_t update_ms) {
  OCX_ASSIGN_OR_RETURN(
      Statement * s,
      Cached(kPutOutput,
             "INSERT OR REPLACE INTO outputs (path, fingerprint, size, "
             "mtime_ns, task_id, update_ms) VALUES (?,?,?,?,?,?)"));
  s->Bind(1, r.path)
      .Bind(2, r.fingerprint)
      .Bind(3, r.size)
      .Bind(4, r.mtime_ns)
      .Bind(5, r.task_id)
      .Bind(6, update_ms);
  return s->Run();
}

absl::StatusOr<std::optional<int64_t>> Store::LookupDatasetSize(
    const std::string& path, const std::string& reader, int64_t file_size,
    int64_t mtime_ns) {
  OCX_ASSIGN_OR_RETURN(ReadConnection conn, Reader());
  OCX_ASSIGN_OR_RETURN(
      auto s, conn->Prepare("SELECT num_samples FROM dataset_sizes WHERE "
                            "path=? AND reader=? AND file_size=? AND "
                            "mtime_ns=?"));
  s->Bind(1, path).Bind(2, reader).Bind(3, file_size).Bind(4, mtime_ns);
  OCX_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>(s->ColumnInt(0));
}

absl::StatusOr<std::vector<std::optional<OutputRecord>>> Store::GetOutputs(
    const std::vector<std::string>& paths) {
  std::vector<std::optional<OutputRecord>> out(paths.size());
  if (paths.empty()) return out;
  OCX_ASSIGN_OR_RETURN(ReadConnection conn, Reader());
  // One read transaction: every lookup sees the same snapshot.
  OCX_RETURN_IF_ERROR(conn->Exec("BEGIN"));
  auto lookup = [&]() -> absl::Status {
    OCX_ASSIGN_OR_RETURN(
        auto s, conn->Prepare("SELECT fingerprint, size, mtime_ns, task_id "
                              "FROM outputs WHERE path=?"));
    for (size_t i = 0; i < paths.size(); ++i) {
      s->Bind(1, paths[i]);
      absl::StatusOr<bool> row = s->Step();
      if (row.ok() && *row) {
        OutputRecord& r = out[i].emplace();
        r.path = paths[i];
        r.fingerprint = s->ColumnText(0);
        r.size = s->ColumnInt(1);
        r.mtime_ns = s->ColumnInt(2);
        r.task_id = s->ColumnText(3);
      }
      s->Reset();
      if (!row.ok()) return row.status();
    }
    return absl::OkStatus();
  };
  absl::Status status = lookup();
  conn->Exec("COMMIT").IgnoreError();
  if (!status.ok()) return status;
  return out;
}

}  // namespace ocx::store
