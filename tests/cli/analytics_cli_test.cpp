// End-to-end tests of rdpt trace, beta, select, attribute and align on a store built through the
// store API with planted per-action probabilities, so that every action's type is known.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "io/parquet.h"
#include "rdpt/segment.h"
#include "rdpt/store.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Planted labels: each gives fixed p under teacher, student, distilled and a spurious teacher.
enum Label { T, S, Sh, B };
struct Probs {
  double t, s, d, t2;
};
Probs probs(Label l) {
  switch (l) {
    case T: return {0.92, 0.2, 0.8, 0.05};  // dTS 0.72: Teacher (four-way; three-way for beta < 0.72)
    case S: return {0.2, 0.92, 0.8, 0.05};  // Student
    case Sh: return {0.5, 0.5, 0.5, 0.05};  // Shared (four-way), Common (three-way)
    case B: return {0.5, 0.5, 0.9, 0.05};   // |dSD| 0.4: Boosted; Common (three-way)
  }
  return {};
}
const char* type_of(Label l) { return l == T ? "Teacher" : l == S ? "Student" : l == Sh ? "Shared" : "Boosted"; }

struct Plan {
  std::string id, group;
  std::optional<bool> correct;
  bool think = false;  // starts with a <think> action (planted Shared)
  std::vector<Label> labels;
};

std::string sentence(Label l, size_t k) {
  if (l == S) return "Wait, recheck value " + std::to_string(k) + ".";
  if (l == B) return "Alternatively, try value " + std::to_string(k) + ".";
  return "Compute value " + std::to_string(k) + ".";
}
std::string text_of(const Plan& p) {
  std::string t = p.think ? "<think>" : "";
  for (size_t k = 0; k < p.labels.size(); ++k) t += (k ? " " : "") + sentence(p.labels[k], k + 1);
  return t;
}

std::vector<Plan> test_plans() {
  return {{"test-r0", "test-q0", true, true, {T, T, T, S}},
          {"test-r1", "test-q1", false, true, {S, S, T, B}},
          {"test-r2", "test-q2", true, true, {T, Sh, T, T, T}},
          {"test-r3", "test-q3", false, true, {S, B, Sh}}};
}
std::vector<Plan> train_plans() {
  return {{"train-q0-0", "train-q0", {}, false, {T, S, S, S}},
          {"train-q0-1", "train-q0", {}, false, {T, T, T, S}},
          {"train-q0-2", "train-q0", {}, false, {T, T, S, S, S, S}},
          {"train-q1-0", "train-q1", {}, false, {T, T, S}},
          {"train-q1-1", "train-q1", {}, false, {T, T, S, S}},
          {"train-q1-2", "train-q1", {}, false, {S, S, S, S, S}},
          {"train-q2-0", "train-q2", {}, false, {Sh, Sh}},
          {"train-q2-1", "train-q2", {}, false, {T, Sh, Sh, Sh, Sh, Sh, Sh}},
          {"train-q2-2", "train-q2", {}, false, {T}}};
}

constexpr uint32_t kDistilledTokens = 1500;  // per action: the mean cumulative count reaches 4096 at j = 3

rdpt::ActionScore score(double p, uint32_t n) { return {n, n * std::log(p)}; }

struct CmdResult {
  int rc = -1;
  std::string out, err;
};
std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream is(s);
  std::string l;
  while (std::getline(is, l)) v.push_back(l);
  return v;
}

class AnalyticsCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("rdpt_analytics_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    store_ = (dir_ / "scores.db").string();
    auto st = rdpt::Store::open(store_, rdpt::OpenMode::Create);
    int64_t mT = st->put_model({.name = "teacher", .backend = "import", .fingerprint = "t"});
    int64_t mS = st->put_model({.name = "student", .backend = "import", .fingerprint = "s"});
    int64_t mD = st->put_model({.name = "distilled", .backend = "import", .fingerprint = "d"});
    int64_t mT2 = st->put_model({.name = "other-teacher", .backend = "import", .fingerprint = "t2"});
    std::vector<Plan> all = test_plans();
    for (auto& p : train_plans()) all.push_back(p);
    for (const auto& p : all) {
      rdpt::StoredResponse r;
      r.id = p.id;
      r.group = p.group;
      r.question = "Question of " + p.group + "?";
      r.response = text_of(p);
      r.correct = p.correct;
      r.actions = rdpt::segment(r.response);
      ASSERT_EQ(r.actions.size(), p.labels.size() + (p.think ? 1 : 0)) << p.id;
      int64_t rid = st->put_response(r);
      rdpt::PairScore sc[4];
      for (size_t k = 0; k < r.actions.size(); ++k) {
        Probs pr = (p.think && k == 0) ? Probs{0.5, 0.5, 0.5, 0.05} : probs(p.labels[k - (p.think ? 1 : 0)]);
        sc[0].actions.push_back(score(pr.t, 2));
        sc[1].actions.push_back(score(pr.s, 3));
        sc[2].actions.push_back(score(pr.d, kDistilledTokens));
        sc[3].actions.push_back(score(pr.t2, 2));
      }
      int64_t mids[] = {mT, mS, mD, mT2};
      for (int m = 0; m < 4; ++m) {
        for (const auto& a : sc[m].actions) sc[m].n_tokens += a.n_tokens;
        sc[m].n_tokens_total = sc[m].n_tokens;
        st->put_scores(mids[m], rid, sc[m]);
      }
    }
    // The training data file: the train responses' records with odd spacing and an extra field,
    // so that exact-bytes output is checked.
    std::ofstream d(dir_ / "train.jsonl", std::ios::binary);
    for (const auto& p : train_plans()) {
      json q = text_of(p);
      d << "{ \"id\":\"" << p.id << "\" ,  \"question_id\": \"" << p.group << "\", \"question\": \"Question of "
        << p.group << "?\", \"response\": " << q.dump() << ", \"extra\": [1,  2] }\n";
    }
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static CmdResult rdpt(const std::string& args) {
    std::string out = (dir_ / "stdout.txt").string(), err = (dir_ / "stderr.txt").string();
    std::string cmd = std::string(RDPT_BINARY) + " " + args + " >" + out + " 2>" + err;
    int st = std::system(cmd.c_str());
    CmdResult r;
    r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }
  static std::string p(const std::string& name) { return (dir_ / name).string(); }

  static fs::path dir_;
  static std::string store_;
};
fs::path AnalyticsCli::dir_;
std::string AnalyticsCli::store_;

TEST_F(AnalyticsCli, TraceCountsCurvesSummaryBehaviours) {
  CmdResult r = rdpt("trace --store " + store_ + " --beta 0.1 --out-dir " + p("trace"));
  ASSERT_EQ(r.rc, 0) << r.err;
  // types.csv: one row per response with the planted counts.
  auto rows = lines_of(slurp(p("trace/types.csv")));
  ASSERT_EQ(rows[0], "id,group,correct,n_actions,n_scored,n_Shared,n_Teacher,n_Student,n_Boosted,share_Shared,"
                     "share_Teacher,share_Student,share_Boosted");
  ASSERT_EQ(rows.size(), 1 + test_plans().size() + train_plans().size());
  EXPECT_EQ(rows[1], "test-r0,test-q0,true,5,5,1,3,1,0,0.2,0.6,0.2,0");
  EXPECT_EQ(rows[2], "test-r1,test-q1,false,5,5,1,1,2,1,0.2,0.2,0.4,0.2");
  // Totals from the plan.
  std::map<std::string, uint64_t> want;
  uint64_t n_think = 0;
  std::vector<Plan> all = test_plans();
  for (auto& pl : train_plans()) all.push_back(pl);
  for (const auto& pl : all) {
    if (pl.think) ++want["Shared"], ++n_think;
    for (Label l : pl.labels) ++want[type_of(l)];
  }
  json s = json::parse(slurp(p("trace/summary.json")));
  for (auto [t, n] : want) EXPECT_EQ(s["counts"][t].get<uint64_t>(), n) << t;
  EXPECT_EQ(s["beta"].get<double>(), 0.1);
  EXPECT_EQ(s["beta_source"], "given");
  EXPECT_TRUE(s["beta_search"].is_null());
  // Behaviours: Student sentences start with "Wait", Boosted ones with "Alternatively".
  EXPECT_EQ(s["behaviours"]["by_type"]["Student"]["reflection"].get<double>(), 1.0);
  EXPECT_EQ(s["behaviours"]["by_type"]["Boosted"]["transition"].get<double>(), 1.0);
  EXPECT_EQ(s["behaviours"]["by_type"]["Teacher"]["execution"].get<double>(), 1.0);
  EXPECT_EQ(s["behaviours"]["special_actions_excluded"].get<uint64_t>(), n_think);
  EXPECT_EQ(s["behaviours"]["by_type"]["Shared"]["n"].get<uint64_t>(), want["Shared"] - n_think);
  // Curves: j = 1 is <think> (Shared) for the labelled responses; j = 2 is Teacher for the correct
  // ones and Student for the incorrect ones.
  json c = json::parse(slurp(p("trace/curves.json")));
  EXPECT_EQ(c["subsets"]["correct"]["n"][0].get<uint64_t>(), 2u);
  EXPECT_EQ(c["subsets"]["correct"]["Shared"]["fraction"][0].get<double>(), 1.0);
  EXPECT_EQ(c["subsets"]["correct"]["Teacher"]["fraction"][1].get<double>(), 1.0);
  EXPECT_EQ(c["subsets"]["incorrect"]["Student"]["fraction"][1].get<double>(), 1.0);
  EXPECT_EQ(c["subsets"]["all"]["n"][0].get<uint64_t>(), all.size());
  // Wilson interval of 2/2.
  EXPECT_NEAR(c["subsets"]["correct"]["Teacher"]["lo"][1].get<double>(), 0.3424, 1e-4);
  EXPECT_EQ(c["mean_cum_tokens"][2].get<double>(), 3.0 * kDistilledTokens);
  ASSERT_FALSE(c["token_marks"].empty());
  EXPECT_EQ(c["token_marks"][0]["tokens"], 4096);
  EXPECT_EQ(c["token_marks"][0]["position"], 3);
  // curves.csv: long format, one row per (j, subset, type).
  auto csv = lines_of(slurp(p("trace/curves.csv")));
  EXPECT_EQ(csv[0], "j,subset,n,type,count,fraction,lo,hi,mean_cum_tokens");
  EXPECT_EQ(csv.size(), 1 + c["positions"].size() * 3 * 4);
  EXPECT_EQ(csv[1].substr(0, 27), "1,correct,2,Shared,2,1,0.34");
}

TEST_F(AnalyticsCli, TraceAutoBetaAndBetaCommand) {
  CmdResult r = rdpt("beta --store " + store_ + " --out " + p("beta_analysis.json"));
  ASSERT_EQ(r.rc, 0) << r.err;
  json b = json::parse(slurp(p("beta_analysis.json")));
  ASSERT_EQ(b["candidates"].size(), 4u);
  // The planted differences are far from every candidate: all candidates type alike, their
  // overlaps tie, and the earliest (0.05) is kept.
  EXPECT_EQ(b["beta"].get<double>(), 0.05);
  for (const auto& cand : b["candidates"]) {
    EXPECT_EQ(cand["overlap"], b["candidates"][0]["overlap"]);
    for (const auto& [type, h] : cand["histogram"].items()) {
      double sum = 0;
      for (double x : h) sum += x;
      EXPECT_NEAR(sum, 1.0, 1e-12) << type;
    }
  }
  EXPECT_NE(r.err.find("* beta 0.05"), std::string::npos) << r.err;

  r = rdpt("beta --store " + store_ + " --procedure training --out " + p("beta_training.json"));
  ASSERT_EQ(r.rc, 0) << r.err;
  b = json::parse(slurp(p("beta_training.json")));
  ASSERT_EQ(b["candidates"].size(), 20u);
  // Three-way: T and S actions have |dTS| = 0.72, so the types are the same for 0.05..0.70 (same
  // O > 0); at 0.75 every action is Common: O = 0 (all Common proportions in bin 19, all Teacher
  // and Student ones in bin 0), it is kept, and mean Common > mean Teacher stops the search.
  EXPECT_EQ(b["beta"].get<double>(), 0.75);
  EXPECT_EQ(b["pick"], 14);
  EXPECT_GT(b["candidates"][0]["overlap"].get<double>(), 0.0);
  EXPECT_EQ(b["candidates"][13]["overlap"], b["candidates"][0]["overlap"]);
  EXPECT_EQ(b["candidates"][14]["overlap"].get<double>(), 0.0);
  EXPECT_TRUE(b["candidates"][14]["stopped_here"].get<bool>());
  EXPECT_FALSE(b["candidates"][15]["considered"].get<bool>());
  EXPECT_TRUE(b["candidates"][13]["considered"].get<bool>());
  EXPECT_TRUE(b["candidates"][0]["histogram"].contains("Common"));

  r = rdpt("trace --store " + store_ + " --out-dir " + p("trace_auto"));
  ASSERT_EQ(r.rc, 0) << r.err;
  json s = json::parse(slurp(p("trace_auto/summary.json")));
  EXPECT_EQ(s["beta_source"], "auto");
  EXPECT_EQ(s["beta"].get<double>(), 0.05);
  EXPECT_EQ(s["beta_search"]["candidates"].size(), 4u);
}

std::vector<std::string> chosen_ids(const std::string& jsonl) {
  std::vector<std::string> ids;
  for (const auto& l : lines_of(jsonl)) ids.push_back(json::parse(l)["id"]);
  return ids;
}

// The difference count of two relations (rows in one and not the other, both ways) and the rows of
// the second, computed by DuckDB: "0,N" when they hold the same rows.
std::string duck_diff(const std::string& a, const std::string& b, const std::string& out) {
  rdpt::io::duckdb_exec("COPY (SELECT (SELECT count(*) FROM (" + a + " EXCEPT ALL " + b + ")) + (SELECT count(*) FROM (" +
                        b + " EXCEPT ALL " + a + ")) AS d, (SELECT count(*) FROM (" + b + ")) AS n) TO '" + out +
                        "' (HEADER false)");
  return slurp(out);
}

TEST_F(AnalyticsCli, ParquetTraceAndExportHoldTheCsvAndJsonlRows) {
  if (!rdpt::io::parquet_available()) GTEST_SKIP() << "built without DuckDB";
  CmdResult r = rdpt("trace --store " + store_ + " --beta 0.1 --out-dir " + p("tcsv"));
  ASSERT_EQ(r.rc, 0) << r.err;
  r = rdpt("trace --store " + store_ + " --beta 0.1 --format parquet --out-dir " + p("tpq"));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_FALSE(fs::exists(p("tpq/types.csv")));
  EXPECT_EQ(duck_diff("SELECT * FROM read_csv('" + p("tcsv/types.csv") + "')", "SELECT * FROM '" + p("tpq/types.parquet") + "'",
                      p("d1.csv")),
            "0,13\n");
  EXPECT_EQ(duck_diff("SELECT * FROM read_csv('" + p("tcsv/curves.csv") + "')",
                      "SELECT * FROM '" + p("tpq/curves.parquet") + "'", p("d2.csv")),
            "0,84\n");
  json a = json::parse(slurp(p("tcsv/summary.json"))), b = json::parse(slurp(p("tpq/summary.json")));
  EXPECT_EQ(b["files"], json({"types.parquet", "curves.parquet", "curves.json", "summary.json"}));
  a.erase("files"), b.erase("files");
  EXPECT_EQ(a, b);
  // Typed columns.
  rdpt::io::duckdb_exec("COPY (SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '" + p("tpq/types.parquet") +
                        "')) TO '" + p("types_schema.csv") + "' (HEADER false)");
  const std::string schema = slurp(p("types_schema.csv"));
  EXPECT_NE(schema.find("correct,BOOLEAN\nn_actions,BIGINT\n"), std::string::npos) << schema;
  EXPECT_NE(schema.find("share_Teacher,DOUBLE"), std::string::npos) << schema;

  r = rdpt("export --store " + store_ + " --format jsonl --out " + p("e.jsonl"));
  ASSERT_EQ(r.rc, 0) << r.err;
  r = rdpt("export --store " + store_ + " --format parquet --out " + p("e.parquet"));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(duck_diff("SELECT * FROM read_json('" + p("e.jsonl") + "', format='newline_delimited')",
                      "SELECT * FROM '" + p("e.parquet") + "'", p("d3.csv")),
            "0,56\n");
  r = rdpt("export --store " + store_ + " --format parquet");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--format parquet: give --out FILE"), std::string::npos) << r.err;
  // the name says the format: no --format and a .parquet name is Parquet (it was CSV); a --format
  // that contradicts the name is refused
  r = rdpt("export --store " + store_ + " --out " + p("named.parquet"));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(slurp(p("named.parquet")), slurp(p("e.parquet")));
  r = rdpt("export --store " + store_ + " --out " + p("named.JSONL"));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(slurp(p("named.JSONL")), slurp(p("e.jsonl")));
  r = rdpt("export --store " + store_ + " --out " + p("x.jsonl.gz"));
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("rdpt export writes uncompressed files; give a name without '.gz'"), std::string::npos) << r.err;
  r = rdpt("export --store " + store_ + " --format jsonl --out " + p("wrong.csv"));
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("a .csv name, but --format jsonl"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(p("wrong.csv")));
}

TEST_F(AnalyticsCli, SelectOverParquetWritesTheChosenRowsAsParquet) {
  if (!rdpt::io::parquet_available()) GTEST_SKIP() << "built without DuckDB";
  rdpt::io::duckdb_exec("COPY (SELECT * FROM read_json('" + p("train.jsonl") + "', format='newline_delimited')) TO '" +
                        p("train.parquet") + "' (FORMAT parquet, ROW_GROUP_SIZE 4)");
  CmdResult r = rdpt("select --data " + p("train.parquet") + " --store " + store_ +
                     " --strategy teacher-count --beta 0.1 --out " + p("chosen.parquet"));
  ASSERT_EQ(r.rc, 0) << r.err;
  rdpt::io::duckdb_exec("COPY (SELECT * FROM '" + p("chosen.parquet") + "') TO '" + p("chosen_pq.jsonl") +
                        "' (FORMAT json)");
  EXPECT_EQ(chosen_ids(slurp(p("chosen_pq.jsonl"))),
            std::vector<std::string>({"train-q0-1", "train-q1-1", "train-q2-1"}));
  // The input's schema (the "extra" list column too) and its rows.
  EXPECT_EQ(duck_diff("SELECT * FROM '" + p("chosen.parquet") + "'",
                      "SELECT * FROM '" + p("train.parquet") + "' WHERE id IN ('train-q0-1', 'train-q1-1', 'train-q2-1')",
                      p("d4.csv")),
            "0,3\n");
  r = rdpt("select --data " + p("train.parquet") + " --store " + store_ + " --beta 0.1 --out -");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("Parquet input is written as Parquet"), std::string::npos) << r.err;
}

// rdpt select --compare: every strategy's picks on the same candidates, their means and overlaps,
// recomputed here from the planted labels (beta 0.1: T is Teacher, S Student, Sh and B Common;
// the student gives 3 tokens per action at p = probs(label).s).
TEST_F(AnalyticsCli, SelectCompareRecomputedFromThePlantedLabels) {
  std::map<std::string, std::vector<std::string>> picks = {
      {"teacher-count", {"train-q0-1", "train-q1-1", "train-q2-1"}},
      {"teacher-ratio", {"train-q0-1", "train-q1-0", "train-q2-2"}},
      {"longest", {"train-q0-2", "train-q1-2", "train-q2-1"}},
      {"min-teacher-count", {"train-q0-0", "train-q1-2", "train-q2-0"}},
      {"grape", {"train-q0-0", "train-q1-2", "train-q2-0"}},
  };
  CmdResult r = rdpt("select --data " + p("train.jsonl") + " --store " + store_ +
                     " --strategy random --seed 3 --beta 0.1 --out " + p("rnd.jsonl"));
  ASSERT_EQ(r.rc, 0) << r.err;
  picks["random"] = chosen_ids(slurp(p("rnd.jsonl")));
  r = rdpt("select --data " + p("train.jsonl") + " --store " + store_ + " --seed 3 --beta 0.1 --compare --out " +
           p("c.jsonl") + " --summary-json " + p("c.json") + " --scores-out " + p("scores.csv"));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("Jaccard overlap of the picks"), std::string::npos) << r.err;
  const json cmp = json::parse(slurp(p("c.json")))["comparison"];
  std::map<std::string, Plan> plan;
  for (const auto& q : train_plans()) plan[q.id] = q;
  ASSERT_EQ(cmp["strategies"].size(), 7u);
  for (const auto& s : cmp["strategies"]) {
    const std::string name = s["strategy"];
    SCOPED_TRACE(name);
    if (name == "rsr") {  // the student was scored without ranks
      EXPECT_NE(s.value("not_run", "").find("rdpt score --ranks"), std::string::npos) << s.dump();
      continue;
    }
    const auto& ids = picks.at(name);
    EXPECT_EQ(s["n_chosen"], ids.size());
    double share = 0, tokens = 0, lp = 0;
    for (const auto& id : ids) {
      const auto& labels = plan.at(id).labels;
      double lps = 0;
      for (Label l : labels) lps += std::log(probs(l).s);
      share += double(std::count(labels.begin(), labels.end(), T)) / double(labels.size());
      tokens += 3.0 * double(labels.size());
      lp += lps / double(labels.size());
    }
    EXPECT_NEAR(s["mean_teacher_share"].get<double>(), share / double(ids.size()), 1e-12);
    EXPECT_NEAR(s["mean_tokens"].get<double>(), tokens / double(ids.size()), 1e-12);
    EXPECT_NEAR(s["mean_student_logprob"].get<double>(), lp / double(ids.size()), 1e-12);
    EXPECT_TRUE(s["accuracy"].is_null());  // the training candidates carry no labels
  }
  // Overlaps: |A and B| / |A or B| of the pick sets.
  ASSERT_EQ(cmp["overlaps"].size(), 21u);
  for (const auto& o : cmp["overlaps"]) {
    if (o["a"] == "rsr" || o["b"] == "rsr") {
      EXPECT_TRUE(o["jaccard"].is_null());
      continue;
    }
    const auto& a = picks.at(o["a"]);
    const auto& b = picks.at(o["b"]);
    size_t both = 0;
    for (const auto& x : a) both += std::count(b.begin(), b.end(), x);
    EXPECT_NEAR(o["jaccard"].get<double>(), double(both) / double(a.size() + b.size() - both), 1e-12)
        << o["a"] << " vs " << o["b"];
  }
  // --scores-out: one row per candidate with its criteria.
  const auto rows = lines_of(slurp(p("scores.csv")));
  ASSERT_EQ(rows.size(), 10u);
  EXPECT_EQ(rows[0], "id,group,order,n_actions,n_scored,n_teacher,teacher_share,student_tokens,student_logprob_mean,rsr,correct");
  EXPECT_EQ(rows[1].rfind("train-q0-0,train-q0,0,4,4,1,0.25,12,", 0), 0u) << rows[1];
  // Without a teacher in the store, the typed strategies say why they did not run.
  r = rdpt("select --data " + p("train.jsonl") + " --store " + store_ +
           " --strategy grape --teacher nobody --compare --out " + p("g.jsonl") + " --summary-json " + p("g.json"));
  ASSERT_EQ(r.rc, 0) << r.err;
  const json g = json::parse(slurp(p("g.json")))["comparison"]["strategies"];
  for (const auto& s : g) {
    const std::string name = s["strategy"];
    const bool typed = name == "teacher-count" || name == "teacher-ratio" || name == "min-teacher-count";
    EXPECT_EQ(s.contains("not_run"), typed || name == "rsr") << name;  // rsr: no ranks
  }
}

TEST_F(AnalyticsCli, SelectEveryStrategy) {
  const std::map<std::string, std::vector<std::string>> want = {
      {"teacher-count", {"train-q0-1", "train-q1-1", "train-q2-1"}},   // q1, q2: ties -> more actions
      {"teacher-ratio", {"train-q0-1", "train-q1-0", "train-q2-2"}},
      {"longest", {"train-q0-2", "train-q1-2", "train-q2-1"}},
      {"min-teacher-count", {"train-q0-0", "train-q1-2", "train-q2-0"}},
      {"grape", {"train-q0-0", "train-q1-2", "train-q2-0"}},  // highest mean student log-prob
  };
  const auto input = lines_of(slurp(p("train.jsonl")));
  for (const auto& [strategy, ids] : want) {
    CmdResult r = rdpt("select --data " + p("train.jsonl") + " --store " + store_ + " --strategy " + strategy +
                 " --beta 0.1 --out " + p("chosen.jsonl") + " --summary-json " + p("select.json"));
    ASSERT_EQ(r.rc, 0) << strategy << ": " << r.err;
    std::string out = slurp(p("chosen.jsonl"));
    EXPECT_EQ(chosen_ids(out), ids) << strategy;
    // Exact input bytes, in input order.
    for (const auto& l : lines_of(out)) EXPECT_NE(std::find(input.begin(), input.end(), l), input.end()) << l;
    json s = json::parse(slurp(p("select.json")));
    EXPECT_EQ(s["n_groups"], 3);
    EXPECT_EQ(s["n_candidates"], 9);
    EXPECT_EQ(s["n_chosen"], 3);
    if (strategy == "teacher-count") {
      EXPECT_GT(s["mean_teacher_share_after"].get<double>(), s["mean_teacher_share_before"].get<double>());
    }
    if (strategy == "min-teacher-count") {
      EXPECT_LT(s["mean_teacher_share_after"].get<double>(), s["mean_teacher_share_before"].get<double>());
    }
    EXPECT_NE(r.err.find("3 groups, 9 candidates"), std::string::npos) << r.err;
  }
  // grape needs only the student: without a teacher in the store it still runs, shares unreported.
  CmdResult g = rdpt("select --data " + p("train.jsonl") + " --store " + store_ + " --strategy grape --teacher nobody" +
                     " --out " + p("grape.jsonl") + " --summary-json " + p("grape.json"));
  ASSERT_EQ(g.rc, 0) << g.err;
  EXPECT_EQ(chosen_ids(slurp(p("grape.jsonl"))), want.at("grape"));
  EXPECT_EQ(json::parse(slurp(p("grape.json")))["beta_source"], "unused");
  g = rdpt("select --data " + p("train.jsonl") + " --store " + store_ + " --teacher nobody --out " + p("tc.jsonl"));
  EXPECT_EQ(g.rc, 2) << g.err;
  EXPECT_NE(g.err.find("no model 'nobody'"), std::string::npos) << g.err;
  // random: one per group, the same for the same seed.
  CmdResult r = rdpt("select --data " + p("train.jsonl") + " --store " + store_ + " --strategy random --seed 5 --out " +
               p("rand1.jsonl"));
  ASSERT_EQ(r.rc, 0) << r.err;
  r = rdpt("select --data " + p("train.jsonl") + " --store " + store_ + " --strategy random --seed 5 --out " +
           p("rand2.jsonl"));
  ASSERT_EQ(r.rc, 0) << r.err;
  auto r1 = chosen_ids(slurp(p("rand1.jsonl")));
  EXPECT_EQ(r1, chosen_ids(slurp(p("rand2.jsonl"))));
  ASSERT_EQ(r1.size(), 3u);
  for (int g = 0; g < 3; ++g) EXPECT_EQ(r1[g].substr(0, 8), "train-q" + std::to_string(g));
}

TEST_F(AnalyticsCli, SelectPerQuestionBudgetAndAutoBeta) {
  CmdResult r = rdpt("select --data " + p("train.jsonl") + " --store " + store_ + " --beta 0.1 -k 2 --out " + p("k2.jsonl"));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(chosen_ids(slurp(p("k2.jsonl"))),
            (std::vector<std::string>{"train-q0-1", "train-q0-2", "train-q1-0", "train-q1-1", "train-q2-1",
                                      "train-q2-2"}));
  r = rdpt("select --data " + p("train.jsonl") + " --store " + store_ + " --beta 0.1 --budget 2 --out " +
           p("b2.jsonl"));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(chosen_ids(slurp(p("b2.jsonl"))), (std::vector<std::string>{"train-q0-1", "train-q1-1"}));
  // --beta auto (Algorithm 1 over these records) lands on 0.75, where every action is Common
  // (see TraceAutoBetaAndBetaCommand), so teacher-count ties everywhere and the longest win.
  r = rdpt("select --data " + p("train.jsonl") + " --store " + store_ + " --out " + p("auto.jsonl") +
           " --summary-json " + p("auto.json"));
  ASSERT_EQ(r.rc, 0) << r.err;
  json s = json::parse(slurp(p("auto.json")));
  EXPECT_EQ(s["beta_source"], "auto");
  EXPECT_EQ(s["beta"].get<double>(), 0.75);
  EXPECT_EQ(s["beta_search"]["candidates"].size(), 20u);
  EXPECT_EQ(chosen_ids(slurp(p("auto.jsonl"))),
            (std::vector<std::string>{"train-q0-2", "train-q1-2", "train-q2-1"}));
}

TEST_F(AnalyticsCli, AttributeRanksTheTrueTeacherFirst) {
  CmdResult r = rdpt("attribute --store " + store_ + " --teacher other-teacher --teacher teacher --beta 0.1 --bootstrap 200 "
               "--seed 3 --out " + p("attr.json"));
  ASSERT_EQ(r.rc, 0) << r.err;
  json a = json::parse(slurp(p("attr.json")));
  ASSERT_EQ(a["teachers"].size(), 2u);
  const json& first = a["teachers"][0];
  EXPECT_EQ(first["teacher"], "teacher");
  EXPECT_EQ(first["rank"], 1);
  EXPECT_TRUE(a["consistent"].get<bool>());
  EXPECT_EQ(a["teachers"][1]["teacher_share"]["mean"].get<double>(), 0.0);  // p = 0.05 everywhere
  EXPECT_GT(a["teachers"][1]["student_share"]["mean"].get<double>(), first["student_share"]["mean"].get<double>());
  double m = first["teacher_share"]["mean"], lo = first["teacher_share"]["lo"], hi = first["teacher_share"]["hi"];
  EXPECT_LE(lo, m);
  EXPECT_GE(hi, m);
  EXPECT_LT(lo, hi);
  // Mean per-response Teacher share, from the plan.
  double sum = 0;
  size_t n = 0;
  std::vector<Plan> all = test_plans();
  for (auto& pl : train_plans()) all.push_back(pl);
  for (const auto& pl : all) {
    double t = 0;
    for (Label l : pl.labels) t += l == T;
    sum += t / (pl.labels.size() + (pl.think ? 1 : 0));
    ++n;
  }
  EXPECT_NEAR(m, sum / n, 1e-12);
  // Summed correct-minus-incorrect Teacher fraction, from the plan (test responses only carry labels).
  double want = 0;
  auto tp = test_plans();
  for (size_t j = 0; j < 6; ++j) {
    double c = 0, nc = 0, i = 0, ni = 0;
    for (const auto& pl : tp) {
      if (j >= pl.labels.size() + 1) continue;
      bool is_t = j > 0 && pl.labels[j - 1] == T;
      (*pl.correct ? c : i) += is_t;
      (*pl.correct ? nc : ni) += 1;
    }
    if (nc && ni) want += c / nc - i / ni;
  }
  EXPECT_NEAR(first["summed_teacher_correct_minus_incorrect"].get<double>(), want, 1e-12);
  EXPECT_NE(r.err.find("1. teacher"), std::string::npos) << r.err;
  // Same seed, same intervals.
  CmdResult again = rdpt("attribute --store " + store_ + " --teacher other-teacher --teacher teacher --beta 0.1 "
                   "--bootstrap 200 --seed 3");
  ASSERT_EQ(again.rc, 0) << again.err;
  EXPECT_EQ(json::parse(again.out)["teachers"][0]["teacher_share"], first["teacher_share"]);
}

TEST_F(AnalyticsCli, AlignHistogramsBySet) {
  {
    std::ofstream f(p("test_ids.txt"));
    f << "test-r0\ntest-r1\n";
  }
  CmdResult r = rdpt("align --store " + store_ + " --set train=id-prefix:train- --set test2=" + p("test_ids.txt") +
               " --set testq=group-prefix:test-q --bins 16 --csv " + p("align.csv"));
  ASSERT_EQ(r.rc, 0) << r.err;
  json a = json::parse(r.out);
  ASSERT_EQ(a["sets"].size(), 3u);
  auto mean_of = [](const std::vector<Plan>& plans) {
    double s = 0;
    size_t n = 0;
    for (const auto& pl : plans) {
      if (pl.think) ++n;  // pT - pD = 0
      for (Label l : pl.labels) {
        Probs pr = probs(l);
        s += pr.t - pr.d;
        ++n;
      }
    }
    return s / n;
  };
  auto tp = test_plans();
  EXPECT_EQ(a["sets"][0]["n_responses"], train_plans().size());
  EXPECT_NEAR(a["sets"][0]["mean"].get<double>(), mean_of(train_plans()), 1e-9);
  EXPECT_EQ(a["sets"][1]["n_responses"], 2);
  EXPECT_NEAR(a["sets"][1]["mean"].get<double>(), mean_of({tp[0], tp[1]}), 1e-9);
  EXPECT_EQ(a["sets"][2]["n_responses"], 4);
  // With 16 bins of width 0.125 on [-1, 1], pT - pD = -0.6 (Student actions) lands in bin 3.
  uint64_t n_student = 0;
  for (const auto& pl : tp)
    for (Label l : pl.labels) n_student += l == S;
  EXPECT_EQ(a["sets"][2]["count"][3].get<uint64_t>(), n_student);
  EXPECT_EQ(lines_of(slurp(p("align.csv"))).size(), 1 + 3 * 16u);
}

// Ids of an ids file that are not in the store are counted and warned about (one line naming the
// set, the file, how many and an example), and recorded per set in the JSON.
TEST_F(AnalyticsCli, AlignWarnsAboutIdsNotInTheStore) {
  {
    std::ofstream f(p("some_ids.txt"));
    f << "test-r0\nghost-1\ntest-r1\nghost-2\nghost-1\n";
  }
  CmdResult r = rdpt("align --store " + store_ + " --set mixed=ids:" + p("some_ids.txt") +
                     " --set prefixed=id-prefix:test- --bins 8");
  ASSERT_EQ(r.rc, 0) << r.err;
  std::vector<std::string> warnings;
  for (const auto& l : lines_of(r.err))
    if (l.find("warning") != std::string::npos) warnings.push_back(l);
  ASSERT_EQ(warnings.size(), 1u) << r.err;
  EXPECT_NE(warnings[0].find("set 'mixed'"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find(p("some_ids.txt")), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("2 of the 4 ids"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("'ghost-1'"), std::string::npos) << warnings[0];
  json a = json::parse(r.out);
  EXPECT_EQ(a["sets"][0]["n_ids_not_in_store"], 2);
  EXPECT_EQ(a["sets"][0]["n_responses"], 2);
  EXPECT_TRUE(a["sets"][1]["n_ids_not_in_store"].is_null());
  // bin_edges: the 9 edges of 8 bins on [-1, 1].
  ASSERT_EQ(a["bin_edges"].size(), 9u);
  EXPECT_EQ(a["bin_edges"][0].get<double>(), -1.0);
  EXPECT_EQ(a["bin_edges"][8].get<double>(), 1.0);

  // All ids present: no warning, count 0.
  {
    std::ofstream f(p("good_ids.txt"));
    f << "test-r0\n";
  }
  r = rdpt("align --store " + store_ + " --set good=" + p("good_ids.txt"));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err;
  EXPECT_EQ(json::parse(r.out)["sets"][0]["n_ids_not_in_store"], 0);
}

TEST_F(AnalyticsCli, ErrorsAreOneLineWithExitCodes) {
  CmdResult r = rdpt("trace --store " + store_ + " --teacher nobody --out-dir " + p("x"));
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("no model 'nobody'"), std::string::npos) << r.err;
  EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
  r = rdpt("trace --store " + store_ + " --beta lots --out-dir " + p("x"));
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--beta"), std::string::npos) << r.err;
  // One --beta rule for every front end: trace and report refuse the same values the same way.
  for (const char* bad : {"lots", "-0.1", "inf", "1.5"}) {
    CmdResult t = rdpt(std::string("trace --store ") + store_ + " --beta=" + bad + " --out-dir " + p("x"));
    CmdResult rep = rdpt(std::string("report --store ") + store_ + " --beta=" + bad + " --out " + p("x.html"));
    EXPECT_EQ(t.rc, 2) << bad;
    EXPECT_EQ(rep.rc, 2) << bad;
    EXPECT_EQ(t.err.substr(t.err.find(": error:")), rep.err.substr(rep.err.find(": error:"))) << bad;
    EXPECT_NE(t.err.find("--beta: expected 'auto' or a number in [0, 1], got '" + std::string(bad) + "'"),
              std::string::npos)
        << t.err;
  }
  // select and attribute hold a given beta to the same range.
  r = rdpt("select --data " + p("train.jsonl") + " --store " + store_ + " --beta 1.5 --out " + p("x.jsonl"));
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("--beta: expected 'auto' or a number in [0, 1], got '1.5'"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(p("x.jsonl")));
  r = rdpt("attribute --store " + store_ + " --teacher teacher --teacher other-teacher --beta 1.5 --out " + p("a.json"));
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("--beta: expected 'auto' or a number in [0, 1], got '1.5'"), std::string::npos) << r.err;
  r = rdpt("select --data - --store " + store_ + " --out " + p("x.jsonl"));
  EXPECT_EQ(r.rc, 2);
  r = rdpt("select --data " + p("train.jsonl") + " --store " + store_ + " --strategy best --out " + p("x.jsonl"));
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("teacher-count"), std::string::npos) << r.err;
  r = rdpt("beta --store " + p("missing.db"));
  EXPECT_EQ(r.rc, 1);
  r = rdpt("align --store " + store_ + " --set nonsense");
  EXPECT_EQ(r.rc, 2);
  r = rdpt("attribute --store " + store_ + " --teacher teacher --teacher teacher");
  EXPECT_EQ(r.rc, 2);
  EXPECT_FALSE(fs::exists(p("x.jsonl")));
}

}  // namespace
