#include "spec/yaml_to_proto.h"

#include <cmath>
#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "ocx/v1/daemon_config.pb.h"
#include "ocx/v1/spec.pb.h"
#include "yaml_test.pb.h"

namespace ocx::spec {
namespace {

using ::google::protobuf::Value;
using ::ocx::spec::testing::AllTypes;
using ::testing::HasSubstr;
using ::testing::StartsWith;

AllTypes Parse(const std::string& yaml) {
  AllTypes msg;
  absl::Status s = ParseYamlToMessage(yaml, &msg);
  EXPECT_TRUE(s.ok()) << s << "\nfor:\n" << yaml;
  return msg;
}

// The error message for `yaml`, which must fail with INVALID_ARGUMENT.
std::string ErrorOf(const std::string& yaml) {
  AllTypes msg;
  absl::Status s = ParseYamlToMessage(yaml, &msg);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  return std::string(s.message());
}

std::string SpecErrorOf(const std::string& yaml) {
  ocx::v1::EvaluationSpec msg;
  absl::Status s = ParseYamlToMessage(yaml, &msg);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  return std::string(s.message());
}

TEST(YamlToProtoTest, Scalars) {
  AllTypes m = Parse(R"(
i32: -42
i64: 9000000000
u32: 4000000000
u64: 18446744073709551615
s32: -7
d: 2.5e-3
f: 1.5
b: true
s: hello world
by: raw
color: GREEN
)");
  EXPECT_EQ(m.i32(), -42);
  EXPECT_EQ(m.i64(), 9000000000LL);
  EXPECT_EQ(m.u32(), 4000000000u);
  EXPECT_EQ(m.u64(), 18446744073709551615ull);
  EXPECT_EQ(m.s32(), -7);
  EXPECT_DOUBLE_EQ(m.d(), 2.5e-3);
  EXPECT_FLOAT_EQ(m.f(), 1.5f);
  EXPECT_TRUE(m.b());
  EXPECT_EQ(m.s(), "hello world");
  EXPECT_EQ(m.by(), "raw");
  EXPECT_EQ(m.color(), ocx::spec::testing::GREEN);
}

TEST(YamlToProtoTest, BoolSpellingsAndQuotedNumbers) {
  EXPECT_FALSE(Parse("b: False").b());
  EXPECT_TRUE(Parse("b: TRUE").b());
  EXPECT_TRUE(Parse("b: 'true'").b());
  EXPECT_EQ(Parse("i32: '42'").i32(), 42);
  EXPECT_EQ(Parse("i32: +5").i32(), 5);
  EXPECT_DOUBLE_EQ(Parse("d: 3").d(), 3.0);
  EXPECT_DOUBLE_EQ(Parse("d: .5").d(), 0.5);
  EXPECT_TRUE(std::isinf(Parse("d: -.inf").d()));
  EXPECT_TRUE(std::isnan(Parse("d: .nan").d()));
}

TEST(YamlToProtoTest, StringsTakeAnyScalarAsText) {
  EXPECT_EQ(Parse("s: 100").s(), "100");
  EXPECT_EQ(Parse("s: 0.50").s(), "0.50");
  EXPECT_EQ(Parse("s: true").s(), "true");
  EXPECT_EQ(Parse("s: '[0:100]'").s(), "[0:100]");
  EXPECT_EQ(Parse("s: |\n  two\n  lines\n").s(), "two\nlines\n");
  EXPECT_EQ(Parse("s: \"null\"").s(), "null");
}

TEST(YamlToProtoTest, TypeErrors) {
  EXPECT_EQ(ErrorOf("i32: abc"), "i32: expected an integer, got \"abc\"");
  EXPECT_EQ(ErrorOf("i32: 1.5"), "i32: expected an integer, got \"1.5\"");
  EXPECT_EQ(ErrorOf("i32: 3000000000"),
            "i32: 3000000000 is out of range for int32");
  EXPECT_EQ(ErrorOf("i32: -2147483649"),
            "i32: -2147483649 is out of range for int32");
  EXPECT_EQ(Parse("i32: -2147483648").i32(), -2147483648LL);
  EXPECT_EQ(ErrorOf("i64: 9223372036854775808"),
            "i64: 9223372036854775808 is out of range for int64");
  EXPECT_EQ(ErrorOf("u32: -1"),
            "u32: expected a non-negative integer, got \"-1\"");
  EXPECT_EQ(ErrorOf("u32: 4294967296"),
            "u32: 4294967296 is out of range for uint32");
  EXPECT_EQ(ErrorOf("d: abc"), "d: expected a number, got \"abc\"");
  EXPECT_EQ(ErrorOf("d: 1e400"), "d: 1e400 is out of range for double");
  EXPECT_EQ(ErrorOf("f: 1e39"), "f: 1e39 is out of range for float");
  EXPECT_EQ(ErrorOf("b: yes"), "b: expected true or false, got \"yes\"");
  EXPECT_EQ(ErrorOf("b: 1"), "b: expected true or false, got \"1\"");
  EXPECT_EQ(ErrorOf("color: BLUE"),
            "color: expected one of (COLOR_UNSPECIFIED, RED, GREEN), got "
            "\"BLUE\"");
  EXPECT_EQ(ErrorOf("color: 1"),
            "color: expected one of (COLOR_UNSPECIFIED, RED, GREEN), got "
            "\"1\"");
  EXPECT_EQ(ErrorOf("i32: [1]"), "i32: expected an integer, got a sequence");
  EXPECT_EQ(ErrorOf("s: {a: 1}"), "s: expected a string, got a mapping");
  EXPECT_EQ(ErrorOf("inner: 5"), "inner: expected a mapping, got \"5\"");
  EXPECT_EQ(ErrorOf("inner: [a]"), "inner: expected a mapping, got a sequence");
}

TEST(YamlToProtoTest, NullLeavesFieldsUnset) {
  AllTypes m = Parse("opt_i32: ~\nopt_s: null\ninner:\ns: ~\nints: ~\n");
  EXPECT_FALSE(m.has_opt_i32());
  EXPECT_FALSE(m.has_opt_s());
  EXPECT_FALSE(m.has_inner());
  EXPECT_EQ(m.s(), "");
  EXPECT_EQ(m.ints_size(), 0);
  EXPECT_FALSE(Parse("v: ~").has_v());
}

TEST(YamlToProtoTest, OptionalFieldsArePresentWhenGiven) {
  AllTypes m = Parse("opt_i32: 0\nopt_s: ''\n");
  EXPECT_TRUE(m.has_opt_i32());
  EXPECT_EQ(m.opt_i32(), 0);
  EXPECT_TRUE(m.has_opt_s());
  EXPECT_FALSE(Parse("i32: 1").has_opt_i32());
}

TEST(YamlToProtoTest, EmptyMappingMarksMessagePresent) {
  EXPECT_TRUE(Parse("inner: {}").has_inner());
  EXPECT_FALSE(Parse("i32: 1").has_inner());
}

TEST(YamlToProtoTest, NestedMessagesAndErrorPaths) {
  AllTypes m = Parse(R"(
inner:
  name: top
  children:
    - name: a
      count: 1
    - name: b
      children: [{name: c}]
)");
  ASSERT_EQ(m.inner().children_size(), 2);
  EXPECT_EQ(m.inner().children(1).children(0).name(), "c");
  EXPECT_EQ(ErrorOf("inner: {children: [{name: a}, {children: [{count: x}]}]}"),
            "inner.children[1].children[0].count: expected an integer, got "
            "\"x\"");
}

TEST(YamlToProtoTest, RepeatedFields) {
  AllTypes m = Parse("ints: [1, 2, 3]\nstrs: [a, 1, true]\ncolors: [RED]\n");
  EXPECT_THAT(m.ints(), ::testing::ElementsAre(1, 2, 3));
  EXPECT_THAT(m.strs(), ::testing::ElementsAre("a", "1", "true"));
  EXPECT_EQ(m.colors(0), ocx::spec::testing::RED);
  EXPECT_EQ(ErrorOf("ints: 5"), "ints: expected a sequence, got \"5\"");
  EXPECT_EQ(ErrorOf("ints: {a: 1}"),
            "ints: expected a sequence, got a mapping");
  EXPECT_EQ(ErrorOf("ints: [1, x]"), "ints[1]: expected an integer, got \"x\"");
  EXPECT_EQ(ErrorOf("strs: [a, [b]]"),
            "strs[1]: expected a string, got a sequence");
  EXPECT_EQ(ErrorOf("ints: [1, ~]"), "ints[1]: expected an integer, got null");
  EXPECT_EQ(ErrorOf("inners: [{name: a}, ~]"),
            "inners[1]: expected a mapping, got null");
}

TEST(YamlToProtoTest, Maps) {
  AllTypes m = Parse(R"(
env: {PATH: /bin, N: 3}
by_id: {1: one, -2: minus two}
named:
  first: {count: 1}
)");
  EXPECT_EQ(m.env().at("PATH"), "/bin");
  EXPECT_EQ(m.env().at("N"), "3");
  EXPECT_EQ(m.by_id().at(1), "one");
  EXPECT_EQ(m.by_id().at(-2), "minus two");
  EXPECT_EQ(m.named().at("first").count(), 1);
  EXPECT_EQ(ErrorOf("env: [a]"), "env: expected a mapping, got a sequence");
  EXPECT_EQ(ErrorOf("env: {A: {x: 1}}"),
            "env[\"A\"]: expected a string, got a mapping");
  EXPECT_EQ(ErrorOf("env: {A: }"), "env[\"A\"]: expected a string, got null");
  EXPECT_EQ(ErrorOf("by_id: {1: a, x: b}"),
            "by_id[x]: expected an integer, got \"x\"");
  EXPECT_EQ(ErrorOf("named: {k: {count: many}}"),
            "named[\"k\"].count: expected an integer, got \"many\"");
  EXPECT_EQ(ErrorOf("env:\n  A: 1\n  A: 2\n"),
            "env[\"A\"]: duplicate key (first at line 2)");
}

TEST(YamlToProtoTest, StructTakesArbitraryYaml) {
  AllTypes m = Parse(R"(
st:
  quoted_num: "1"
  num: 1
  neg: -2.5e1
  yes_word: yes
  t: true
  nothing: ~
  word: abc
  list: [1, "two", {three: 3}]
  nested: {a: {b: false}}
)");
  const auto& f = m.st().fields();
  EXPECT_EQ(f.at("quoted_num").string_value(), "1");
  EXPECT_EQ(f.at("num").number_value(), 1);
  EXPECT_EQ(f.at("neg").number_value(), -25);
  EXPECT_EQ(f.at("yes_word").string_value(), "yes");
  EXPECT_TRUE(f.at("t").bool_value());
  EXPECT_EQ(f.at("nothing").kind_case(), Value::kNullValue);
  EXPECT_EQ(f.at("word").string_value(), "abc");
  const auto& list = f.at("list").list_value();
  ASSERT_EQ(list.values_size(), 3);
  EXPECT_EQ(list.values(0).number_value(), 1);
  EXPECT_EQ(list.values(1).string_value(), "two");
  EXPECT_EQ(list.values(2).struct_value().fields().at("three").number_value(),
            3);
  EXPECT_FALSE(f.at("nested")
                   .struct_value()
                   .fields()
                   .at("a")
                   .struct_value()
                   .fields()
                   .at("b")
                   .bool_value());
  EXPECT_EQ(ErrorOf("st: [1]"), "st: expected a mapping, got a sequence");
  EXPECT_EQ(ErrorOf("st: {a: 1, a: 2}"),
            "st.a: duplicate key (first at line 1)");
}

TEST(YamlToProtoTest, ValueAndListValue) {
  EXPECT_EQ(Parse("v: 3").v().number_value(), 3);
  EXPECT_EQ(Parse("v: '3'").v().string_value(), "3");
  EXPECT_EQ(Parse("v: !!str 3").v().string_value(), "3");
  EXPECT_EQ(Parse("v: 0x10").v().string_value(), "0x10");
  EXPECT_EQ(Parse("v: 'Q: {question}\\nA:'").v().string_value(),
            "Q: {question}\\nA:");
  EXPECT_EQ(Parse("v: [a, 1]").v().list_value().values(0).string_value(), "a");
  EXPECT_EQ(
      Parse("v: {x: y}").v().struct_value().fields().at("x").string_value(),
      "y");
  AllTypes m = Parse("vs: [~, 1, x]\nlv: [true]\nvmap: {k: ~}\n");
  EXPECT_EQ(m.vs(0).kind_case(), Value::kNullValue);
  EXPECT_EQ(m.vs(1).number_value(), 1);
  EXPECT_EQ(m.vs(2).string_value(), "x");
  EXPECT_TRUE(m.lv().values(0).bool_value());
  EXPECT_EQ(m.vmap().at("k").kind_case(), Value::kNullValue);
  EXPECT_EQ(ErrorOf("lv: {a: 1}"), "lv: expected a sequence, got a mapping");
}

TEST(YamlToProtoTest, ValuePathsUseDotsAndIndexes) {
  // Too deep a Value tree names where it got too deep.
  std::string deep = "v: ";
  for (int i = 0; i < 50; ++i) deep += "[";
  for (int i = 0; i < 50; ++i) deep += "]";
  EXPECT_THAT(ErrorOf(deep),
              StartsWith("v[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"));
  EXPECT_THAT(ErrorOf(deep), HasSubstr("nested more than 40 levels deep"));
  EXPECT_THAT(ErrorOf("st: {\"a b\": {c: [1, {d: [[[" + std::string(45, '[') +
                      std::string(48, ']') + "}]}}"),
              StartsWith("st[\"a b\"].c[1].d[0]"));
}

TEST(YamlToProtoTest, WrapperTakesAScalar) {
  AllTypes m = Parse("wrapped: 5");
  EXPECT_TRUE(m.has_wrapped());
  EXPECT_EQ(m.wrapped().value(), 5);
  EXPECT_EQ(ErrorOf("wrapped: x"), "wrapped: expected an integer, got \"x\"");
}

TEST(YamlToProtoTest, OneofFieldsConflict) {
  EXPECT_EQ(Parse("one_i: 3").one_i(), 3);
  EXPECT_EQ(ErrorOf("one_s: a\none_i: 1\n"),
            "one_i: cannot be set together with one_s (one of choice)");
}

TEST(YamlToProtoTest, UnknownFieldNamesThePathAndTheKnownFields) {
  EXPECT_EQ(SpecErrorOf("models:\n  - abbr: m\n    run_cfgg: {num_gpus: 1}\n"),
            "models[0].run_cfgg: unknown field (known: abbr, type, path, "
            "max_out_len, batch_size, run_cfg, max_seq_len, openai_api_base, "
            "key_env, generation_kwargs, temperature, query_per_second, "
            "max_concurrency, timeout_s, retry, meta_template, "
            "pred_postprocessor, tokenizer_path, api, serve)");
  EXPECT_EQ(SpecErrorOf("models: [{abbr: a}, {run_cfg: {num_gpu: 1}}]"),
            "models[1].run_cfg.num_gpu: unknown field (known: num_gpus, "
            "num_procs)");
  EXPECT_EQ(SpecErrorOf("model: []"),
            "model: unknown field (known: models, datasets, work_dir, infer, "
            "eval, summarizer, priority)");
  EXPECT_EQ(SpecErrorOf("\"work dir\": x"),
            "config[\"work dir\"]: unknown field (known: models, datasets, "
            "work_dir, infer, eval, summarizer, priority)");
}

TEST(YamlToProtoTest, JsonNamesAreNotAccepted) {
  EXPECT_THAT(ErrorOf("camelCaseName: 1"),
              StartsWith("camelCaseName: unknown field (known: "));
  EXPECT_DOUBLE_EQ(Parse("camel_case_name: 1").camel_case_name(), 1);
  EXPECT_THAT(SpecErrorOf("workDir: /tmp"),
              StartsWith("workDir: unknown field"));
}

TEST(YamlToProtoTest, DuplicateKeys) {
  EXPECT_EQ(ErrorOf("i32: 1\ns: x\ni32: 2\n"),
            "i32: duplicate key (first at line 1)");
  EXPECT_EQ(SpecErrorOf("models:\n  - abbr: a\n    abbr: b\n"),
            "models[0].abbr: duplicate key (first at line 2)");
}

TEST(YamlToProtoTest, NonScalarKeys) {
  EXPECT_EQ(ErrorOf("? [a]\n: 1\n"),
            "config: expected field names as keys, got a sequence");
}

TEST(YamlToProtoTest, SyntaxErrorsGiveLineAndColumn) {
  std::string error = SpecErrorOf("models:\n  - abbr: m\n    path: [a, b\n");
  EXPECT_THAT(error, StartsWith("invalid YAML at line "));
  EXPECT_THAT(error, HasSubstr(", column "));
  EXPECT_EQ(SpecErrorOf("work_dir: a: b\n"),
            "invalid YAML at line 1, column 12: illegal map value");
}

TEST(YamlToProtoTest, TopLevelMustBeOneMapping) {
  EXPECT_EQ(ErrorOf("- a\n- b\n"),
            "config: expected a mapping at the top level, got a sequence");
  EXPECT_EQ(ErrorOf("42"),
            "config: expected a mapping at the top level, got \"42\"");
  EXPECT_EQ(ErrorOf(""),
            "config: expected a mapping at the top level, got an empty "
            "document");
  EXPECT_EQ(ErrorOf("# nothing\n"),
            "config: expected a mapping at the top level, got an empty "
            "document");
  EXPECT_EQ(ErrorOf("i32: 1\n---\ni32: 2\n"),
            "config: expected one YAML document, found 2");
  AllTypes m;
  m.set_i32(7);
  YamlParseOptions options;
  options.allow_empty_document = true;
  EXPECT_TRUE(ParseYamlToMessage("# nothing\n", &m, options).ok());
  EXPECT_EQ(m.i32(), 0);
  EXPECT_FALSE(ParseYamlToMessage("[1]", &m, options).ok());
}

TEST(YamlToProtoTest, JsonInput) {
  ocx::v1::EvaluationSpec spec;
  ASSERT_TRUE(ParseYamlToMessage(R"({
  "models": [{"abbr": "m", "max_out_len": 100, "temperature": 0,
              "run_cfg": {"num_gpus": 1},
              "generation_kwargs": {"top_p": 0.9, "stop": ["\n"]}}],
  "datasets": [{"abbr": "gsm8k", "reader_cfg": {"test_range": "[0:10]"},
                "n": 2}],
  "infer": {"runner": {"retry": 0, "task": {"env": {"A": "1"}}}}
})",
                                 &spec)
                  .ok());
  EXPECT_EQ(spec.models(0).max_out_len(), 100);
  EXPECT_TRUE(spec.models(0).has_temperature());
  EXPECT_EQ(spec.models(0).run_cfg().num_gpus(), 1);
  EXPECT_EQ(spec.models(0)
                .generation_kwargs()
                .fields()
                .at("stop")
                .list_value()
                .values(0)
                .string_value(),
            "\n");
  EXPECT_EQ(spec.datasets(0).reader_cfg().test_range(), "[0:10]");
  EXPECT_TRUE(spec.infer().runner().has_retry());
  EXPECT_EQ(spec.infer().runner().retry(), 0);
  EXPECT_EQ(spec.infer().runner().task().env().at("A"), "1");
  EXPECT_EQ(SpecErrorOf(R"({"models": [{"abbr": "m", "max_out_len": "abc"}]})"),
            "models[0].max_out_len: expected an integer, got \"abc\"");
}

TEST(YamlToProtoTest, TestRangeScalarsBecomeText) {
  ocx::v1::EvaluationSpec spec;
  ASSERT_TRUE(ParseYamlToMessage("datasets:\n"
                                 "  - reader_cfg: {test_range: 100}\n"
                                 "  - reader_cfg: {test_range: 0.5}\n"
                                 "  - reader_cfg: {test_range: '[:50]'}\n",
                                 &spec)
                  .ok());
  EXPECT_EQ(spec.datasets(0).reader_cfg().test_range(), "100");
  EXPECT_EQ(spec.datasets(1).reader_cfg().test_range(), "0.5");
  EXPECT_EQ(spec.datasets(2).reader_cfg().test_range(), "[:50]");
}

TEST(YamlToProtoTest, ErrorLeavesMessageUnchanged) {
  AllTypes m;
  m.set_s("before");
  m.add_ints(9);
  EXPECT_FALSE(ParseYamlToMessage("s: after\nints: [1, x]\n", &m).ok());
  EXPECT_EQ(m.s(), "before");
  EXPECT_THAT(m.ints(), ::testing::ElementsAre(9));
}

TEST(YamlToProtoTest, SuccessReplacesMessage) {
  AllTypes m;
  m.set_s("before");
  m.add_ints(9);
  ASSERT_TRUE(ParseYamlToMessage("ints: [1]", &m).ok());
  EXPECT_EQ(m.s(), "");
  EXPECT_THAT(m.ints(), ::testing::ElementsAre(1));
}

TEST(YamlToProtoTest, AliasesWork) {
  AllTypes m = Parse("inner: &x {name: a}\nnamed: {k: *x}\n");
  EXPECT_EQ(m.named().at("k").name(), "a");
}

TEST(YamlToProtoTest, AliasBombIsRefused) {
  std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) {
      yaml += (j ? ", *a" : "*a") + std::to_string(i - 1);
    }
    yaml += "]\n";
  }
  yaml = "st:\n" + [&] {
    std::string indented;
    size_t start = 0;
    while (start < yaml.size()) {
      size_t end = yaml.find('\n', start);
      indented += "  " + yaml.substr(start, end - start + 1);
      start = end + 1;
    }
    return indented;
  }();
  EXPECT_THAT(ErrorOf(yaml), HasSubstr("more than 1000000 values"));
}

TEST(YamlToProtoTest, DaemonConfigShape) {
  ocx::v1::DaemonConfig config;
  ASSERT_TRUE(ParseYamlToMessage("listen: unix:///run/x.sock\n"
                                 "local: {gpus: '0,1', kill_grace_s: 5}\n"
                                 "retry: {multiplier: 1.5}\n",
                                 &config)
                  .ok());
  EXPECT_EQ(config.local().gpus(), "0,1");
  EXPECT_DOUBLE_EQ(config.retry().multiplier(), 1.5);
}

}  // namespace
}  // namespace ocx::spec
