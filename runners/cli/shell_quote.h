// Quoting for the shell lines that remote backends run (a DLC job's
// command, a Slurm batch script): config strings become words, never code.
#ifndef OCX_RUNNERS_CLI_SHELL_QUOTE_H_
#define OCX_RUNNERS_CLI_SHELL_QUOTE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace ocx::runners {

// `s` as one POSIX shell word: unchanged when it is non-empty and made only
// of [A-Za-z0-9_./:@%+,-], else in single quotes with each ' written as '\''.
// The result never expands, substitutes or splits, whatever `s` holds
// (except NUL, which no shell word can carry).
std::string ShellQuote(absl::string_view s);

}  // namespace ocx::runners

#endif  // OCX_RUNNERS_CLI_SHELL_QUOTE_H_
