// Store: opening, transactions and connections. The rows live in
// evaluations.cc, tasks.cc, events.cc, outputs_and_sizes.cc and servers.cc.
#include "server/store/store.h"

#include <utility>

#include "absl/time/clock.h"
#include "common/metrics.h"
#include "common/status_macros.h"
#include "server/store/schema.h"
#include "server/store/store_internal.h"

namespace ocx::store {

using internal::kNumSlots;

Store::Store(std::string path, std::unique_ptr<Connection> writer)
    : path_(std::move(path)), writer_(std::move(writer)), cached_(kNumSlots) {}

Store::~Store() {
  cached_.clear();
  // A final checkpoint keeps the WAL small between runs.
  writer_->Exec("PRAGMA wal_checkpoint(TRUNCATE)").IgnoreError();
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  OCX_ASSIGN_OR_RETURN(auto writer, Connection::Open(path, false));
  OCX_RETURN_IF_ERROR(Annotate(MigrateSchema(writer.get()), path));
  std::unique_ptr<Store> store(new Store(path, std::move(writer)));
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
  return committed;
}
void Store::Rollback() { writer_->Exec("ROLLBACK").IgnoreError(); }
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

absl::StatusOr<std::unique_ptr<Connection>> Store::TakeReader() {
  {
    absl::MutexLock lock(&readers_mu_);
    if (!readers_.empty()) {
      auto conn = std::move(readers_.back());
      readers_.pop_back();
      return conn;
    }
  }
  return Connection::Open(path_, /*read_only=*/true);
}

absl::StatusOr<Store::ReadConnection> Store::Reader() {
  OCX_ASSIGN_OR_RETURN(auto raw, TakeReader());
  return ReadConnection(this, std::move(raw));
}

void Store::ReturnReader(std::unique_ptr<Connection> conn) {
  absl::MutexLock lock(&readers_mu_);
  if (readers_.size() < 8) readers_.push_back(std::move(conn));
}

}  // namespace ocx::store
