// Unit tests of the pipeline operations behind rdpt grade, export, align and select
// (include/rdpt/operations.h); the CLI tests run the same code end to end.
#include "rdpt/operations.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "rdpt/error.h"
#include "rdpt/segment.h"

namespace rdpt {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::path(::testing::TempDir()) /
            ("rdpt_ops_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

StoredResponse response(const std::string& id, const std::string& group, const std::string& text,
                        std::optional<std::string> answer = std::nullopt, std::optional<bool> correct = std::nullopt) {
  StoredResponse r;
  r.id = id;
  r.group = group;
  r.question = "q " + group;
  r.response = text;
  r.answer = std::move(answer);
  r.correct = correct;
  r.actions = segment(text);
  return r;
}

int64_t add_model(Store& st, const std::string& name) {
  ModelInfo m;
  m.name = name;
  m.backend = "import";
  m.location = name + ".gguf";
  m.fingerprint = "fp-" + name;
  return st.put_model(m);
}

// Every action scored with one token of log-prob `lp`.
void add_scores(Store& st, int64_t mid, const StoredResponse& r, double lp) {
  PairScore s;
  s.n_tokens = s.n_tokens_total = uint32_t(r.actions.size());
  for (size_t a = 0; a < r.actions.size(); ++a) s.actions.push_back({1, lp});
  st.put_scores(mid, r.rid, s);
}

TEST(GradeRecords, StoreResponsesGetVerdictsAndCorrectness) {
  TempDir dir;
  auto st = Store::open(dir.file("s.db"), OpenMode::Create);
  auto a = response("a", "g1", "So \\boxed{4}.", "4");
  auto b = response("b", "g1", "So \\boxed{5}.", "4");
  auto c = response("c", "g2", "No answer here.", std::nullopt, true);
  for (auto* r : {&a, &b, &c}) r->rid = st->put_response(*r);
  std::ostringstream out;
  GradeRunOptions o;
  const GradeRunStats s = grade_records("", st.get(), nullptr, o, out, null_progress());
  EXPECT_EQ(s.n, 3u);
  EXPECT_EQ(s.correct, 2u);  // a graded, c from its label
  EXPECT_EQ(s.incorrect, 1u);
  EXPECT_EQ(s.labels, 1u);
  EXPECT_EQ(s.graded, 2u);
  EXPECT_EQ(s.store_set, 2u);
  const auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 3u);
  auto j = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(j["id"], "b");
  EXPECT_EQ(j["extracted"], "5");
  EXPECT_EQ(j["verdict"], "incorrect");
  EXPECT_EQ(j["source"], "graded");
  EXPECT_EQ(nlohmann::json::parse(lines[2])["source"], "label");
  EXPECT_EQ(st->get_response(a.rid)->correct, std::optional<bool>(true));
  EXPECT_EQ(st->get_response(b.rid)->correct, std::optional<bool>(false));
  EXPECT_THROW(grade_records("", nullptr, nullptr, o, out, null_progress()), UsageError);
}

TEST(GradeRecords, DataJoinsReferencesByQuestionText) {
  TempDir dir;
  write_text(dir.file("answers.jsonl"),
             "{\"problem\": \"What is  2+2?\", \"answer\": \"4\"}\n{\"problem\": \"What is 2+2?\", \"answer\": \"5\"}\n");
  write_text(dir.file("data.jsonl"),
             "{\"id\": \"x\", \"question\": \" What is 2+2? \", \"response\": \"\\\\boxed{4}\"}\n"
             "{\"id\": \"y\", \"question\": \"Other\", \"response\": \"\\\\boxed{4}\"}\n");
  const AnswerTable t = load_answers(dir.file("answers.jsonl"), "problem", "answer");
  EXPECT_TRUE(t.text_keys);
  EXPECT_EQ(t.n_duplicates, 1u);
  std::ostringstream out;
  const GradeRunStats s = grade_records(dir.file("data.jsonl"), nullptr, &t, {}, out, null_progress());
  EXPECT_EQ(s.joined, 1u);
  EXPECT_EQ(s.correct, 1u);
  EXPECT_EQ(s.no_reference, 1u);
  const auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["reference"], "4");
  EXPECT_TRUE(nlohmann::json::parse(lines[1])["verdict"].is_null());
  write_text(dir.file("bad.jsonl"), "{\"problem\": \"p\"}\n");
  EXPECT_THROW(load_answers(dir.file("bad.jsonl"), "problem", "answer"), DataError);
}

TEST(ExportActions, CsvAndJsonlRows) {
  TempDir dir;
  auto st = Store::open(dir.file("s.db"), OpenMode::Create);
  auto r = response("r,1", "g", "One. Two.");
  r.rid = st->put_response(r);
  const int64_t mT = add_model(*st, "teacher");
  add_model(*st, "student");  // no scores: empty columns
  add_scores(*st, mT, r, std::log(0.5));
  const auto models = resolve_models(*st, {}, "--models");
  ASSERT_EQ(models.size(), 2u);
  std::ostringstream csv;
  const ExportStats s = export_actions(*st, models, {}, csv, null_progress());
  EXPECT_EQ(s.n_responses, 1u);
  EXPECT_EQ(s.n_rows, r.actions.size());
  auto lines = lines_of(csv.str());
  ASSERT_EQ(lines.size(), 1 + r.actions.size());
  EXPECT_EQ(lines[0],
            "id,group,j,begin,end,special,text,teacher_n_tokens,teacher_logprob_sum,teacher_p,student_n_tokens,"
            "student_logprob_sum,student_p");
  EXPECT_EQ(lines[1].rfind("\"r,1\",g,1,0,", 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find(",1,-0.6931471805599453,"), std::string::npos) << lines[1];
  EXPECT_TRUE(lines[1].ends_with(",,,")) << lines[1];  // the student's columns: no scores

  ExportOptions eo;
  eo.format = ExportFormat::Jsonl;
  eo.text = false;
  std::ostringstream js;
  export_actions(*st, resolve_models(*st, {"student"}, "--models"), eo, js, null_progress());
  lines = lines_of(js.str());
  ASSERT_EQ(lines.size(), r.actions.size());
  auto j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["id"], "r,1");
  EXPECT_FALSE(j.contains("text"));
  EXPECT_TRUE(j["student_p"].is_null());
  EXPECT_THROW(resolve_models(*st, {"nobody"}, "--models"), UsageError);
}

TEST(AlignSets, HistogramsPerSet) {
  TempDir dir;
  auto st = Store::open(dir.file("s.db"), OpenMode::Create);
  auto a = response("train-1", "g1", "One. Two.");
  auto b = response("test-1", "g2", "Three.");
  for (auto* r : {&a, &b}) r->rid = st->put_response(*r);
  const int64_t mT = add_model(*st, "teacher"), mD = add_model(*st, "distilled");
  for (auto* r : {&a, &b}) {
    add_scores(*st, mT, *r, std::log(0.9));
    add_scores(*st, mD, *r, std::log(0.2));  // pT - pD = 0.7: the last bin
  }
  write_text(dir.file("ids.txt"), "test-1\nmissing\n\n");
  AlignOptions o;
  o.bins = 4;
  o.sets.push_back(parse_response_set("train=id-prefix:train-"));
  o.sets.push_back(parse_response_set("test=" + dir.file("ids.txt")));
  std::vector<std::string> warnings;
  const AlignResult res = align_sets(*st, o, [&](LogLevel, std::string_view m) { warnings.emplace_back(m); });
  ASSERT_EQ(res.sets.size(), 2u);
  EXPECT_EQ(res.sets[0].n_responses, 1u);
  EXPECT_EQ(res.sets[0].hist.n(), a.actions.size());
  EXPECT_EQ(res.sets[1].n_ids_not_in_store, 1u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("1 of the 2 ids"), std::string::npos) << warnings[0];
  EXPECT_EQ(res.edges.size(), 5u);
  const auto j = align_json(res, o, "s.db");
  EXPECT_EQ(j["sets"][0]["count"], nlohmann::json({0, 0, 0, a.actions.size()}));
  EXPECT_TRUE(j["sets"][0]["n_ids_not_in_store"].is_null());
  EXPECT_EQ(j["sets"][1]["n_ids_not_in_store"], 1);
  std::ostringstream csv;
  write_align_csv(csv, res, o);
  EXPECT_EQ(lines_of(csv.str()).size(), 1u + 2 * 4);
  EXPECT_NE(align_table(res, o).find("train"), std::string::npos);
  EXPECT_THROW(parse_response_set("noequals"), UsageError);
  write_text(dir.file("empty.txt"), "\n");
  EXPECT_THROW(parse_response_set("x=" + dir.file("empty.txt")), UsageError);
  EXPECT_THROW(parse_response_set("x=" + dir.file("absent.txt")), Error);
}

TEST(SelectData, CandidatesAndChosenLines) {
  TempDir dir;
  const std::string l1 = "{\"id\": \"a\", \"question_id\": \"q1\", \"question\": \"Q\", \"response\": \"R a.\"}";
  const std::string l2 = "{\"id\": \"b\", \"question_id\": \"q1\", \"question\": \"Q\", \"response\": \"R b.\"}";
  const std::string l3 = "{\"id\": \"c\", \"question_id\": \"q2\", \"question\": \"P\", \"response\": \"R c.\"}";
  write_text(dir.file("d.jsonl"), l1 + "\n" + l2 + "\n" + l3 + "\n");
  const SelectCandidates c = read_candidates(dir.file("d.jsonl"), {});
  ASSERT_EQ(c.order.size(), 3u);
  EXPECT_EQ(c.order[1], std::make_pair(std::string("b"), std::string("q1")));
  EXPECT_EQ(c.n_multi, 0u);
  std::ostringstream out;
  EXPECT_EQ(write_chosen_records(dir.file("d.jsonl"), {}, {0, 2}, 3, out), 2u);
  EXPECT_EQ(out.str(), l1 + "\n" + l3 + "\n");
  write_text(dir.file("dup.jsonl"), l1 + "\n" + l1 + "\n");
  EXPECT_THROW(read_candidates(dir.file("dup.jsonl"), {}), DataError);
}

}  // namespace
}  // namespace rdpt
