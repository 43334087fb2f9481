// Store: opening, transactions and connections. The rows live in
// evaluations.cc, tasks.cc, events.cc, outputs_and_sizes.cc and servers.cc.
#include "server/store/store.h"

#include <sqlite3.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/metrics.h"
#include "common/status_macros.h"
#include "server/store/schema.h"
#include "server/store/store_internal.h"

namespace ocx::store {

using internal::kNumSlots;

Store::Store(std::unique_ptr<Connection> writer,
             std::unique_ptr<ReadPool> readers)
    : writer_(std::move(writer)),
      cached_(kNumSlots),
      readers_(std::move(readers)) {}

Store::~Store() {
  cached_.clear();
  readers_.reset();
  // A final checkpoint keeps the WAL small between runs.
  writer_->Exec("PRAGMA wal_checkpoint(TRUNCATE)").IgnoreError();
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path,
                                                   ReadPoolOptions readers) {
  if (readers.max_open < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "read_connections: must be at least 1, got ", readers.max_open));
  }
  OCX_ASSIGN_OR_RETURN(auto writer, Connection::Open(path, false));
  OCX_RETURN_IF_ERROR(Annotate(MigrateSchema(writer.get()), path));
  auto pool = std::make_unique<ReadPool>(
      [path] { return Connection::Open(path, /*read_only=*/true); }, readers);
  std::unique_ptr<Store> store(new Store(std::move(writer), std::move(pool)));
  OCX_ASSIGN_OR_RETURN(store->task_counts_,
                       TaskCounts::Attach(store->writer_.get()));
  return store;
}

absl::StatusOr<Statement*> Store::Cached(int slot, const char* sql) {
  if (cached_[slot] == nullptr) {
    OCX_ASSIGN_OR_RETURN(cached_[slot], writer_->Prepare(sql));
  }
  return cached_[slot].get();
}

absl::Status Store::Begin() {
  begin_ns_ = absl::GetCurrentTimeNanos();
  return writer_->Exec("BEGIN IMMEDIATE");
}

absl::Status Store::Commit() {
  absl::Status committed = writer_->Exec("COMMIT");
  static metrics::Family& transactions = metrics::Histogram(
      "ocx_store_transaction_seconds",
      "Write transactions of the dispatcher, from BEGIN to the end of COMMIT.",
      {}, metrics::kLatencyBuckets);
  transactions.Observe({}, (absl::GetCurrentTimeNanos() - begin_ns_) / 1e9);
  if (committed.ok()) PublishEvents();
  uncommitted_events_.clear();
  return committed;
}
int64_t Store::TotalChanges() const {
  return sqlite3_total_changes64(writer_->raw());
}
void Store::Rollback() {
  writer_->Exec("ROLLBACK").IgnoreError();
  uncommitted_events_.clear();
}
absl::Status Store::Savepoint() {
  if (task_counts_ != nullptr) task_counts_->Mark();
  return writer_->Exec("SAVEPOINT request");
}
absl::Status Store::ReleaseSavepoint() {
  if (task_counts_ != nullptr) task_counts_->ReleaseMark();
  return writer_->Exec("RELEASE request");
}
void Store::RollbackToSavepoint() {
  if (task_counts_ != nullptr) task_counts_->RollbackToMark();
  writer_->Exec("ROLLBACK TO request; RELEASE request").IgnoreError();
}

void Store::PublishEvents() {
  if (uncommitted_events_.empty()) return;
  absl::MutexLock lock(&events_mu_);
  for (auto& [id, seq] : uncommitted_events_) {
    int64_t& last = last_event_[id];
    last = std::max(last, seq);
  }
}

bool Store::MayHaveEventsAfter(const std::string& id, int64_t after) {
  absl::MutexLock lock(&events_mu_);
  auto it = last_event_.find(id);
  return it != last_event_.end() && it->second > after;
}

absl::StatusOr<Store::ReadConnection> Store::Reader() {
  OCX_ASSIGN_OR_RETURN(auto raw, readers_->Take());
  return ReadConnection(this, std::move(raw));
}

void Store::ReturnReader(std::unique_ptr<Connection> conn) {
  readers_->Return(std::move(conn));
}

}  // namespace ocx::store
