// Slurm job arrays (docs/slurm.md, "Job arrays"), as pure functions: the
// manifest that maps array indices to attempts, the wrapper script every
// element runs, the `--array` range, and element ids ("<array>_<index>",
// how squeue, sacct and scancel name one element).
//
// An array of N attempts is one sbatch of the wrapper with --array=0-(N-1);
// element i reads line i+1 of the manifest (an attempt dir) and runs that
// attempt's own batch script, which sends its output to the attempt's log.
//
// Nothing here runs a process or touches a file. Thread-safe: no shared
// state.
#ifndef OCX_RUNNERS_SLURM_SLURM_ARRAY_H_
#define OCX_RUNNERS_SLURM_SLURM_ARRAY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ocx::runners::slurm {

// The per-attempt batch script, in each attempt dir.
inline constexpr char kScriptFile[] = "slurm-job.sh";
// Set by the wrapper for the attempt's script: "you are an array element".
inline constexpr char kArrayEnv[] = "OCX_SLURM_ARRAY";

// One attempt dir a line. INVALID_ARGUMENT when a dir is empty, relative or
// holds a newline (it could not be one line).
absl::StatusOr<std::string> ArrayManifest(
    const std::vector<std::string>& attempt_dirs);

// False for a dir that cannot be a manifest line (such an attempt is
// submitted on its own).
bool FitsManifest(absl::string_view attempt_dir);

// The wrapper script (#!/bin/sh) of an array whose manifest is at
// `manifest_path`: element $SLURM_ARRAY_TASK_ID runs the kScriptFile of
// manifest line $SLURM_ARRAY_TASK_ID + 1 with kArrayEnv=1.
std::string ArrayScript(const std::string& manifest_path);

// "0-(n-1)%throttle" for n > 0 elements; without "%..." when throttle <= 0
// or >= n.
std::string ArrayRange(int n, int throttle);

// "<array id>_<index>".
std::string ElementId(absl::string_view array_id, int index);
// The index of an element id, -1 for a plain job id.
int ElementIndex(absl::string_view job_id);
// The array (or plain) job id: "123_4" → "123", "123" → "123".
std::string BaseJobId(absl::string_view job_id);

}  // namespace ocx::runners::slurm

#endif  // OCX_RUNNERS_SLURM_SLURM_ARRAY_H_
