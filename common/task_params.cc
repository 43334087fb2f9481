#include "common/task_params.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace ocx {

ocx::v1::ModelConfig ModelStub(const ocx::v1::ModelConfig& model) {
  ocx::v1::ModelConfig stub;
  stub.set_abbr(model.abbr());
  return stub;
}

ocx::v1::DatasetConfig DatasetStub(const ocx::v1::DatasetConfig& part) {
  ocx::v1::DatasetConfig stub;
  stub.set_abbr(part.abbr());
  if (part.has_reader_cfg() && !part.reader_cfg().test_range().empty()) {
    stub.mutable_reader_cfg()->set_test_range(part.reader_cfg().test_range());
  }
  return stub;
}

void FillTaskParamsIds(absl::string_view evaluation_id,
                       absl::string_view task_id, ocx::v1::Stage stage,
                       absl::string_view work_dir,
                       ocx::v1::TaskParams* params) {
  if (!params->has_refs()) return;
  if (params->evaluation_id().empty()) {
    params->set_evaluation_id(std::string(evaluation_id));
  }
  if (params->task_id().empty()) params->set_task_id(std::string(task_id));
  if (params->stage() == ocx::v1::STAGE_UNSPECIFIED) params->set_stage(stage);
  if (params->work_dir().empty()) params->set_work_dir(std::string(work_dir));
}

absl::Status ExpandTaskParams(const ocx::v1::EvaluationSpec& spec,
                              ocx::v1::TaskParams* params) {
  if (!params->has_refs()) return absl::OkStatus();
  const ocx::v1::ConfigRefs& refs = params->refs();
  auto bad = [&](const std::string& what) {
    return absl::InternalError(
        absl::StrCat("task ", params->task_id(), ": ", what,
                     " is not in the evaluation's spec (a damaged task row?)"));
  };
  if (refs.model() < 0 || refs.model() >= spec.models_size()) {
    return bad(absl::StrCat("model ", refs.model()));
  }
  if (refs.datasets_size() != params->datasets_size()) {
    return bad("a dataset reference");
  }
  for (int i = 0; i < params->datasets_size(); ++i) {
    const int di = refs.datasets(i);
    if (di < 0 || di >= spec.datasets_size()) {
      return bad(absl::StrCat("dataset ", di));
    }
    ocx::v1::DatasetConfig* config =
        params->mutable_datasets(i)->mutable_config();
    ocx::v1::DatasetConfig full = spec.datasets(di);
    full.set_abbr(config->abbr());
    const std::string& range = config->reader_cfg().test_range();
    if (range != full.reader_cfg().test_range()) {
      full.mutable_reader_cfg()->set_test_range(range);
    }
    *config = std::move(full);
  }
  *params->mutable_model() = spec.models(refs.model());
  *params->mutable_task() = params->stage() == ocx::v1::STAGE_EVAL
                                ? spec.eval().runner().task()
                                : spec.infer().runner().task();
  params->clear_refs();
  return absl::OkStatus();
}

}  // namespace ocx
