// Each backend's config module (runners/<backend>/config.h): type names,
// stage defaults, and the options built from the daemon's settings.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runners/dlc/config.h"
#include "runners/local/config.h"
#include "runners/slurm/config.h"

namespace ocx::runners {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(RunnerConfigTest, StageDefaultsPerBackend) {
  ocx::v1::RunnerConfig r;
  local::ApplyStageDefaults(&r);
  EXPECT_EQ(r.max_num_workers(), 16);
  EXPECT_EQ(r.max_workers_per_gpu(), 1);
  for (auto apply : {slurm::ApplyStageDefaults, dlc::ApplyStageDefaults}) {
    ocx::v1::RunnerConfig c;
    apply(&c);
    EXPECT_EQ(c.max_num_workers(), 32);
    EXPECT_EQ(c.max_workers_per_gpu(), 0);
    c.set_max_num_workers(3);
    apply(&c);
    EXPECT_EQ(c.max_num_workers(), 3);
  }
  EXPECT_STREQ(local::kRunnerType, "LocalRunner");
  EXPECT_STREQ(slurm::kRunnerType, "SlurmRunner");
  EXPECT_STREQ(dlc::kRunnerType, "DLCRunner");
}

TEST(RunnerConfigTest, StageFieldsSetInDeclarationOrder) {
  ocx::v1::RunnerConfig r;
  EXPECT_THAT(slurm::StageFieldsSet(r), IsEmpty());
  EXPECT_THAT(dlc::StageFieldsSet(r), IsEmpty());
  r.set_max_pending(2);
  r.set_qos("high");
  r.set_preemptible(true);
  r.mutable_aliyun_cfg();
  EXPECT_THAT(slurm::StageFieldsSet(r), ElementsAre("qos", "max_pending"));
  EXPECT_THAT(dlc::StageFieldsSet(r), ElementsAre("aliyun_cfg", "preemptible"));
  EXPECT_THAT(local::StageFieldsSet(r), IsEmpty());
}

TEST(RunnerConfigTest, DlcStageErrorsNameTheField) {
  ocx::v1::RunnerConfig r;
  EXPECT_EQ(dlc::ValidateStageRunner(r, "infer.runner").message(),
            "infer.runner.aliyun_cfg: required for DLCRunner (workspace_id, "
            "worker_image, dlc_config_path, ...)");
  r.mutable_aliyun_cfg()->set_dlc_config_path("/etc/dlc.cfg");
  EXPECT_EQ(dlc::ValidateStageRunner(r, "infer.runner").message(),
            "infer.runner.aliyun_cfg.workspace_id: required for DLCRunner");
}

TEST(RunnerConfigTest, SlurmOptionsFromSettings) {
  ocx::v1::SlurmRunnerSettings s;
  slurm::RunnerOptions d = slurm::OptionsFromSettings(s, "/base");
  EXPECT_EQ(d.sbatch, "sbatch");
  EXPECT_EQ(d.call_initial_backoff_ms, 1000);
  EXPECT_EQ(d.call_max_backoff_ms, 30000);
  EXPECT_EQ(d.max_parallel, 0);
  EXPECT_EQ(d.max_resubmits, 3);
  s.set_sbatch_path("bin/sbatch");
  s.set_squeue_path("squeue2");
  s.set_call_initial_backoff_ms(50000);  // max follows initial up
  s.set_max_parallel(7);
  s.set_max_resubmits(0);
  slurm::RunnerOptions o = slurm::OptionsFromSettings(s, "/base");
  EXPECT_EQ(o.sbatch, "/base/bin/sbatch");
  EXPECT_EQ(o.squeue, "squeue2");
  EXPECT_EQ(o.call_initial_backoff_ms, 50000);
  EXPECT_EQ(o.call_max_backoff_ms, 50000);
  EXPECT_EQ(o.max_parallel, 7);
  EXPECT_EQ(o.max_resubmits, 0);
}

TEST(RunnerConfigTest, DlcOptionsFromSettings) {
  ocx::v1::DlcRunnerSettings s;
  dlc::RunnerOptions d = dlc::OptionsFromSettings(s, "/base");
  EXPECT_EQ(d.dlc_path, "dlc");
  EXPECT_EQ(d.max_resubmits, 3);
  EXPECT_EQ(d.log_interval_ms, 30000);
  s.set_dlc_path("./dlc");
  s.set_max_resubmits(0);
  s.set_log_interval_ms(0);
  s.set_call_initial_backoff_ms(10);
  s.set_call_max_backoff_ms(20);
  s.set_max_parallel(5);
  dlc::RunnerOptions o = dlc::OptionsFromSettings(s, "/base");
  EXPECT_EQ(o.dlc_path, "/base/dlc");
  EXPECT_EQ(o.max_resubmits, 0);
  EXPECT_EQ(o.log_interval_ms, 0);
  EXPECT_EQ(o.call_initial_backoff_ms, 10);
  EXPECT_EQ(o.call_max_backoff_ms, 20);
  EXPECT_EQ(o.max_parallel, 5);
}

TEST(RunnerConfigTest, LocalOptionsFromSettings) {
  ocx::v1::LocalRunnerSettings s;
  local::RunnerOptions d = local::OptionsFromSettings(s, {4, 5}, "/x/shim");
  EXPECT_EQ(d.shim_path, "/x/shim");
  EXPECT_THAT(d.gpus, ElementsAre(4, 5));
  EXPECT_EQ(d.kill_grace_s, 10);
  s.set_shim_path("/y/shim");
  s.set_kill_grace_s(3);
  s.set_max_parallel(2);
  local::RunnerOptions o = local::OptionsFromSettings(s, {}, "/x/shim");
  EXPECT_EQ(o.shim_path, "/y/shim");
  EXPECT_EQ(o.kill_grace_s, 3);
  EXPECT_EQ(o.max_parallel, 2);
  EXPECT_EQ(local::ValidateSettings(s).message(), "");
  s.set_gpus("1,1");
  EXPECT_EQ(local::ValidateSettings(s).message(),
            "local.gpus: duplicate GPU id 1");
}

}  // namespace
}  // namespace ocx::runners
