// Gauges refilled from the store at each scrape: tasks by stage and state,
// evaluations and model-server replicas by state, and the queue depth
// (READY tasks: runnable, waiting for a slot). One read transaction per
// scrape, on the scraping thread; the dispatcher is not involved.
#ifndef OCX_SERVER_HTTP_STORE_METRICS_H_
#define OCX_SERVER_HTTP_STORE_METRICS_H_

#include "server/store/store.h"

namespace ocx::server {

// Registers the collector; `store` must outlive every later scrape.
void RegisterStoreMetrics(store::Store* store);

}  // namespace ocx::server

#endif  // OCX_SERVER_HTTP_STORE_METRICS_H_
