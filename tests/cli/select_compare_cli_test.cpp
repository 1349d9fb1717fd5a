// rdpt select --compare on the shipped 8-samples-per-question traces (536 responses, 67
// questions, correctness labels from the source), with teacher and student log-probs (the
// student's with ranks) imported as one token per action: every strategy's picks, their means and the overlaps are recomputed here
// from the exported actions and the log-probs, by the rules docs/method.md section 7 states.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cli/cli_fixture.h"
#include "io/parquet.h"

namespace {

using nlohmann::json;

class SelectCompareCli : public rdpt_test::CliTest {};

// A log-prob in [-3, 0) from the record id, action and model: fixed, varied, independent of rdpt.
double logprob_of(const std::string& id, int j, int model) {
  uint64_t h = 1469598103934665603ull ^ uint64_t(model);
  for (char c : id + "#" + std::to_string(j)) h = (h ^ uint8_t(c)) * 1099511628211ull;
  return -double(h % 3000 + 1) / 1000.0;
}

// A rank in 1..150 (the student's lines carry "ranks"; import clips them at 100).
uint32_t rank_of(const std::string& id, int j) {
  uint64_t h = 14695981039346656037ull;
  for (char c : id + "@" + std::to_string(j)) h = (h ^ uint8_t(c)) * 1099511628211ull;
  return uint32_t(h % 150 + 1);
}

struct Resp {
  std::string id, group;
  std::optional<bool> correct;
  int n_actions = 0, n_teacher = 0;
  double lp_student = 0;  // sum over actions (one token each)
  uint64_t rank_student = 0;  // sum of clipped ranks
  double rsr() const { return double(rank_student) / std::max(-lp_student, 1e-12); }
};

TEST_F(SelectCompareCli, EveryStrategyOnTheShippedEightSampleDataRecomputed) {
  const std::string data = path("d.jsonl");
  ASSERT_EQ(std::system(("zstd -dc '" + std::string(RDPT_TEST_DATA) + "/traces/qwen25math_cot_8samples.jsonl.zst' > '" +
                         data + "'").c_str()),
            0);
  auto r = rdpt("import --data '" + data + "' --store '" + path("s.db") + "'");
  ASSERT_EQ(r.rc, 0) << r.err;
  r = rdpt("export --store '" + path("s.db") + "' --format jsonl --no-text");
  ASSERT_EQ(r.rc, 0) << r.err;
  // Log-prob lines, one token per action at its first byte (the "offsets" shape).
  std::map<std::string, std::vector<int64_t>> begins;
  std::vector<std::string> order;
  std::map<std::string, std::string> group_of;
  {
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
      const json a = json::parse(line);
      const std::string id = a["id"];
      if (!begins.count(id)) order.push_back(id);
      begins[id].push_back(a["begin"].get<int64_t>());
      group_of[id] = a["group"];
    }
  }
  ASSERT_EQ(order.size(), 536u);
  for (int m = 0; m < 2; ++m) {
    std::ofstream f(path(m ? "student.jsonl" : "teacher.jsonl"));
    for (const auto& id : order) {
      json lps = json::array();
      json ranks = json::array();
      for (size_t j = 0; j < begins[id].size(); ++j) lps.push_back(logprob_of(id, int(j), m));
      for (size_t j = 0; j < begins[id].size(); ++j) ranks.push_back(rank_of(id, int(j)));
      json line = {{"id", id}, {"offsets", begins[id]}, {"logprobs", lps}};
      if (m == 1) line["ranks"] = ranks;  // the student's, for rsr
      f << line.dump() << "\n";
    }
  }
  for (const char* m : {"teacher", "student"}) {
    r = rdpt(std::string("import --store '") + path("s.db") + "' --logprobs '" + path(std::string(m) + ".jsonl") +
             "' --model " + m);
    ASSERT_EQ(r.rc, 0) << r.err;
  }
  r = rdpt("select --data '" + data + "' --store '" + path("s.db") + "' --beta 0.1 --seed 7 --compare --out '" +
           path("c.jsonl") + "' --summary-json '" + path("c.json") + "' --scores-out '" + path("scores.csv") + "'");
  ASSERT_EQ(r.rc, 0) << r.err;
  const json cmp = json::parse(rdpt_test::slurp(path("c.json")))["comparison"];

  // The candidates, recomputed: three-way Teacher when pT - pS > beta (p = exp(log-prob)).
  std::map<std::string, std::optional<bool>> label;
  {
    std::ifstream in(data);
    std::string line;
    while (std::getline(in, line)) {
      const json rec = json::parse(line);
      label[rec["id"]] = rec["correct"].is_boolean() ? std::optional<bool>(rec["correct"].get<bool>()) : std::nullopt;
    }
  }
  std::vector<Resp> resp;
  for (const auto& id : order) {
    Resp x{id, group_of[id], label.at(id), int(begins[id].size()), 0, 0};
    for (int j = 0; j < x.n_actions; ++j) {
      const double pT = std::exp(logprob_of(id, j, 0)), pS = std::exp(logprob_of(id, j, 1));
      x.n_teacher += pT - pS > 0.1;
      x.lp_student += logprob_of(id, j, 1);
      x.rank_student += std::min<uint32_t>(rank_of(id, j), 100);
    }
    resp.push_back(x);
  }
  // Picks per question (one each): best by the strategy's criterion; ties: more actions, then the
  // earlier record.
  using Key = std::function<double(const Resp&)>;  // larger is better
  const std::map<std::string, Key> keys = {
      {"teacher-count", [](const Resp& x) { return double(x.n_teacher); }},
      {"teacher-ratio", [](const Resp& x) { return double(x.n_teacher) / x.n_actions; }},
      {"longest", [](const Resp& x) { return double(x.n_actions); }},
      {"min-teacher-count", [](const Resp& x) { return -double(x.n_teacher); }},
      {"grape", [](const Resp& x) { return x.lp_student / x.n_actions; }},
      {"rsr", [](const Resp& x) { return -x.rsr(); }},
  };
  std::map<std::string, std::set<std::string>> picks;
  for (const auto& [name, key] : keys) {
    std::map<std::string, size_t> best;
    for (size_t k = 0; k < resp.size(); ++k) {
      auto it = best.find(resp[k].group);
      if (it == best.end()) {
        best[resp[k].group] = k;
        continue;
      }
      const Resp &a = resp[k], &b = resp[it->second];
      if (key(a) > key(b) || (key(a) == key(b) && a.n_actions > b.n_actions)) it->second = k;
    }
    for (const auto& [g, k] : best) picks[name].insert(resp[k].id);
  }
  r = rdpt("select --data '" + data + "' --store '" + path("s.db") + "' --beta 0.1 --seed 7 --strategy random --out '" +
           path("rnd.jsonl") + "'");
  ASSERT_EQ(r.rc, 0) << r.err;
  {
    std::ifstream in(path("rnd.jsonl"));
    std::string line;
    while (std::getline(in, line)) picks["random"].insert(json::parse(line)["id"].get<std::string>());
  }
  std::map<std::string, const Resp*> by_id;
  for (const auto& x : resp) by_id[x.id] = &x;

  ASSERT_EQ(cmp["strategies"].size(), 7u);
  for (const auto& s : cmp["strategies"]) {
    const std::string name = s["strategy"];
    SCOPED_TRACE(name);
    const auto& p = picks.at(name);
    ASSERT_EQ(s["n_chosen"], p.size());
    EXPECT_EQ(p.size(), 67u);
    double share = 0, tokens = 0, lp = 0, rsr = 0;
    int right = 0, labelled = 0;
    for (const auto& id : p) {
      const Resp& x = *by_id.at(id);
      share += double(x.n_teacher) / x.n_actions;
      tokens += x.n_actions;
      lp += x.lp_student / x.n_actions;
      rsr += x.rsr();
      if (x.correct) ++labelled, right += *x.correct;
    }
    EXPECT_NEAR(s["mean_teacher_share"].get<double>(), share / double(p.size()), 1e-12);
    EXPECT_NEAR(s["mean_tokens"].get<double>(), tokens / double(p.size()), 1e-12);
    EXPECT_NEAR(s["mean_student_logprob"].get<double>(), lp / double(p.size()), 1e-9);
    EXPECT_NEAR(s["mean_rsr"].get<double>(), rsr / double(p.size()), 1e-9 * rsr / double(p.size()));
    EXPECT_EQ(s["n_labelled"], labelled);
    EXPECT_NEAR(s["accuracy"].get<double>(), double(right) / labelled, 1e-12);
  }
  ASSERT_EQ(cmp["overlaps"].size(), 21u);
  for (const auto& o : cmp["overlaps"]) {
    const auto& a = picks.at(o["a"]);
    const auto& b = picks.at(o["b"]);
    std::vector<std::string> both;
    std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(both));
    EXPECT_NEAR(o["jaccard"].get<double>(), double(both.size()) / double(a.size() + b.size() - both.size()), 1e-12)
        << o["a"] << " vs " << o["b"];
  }
  // The teacher-count and min-teacher-count picks differ (the comparison says something).
  EXPECT_NE(picks["teacher-count"], picks["min-teacher-count"]);
  EXPECT_NE(picks["rsr"], picks["grape"]);
  // --scores-out: a row per candidate; its teacher share is the recomputed one.
  std::ifstream sc(path("scores.csv"));
  std::string line;
  std::getline(sc, line);
  size_t rows = 0;
  while (std::getline(sc, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) f.push_back(cell);
    ASSERT_EQ(f.size(), 11u) << line;
    const Resp& x = *by_id.at(f[0]);
    EXPECT_EQ(std::stoi(f[5]), x.n_teacher) << line;
    EXPECT_NEAR(std::stod(f[9]), x.rsr(), 1e-9 * x.rsr()) << line;
    ++rows;
  }
  EXPECT_EQ(rows, 536u);
}

// A dataset none of whose records is in the store is named as such, before any beta search.
TEST_F(SelectCompareCli, RecordsMissingFromTheStoreAreSaidFirst) {
  std::ofstream(path("in.jsonl")) << R"({"id": "a", "question": "q1?", "response": "One. Two."})" << "\n"
                                  << R"({"id": "b", "question": "q1?", "response": "Uno. Dos."})" << "\n";
  std::ofstream(path("other.jsonl")) << R"({"id": "x", "question": "q1?", "response": "One. Two."})" << "\n"
                                     << R"({"id": "y", "question": "q1?", "response": "Uno. Dos."})" << "\n";
  std::ofstream(path("lp.jsonl")) << R"({"id": "a", "tokens": ["One.", " Two."], "logprobs": [-0.5, -0.5]})" << "\n"
                                  << R"({"id": "b", "tokens": ["Uno.", " Dos."], "logprobs": [-0.1, -2]})" << "\n";
  const std::string db = path("m.db");
  ASSERT_EQ(rdpt("import --data '" + path("in.jsonl") + "' --store '" + db + "'").rc, 0);
  for (const char* m : {"teacher", "student"})
    ASSERT_EQ(rdpt("import --store '" + db + "' --logprobs '" + path("lp.jsonl") + "' --model " + m).rc, 0);
  auto r = rdpt("select --data '" + path("other.jsonl") + "' --store '" + db + "' --out '" + path("o.jsonl") + "'");
  EXPECT_EQ(r.rc, 1) << r.err;
  EXPECT_NE(r.err.find("none of the 2 records of '" + path("other.jsonl") + "' is in store '" + db +
                       "' (records are matched by id: check --id-field, or score them first)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("beta search"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(path("o.jsonl")));
}

// --strategy rsr on a hand-built store: two questions, three responses each, the student's
// tokens given with ranks; the picks are the lowest sum(min(rank, clip)) / sum(-log p).
TEST_F(SelectCompareCli, RsrPicksTheLowestRankSurprisalRatio) {
  std::ofstream d(path("d.jsonl"));
  // q1: a = (1+2)/(0.5+0.5) = 3; b = (1+1)/(0.1+0.1) = 10; c = (30+30 clipped 20+20)/(4+4) = 5.
  // q2: d = (5)/(1) = 5 and e = (10)/(2) = 5 tie: e has more actions; f has no ranks.
  d << R"({"id": "a", "question": "q1?", "response": "One. Two."})" << "\n"
    << R"({"id": "b", "question": "q1?", "response": "Uno. Dos."})" << "\n"
    << R"({"id": "c", "question": "q1?", "response": "Eins. Zwei."})" << "\n"
    << R"({"id": "d", "question": "q2?", "response": "Yes."})" << "\n"
    << R"({"id": "e", "question": "q2?", "response": "Sure. Yes."})" << "\n"
    << R"({"id": "f", "question": "q2?", "response": "No. Never. Not."})" << "\n";
  d.close();
  const std::vector<std::string> lines = {
      R"({"id": "a", "tokens": ["One.", " Two."], "logprobs": [-0.5, -0.5], "ranks": [1, 2]})",
      R"({"id": "b", "tokens": ["Uno.", " Dos."], "logprobs": [-0.1, -0.1], "ranks": [1, 1]})",
      R"({"id": "c", "tokens": ["Eins.", " Zwei."], "logprobs": [-4, -4], "ranks": [30, 30]})",
      R"({"id": "d", "tokens": ["Yes."], "logprobs": [-1], "ranks": [5]})",
      R"({"id": "e", "tokens": ["Sure.", " Yes."], "logprobs": [-1, -1], "ranks": [4, 6]})",
      R"({"id": "f", "tokens": ["No.", " Never.", " Not."], "logprobs": [-1, -1, -1]})"};
  {
    std::ofstream l(path("student.jsonl")), u(path("unranked.jsonl"));
    for (const auto& x : lines) {
      l << x << "\n";
      json j = json::parse(x);
      j.erase("ranks");
      u << j.dump() << "\n";
    }
  }
  const std::string db = path("s.db");
  auto r = rdpt("import --data '" + path("d.jsonl") + "' --store '" + db + "'");
  ASSERT_EQ(r.rc, 0) << r.err;
  // Without ranks in the store, rsr says how to get them.
  r = rdpt("import --store '" + db + "' --logprobs '" + path("unranked.jsonl") + "' --model student");
  ASSERT_EQ(r.rc, 0) << r.err;
  r = rdpt("select --data '" + path("d.jsonl") + "' --store '" + db + "' --strategy rsr --out '" + path("o.jsonl") + "'");
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("rdpt score --ranks"), std::string::npos) << r.err;
  // With them, clipped at 20.
  r = rdpt("import --store '" + db + "' --logprobs '" + path("student.jsonl") + "' --model student --rank-clip 20");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("ranks for 5"), std::string::npos) << r.err;
  r = rdpt("select --data '" + path("d.jsonl") + "' --store '" + db + "' --strategy rsr --out '" + path("o.jsonl") +
           "' --scores-out '" + path("sc.csv") + "'");
  ASSERT_EQ(r.rc, 0) << r.err;
  std::vector<std::string> ids;
  {
    std::ifstream in(path("o.jsonl"));
    std::string line;
    while (std::getline(in, line)) ids.push_back(json::parse(line)["id"]);
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "e"}));
  const std::string csv = rdpt_test::slurp(path("sc.csv"));
  EXPECT_NE(csv.find("\nc,q:"), std::string::npos) << csv;                      // groups: the questions
  EXPECT_NE(csv.find(",2,0,0,,2,-4,5,\n"), std::string::npos) << csv;  // c: (20 + 20) / 8
  EXPECT_NE(csv.find(",5,3,0,0,,3,-1,,\n"), std::string::npos) << csv;  // f: no ranks, no rsr
  // rdpt export gives the clipped rank sums per action (none for f, scored without ranks), and
  // the rank column only for a model with ranks.
  r = rdpt("export --store '" + db + "' --no-text");
  ASSERT_EQ(r.rc, 0) << r.err;
  std::vector<std::string> rows;  // without the group column (a hash of the question)
  {
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
      const size_t g = line.find(','), g2 = line.find(',', g + 1);
      rows.push_back(line.substr(0, g) + line.substr(g2));
    }
  }
  ASSERT_EQ(rows.size(), 13u) << r.out;  // header and 12 actions
  EXPECT_EQ(rows[0], "id,j,begin,end,special,student_n_tokens,student_logprob_sum,student_p,student_rank_sum");
  auto has_row = [&](const std::string& row) { return std::find(rows.begin(), rows.end(), row) != rows.end(); };
  EXPECT_TRUE(has_row("a,2,4,9,false,1,-0.5,0.6065306597126334,2")) << r.out;
  EXPECT_TRUE(has_row("c,1,0,5,false,1,-4,0.01831563888873418,20")) << r.out;  // 30 clipped at 20
  EXPECT_TRUE(has_row("f,3,10,15,false,1,-1,0.36787944117144233,")) << r.out;
  r = rdpt("export --store '" + db + "' --no-text --format jsonl");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find(R"("j":2,"begin":5,"end":10,"special":false,"student_n_tokens":1,)"
                       R"("student_logprob_sum":-1,"student_p":0.36787944117144233,"student_rank_sum":6})"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(R"("j":3,"begin":10,"end":15,"special":false,"student_n_tokens":1,)"
                       R"("student_logprob_sum":-1,"student_p":0.36787944117144233,"student_rank_sum":null})"),
            std::string::npos)
      << r.out;
  if (rdpt::io::parquet_available()) {  // Parquet: the same sums, BIGINT, null without ranks
    r = rdpt("export --store '" + db + "' --format parquet --out '" + path("e.parquet") + "'");
    ASSERT_EQ(r.rc, 0) << r.err;
    rdpt::io::duckdb_exec("COPY (SELECT id, j, student_rank_sum, typeof(student_rank_sum) FROM '" + path("e.parquet") +
                          "' ORDER BY id, j) TO '" + path("e_ranks.csv") + "' (HEADER false)");
    EXPECT_EQ(rdpt_test::slurp(path("e_ranks.csv")),
              "a,1,1,BIGINT\na,2,2,BIGINT\nb,1,1,BIGINT\nb,2,1,BIGINT\nc,1,20,BIGINT\nc,2,20,BIGINT\nd,1,5,BIGINT\n"
              "e,1,4,BIGINT\ne,2,6,BIGINT\nf,1,,BIGINT\nf,2,,BIGINT\nf,3,,BIGINT\n");
  }
  // Another clip for the same model is refused; --rank-clip alone on score needs --ranks.
  r = rdpt("import --store '" + db + "' --logprobs '" + path("student.jsonl") + "' --model student");
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("clipped at 20"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("student.jsonl:1: record 'a'"), std::string::npos) << r.err;
  // Lines without ranks are not held to the clip.
  r = rdpt("import --store '" + db + "' --logprobs '" + path("unranked.jsonl") + "' --model student");
  EXPECT_EQ(r.rc, 0) << r.err;
}

}  // namespace

// What a user's mistakes around select's input and output do (a new-user review found each one
// passing silently): outputs into a device, a FIFO or a link; data that is not the scored text; a
// pipe, the same file or an empty file as input; a name that promises another format; negative
// numbers; --skip-bad counts; a partly scored store; records holding several responses.
class SelectGuardsCli : public rdpt_test::CliTest {
 protected:
  void SetUp() override {
    rdpt_test::CliTest::SetUp();
    data_ = write("in.jsonl", R"({"id": "a", "question": "q1?", "response": "One. Two."})"
                              "\n"
                              R"({"id": "b", "question": "q1?", "response": "Uno. Dos."})"
                              "\n"
                              R"({"id": "c", "question": "q2?", "response": "Yes. No. Maybe."})"
                              "\n");
    write("lp.jsonl", R"({"id": "a", "tokens": ["One.", " Two."], "logprobs": [-0.5, -0.5]})"
                      "\n"
                      R"({"id": "b", "tokens": ["Uno.", " Dos."], "logprobs": [-0.1, -2]})"
                      "\n"
                      R"({"id": "c", "tokens": ["Yes.", " No.", " Maybe."], "logprobs": [-1, -1, -1]})"
                      "\n");
    db_ = path("s.db");
    ASSERT_EQ(rdpt("import --data '" + data_ + "' --store '" + db_ + "'").rc, 0);
    for (const char* m : {"teacher", "student"})
      ASSERT_EQ(rdpt("import --store '" + db_ + "' --logprobs '" + path("lp.jsonl") + "' --model " + m).rc, 0);
  }
  rdpt_test::CmdResult select(const std::string& data, const std::string& out, const std::string& more = "") {
    return rdpt("select --data '" + data + "' --store '" + db_ + "' --strategy longest --beta 0.2 --out '" + out +
                "' " + more);
  }
  std::string data_, db_;
};

TEST_F(SelectGuardsCli, OutputsIntoDevicesFifosAndLinksStayWhatTheyAre) {
  // A device is written into, never replaced by a regular file (the run used to rename over it).
  // The test makes its own null device where it may (root), so that a regression cannot break
  // the machine's /dev/null; elsewhere /dev/null itself, which then cannot be replaced anyway.
  const bool own = ::mknod(path("null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0;
  const std::string dev = own ? path("null") : "/dev/null";
  auto r = select(data_, dev, "--summary-json '" + dev + "' --scores-out '" + dev + "'");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(std::filesystem::is_character_file(dev));
  EXPECT_FALSE(std::filesystem::exists(dev + ".tmp"));
  // a link keeps pointing at its target, which gets the output
  write("target.jsonl", "old\n");
  std::filesystem::create_symlink(path("target.jsonl"), path("link.jsonl"));
  r = select(data_, path("link.jsonl"));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(std::filesystem::is_symlink(path("link.jsonl")));
  EXPECT_EQ(rdpt_test::slurp(path("target.jsonl")), R"({"id": "a", "question": "q1?", "response": "One. Two."})"
                                        "\n"
                                        R"({"id": "c", "question": "q2?", "response": "Yes. No. Maybe."})"
                                        "\n");
  // /dev/stdout is the process's standard output, not a reopened file: what the shell writes
  // around it stays in order (a reopened /dev/stdout had its own offset and was written over)
  ASSERT_EQ(std::system(("{ echo HEADER; '" + std::string(RDPT_BINARY) + "' select --data '" + data_ + "' --store '" +
                         db_ + "' --strategy longest --beta 0.2 --out /dev/stdout 2>/dev/null; echo TRAILER; } > '" +
                         path("around.txt") + "'")
                            .c_str()),
            0);
  EXPECT_EQ(rdpt_test::slurp(path("around.txt")), "HEADER\n" + rdpt_test::slurp(path("target.jsonl")) + "TRAILER\n");
  // a FIFO is written into: its reader gets the lines
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  const std::string got = path("from_fifo.txt");
  ASSERT_EQ(std::system(("cat '" + path("fifo") + "' > '" + got + "' &").c_str()), 0);
  r = select(data_, path("fifo"));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(std::filesystem::is_fifo(path("fifo")));
  for (int k = 0; k < 100 && rdpt_test::slurp(got).size() < 100; ++k) ::usleep(20000);
  EXPECT_EQ(rdpt_test::slurp(got), rdpt_test::slurp(path("target.jsonl")));
}

TEST_F(SelectGuardsCli, DataThatIsNotTheScoredTextIsRefused) {
  const std::string changed = write("changed.jsonl", R"({"id": "a", "question": "q1?", "response": "One. Two."})"
                                                     "\n"
                                                     R"({"id": "b", "question": "q1?", "response": "Uno. Dos. Tres."})"
                                                     "\n");
  auto r = select(changed, path("o.jsonl"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find(changed + ":2: record 'b': its response differs from the one stored under this id in '" + db_ +
                       "' (9 bytes stored, 15 given, first difference at byte 9)"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(path("o.jsonl")));
  const std::string q = write("q.jsonl", R"({"id": "c", "question": "q3?", "response": "Yes. No. Maybe."})"
                                         "\n");
  r = select(q, path("o.jsonl"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find(q + ":1: record 'c': its question differs"), std::string::npos) << r.err;
}

TEST_F(SelectGuardsCli, InputsThatCannotBeReadTwiceOrAreEmpty) {
  // a pipe (bash's <(...) is one) is refused before it is read
  ASSERT_EQ(::mkfifo(path("in_fifo").c_str(), 0600), 0);
  auto r = select(path("in_fifo"), path("o.jsonl"));
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("needs a regular file, not stdin or a pipe"), std::string::npos) << r.err;
  const std::string empty = write("empty.jsonl", "");
  r = select(empty, path("o.jsonl"));
  EXPECT_EQ(r.rc, 1) << r.err;
  EXPECT_NE(r.err.find("'" + empty + "': no records in the input"), std::string::npos) << r.err;
  const std::string before = rdpt_test::slurp(data_);
  r = select(data_, data_);
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("--out and --data name the same file"), std::string::npos) << r.err;
  EXPECT_EQ(rdpt_test::slurp(data_), before);
  r = select(data_, path("o.jsonl"), "--summary-json '" + db_ + "'");
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("--summary-json and --store name the same file"), std::string::npos) << r.err;
}

TEST_F(SelectGuardsCli, NamesFormatsAndNumbersAreChecked) {
  for (const char* out : {"o.parquet", "o.jsonl.gz", "o.JSONL.ZST"}) {
    auto r = select(data_, path(out));
    EXPECT_EQ(r.rc, 2) << out;
    EXPECT_NE(r.err.find("--out '" + path(out) + "'"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(path(out)));
  }
  for (const char* opt : {"--budget -3", "--seed -1", "--budget ' -3'"}) {
    auto r = select(data_, path("o.jsonl"), opt);
    EXPECT_EQ(r.rc, 2) << opt;
    EXPECT_NE(r.err.find("must be >= 0, got"), std::string::npos) << r.err;
  }
  // two outputs into one file, or stdout twice, are refused before anything is written
  for (const std::string more : {"--summary-json '" + path("o.jsonl") + "'", "--scores-out '" + path("./o.jsonl") + "'"}) {
    auto r = select(data_, path("o.jsonl"), more);
    EXPECT_EQ(r.rc, 2) << more;
    EXPECT_NE(r.err.find("name the same output"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(path("o.jsonl")));
  }
  {
    auto r = select(data_, "-", "--summary-json /dev/stdout");
    EXPECT_EQ(r.rc, 2) << r.err;
    EXPECT_NE(r.err.find("--out and --summary-json name the same output"), std::string::npos) << r.err;
  }
  // a side output that cannot be written fails the run before --out is replaced
  write("o.jsonl", "kept\n");
  auto r = select(data_, path("o.jsonl"), "--summary-json '" + path("no/such/dir/s.json") + "'");
  EXPECT_EQ(r.rc, 1) << r.err;
  EXPECT_EQ(rdpt_test::slurp(path("o.jsonl")), "kept\n");
}

TEST_F(SelectGuardsCli, SkippedUnrankedAndMultiResponseRecordsAreSaid) {
  const std::string bad = write("bad.jsonl", std::string(R"({"id": "a", "question": "q1?", "response": "One. Two."})") +
                                                 "\n{oops\n" + R"({"id": "z", "question": "q1?"})" + "\n");
  auto r = select(bad, path("o.jsonl"), "--skip-bad --summary-json '" + path("s.json") + "'");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("2 records skipped: 1 invalid JSON, 1 missing field 'response' (--skip-bad)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(nlohmann::json::parse(rdpt_test::slurp(path("s.json")))["n_skipped"], 2);
  EXPECT_EQ(nlohmann::json::parse(rdpt_test::slurp(path("s.json")))["chosen_ids"], nlohmann::json::array({"a"}));
  // c has no student scores: it cannot be ranked, and its question gets no pick
  const std::string db2 = path("partial.db");
  ASSERT_EQ(rdpt("import --data '" + data_ + "' --store '" + db2 + "'").rc, 0);
  write("lp_ab.jsonl", R"({"id": "a", "tokens": ["One.", " Two."], "logprobs": [-0.5, -0.5]})"
                       "\n"
                       R"({"id": "b", "tokens": ["Uno.", " Dos."], "logprobs": [-0.1, -2]})"
                       "\n");
  ASSERT_EQ(rdpt("import --store '" + db2 + "' --logprobs '" + path("lp.jsonl") + "' --model teacher").rc, 0);
  ASSERT_EQ(rdpt("import --store '" + db2 + "' --logprobs '" + path("lp_ab.jsonl") + "' --model student").rc, 0);
  r = rdpt("select --data '" + data_ + "' --store '" + db2 + "' --beta 0.2 --out '" + path("o2.jsonl") + "'");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("1 of the 3 candidates could not be ranked by teacher-count (no action scored under both "
                       "the teacher 'teacher' and the student 'student'"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("1 of the 2 questions got no pick"), std::string::npos) << r.err;
}
