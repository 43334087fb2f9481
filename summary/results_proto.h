// SummaryTable <-> ocx.v1.EvaluationResults, for the API (ocxd fills the
// message) and ocxctl (renders it with the same renderers as the files).
//
// Thread-safe: no shared state.
#ifndef OCX_SUMMARY_RESULTS_PROTO_H_
#define OCX_SUMMARY_RESULTS_PROTO_H_

#include "ocx/v1/resources.pb.h"
#include "summary/summary_table.h"

namespace ocx::summary {

ocx::v1::EvaluationResults ToProto(const SummaryTable& table);
SummaryTable FromProto(const ocx::v1::EvaluationResults& results);

}  // namespace ocx::summary

#endif  // OCX_SUMMARY_RESULTS_PROTO_H_
