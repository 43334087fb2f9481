// Plans a prepared submission and stores it through the dispatcher, with a
// large plan streamed (issue 15: a million tasks per daemon). The calling
// thread plans; a plan of at most one chunk goes to Dispatcher::Submit
// whole, as PrepareSubmission's would. A larger one goes in chunks through
// a TaskRowsChannel (Submission::task_stream) while the dispatcher inserts
// the chunks before it, so that the create takes about the longer of
// planning and inserting instead of their sum, and the whole plan's rows
// (~465 bytes a task) are never held at once.
//
// Any error, the planner's or the store's, stores nothing (the dispatcher
// rolls the submission back) and stops the other side. A plan into a work
// dir that exists (keyed reuse may mark tasks) is planned whole first.
#ifndef OCX_SERVER_SUBMISSION_STREAM_H_
#define OCX_SERVER_SUBMISSION_STREAM_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "server/dispatcher/dispatcher.h"
#include "server/submission.h"

namespace ocx::server {

struct StreamOptions {
  // Rows per chunk: a plan of at most this many tasks is not streamed.
  size_t chunk_rows = 32768;
  // Chunks planned ahead of the inserts at most.
  size_t queued_chunks = 1;
};

// Plans `prepared` and stores it; returns Dispatcher::Submit's result (the
// evaluation id), or the planner's error.
absl::StatusOr<std::string> SubmitPlanned(PreparedSubmission prepared,
                                          Dispatcher* dispatcher,
                                          const StreamOptions& options = {});

}  // namespace ocx::server

#endif  // OCX_SERVER_SUBMISSION_STREAM_H_
