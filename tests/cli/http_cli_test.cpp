// `rdpt sample` end to end (local fixture model and the fake engine), and the store-level
// contract of HTTP scoring: with injected faults every pair ends scored or failed, a rerun of
// the failed ones completes the store, which then equals a fault-free run's.
#ifdef RDPT_WITH_LLAMA
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "rdpt/http.h"
#include "rdpt/segment.h"
#include "rdpt/store.h"
#include "tools/fake_engine.h"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kVocab = std::string(RDPT_LLAMA_SOURCE_DIR) + "/models/ggml-vocab-qwen2.gguf";

struct CmdResult {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class HttpCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rdpt_http_cli_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream q(dir_ / "q.jsonl");
    q << R"({"id": "q1", "question": "What is 6 x 7?", "answer": "42"})" << '\n'
      << R"({"id": "q2", "question": "Name a prime.", "answer": "7", "partial": "<think>\nPrimes first."})" << '\n'
      << R"({"id": "q3", "question": "Café or thé?"})" << '\n';
  }
  void TearDown() override { fs::remove_all(dir_); }
  CmdResult rdpt(const std::string& args) {
    const std::string out = (dir_ / "stdout").string(), err = (dir_ / "stderr").string();
    const std::string cmd = std::string(RDPT_BINARY) + " " + args + " >" + out + " 2>" + err;
    int st = std::system(cmd.c_str());
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(out), slurp(err)};
  }
  std::vector<nlohmann::json> lines(const std::string& path) {
    std::vector<nlohmann::json> v;
    std::istringstream in(slurp(path));
    std::string l;
    while (std::getline(in, l))
      if (!l.empty()) v.push_back(nlohmann::json::parse(l));
    return v;
  }
  static std::string fixture_model() {
    const std::string dir = std::string(RDPT_FIXTURE_DIR) + "/http";
    fs::create_directories(dir);
    const std::string path = dir + "/sample_qwen2_s21.gguf";
    if (!fs::exists(path)) {
      const std::string tmp = path + ".tmp" + std::to_string(::getpid());
      const std::string cmd = std::string(RDPT_FIXTURE_TOOL) + " --vocab " + kVocab + " --out " + tmp +
                              " --seed 21 --scale 0.5 --threads 1 > /dev/null 2>&1";
      if (std::system(cmd.c_str()) != 0) throw std::runtime_error("fixture failed");
      fs::rename(tmp, path);
    }
    return path;
  }
  static void check_sample_line(const nlohmann::json& j) {
    const std::string resp = j.at("response").get<std::string>();
    const auto& offs = j.at("offsets");
    const auto& lps = j.at("logprobs");
    ASSERT_EQ(offs.size(), lps.size());
    for (size_t k = 0; k < offs.size(); ++k) {
      EXPECT_LT(offs[k].get<size_t>(), resp.size());
      if (k) { EXPECT_LE(offs[k - 1].get<size_t>(), offs[k].get<size_t>()); }
      EXPECT_LE(lps[k].get<double>(), 0.0);
    }
  }
  fs::path dir_;
};

TEST_F(HttpCli, SampleLocalModelIsSeededAndImportable) {
  const std::string model = fixture_model();
  const std::string q = (dir_ / "q.jsonl").string(), a = (dir_ / "a.jsonl").string(), b = (dir_ / "b.jsonl").string();
  const std::string common = "sample --data " + q + " --model fx=" + model +
                             " -n 2 --max-tokens 12 --seed 5 --threads 1 --prompt-format 'Q: {question}\nA:' "
                             "--prefix-field partial";
  CmdResult r = rdpt(common + " --out " + a);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("sampled 6 completions"));
  CmdResult r2 = rdpt(common + " --out " + b);
  ASSERT_EQ(r2.code, 0) << r2.err;
  EXPECT_EQ(slurp(a), slurp(b));  // same seed, same file
  // Two shards (by question id) together write the same lines, each in the unsharded order.
  {
    std::vector<std::string> all_lines, got;
    std::istringstream in(slurp(a));
    for (std::string l; std::getline(in, l);) all_lines.push_back(l);
    for (int i = 0; i < 2; ++i) {
      const std::string part = (dir_ / ("shard" + std::to_string(i) + ".jsonl")).string();
      CmdResult rs = rdpt(common + " --shard " + std::to_string(i) + "/2 --out " + part);
      ASSERT_EQ(rs.code, 0) << rs.err;
      std::istringstream pin(slurp(part));
      size_t at = 0;
      for (std::string l; std::getline(pin, l);) {
        const auto it = std::find(all_lines.begin() + long(at), all_lines.end(), l);
        ASSERT_NE(it, all_lines.end()) << "shard " << i << " wrote a line the unsharded run did not, or out of order";
        at = size_t(it - all_lines.begin()) + 1;
        got.push_back(l);
      }
    }
    std::sort(got.begin(), got.end());
    std::sort(all_lines.begin(), all_lines.end());
    EXPECT_EQ(got, all_lines);
  }
  auto v = lines(a);
  ASSERT_EQ(v.size(), 6u);
  for (const auto& j : v) {
    check_sample_line(j);
    EXPECT_EQ(j["model"], "fx");
    EXPECT_TRUE(j.contains("question_id"));
    EXPECT_EQ(j["prompt_fingerprint"], v[0]["prompt_fingerprint"]);  // one prompt recipe per run
  }
  EXPECT_EQ(v[0]["prompt_fingerprint"].get<std::string>().rfind("prompt:", 0), 0u);
  // another prompt recipe, another fingerprint
  CmdResult other = rdpt("sample --data " + q + " --model fx=" + model +
                         " -n 1 --max-tokens 2 --seed 5 --threads 1 --prompt-format 'Q: {question}' --out " + b);
  ASSERT_EQ(other.code, 0) << other.err;
  EXPECT_NE(lines(b)[0]["prompt_fingerprint"], v[0]["prompt_fingerprint"]);
  EXPECT_EQ(v[0]["id"], "q1:fx:0");
  EXPECT_EQ(v[1]["sample_index"], 1);
  EXPECT_EQ(v[0]["answer"], "42");
  // q2's responses continue the forced prefix; its tokens start after it.
  const std::string pre = "<think>\nPrimes first.";
  EXPECT_EQ(v[2]["response"].get<std::string>().rfind(pre, 0), 0u);
  if (!v[2]["offsets"].empty()) { EXPECT_GE(v[2]["offsets"][0].get<size_t>(), pre.size()); }
  // The file is a dataset and a log-prob file for `rdpt import` at once.
  const std::string store = (dir_ / "s.db").string();
  CmdResult imp = rdpt("import --data " + a + " --store " + store + " --logprobs " + a + " --model fx");
  EXPECT_EQ(imp.code, 0) << imp.err;
}

TEST_F(HttpCli, SampleFromServersInBothFormats) {
  auto model = rdpt::testing::make_hash_model(kVocab);
  for (auto api : {rdpt::testing::FakeApi::VLLM, rdpt::testing::FakeApi::SGLang}) {
    rdpt::testing::FakeEngine eng(*model, api);
    ::setenv("RDPT_CLI_TEST_KEY", "cli-secret-4242", 1);
    eng.set_required_key("cli-secret-4242");
    const std::string spec = (api == rdpt::testing::FakeApi::SGLang ? "sglang+" : "") + eng.base_url() + "#fake-model";
    const std::string out = (dir_ / "srv.jsonl").string();
    CmdResult r = rdpt("sample --data " + (dir_ / "q.jsonl").string() + " --model teacher=" + spec +
                 " -n 3 --max-tokens 10 --seed 2 --prompt-format 'Q: {question}\nA:' --api-key-env RDPT_CLI_TEST_KEY "
                 "--concurrency 2 --out " + out);
    ASSERT_EQ(r.code, 0) << r.err;
    auto v = lines(out);
    ASSERT_EQ(v.size(), 9u);
    for (const auto& j : v) {
      check_sample_line(j);
      EXPECT_EQ(j["model"], "teacher");
      EXPECT_FALSE(j["offsets"].empty());
    }
    EXPECT_THAT(r.err, Not(HasSubstr("cli-secret")));
  }
}

TEST_F(HttpCli, SampleErrors) {
  const std::string q = (dir_ / "q.jsonl").string();
  EXPECT_EQ(rdpt("sample --data " + q).code, 2);                                   // no --model
  EXPECT_EQ(rdpt("sample --data " + q + " --model http://127.0.0.1:1/v1").code, 2);  // server without a NAME
  EXPECT_EQ(rdpt("sample --data " + q + " --model x=/nonexistent.gguf").code, 1);  // a missing file
  EXPECT_EQ(rdpt("sample --data " + q + " --model x=" + fixture_model() + " --top-p 0").code, 2);
  ::unsetenv("RDPT_CLI_UNSET_KEY");
  CmdResult k = rdpt("sample --data " + q + " --model t=http://127.0.0.1:1/v1 --api-key-env RDPT_CLI_UNSET_KEY");
  EXPECT_EQ(k.code, 2);
  EXPECT_THAT(k.err, HasSubstr("RDPT_CLI_UNSET_KEY"));
  // An unreachable server: every completion fails, reported, exit 3 (finished with failures).
  CmdResult r = rdpt("sample --data " + q + " --model t=http://127.0.0.1:1/v1 --prompt-format '{question}' --max-retries 1");
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, HasSubstr("failed"));
}

// `rdpt score` with a server model: the same fixture model served by the fake vLLM engine (with
// faults) and loaded locally give the same per-action scores; failed pairs are retried by a rerun.
TEST_F(HttpCli, ScoreCommandWithAServerModelMatchesLocalScoring) {
  const std::string gguf = fixture_model();
  auto model = rdpt::testing::make_llama_model(gguf);
  rdpt::testing::FakeEngine eng(*model, rdpt::testing::FakeApi::VLLM);
  const std::string data = (dir_ / "d.jsonl").string();
  {
    std::ofstream d(data);
    for (int i = 0; i < 12; ++i)
      d << nlohmann::json({{"id", "r" + std::to_string(i)}, {"question_id", "g" + std::to_string(i % 3)},
                           {"question", "What is " + std::to_string(i % 3) + "?"},
                           {"response", "<think>\nCaf\u00e9 first. Then " + std::to_string(i) + " more.</think> Done."}})
                .dump()
        << '\n';
  }
  const std::string store = (dir_ / "s.db").string();
  const std::string common = "score --data " + data + " --store " + store + " --prompt-format 'Q: {question}\nA:' --threads 1";
  eng.set_faults({.p_500 = 0.3, .p_drop = 0.1, .poison = "", .seed = 3});
  CmdResult r = rdpt(common + " --model local=" + gguf + " --model remote=" + eng.base_url() + "#fx --tokenizer remote=" +
                     gguf + " --concurrency 4");
  // Exit 3 exactly when pairs failed after their retries (stored as failed; the rerun retries them).
  const bool failed = r.err.find("responses failed") != std::string::npos;
  ASSERT_EQ(r.code, failed ? 3 : 0) << r.err;
  eng.set_faults({});
  CmdResult r2 = rdpt(common + " --model local=" + gguf + " --model remote=" + eng.base_url() + "#fx --tokenizer remote=" + gguf);
  ASSERT_EQ(r2.code, 0) << r2.err;
  auto st = rdpt::Store::open(store, rdpt::OpenMode::ReadOnly);
  auto local = st->model("local"), remote = st->model("remote");
  ASSERT_TRUE(local && remote);
  EXPECT_EQ(remote->backend, "http-openai");
  int64_t mids[] = {local->mid, remote->mid};
  int n = 0;
  st->for_each_scored(mids, [&](const rdpt::StoredResponse& resp, std::span<const std::optional<rdpt::PairScore>> sc) {
    ++n;
    EXPECT_TRUE(sc[0] && sc[0]->status == rdpt::ScoreStatus::Ok) << resp.id;
    EXPECT_TRUE(sc[1] && sc[1]->status == rdpt::ScoreStatus::Ok) << resp.id << (sc[1] ? sc[1]->error : "");
    if (!sc[0] || !sc[1]) return true;
    EXPECT_EQ(sc[0]->n_tokens, sc[1]->n_tokens) << resp.id;
    for (size_t j = 0; j < resp.actions.size(); ++j) {
      EXPECT_EQ(sc[0]->actions[j].n_tokens, sc[1]->actions[j].n_tokens) << resp.id << " action " << j;
      EXPECT_NEAR(sc[0]->actions[j].logprob_sum, sc[1]->actions[j].logprob_sum,
                  2e-3 * std::max(1u, sc[0]->actions[j].n_tokens) + 1e-3 * std::fabs(sc[0]->actions[j].logprob_sum))
          << resp.id << " action " << j;
    }
    return true;
  });
  EXPECT_EQ(n, 12);
}

// Store-level: faults -> every pair Ok or Failed -> rerun of the unscored -> equals clean run.
TEST_F(HttpCli, FaultyScoringRunCompletesOnRerunToTheCleanStore) {
  auto model = rdpt::testing::make_hash_model(kVocab);
  rdpt::testing::FakeEngine eng(*model, rdpt::testing::FakeApi::VLLM);
  std::vector<rdpt::StoredResponse> resps;
  for (int i = 0; i < 40; ++i) {
    rdpt::StoredResponse r;
    r.id = "r" + std::to_string(i);
    r.group = "g" + std::to_string(i % 5);
    r.question = "Question " + std::to_string(i % 5) + "?";
    r.response = "<think>\nStep one. Step " + std::to_string(i) + " done.</think> The answer is " +
                 std::to_string(i) + (i == 13 ? ". BROKEN" : ".");
    r.actions = rdpt::segment(r.response);
    resps.push_back(r);
  }
  rdpt::HttpOptions o = rdpt::parse_http_spec(eng.base_url() + "#fake-model");
  o.tokenizer = kVocab;
  o.prompt_format = "Q: {question}\nA: ";
  o.retry_base_s = 0.001;
  o.retry_max_s = 0.01;
  o.max_retries = 3;
  auto sc = rdpt::make_http_scorer(o);
  auto score_into = [&](rdpt::Store& st, int64_t mid, const std::vector<int64_t>& rids) {
    std::vector<rdpt::ScoreItem> items;
    std::vector<rdpt::StoredResponse> rs;
    for (int64_t rid : rids) {
      auto r = *st.get_response(rid);
      items.push_back({sc->format_prompt(r.question, r.system), r.response, r.group});
      rs.push_back(r);
    }
    auto res = sc->score(items);
    size_t failed = 0;
    for (size_t k = 0; k < rids.size(); ++k) {
      rdpt::PairScore ps;
      if (res[k].ok()) {
        ps.n_tokens = ps.n_tokens_total = uint32_t(res[k].tokens.size());
        ps.actions = rdpt::align_tokens(rs[k].actions, res[k].tokens);
      } else {
        ps.status = rdpt::ScoreStatus::Failed;
        ps.error = res[k].error;
        ++failed;
      }
      st.put_scores(mid, rids[k], ps);
    }
    return failed;
  };
  auto fresh_store = [&](const std::string& name) {
    auto st = rdpt::Store::open((dir_ / name).string(), rdpt::OpenMode::Create);
    for (auto& r : resps) st->put_response(r);
    return st;
  };
  auto faulty = fresh_store("faulty.db");
  rdpt::ModelInfo m = sc->describe();
  m.name = "teacher";
  const int64_t mid = faulty->put_model(m);
  rdpt::testing::Faults f;
  f.p_500 = 0.1;
  f.p_429 = 0.1;
  f.p_drop = 0.05;
  f.p_malformed = 0.05;
  f.p_wrong_length = 0.05;
  f.poison = "BROKEN";
  eng.set_faults(f);
  const size_t failed = score_into(*faulty, mid, faulty->unscored(mid));
  EXPECT_GE(failed, 1u);
  for (auto& r : resps) {
    auto s = faulty->score_status(mid, *faulty->find_response(r.id));
    ASSERT_TRUE(s.has_value()) << r.id;  // every pair is either scored or failed
  }
  EXPECT_EQ(*faulty->score_status(mid, *faulty->find_response("r13")), rdpt::ScoreStatus::Failed);
  EXPECT_EQ(faulty->unscored(mid).size(), failed);
  eng.set_faults({});
  EXPECT_EQ(score_into(*faulty, mid, faulty->unscored(mid)), 0u);
  EXPECT_TRUE(faulty->unscored(mid).empty());

  auto clean = fresh_store("clean.db");
  const int64_t mid2 = clean->put_model(m);
  EXPECT_EQ(score_into(*clean, mid2, clean->unscored(mid2)), 0u);
  for (auto& r : resps) {
    auto a = faulty->get_scores(mid, *faulty->find_response(r.id));
    auto b = clean->get_scores(mid2, *clean->find_response(r.id));
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->status, b->status);
    EXPECT_EQ(a->n_tokens, b->n_tokens);
    EXPECT_EQ(a->actions, b->actions) << r.id;
  }
}

}  // namespace
#endif
