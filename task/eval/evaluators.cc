#include "task/eval/evaluators.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "task/eval/postprocessors.h"

namespace ocx::task::eval {
namespace {

absl::Status RequireSamples(const std::vector<EvalSample>& samples,
                            absl::string_view evaluator) {
  if (samples.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(evaluator, ": there are no samples to evaluate"));
  }
  for (size_t i = 0; i < samples.size(); ++i) {
    if (samples[i].golds.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          evaluator, ": sample ", i,
          " has no gold answer (set the dataset's reader_cfg.output_column)"));
    }
  }
  return absl::OkStatus();
}

double Percent(size_t part, size_t whole) {
  return 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

double FMeasure(double overlap, size_t pred_len, size_t ref_len) {
  if (pred_len == 0 || ref_len == 0 || overlap == 0) return 0;
  const double p = overlap / static_cast<double>(pred_len);
  const double r = overlap / static_cast<double>(ref_len);
  return 2 * p * r / (p + r);
}

using NgramCounts = std::map<std::vector<std::string>, int>;

NgramCounts Ngrams(const std::vector<std::string>& tokens, size_t n) {
  NgramCounts counts;
  for (size_t i = 0; i + n <= tokens.size(); ++i) {
    ++counts[std::vector<std::string>(tokens.begin() + i,
                                      tokens.begin() + i + n)];
  }
  return counts;
}

// Clipped overlap: each n-gram counts at most as often as in the other.
int Overlap(const NgramCounts& a, const NgramCounts& b) {
  int overlap = 0;
  for (const auto& [gram, count] : a) {
    auto it = b.find(gram);
    if (it != b.end()) overlap += std::min(count, it->second);
  }
  return overlap;
}

double RougeN(const std::vector<std::string>& pred,
              const std::vector<std::string>& ref, size_t n) {
  const size_t pn = pred.size() >= n ? pred.size() - n + 1 : 0;
  const size_t rn = ref.size() >= n ? ref.size() - n + 1 : 0;
  return FMeasure(Overlap(Ngrams(pred, n), Ngrams(ref, n)), pn, rn);
}

size_t LcsLength(const std::vector<std::string>& a,
                 const std::vector<std::string>& b) {
  std::vector<size_t> prev(b.size() + 1, 0), cur(b.size() + 1, 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1
                                    : std::max(prev[j], cur[j - 1]);
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

absl::StatusOr<Scores> AccuracyScores(const std::vector<EvalSample>& samples) {
  absl::Status ok = RequireSamples(samples, "AccEvaluator");
  if (!ok.ok()) return ok;
  Scores out;
  size_t right = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    if (samples[i].gold_is_list) {
      return absl::InvalidArgumentError(absl::StrCat(
          "AccEvaluator: the gold of sample ", i,
          " is a list; AccEvaluator compares one value (use EMEvaluator for "
          "several accepted answers)"));
    }
    const bool correct = samples[i].prediction == samples[i].golds[0];
    out.correct.push_back(correct);
    right += correct;
  }
  out.metrics.emplace_back("accuracy", Percent(right, samples.size()));
  return out;
}

absl::StatusOr<Scores> Gsm8kScores(const std::vector<EvalSample>& samples) {
  absl::Status ok = RequireSamples(samples, "Gsm8kEvaluator");
  if (!ok.ok()) return ok;
  Scores out;
  size_t right = 0;
  for (const EvalSample& s : samples) {
    double p = 0, g = 0;
    const std::string& gold = s.golds[0];
    const bool correct =
        absl::SimpleAtod(s.prediction, &p) && absl::SimpleAtod(gold, &g)
            ? std::fabs(p - g) < 1e-6
            : s.prediction == gold;
    out.correct.push_back(correct);
    right += correct;
  }
  out.metrics.emplace_back("accuracy", Percent(right, samples.size()));
  return out;
}

absl::StatusOr<Scores> ExactMatchScores(
    const std::vector<EvalSample>& samples) {
  absl::Status ok = RequireSamples(samples, "EMEvaluator");
  if (!ok.ok()) return ok;
  Scores out;
  size_t right = 0;
  for (const EvalSample& s : samples) {
    const std::string pred = GeneralPostprocess(s.prediction);
    bool correct = false;
    for (const std::string& gold : s.golds) {
      if (pred == gold || pred == GeneralPostprocess(gold)) correct = true;
    }
    out.correct.push_back(correct);
    right += correct;
  }
  out.metrics.emplace_back("score", Percent(right, samples.size()));
  return out;
}

std::vector<std::string> RougeTokens(absl::string_view text) {
  std::vector<std::string> tokens;
  std::string cur;
  for (char c : text) {
    const char l = absl::ascii_tolower(static_cast<unsigned char>(c));
    if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9')) {
      cur.push_back(l);
    } else if (!cur.empty()) {
      tokens.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) tokens.push_back(std::move(cur));
  return tokens;
}

absl::StatusOr<Scores> RougeScores(const std::vector<EvalSample>& samples) {
  absl::Status ok = RequireSamples(samples, "RougeEvaluator");
  if (!ok.ok()) return ok;
  Scores out;
  double r1 = 0, r2 = 0, rl = 0;
  for (const EvalSample& s : samples) {
    const std::vector<std::string> pred = RougeTokens(s.prediction);
    double best1 = 0, best2 = 0, bestl = 0;
    for (const std::string& gold : s.golds) {
      const std::vector<std::string> ref = RougeTokens(gold);
      best1 = std::max(best1, RougeN(pred, ref, 1));
      best2 = std::max(best2, RougeN(pred, ref, 2));
      bestl =
          std::max(bestl, FMeasure(static_cast<double>(LcsLength(pred, ref)),
                                   pred.size(), ref.size()));
    }
    r1 += best1;
    r2 += best2;
    rl += bestl;
    out.sample_scores.push_back(100 * bestl);
  }
  const double n = static_cast<double>(samples.size());
  out.metrics.emplace_back("rouge1", 100 * r1 / n);
  out.metrics.emplace_back("rouge2", 100 * r2 / n);
  out.metrics.emplace_back("rougeL", 100 * rl / n);
  return out;
}

std::vector<std::string> Bleu13aTokens(absl::string_view text) {
  std::string line(text);
  absl::StrReplaceAll({{"<skipped>", ""}, {"-\n", ""}}, &line);
  absl::StrReplaceAll({{"\n", " "}}, &line);
  if (line.find('&') != std::string::npos) {
    absl::StrReplaceAll({{"&quot;", "\""}}, &line);
    absl::StrReplaceAll({{"&amp;", "&"}}, &line);
    absl::StrReplaceAll({{"&lt;", "<"}}, &line);
    absl::StrReplaceAll({{"&gt;", ">"}}, &line);
  }
  line = " " + line + " ";
  static const auto* rules =
      new std::vector<std::pair<std::regex, std::string>>{
          // Punctuation and symbols: {|}~ [\]^_` space!"#$%& ()*+ :;<=>?@ /
          {std::regex(R"(([\{-\~\[-\` -\&\(-\+\:-\@\/]))"), " $1 "},
          // Period and comma unless preceded by a digit ...
          {std::regex(R"(([^0-9])([\.,]))"), "$1 $2 "},
          // ... or followed by one.
          {std::regex(R"(([\.,])([^0-9]))"), " $1 $2"},
          // A dash after a digit.
          {std::regex(R"(([0-9])(-))"), "$1 $2 "},
      };
  for (const auto& [re, repl] : *rules)
    line = std::regex_replace(line, re, repl);
  return absl::StrSplit(line, absl::ByAnyChar(" \t\n\r\f\v"),
                        absl::SkipEmpty());
}

absl::StatusOr<Scores> BleuScores(const std::vector<EvalSample>& samples) {
  absl::Status ok = RequireSamples(samples, "BleuEvaluator");
  if (!ok.ok()) return ok;
  constexpr int kOrder = 4;
  int64_t correct[kOrder] = {0, 0, 0, 0};
  int64_t total[kOrder] = {0, 0, 0, 0};
  int64_t sys_len = 0, ref_len = 0;
  Scores out;
  for (const EvalSample& s : samples) {
    const std::vector<std::string> hyp = Bleu13aTokens(s.prediction);
    const std::vector<std::string> ref = Bleu13aTokens(s.golds[0]);
    sys_len += static_cast<int64_t>(hyp.size());
    ref_len += static_cast<int64_t>(ref.size());
    for (int n = 1; n <= kOrder; ++n) {
      if (hyp.size() >= static_cast<size_t>(n)) {
        total[n - 1] += static_cast<int64_t>(hyp.size()) - n + 1;
      }
      correct[n - 1] += Overlap(Ngrams(hyp, n), Ngrams(ref, n));
    }
  }
  // sacrebleu's compute_bleu with smooth_method "exp".
  double precisions[kOrder] = {0, 0, 0, 0};
  double smooth = 1;
  for (int n = 0; n < kOrder; ++n) {
    if (total[n] == 0) break;
    if (correct[n] == 0) {
      smooth *= 2;
      precisions[n] = 100.0 / (smooth * static_cast<double>(total[n]));
    } else {
      precisions[n] = 100.0 * static_cast<double>(correct[n]) /
                      static_cast<double>(total[n]);
    }
  }
  double score = 0;
  if (sys_len > 0) {
    const double bp = sys_len < ref_len
                          ? std::exp(1 - static_cast<double>(ref_len) /
                                             static_cast<double>(sys_len))
                          : 1.0;
    double log_sum = 0;
    bool zero = false;
    for (double p : precisions) {
      if (p <= 0)
        zero = true;
      else
        log_sum += std::log(p);
    }
    score = zero ? 0 : bp * std::exp(log_sum / kOrder);
  }
  out.metrics.emplace_back("score", score);
  return out;
}

absl::StatusOr<Evaluator> GetEvaluator(absl::string_view type) {
  if (type == "AccEvaluator") return Evaluator(AccuracyScores);
  if (type == "EMEvaluator") return Evaluator(ExactMatchScores);
  if (type == "RougeEvaluator") return Evaluator(RougeScores);
  if (type == "BleuEvaluator") return Evaluator(BleuScores);
  if (type == "Gsm8kEvaluator") return Evaluator(Gsm8kScores);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown evaluator type \"", type,
                   "\" (known: ", absl::StrJoin(KnownEvaluators(), ", "), ")"));
}

}  // namespace ocx::task::eval
