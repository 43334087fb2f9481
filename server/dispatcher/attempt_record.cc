#include "server/dispatcher/attempt_record.h"

#include "common/time_util.h"

namespace ocx::server {

store::AttemptRecord LaunchingAttempt(const runners::LaunchSpec& spec,
                                      const std::string& backend, int64_t now) {
  store::AttemptRecord rec;
  rec.attempt_dir = spec.attempt_dir;
  ocx::v1::Attempt& a = rec.attempt;
  a.set_task_id(spec.key.task_id);
  a.set_number(spec.key.attempt);
  a.set_state(ocx::v1::Attempt::LAUNCHING);
  a.set_name(spec.name);
  a.set_backend(backend);
  a.set_log_path(spec.log_path);
  for (int g : spec.gpus) a.add_gpus(g);
  SetTimestamp(now, a.mutable_start_time());
  return rec;
}

}  // namespace ocx::server
