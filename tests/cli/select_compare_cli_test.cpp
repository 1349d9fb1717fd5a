// rdpt select --compare on the shipped 8-samples-per-question traces (536 responses, 67
// questions, correctness labels from the source), with teacher and student log-probs imported as
// one token per action: every strategy's picks, their means and the overlaps are recomputed here
// from the exported actions and the log-probs, by the rules docs/method.md section 7 states.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "cli/cli_fixture.h"

namespace {

using nlohmann::json;

class SelectCompareCli : public rdpt_test::CliTest {};

// A log-prob in [-3, 0) from the record id, action and model: fixed, varied, independent of rdpt.
double logprob_of(const std::string& id, int j, int model) {
  uint64_t h = 1469598103934665603ull ^ uint64_t(model);
  for (char c : id + "#" + std::to_string(j)) h = (h ^ uint8_t(c)) * 1099511628211ull;
  return -double(h % 3000 + 1) / 1000.0;
}

struct Resp {
  std::string id, group;
  std::optional<bool> correct;
  int n_actions = 0, n_teacher = 0;
  double lp_student = 0;  // sum over actions (one token each)
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
      for (size_t j = 0; j < begins[id].size(); ++j) lps.push_back(logprob_of(id, int(j), m));
      f << json{{"id", id}, {"offsets", begins[id]}, {"logprobs", lps}}.dump() << "\n";
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

  ASSERT_EQ(cmp["strategies"].size(), 6u);
  for (const auto& s : cmp["strategies"]) {
    const std::string name = s["strategy"];
    SCOPED_TRACE(name);
    const auto& p = picks.at(name);
    ASSERT_EQ(s["n_chosen"], p.size());
    EXPECT_EQ(p.size(), 67u);
    double share = 0, tokens = 0, lp = 0;
    int right = 0, labelled = 0;
    for (const auto& id : p) {
      const Resp& x = *by_id.at(id);
      share += double(x.n_teacher) / x.n_actions;
      tokens += x.n_actions;
      lp += x.lp_student / x.n_actions;
      if (x.correct) ++labelled, right += *x.correct;
    }
    EXPECT_NEAR(s["mean_teacher_share"].get<double>(), share / double(p.size()), 1e-12);
    EXPECT_NEAR(s["mean_tokens"].get<double>(), tokens / double(p.size()), 1e-12);
    EXPECT_NEAR(s["mean_student_logprob"].get<double>(), lp / double(p.size()), 1e-9);
    EXPECT_EQ(s["n_labelled"], labelled);
    EXPECT_NEAR(s["accuracy"].get<double>(), double(right) / labelled, 1e-12);
  }
  ASSERT_EQ(cmp["overlaps"].size(), 15u);
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
    ASSERT_GE(f.size(), 7u) << line;
    const Resp& x = *by_id.at(f[0]);
    EXPECT_EQ(std::stoi(f[5]), x.n_teacher) << line;
    ++rows;
  }
  EXPECT_EQ(rows, 536u);
}

}  // namespace
