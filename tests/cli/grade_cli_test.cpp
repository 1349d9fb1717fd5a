// End-to-end tests of `rdpt grade`: verdicts and sources, label precedence and agreement,
// joining references from a benchmark file, setting correctness in a store, usage errors.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gtest/gtest.h"
#include "rdpt/store.h"

namespace {

namespace fs = std::filesystem;

struct GradeRun {
  int code = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class GradeCli : public ::testing::Test {
 protected:
  fs::path dir;
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("rdpt_grade_cli_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  fs::path write(const std::string& name, const std::string& text) {
    fs::path p = dir / name;
    std::ofstream(p) << text;
    return p;
  }
  GradeRun run(const std::string& args) {
    GradeRun r;
    std::string cmd = std::string(RDPT_BINARY) + " grade " + args + " >" + (dir / "out").string() + " 2>" +
                      (dir / "err").string();
    int st = std::system(cmd.c_str());
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.out = slurp(dir / "out");
    r.err = slurp(dir / "err");
    return r;
  }
  static std::vector<nlohmann::json> lines(const std::string& s) {
    std::vector<nlohmann::json> v;
    std::istringstream ss(s);
    std::string l;
    while (std::getline(ss, l))
      if (!l.empty()) v.push_back(nlohmann::json::parse(l));
    return v;
  }
};

const char* kData =
    R"J({"id": "a", "question": "Q1", "response": "<think>maybe \\boxed{3}</think> so \\boxed{\\frac{1}{2}}", "answer": "0.5"})J"
    "\n"
    R"J({"id": "b", "question": "Q2", "response": "\\boxed{(2,1)}", "answer": "(1,2)"})J"
    "\n"
    R"J({"id": "c", "question": "Q3", "response": "<think>\\boxed{7}</think>I think seven.", "answer": "7"})J"
    "\n"
    R"J({"id": "d", "question": "Q4", "response": "\\boxed{025}", "answer": "25", "correct": false})J"
    "\n"
    R"J({"id": "e", "question": "Q5", "response": "\\boxed{9}"})J"
    "\n";

TEST_F(GradeCli, VerdictsSourcesAndSummary) {
  auto data = write("d.jsonl", kData);
  auto r = run("--data " + data.string());
  ASSERT_EQ(r.code, 0) << r.err;
  auto v = lines(r.out);
  ASSERT_EQ(v.size(), 5u);
  EXPECT_EQ(v[0]["id"], "a");
  EXPECT_EQ(v[0]["extracted"], "\\frac{1}{2}");
  EXPECT_EQ(v[0]["verdict"], "correct");
  EXPECT_EQ(v[0]["source"], "graded");
  EXPECT_EQ(v[1]["verdict"], "incorrect");  // (2,1) is not (1,2)
  EXPECT_EQ(v[2]["verdict"], "no-answer");  // box only in the thinking part
  EXPECT_TRUE(v[2]["extracted"].is_null());
  EXPECT_EQ(v[3]["verdict"], "incorrect");  // the label wins over grading
  EXPECT_EQ(v[3]["source"], "label");
  EXPECT_EQ(v[3]["graded"], "correct");
  EXPECT_TRUE(v[4]["verdict"].is_null());  // neither label nor reference
  EXPECT_EQ(v[4]["source"], "none");
  EXPECT_NE(r.err.find("graded 5 responses: 1 correct, 2 incorrect, 1 no-answer"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("agreement of grading with the given labels: 0/1"), std::string::npos) << r.err;
}

TEST_F(GradeCli, AnswersJoinedByQuestionTextAndById) {
  auto data = write("d.jsonl",
                    R"J({"id": "x", "question": "What is  1+1?", "response": "\\boxed{2}", "bid": "b2"})J"
                    "\n"
                    R"J({"id": "y", "question": "Unknown?", "response": "\\boxed{2}", "bid": "b9"})J"
                    "\n");
  auto bench = write("b.jsonl",
                     R"J({"id": "b1", "problem": "What is 1+1?\n", "answer": "2"})J"
                     "\n"
                     R"J({"id": "b2", "problem": "Other", "answer": "3"})J"
                     "\n");
  auto r = run("--data " + data.string() + " --answers " + bench.string());
  ASSERT_EQ(r.code, 0) << r.err;
  auto v = lines(r.out);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0]["reference"], "2");
  EXPECT_EQ(v[0]["verdict"], "correct");
  EXPECT_TRUE(v[1]["reference"].is_null());
  EXPECT_NE(r.err.find("1 references joined"), std::string::npos) << r.err;

  auto r2 = run("--data " + data.string() + " --answers " + bench.string() + " --answers-key id --data-key bid");
  ASSERT_EQ(r2.code, 0) << r2.err;
  auto v2 = lines(r2.out);
  EXPECT_EQ(v2[0]["reference"], "3");
  EXPECT_EQ(v2[0]["verdict"], "incorrect");
}

TEST_F(GradeCli, SetsCorrectnessInStoreForUnlabelledOnly) {
  auto db = (dir / "s.db").string();
  {
    auto st = rdpt::Store::open(db, rdpt::OpenMode::Create);
    for (const char* id : {"a", "b", "d"}) {
      rdpt::StoredResponse r;
      r.id = id;
      r.response = "resp " + std::string(id);
      st->put_response(r);
    }
  }
  auto data = write("d.jsonl", kData);
  auto r = run("--data " + data.string() + " --store " + db + " --out " + (dir / "g.jsonl").string());
  ASSERT_EQ(r.code, 0) << r.err;
  auto st = rdpt::Store::open(db, rdpt::OpenMode::ReadOnly);
  auto get = [&](const std::string& id) { return st->get_response(*st->find_response(id))->correct; };
  EXPECT_EQ(get("a"), std::optional<bool>(true));
  EXPECT_EQ(get("b"), std::optional<bool>(false));
  EXPECT_EQ(get("d"), std::nullopt);  // labelled in the input: not graded into the store
  EXPECT_NE(r.err.find("correctness set for 2 responses"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 graded records have no response with the same id"), std::string::npos) << r.err;
}

TEST_F(GradeCli, UsageAndDataErrors) {
  auto r = run("");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--data"), std::string::npos) << r.err;
  auto data = write("d.jsonl", kData);
  auto bench = write("b.jsonl", R"J({"id": "b1", "problem": "P", "gt_value": "2"})J" "\n");
  auto r2 = run("--data " + data.string() + " --answers " + bench.string());
  EXPECT_EQ(r2.code, 1);
  EXPECT_NE(r2.err.find("b.jsonl:1"), std::string::npos) << r2.err;
  EXPECT_NE(r2.err.find("no field 'answer'"), std::string::npos) << r2.err;
  EXPECT_EQ(std::count(r2.err.begin(), r2.err.end(), '\n'), 1) << r2.err;
  auto r3 = run("--data " + data.string() + " --rel-tol -1");
  EXPECT_EQ(r3.code, 2) << r3.err;
}

}  // namespace
