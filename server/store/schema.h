// The database schema and its forward migrations, versioned with
// PRAGMA user_version. Migration i takes the schema from version i to i+1;
// migrations are never edited once released, only appended.
#ifndef OCX_SERVER_STORE_SCHEMA_H_
#define OCX_SERVER_STORE_SCHEMA_H_

#include "absl/status/status.h"
#include "server/store/sqlite.h"

namespace ocx::store {

// The version this build writes.
int LatestSchemaVersion();

// Brings the database to LatestSchemaVersion() in one transaction per step.
// FAILED_PRECONDITION when the file is newer than this build understands.
absl::Status MigrateSchema(Connection* conn);

// Brings the database up to `version` (<= LatestSchemaVersion()) and no
// further: tests make a database as an older release left it.
absl::Status MigrateSchemaTo(Connection* conn, int version);

}  // namespace ocx::store

#endif  // OCX_SERVER_STORE_SCHEMA_H_
