// Evaluators on small cases whose values are worked out by hand in the
// comments.
#include "task/eval/evaluators.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ocx::task::eval {
namespace {

EvalSample S(std::string pred, std::string gold) {
  return EvalSample{std::move(pred), {std::move(gold)}, false};
}

double Metric(const Scores& s, const std::string& name) {
  for (const auto& [n, v] : s.metrics) {
    if (n == name) return v;
  }
  ADD_FAILURE() << "no metric " << name;
  return -1;
}

TEST(AccEvaluator, PercentOfExactMatches) {
  auto s = AccuracyScores({S("A", "A"), S("B", "B"), S("C", "D")});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_DOUBLE_EQ(Metric(*s, "accuracy"), 200.0 / 3);
  EXPECT_THAT(s->correct, ::testing::ElementsAre(true, true, false));
}

TEST(AccEvaluator, RefusesListGoldsEmptySetsAndMissingGolds) {
  EvalSample list{"A", {"A", "B"}, true};
  EXPECT_EQ(AccuracyScores({list}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AccuracyScores({}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EvalSample no_gold{"A", {}, false};
  auto s = AccuracyScores({no_gold});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("output_column"), std::string::npos);
}

TEST(Gsm8kEvaluator, ComparesNumbersAsNumbers) {
  // "18.0" == "18" numerically; "abc" vs "abc" as strings; 7 != 8.
  auto s =
      Gsm8kScores({S("18.0", "18"), S("abc", "abc"), S("7", "8"), S("", "8")});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_DOUBLE_EQ(Metric(*s, "accuracy"), 50);
  EXPECT_THAT(s->correct, ::testing::ElementsAre(true, true, false, false));
}

TEST(EMEvaluator, NormalizesPredictionAndAcceptsAnyAnswer) {
  // general_postprocess("The Eiffel Tower.") = "Eiffel Tower", which is the
  // first answer as written.
  EvalSample a{"The Eiffel Tower.", {"Eiffel Tower", "eiffel tower"}, true};
  EvalSample b{"Paris", {"London"}, false};
  EvalSample c{"an apple", {"The apple"}, false};  // both -> "apple"
  auto s = ExactMatchScores({a, b, c});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_DOUBLE_EQ(Metric(*s, "score"), 200.0 / 3);
  EXPECT_THAT(s->correct, ::testing::ElementsAre(true, false, true));
}

TEST(RougeEvaluator, HandComputedF) {
  // pred  the cat sat on the mat   (6 tokens)
  // ref   the cat is  on the mat   (6 tokens)
  // LCS: the cat on the mat = 5 -> P = R = F = 5/6.
  // unigrams: the x2, cat, on, mat = 5 -> F = 5/6.
  // bigrams: (the cat) (on the) (the mat) = 3 of 5 each -> F = 3/5.
  // Second sample shares nothing: all 0. Means over two samples.
  auto s = RougeScores({S("The cat sat on the mat.", "the cat is on the mat"),
                        S("hello world", "goodbye")});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_NEAR(Metric(*s, "rougeL"), 100 * (5.0 / 6) / 2, 1e-9);
  EXPECT_NEAR(Metric(*s, "rouge1"), 100 * (5.0 / 6) / 2, 1e-9);
  EXPECT_NEAR(Metric(*s, "rouge2"), 100 * (3.0 / 5) / 2, 1e-9);
  ASSERT_EQ(s->sample_scores.size(), 2u);
  EXPECT_NEAR(s->sample_scores[0], 100 * 5.0 / 6, 1e-9);
  EXPECT_EQ(s->sample_scores[1], 0);
}

TEST(RougeEvaluator, TokensAreLowercasedAlphanumericRuns) {
  EXPECT_THAT(RougeTokens("Hello, World! x-2"),
              ::testing::ElementsAre("hello", "world", "x", "2"));
}

TEST(BleuEvaluator, Tokenizer13a) {
  EXPECT_THAT(Bleu13aTokens("Hello, world."),
              ::testing::ElementsAre("Hello", ",", "world", "."));
  // Periods and commas inside numbers stay; a dash after a digit splits.
  EXPECT_THAT(
      Bleu13aTokens("3.5 and 1,000 a-b 3-4"),
      ::testing::ElementsAre("3.5", "and", "1,000", "a-b", "3", "-", "4"));
}

TEST(BleuEvaluator, HandComputedCorpusBleu) {
  // hyp the cat sat on the mat / ref the cat is on the mat (6 tokens each,
  // brevity penalty 1):
  //   1-grams 5/6, 2-grams 3/5, 3-grams 1/4 (on the mat),
  //   4-grams 0/3 -> "exp" smoothing: 100 / (2 * 3).
  // BLEU = (83.33 * 60 * 25 * 16.67) ^ (1/4) = 37.99...
  auto s = BleuScores({S("the cat sat on the mat", "the cat is on the mat")});
  ASSERT_TRUE(s.ok()) << s.status();
  const double expected =
      std::pow((100.0 * 5 / 6) * 60.0 * 25.0 * (100.0 / 6), 0.25);
  EXPECT_NEAR(Metric(*s, "score"), expected, 1e-9);
  EXPECT_NEAR(Metric(*s, "score"), 37.99, 0.01);

  auto same =
      BleuScores({S("the cat sat on the mat", "the cat sat on the mat")});
  ASSERT_TRUE(same.ok());
  EXPECT_NEAR(Metric(*same, "score"), 100, 1e-9);
}

TEST(BleuEvaluator, BrevityPenalty) {
  // hyp "the cat sat on" (4) vs ref "the cat sat on the mat" (6): all
  // precisions 100 -> BLEU = exp(1 - 6/4) * 100.
  auto s = BleuScores({S("the cat sat on", "the cat sat on the mat")});
  ASSERT_TRUE(s.ok());
  EXPECT_NEAR(Metric(*s, "score"), 100 * std::exp(1 - 6.0 / 4), 1e-9);
}

TEST(GetEvaluator, UnknownTypeNamesTheKnownOnes) {
  for (const std::string& name : KnownEvaluators()) {
    EXPECT_TRUE(GetEvaluator(name).ok()) << name;
  }
  auto bad = GetEvaluator("MathEvaluator");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("AccEvaluator"), std::string::npos);
}

}  // namespace
}  // namespace ocx::task::eval
