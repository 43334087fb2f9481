// PrepareSubmission's input limits (docs/security.md, "Input limits"): the
// spec size and task count limits, task params by reference that expand to
// the full configs, and dataset files the caller could not read refused
// without being read (real users: run as root, else skipped).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/identity.h"
#include "common/read_access.h"
#include "common/task_params.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/submission.h"

namespace ocx::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ocxlim-XXXXXX";
    path_ = mkdtemp(tmpl);
    chmod(path_.c_str(), 0755);
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

ocx::v1::EvaluationSpec Spec(int models, int datasets) {
  ocx::v1::EvaluationSpec spec;
  for (int m = 0; m < models; ++m) {
    auto* model = spec.add_models();
    model->set_abbr(absl::StrCat("m", m));
    model->set_type("OpenAISDK");
    model->set_path("p");
    model->set_max_out_len(77);
  }
  for (int d = 0; d < datasets; ++d) {
    auto* ds = spec.add_datasets();
    ds->set_abbr(absl::StrCat("d", d));
    ds->set_path(absl::StrCat("/data/d", d, ".jsonl"));
    ds->set_size(100);
    ds->mutable_reader_cfg()->add_input_columns("question");
  }
  for (auto* stage : {spec.mutable_infer(), spec.mutable_eval()}) {
    stage->mutable_runner()->mutable_task()->set_type("command");
    stage->mutable_runner()->mutable_task()->add_argv("/bin/true");
  }
  return spec;
}

absl::StatusOr<Submission> Prepare(const ocx::v1::EvaluationSpec& spec,
                                   const SubmissionPolicy& policy) {
  return PrepareSubmission(spec, "", "", "e1", policy, false);
}

TEST(SubmissionLimitsTest, SpecAboveMaxSpecBytesIsRefusedFirst) {
  ocx::v1::EvaluationSpec spec = Spec(1, 1);
  spec.mutable_models(0)->set_path(std::string(5000, 'p'));
  SubmissionPolicy policy;
  policy.work_root = "/tmp/w";
  policy.limits.set_max_spec_bytes(4096);
  absl::StatusOr<Submission> sub = Prepare(spec, policy);
  EXPECT_EQ(sub.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(sub.status().message(),
              HasSubstr(absl::StrCat("spec: ", spec.ByteSizeLong(),
                                     " bytes is larger than the limit of 4096 "
                                     "bytes (limits.max_spec_bytes")));
  // Checked before validation: an invalid spec of that size says the same.
  spec.mutable_models(0)->clear_abbr();
  EXPECT_THAT(Prepare(spec, policy).status().message(),
              HasSubstr("limits.max_spec_bytes"));
}

TEST(SubmissionLimitsTest, PlanAboveMaxTasksIsRefusedNamingCountAndLimit) {
  SubmissionPolicy policy;
  policy.work_root = "/tmp/w";
  policy.limits.set_max_tasks_per_evaluation(50);
  // 5 x 6 = 30 infer tasks: above the limit once eval's 30 are added.
  absl::StatusOr<Submission> sub = Prepare(Spec(5, 6), policy);
  EXPECT_EQ(sub.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(sub.status().message(),
              HasSubstr("has 60 tasks, more than the limit of 50 "
                        "(limits.max_tasks_per_evaluation"));
  // 8 x 8 = 64 infer tasks: refused before the eval stage is planned.
  sub = Prepare(Spec(8, 8), policy);
  EXPECT_THAT(sub.status().message(), HasSubstr("has at least 64 tasks"));
  EXPECT_TRUE(Prepare(Spec(5, 5), policy).ok());
}

// Tasks hold references; expanded, they are the configs of the spec as
// stored (defaults applied), with the part's abbr and range.
TEST(SubmissionLimitsTest, TaskParamsReferToTheSpecAndExpandToIt) {
  ocx::v1::EvaluationSpec spec = Spec(2, 3);
  spec.mutable_datasets(1)->set_size(1000);
  auto* p = spec.mutable_infer()->mutable_partitioner();
  p->set_type("SizePartitioner");
  p->set_max_task_size(3000);  // d1 (cost 20 x 1000) is split
  SubmissionPolicy policy;
  policy.work_root = "/tmp/w";
  absl::StatusOr<Submission> sub = Prepare(spec, policy);
  ASSERT_TRUE(sub.ok()) << sub.status();
  const ocx::v1::EvaluationSpec& stored = sub->evaluation.spec();
  bool saw_part = false;
  for (const ocx::v1::Task& t : sub->task_rows) {
    const ocx::v1::TaskParams& compact = t.params();
    ASSERT_TRUE(compact.has_refs()) << t.id();
    EXPECT_FALSE(compact.has_task());
    EXPECT_EQ(compact.model().max_out_len(), 0);  // a stub: abbr only
    ocx::v1::TaskParams full = compact;
    ASSERT_TRUE(ExpandTaskParams(stored, &full).ok());
    EXPECT_FALSE(full.has_refs());
    EXPECT_EQ(full.model().SerializeAsString(),
              stored.models(compact.refs().model()).SerializeAsString());
    EXPECT_EQ(
        full.task().SerializeAsString(),
        (t.stage() == ocx::v1::STAGE_INFER ? stored.infer() : stored.eval())
            .runner()
            .task()
            .SerializeAsString());
    for (int i = 0; i < full.datasets_size(); ++i) {
      ocx::v1::DatasetConfig want = stored.datasets(compact.refs().datasets(i));
      const ocx::v1::DatasetConfig& got = full.datasets(i).config();
      EXPECT_EQ(got.abbr(), compact.datasets(i).config().abbr());
      EXPECT_EQ(got.reader_cfg().test_range(),
                compact.datasets(i).config().reader_cfg().test_range());
      if (full.datasets(i).num_parts() > 1) {
        saw_part = true;
        EXPECT_THAT(got.reader_cfg().test_range(), HasSubstr("["));
      }
      want.set_abbr(got.abbr());
      want.mutable_reader_cfg()->set_test_range(got.reader_cfg().test_range());
      EXPECT_EQ(got.SerializeAsString(), want.SerializeAsString());
    }
  }
  EXPECT_TRUE(saw_part);
}

// As root, for the unprivileged user ocxlim-a: a root-only dataset file
// (or one in a root-only directory) is refused naming the field and path,
// and is not read.
TEST(SubmissionLimitsTest, DatasetTheCallerCannotReadIsRefused) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to create the user ocxlim-a and a root-only "
                    "file (running as uid "
                 << geteuid() << ")";
  }
  if (!IdentityOfUser("ocxlim-a", "").ok()) {
    ASSERT_EQ(std::system("useradd --system --no-create-home ocxlim-a "
                          ">/dev/null 2>&1"),
              0);
  }
  absl::StatusOr<Identity> caller = IdentityOfUser("ocxlim-a", "");
  ASSERT_TRUE(caller.ok()) << caller.status();
  TempDir dir;
  const std::string path = dir.path() + "/secret.jsonl";
  std::ofstream(path) << "{\"question\": \"root:$6$hash\"}\n";
  ASSERT_EQ(chown(path.c_str(), 0, 0), 0);
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  ocx::v1::EvaluationSpec spec = Spec(1, 1);
  spec.mutable_datasets(0)->clear_size();
  spec.mutable_datasets(0)->set_path(path);
  spec.mutable_infer()->mutable_partitioner()->set_type("SizePartitioner");
  SubmissionPolicy policy;
  policy.work_root = "/tmp/w";
  policy.caller = &*caller;
  absl::StatusOr<Submission> sub = Prepare(spec, policy);
  EXPECT_EQ(sub.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(sub.status().message(),
              HasSubstr(absl::StrCat("datasets[0].path: ", path,
                                     " is not readable by user ocxlim-a")));
  EXPECT_THAT(sub.status().message(), Not(HasSubstr("hash")));
  // Without a caller (the daemon's own account), or once readable, it
  // plans.
  policy.caller = nullptr;
  EXPECT_TRUE(Prepare(spec, policy).ok());
  policy.caller = &*caller;
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  sub = Prepare(spec, policy);
  EXPECT_TRUE(sub.ok()) << sub.status();
  // A directory on the way the caller cannot search.
  ASSERT_EQ(chmod(dir.path().c_str(), 0700), 0);
  sub = Prepare(spec, policy);
  EXPECT_EQ(sub.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(sub.status().message(),
              HasSubstr(absl::StrCat("the directory ", dir.path(),
                                     " is not searchable")));
  // Through a symbolic link in a directory the caller may search.
  ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  TempDir open_dir;
  const std::string link = open_dir.path() + "/link.jsonl";
  ASSERT_EQ(symlink(path.c_str(), link.c_str()), 0);
  EXPECT_EQ(CheckCallerMayRead(*caller, link, "f").code(),
            absl::StatusCode::kPermissionDenied);
  // Group bits count for the file's group.
  ASSERT_EQ(chown(path.c_str(), 0, caller->gid), 0);
  ASSERT_EQ(chmod(path.c_str(), 0640), 0);
  EXPECT_TRUE(CheckCallerMayRead(*caller, link, "f").ok());
}

}  // namespace
}  // namespace ocx::server
