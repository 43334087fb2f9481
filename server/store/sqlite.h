// A minimal RAII layer over the SQLite C API: a connection and prepared
// statements, with SQLite errors turned into absl::Status in one place.
// Thread-compatible: one thread uses a Connection (and its Statements) at a
// time.
#ifndef OCX_SERVER_STORE_SQLITE_H_
#define OCX_SERVER_STORE_SQLITE_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ocx::store {

// Maps a SQLite result code to a Status: SQLITE_BUSY/LOCKED → ABORTED
// (retry the transaction), SQLITE_CONSTRAINT → ALREADY_EXISTS, SQLITE_FULL →
// RESOURCE_EXHAUSTED, others → INTERNAL. The message names `context`.
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view context);

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Bind by 1-based index. Strings and blobs are copied.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, absl::string_view text);
  Statement& BindBlob(int index, absl::string_view blob);
  Statement& BindNull(int index);
  // Not copied: the bytes must stay unchanged until the next Reset or
  // bind of `index` (for rows bound straight from a caller's buffers).
  Statement& BindTextStatic(int index, absl::string_view text);
  Statement& BindBlobStatic(int index, absl::string_view blob);

  // Advances: true with a row, false when done.
  absl::StatusOr<bool> Step();
  // Steps to completion, for statements without rows.
  absl::Status Run();
  // Clears bindings and rewinds so the statement can run again.
  void Reset();

  int64_t ColumnInt(int col) const;
  bool ColumnIsNull(int col) const;
  std::string ColumnText(int col) const;
  std::string ColumnBlob(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class Connection {
 public:
  // Opens (creating if missing) the database file with WAL, NORMAL sync,
  // foreign keys on and a busy timeout.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const std::string& path, bool read_only);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  absl::Status Exec(absl::string_view sql);
  // A statement prepared for reuse.
  absl::StatusOr<std::unique_ptr<Statement>> Prepare(absl::string_view sql);
  int64_t LastInsertRowId() const;
  int Changes() const;
  sqlite3* raw() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

}  // namespace ocx::store

#endif  // OCX_SERVER_STORE_SQLITE_H_
