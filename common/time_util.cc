#include "common/time_util.h"

#include <chrono>

namespace ocx {

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void SetTimestamp(int64_t millis, google::protobuf::Timestamp* ts) {
  if (millis <= 0) {
    ts->Clear();
    return;
  }
  ts->set_seconds(millis / 1000);
  ts->set_nanos(static_cast<int32_t>((millis % 1000) * 1000000));
}

int64_t TimestampMillis(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1000 + ts.nanos() / 1000000;
}

}  // namespace ocx
