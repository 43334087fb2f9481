// Postprocessors against the behaviour of OpenCompass's
// opencompass/utils/text_postprocessors.py (examples worked through its
// regular expressions by hand).
#include "task/eval/postprocessors.h"

#include "gtest/gtest.h"

namespace ocx::task::eval {
namespace {

TEST(GeneralPostprocess, CutsAtFirstNewlinePeriodOrComma) {
  EXPECT_EQ(GeneralPostprocess("Paris, France"), "Paris");
  EXPECT_EQ(GeneralPostprocess("Paris\nis the capital"), "Paris");
  EXPECT_EQ(GeneralPostprocess("Paris. It is"), "Paris");
}

TEST(GeneralPostprocess, DropsPunctuationArticlesAndExtraSpace) {
  // "The answer is: Paris" -> no ':' -> articles gone -> spaces collapsed.
  EXPECT_EQ(GeneralPostprocess("The answer is: Paris, France"),
            "answer is Paris");
  EXPECT_EQ(GeneralPostprocess("  an   APPLE a day  "), "APPLE day");
  // Articles are whole words only; '_' is a word character.
  EXPECT_EQ(GeneralPostprocess("theater the_end anthem"),
            "theater the_end anthem");
  // OpenCompass's quirk: "A. B" is cut to "A", which is an article.
  EXPECT_EQ(GeneralPostprocess("A. B"), "");
  EXPECT_EQ(GeneralPostprocess(""), "");
}

TEST(FirstCapital, FirstUppercaseLetterOrEmpty) {
  EXPECT_EQ(FirstCapitalPostprocess("the answer is b, C or D"), "C");
  EXPECT_EQ(FirstCapitalPostprocess("  B"), "B");
  EXPECT_EQ(FirstCapitalPostprocess("no capitals 123"), "");
}

TEST(FirstOption, EnglishAnswerPatterns) {
  EXPECT_EQ(FirstOptionPostprocess("The answer is B.", "ABCD"), "B");
  EXPECT_EQ(FirstOptionPostprocess("the correct answer is option D", "ABCD"),
            "D");
  EXPECT_EQ(FirstOptionPostprocess("Answer: C", "ABCD"), "C");
}

TEST(FirstOption, ChinesePatterns) {
  EXPECT_EQ(FirstOptionPostprocess("答案是C", "ABCD"), "C");
  EXPECT_EQ(FirstOptionPostprocess("经过分析，答案应该选 A", "ABCD"), "A");
  EXPECT_EQ(FirstOptionPostprocess("只有选项B是对的", "ABCD"), "B");
}

TEST(FirstOption, OptionOrderDecidesWithinTheMatch) {
  // "(\s|^)[ABCD][\s...]" matches " C " here, and C is the only option in
  // that match.
  EXPECT_EQ(FirstOptionPostprocess("I pick C because", "ABCD"), "C");
  // Cushion: any option letter anywhere.
  EXPECT_EQ(FirstOptionPostprocess("(D)", "ABCD"), "D");
  EXPECT_EQ(FirstOptionPostprocess("nothing here", "ABCD"), "");
}

TEST(MathLastNumber, TakesTheLastNumber) {
  EXPECT_EQ(MathLastNumberPostprocess("She has 1,234 apples and 18.50 USD"),
            "18.5");
  EXPECT_EQ(MathLastNumberPostprocess("so the answer is -3."), "-3");
  EXPECT_EQ(MathLastNumberPostprocess("#### 72"), "72");
  EXPECT_EQ(MathLastNumberPostprocess("7.0"), "7");
  EXPECT_EQ(MathLastNumberPostprocess("1,000,000 people"), "1000000");
  EXPECT_EQ(MathLastNumberPostprocess("no numbers"), "");
}

TEST(Strip, StripsWhitespace) {
  EXPECT_EQ(StripPostprocess("  x y \n"), "x y");
}

TEST(GetPostprocessor, KnownNamesAndAClearErrorForOthers) {
  for (const std::string& name : KnownPostprocessors()) {
    EXPECT_TRUE(GetPostprocessor(name).ok()) << name;
  }
  auto p = GetPostprocessor("first-capital");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)("a B"), "B");
  auto bad = GetPostprocessor("gsm8k");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("\"gsm8k\""), std::string::npos);
  EXPECT_NE(bad.status().message().find("math-last-number"), std::string::npos);
}

TEST(ExtractRolePrediction, CutsBetweenTheRoleMarkers) {
  EXPECT_EQ(ExtractRolePrediction("<bot>hi there<eob> junk", "<bot>", "<eob>"),
            "hi there");
  EXPECT_EQ(ExtractRolePrediction("hi there<eob>", "<bot>", "<eob>"),
            "hi there");
  // Blank markers cut nothing.
  EXPECT_EQ(ExtractRolePrediction("a\nb", "\n", " "), "a\nb");
}

}  // namespace
}  // namespace ocx::task::eval
