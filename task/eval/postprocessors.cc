#include "task/eval/postprocessors.h"

#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace ocx::task::eval {
namespace {

bool IsSpace(char c) {
  return absl::ascii_isspace(static_cast<unsigned char>(c));
}

// Python's \w on str is Unicode-aware; bytes of multi-byte UTF-8 sequences
// count as word characters here, so letters of other scripts survive (their
// punctuation, e.g. "，", does too: a documented difference).
bool IsWordByte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || absl::ascii_isalnum(u) || c == '_';
}

bool IsArticle(absl::string_view word) {
  return absl::EqualsIgnoreCase(word, "a") ||
         absl::EqualsIgnoreCase(word, "an") ||
         absl::EqualsIgnoreCase(word, "the");
}

// first_option_postprocess's patterns, in its order, for options `o`
// (a character class body such as "ABCD"). Python's character classes that
// hold multi-byte characters ([。，,\.]) are written as alternations,
// because std::regex matches bytes; a quantifier after a multi-byte
// character is applied to the whole character with (?:...).
std::vector<std::string> OptionPatterns(const std::string& o) {
  const std::string c = "[" + o + "]";
  const std::string sep = "(?:\\s|，|：|:|,)";
  const std::string sep2 = "(?:\\s|，|,|：|:)";
  const std::string dot = "(?:。|\\.)?$";
  return {
      "答案(?:是)?\\s?(" + c + ")",
      "答案(?:是)?\\s?：(" + c + ")",
      "答案(?:是)?\\s?:(" + c + ")",
      "答案应(?:该)?是\\s?(" + c + ")",
      "答案应(?:该)?选\\s?(" + c + ")",
      "答案为\\s?(" + c + ")",
      "答案选\\s?(" + c + ")",
      "选(?:择)?\\s?(" + c + ")",
      "只有(?:选)?(?:项)?\\s?(" + c + ")\\s?(?:是)?对",
      "只有(?:选)?(?:项)?\\s?(" + c + ")\\s?(?:是)?错",
      "只有(?:选)?(?:项)?\\s?(" + c + ")\\s?(?:不)?正确",
      "只有(?:选)?(?:项)?\\s?(" + c + ")\\s?错误",
      "说法(?:不)?对(?:选)?(?:项)?(?:的)?是\\s?(" + c + ")",
      "说法(?:不)?正确(?:选)?(?:项)?(?:的)?是\\s?(" + c + ")",
      "说法错误(?:选)?(?:项)?(?:的)?是\\s?(" + c + ")",
      "(" + c + ")\\s?是正确的",
      "(" + c + ")\\s?是正确答案",
      "选项\\s?(" + c + ")\\s?正确",
      "所以答\\s?(" + c + ")",
      "1.\\s?(" + c + ")(?:\\.|。|\\$)?$",
      "所以\\s?(" + c + "(?:\\.|。|\\$)?$)",
      "所有\\s?(" + c + "(?:\\.|。|\\$)?$)",
      sep + "(" + c + ")(?:。|，|,|\\.)?$",
      sep2 + "(?:故|即)(" + c + ")" + dot,
      sep2 + "因此(" + c + ")" + dot,
      "(?:是|为|。)\\s?(" + c + ")" + dot,
      "因此\\s?(" + c + ")" + dot,
      "显然\\s?(" + c + ")" + dot,
      "答案是\\s?(\\S+)(?:。|$)",
      "答案应该是\\s?(\\S+)(?:。|$)",
      "答案为\\s?(\\S+)(?:。|$)",
      "[Tt]he answer is (" + c + ")",
      "[Tt]he answer is option (" + c + ")",
      "[Tt]he correct answer is (" + c + ")",
      "[Tt]he correct answer is option (" + c + ")",
      "[Tt]he answer to the question is (" + c + ")",
      "^选项\\s?(" + c + ")",
      "^(" + c + ")\\s?(?:选)?项",
      "(\\s|^)" + c + "(?:\\s|。|，|,|：|:|\\.|\\$)",
      "(\\s|^)" + c + "(\\s|$)",
      "1.\\s?(.*?)$",
      // The cushion patterns (cushion=True, OpenCompass's default).
      "(" + c + "):",
      c,
  };
}

struct CompiledOptions {
  std::string options;
  std::vector<std::regex> patterns;
};

const CompiledOptions& Compiled(absl::string_view options) {
  // The configured options never change within a process; the common set
  // is compiled once.
  static const CompiledOptions* abcd = [] {
    auto* c = new CompiledOptions{"ABCD", {}};
    for (const std::string& p : OptionPatterns(c->options)) {
      c->patterns.emplace_back(p, std::regex::ECMAScript);
    }
    return c;
  }();
  if (options == abcd->options) return *abcd;
  thread_local CompiledOptions other;
  if (other.options != options || other.patterns.empty()) {
    other.options = std::string(options);
    other.patterns.clear();
    for (const std::string& p : OptionPatterns(other.options)) {
      other.patterns.emplace_back(p, std::regex::ECMAScript);
    }
  }
  return other;
}

}  // namespace

std::string GeneralPostprocess(absl::string_view text) {
  // re.split(r'[\n.,]', text, 1)[0]
  const size_t cut = text.find_first_of("\n.,");
  if (cut != absl::string_view::npos) text = text.substr(0, cut);
  // re.sub(r'[^\w\s]', '', ...)
  std::string kept;
  kept.reserve(text.size());
  for (char c : text) {
    if (IsWordByte(c) || IsSpace(c)) kept.push_back(c);
  }
  // re.sub(r'\b(a|an|the)\b', '', ..., flags=re.IGNORECASE), then
  // re.sub(r'\s+', ' ', ...).strip()
  std::string no_articles;
  no_articles.reserve(kept.size());
  size_t i = 0;
  while (i < kept.size()) {
    if (!IsWordByte(kept[i])) {
      no_articles.push_back(kept[i]);
      ++i;
      continue;
    }
    size_t j = i;
    while (j < kept.size() && IsWordByte(kept[j])) ++j;
    absl::string_view word(kept.data() + i, j - i);
    if (!IsArticle(word)) no_articles.append(word.data(), word.size());
    i = j;
  }
  std::string out;
  bool pending_space = false;
  for (char c : no_articles) {
    if (IsSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

std::string FirstCapitalPostprocess(absl::string_view text) {
  for (char c : text) {
    if (absl::ascii_isupper(static_cast<unsigned char>(c))) {
      return std::string(1, c);
    }
  }
  return "";
}

std::string FirstOptionPostprocess(absl::string_view text,
                                   absl::string_view options) {
  const CompiledOptions& compiled = Compiled(options);
  const std::string s(text);
  std::smatch m;
  for (const std::regex& re : compiled.patterns) {
    if (!std::regex_search(s, m, re)) continue;
    const std::string matched = m.str(0);
    // OpenCompass returns the first option in option order that occurs in
    // the whole match, not the first in the text.
    for (char option : options) {
      if (matched.find(option) != std::string::npos) {
        return std::string(1, option);
      }
    }
    return "";
  }
  return "";
}

std::string MathLastNumberPostprocess(absl::string_view text) {
  // Thousands separators: a comma between two digits goes.
  std::string t;
  t.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == ',' && i > 0 && i + 1 < text.size() &&
        absl::ascii_isdigit(static_cast<unsigned char>(text[i - 1])) &&
        absl::ascii_isdigit(static_cast<unsigned char>(text[i + 1]))) {
      continue;
    }
    t.push_back(text[i]);
  }
  std::string last;
  size_t i = 0;
  auto digit = [&](size_t k) {
    return k < t.size() &&
           absl::ascii_isdigit(static_cast<unsigned char>(t[k]));
  };
  while (i < t.size()) {
    if (!digit(i)) {
      ++i;
      continue;
    }
    size_t start = i;
    if (start > 0 && t[start - 1] == '-') --start;
    while (digit(i)) ++i;
    if (i + 1 < t.size() && t[i] == '.' && digit(i + 1)) {
      ++i;
      while (digit(i)) ++i;
    }
    last = t.substr(start, i - start);
  }
  if (last.find('.') != std::string::npos) {
    while (last.back() == '0') last.pop_back();
    if (last.back() == '.') last.pop_back();
  }
  if (last == "-0") last = "0";
  return last;
}

std::string StripPostprocess(absl::string_view text) {
  return std::string(absl::StripAsciiWhitespace(text));
}

absl::StatusOr<Postprocessor> GetPostprocessor(absl::string_view type) {
  if (type == "general") return Postprocessor(GeneralPostprocess);
  if (type == "first-capital") return Postprocessor(FirstCapitalPostprocess);
  if (type == "first_option" || type == "first-option" ||
      type == "first_option_postprocess") {
    return Postprocessor([](absl::string_view text) {
      return FirstOptionPostprocess(text, "ABCD");
    });
  }
  if (type == "math-last-number") {
    return Postprocessor(MathLastNumberPostprocess);
  }
  if (type == "strip") return Postprocessor(StripPostprocess);
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown postprocessor type \"", type,
      "\" (known: ", absl::StrJoin(KnownPostprocessors(), ", "), ")"));
}

std::string ExtractRolePrediction(absl::string_view text,
                                  absl::string_view begin,
                                  absl::string_view end) {
  // OpenCompass's version guards both cuts with `re.match(r'\s*', s) is
  // None`, which never holds, so it never cuts; the intent (skip blank
  // markers) is what is done here.
  size_t start = 0;
  size_t stop = text.size();
  if (!absl::StripAsciiWhitespace(begin).empty()) {
    const size_t b = text.find(begin);
    if (b != absl::string_view::npos) start = b + begin.size();
  }
  if (!absl::StripAsciiWhitespace(end).empty()) {
    const size_t e = text.find(end, start);
    if (e != absl::string_view::npos) stop = e;
  }
  return std::string(text.substr(start, stop - start));
}

}  // namespace ocx::task::eval
