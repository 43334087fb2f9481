#include "common/work_dir_layout.h"

#include "absl/strings/str_cat.h"
#include "common/file_util.h"

namespace ocx::layout {

std::string StageName(ocx::v1::Stage stage) {
  return stage == ocx::v1::STAGE_INFER ? "infer" : "eval";
}

std::string PartAbbr(absl::string_view dataset_abbr, int64_t part) {
  return absl::StrCat(dataset_abbr, "_", part);
}

std::string PredictionFile(absl::string_view model_abbr,
                           absl::string_view part_abbr) {
  return absl::StrCat("predictions/", model_abbr, "/", part_abbr, ".json");
}

std::string ResultFile(absl::string_view model_abbr,
                       absl::string_view dataset_abbr) {
  return absl::StrCat("results/", model_abbr, "/", dataset_abbr, ".json");
}

std::string InWorkDir(absl::string_view work_dir, absl::string_view relative) {
  if (!relative.empty() && relative.front() == '/') {
    return std::string(relative);
  }
  return JoinPath(work_dir, relative);
}

std::string ConfigsDir(absl::string_view work_dir) {
  return JoinPath(work_dir, "configs");
}

std::string SummaryDir(absl::string_view work_dir) {
  return JoinPath(work_dir, "summary");
}

std::vector<std::string> SummaryFiles(absl::string_view work_dir) {
  const std::string dir = SummaryDir(work_dir);
  return {JoinPath(dir, "summary.txt"), JoinPath(dir, "summary.csv"),
          JoinPath(dir, "summary.md")};
}

std::string AttemptLogFile(absl::string_view work_dir, ocx::v1::Stage stage,
                           absl::string_view model_abbr,
                           absl::string_view task_id, int attempt) {
  return JoinPath(work_dir,
                  absl::StrCat("logs/", StageName(stage), "/", model_abbr, "/",
                               task_id, ".", attempt, ".out"));
}

std::string TaskDir(absl::string_view work_dir, absl::string_view task_id) {
  return JoinPath(work_dir, absl::StrCat(".ocx/tasks/", task_id));
}

std::string TaskJsonFile(absl::string_view work_dir,
                         absl::string_view task_id) {
  return JoinPath(TaskDir(work_dir, task_id), "task.json");
}

std::string AttemptDir(absl::string_view work_dir, absl::string_view task_id,
                       int attempt) {
  return JoinPath(TaskDir(work_dir, task_id), absl::StrCat(attempt));
}

std::string ErrorRecordFileIn(absl::string_view attempt_dir) {
  return JoinPath(attempt_dir, "error.json");
}

std::string ProgressFileIn(absl::string_view task_dir) {
  return JoinPath(task_dir, "progress.json");
}

std::string JournalDirIn(absl::string_view task_dir) {
  return JoinPath(task_dir, "journal");
}

std::string JournalFileIn(absl::string_view task_dir,
                          absl::string_view part_abbr) {
  return JoinPath(JournalDirIn(task_dir), absl::StrCat(part_abbr, ".jsonl"));
}

std::string ReplicaDir(absl::string_view serving_dir,
                       absl::string_view replica_id) {
  return JoinPath(serving_dir, replica_id);
}

std::string ReplicaAttemptDir(absl::string_view serving_dir,
                              absl::string_view replica_id, int attempt) {
  return JoinPath(ReplicaDir(serving_dir, replica_id),
                  absl::StrCat("attempt-", attempt));
}

std::string ReplicaLogFile(absl::string_view serving_dir,
                           absl::string_view replica_id, int attempt) {
  return JoinPath(ReplicaDir(serving_dir, replica_id),
                  absl::StrCat("attempt-", attempt, ".log"));
}

}  // namespace ocx::layout
