// Wall-clock helpers. Times are stored as milliseconds since the Unix epoch.
#ifndef OCX_COMMON_TIME_UTIL_H_
#define OCX_COMMON_TIME_UTIL_H_

#include <cstdint>

#include "google/protobuf/timestamp.pb.h"

namespace ocx {

int64_t NowMillis();

// Sets *ts from epoch milliseconds; clears it for 0 (unset).
void SetTimestamp(int64_t millis, google::protobuf::Timestamp* ts);

int64_t TimestampMillis(const google::protobuf::Timestamp& ts);

}  // namespace ocx

#endif  // OCX_COMMON_TIME_UTIL_H_
