// rdpt import of log-probs given as token ids ({"id", "token_ids", "logprobs"}: the shape of the
// DASD -Logprob datasets and of vLLM's prompt_logprob_token_ids): ids and log-probs taken from a
// fixture model's own scoring import to exactly the store rdpt score wrote for that model.
#include <nlohmann/json.hpp>

#include <map>

#include "cli/cli_fixture.h"
#include "io/parquet.h"
#include "rdpt/pipeline.h"
#include "rdpt/scorer.h"
#include "rdpt/store.h"
#include "rdpt/vocab.h"

namespace fs = std::filesystem;

namespace {

#if defined(RDPT_WITH_LLAMA) && defined(RDPT_FIXTURE_TOOL)

class TokenIdsCli : public rdpt_test::CliTest {};

std::string fixture_model() {
  fs::create_directories(RDPT_FIXTURE_DIR);
  const std::string out = std::string(RDPT_FIXTURE_DIR) + "/token-ids-gpt2-s23.gguf";
  if (fs::exists(out)) return out;
  const std::string part = out + ".part" + std::to_string(::getpid());
  const std::string cmd = std::string(RDPT_FIXTURE_TOOL) + " --vocab " + RDPT_LLAMA_SOURCE_DIR +
                          "/models/ggml-vocab-gpt-2.gguf --out " + part +
                          " --seed 23 --scale 0.1 --output-scale 0.6 --threads 2 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("fixture tool failed: " + cmd);
  fs::rename(part, out);
  return out;
}

// (record id) -> the teacher's pair.
std::map<std::string, rdpt::PairScore> pairs(const std::string& db) {
  auto st = rdpt::Store::open(db, rdpt::OpenMode::ReadOnly);
  const int64_t mid = st->model("teacher")->mid;
  std::map<std::string, rdpt::PairScore> out;
  const int64_t mids[] = {mid};
  st->for_each_scored(mids, [&](const rdpt::StoredResponse& r, std::span<const std::optional<rdpt::PairScore>> s) {
    if (s[0]) out[r.id] = *s[0];
    return true;
  });
  return out;
}

void expect_same_pairs(const std::map<std::string, rdpt::PairScore>& want,
                       const std::map<std::string, rdpt::PairScore>& got) {
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [id, w] : want) {
    SCOPED_TRACE(id);
    const auto& g = got.at(id);
    EXPECT_EQ(g.status, w.status);
    EXPECT_EQ(g.n_tokens, w.n_tokens);
    ASSERT_EQ(g.actions.size(), w.actions.size());
    for (size_t a = 0; a < w.actions.size(); ++a) {
      EXPECT_EQ(g.actions[a].n_tokens, w.actions[a].n_tokens) << "action " << a;
      EXPECT_EQ(g.actions[a].logprob_sum, w.actions[a].logprob_sum) << "action " << a;  // to the bit
    }
  }
}

TEST_F(TokenIdsCli, IdsAndLogprobsOfAModelsOwnScoringImportToTheStoreScoreWrote) {
  const std::string model = fixture_model(), data = path("in.jsonl");
  const std::string cmd = "zstd -dc '" + std::string(RDPT_TEST_DATA) +
                          "/traces/qwen25math_cot_8samples.jsonl.zst' | awk 'NR % 8 == 1' | head -5 > '" + data + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto r = rdpt("score --data '" + data + "' --model teacher='" + model + "' --template chatml --threads 2 --store '" +
                path("scored.db") + "'");
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto want = pairs(path("scored.db"));
  ASSERT_EQ(want.size(), 5u);

  // The same model's ids and log-probs, as a dataset of a served teacher would hold them: the
  // response's ids alone; and prompt + response ids with the prompt in the line.
  rdpt::LlamaOptions lo;
  lo.template_name = "chatml";
  lo.n_threads = 2;
  auto scorer = rdpt::make_llama_scorer(model, lo);
  auto vocab = rdpt::open_vocabulary(model);
  const std::vector<rdpt::StoredResponse> recs = rdpt::read_responses({data}, {}, {});
  std::ofstream ids_only(path("ids.jsonl")), with_prompt(path("ids_prompt.jsonl")), one_n(path("ids_n.jsonl"));
  size_t first_prompt_tokens = 0;
  for (size_t i = 0; i < recs.size(); ++i) {
    const auto& rec = recs[i];
    const std::string prompt = scorer->format_prompt(rec.question, rec.system);
    const rdpt::ScoreItem item{prompt, rec.response, rec.group};
    const auto res = scorer->score(std::span<const rdpt::ScoreItem>(&item, 1));
    ASSERT_TRUE(res[0].ok()) << res[0].error;
    const rdpt::TokenizedText t = vocab->tokenize(rec.response, false);
    ASSERT_EQ(t.ids.size(), res[0].tokens.size());
    nlohmann::json lps = nlohmann::json::array();
    for (size_t k = 0; k < t.ids.size(); ++k) {
      ASSERT_EQ(t.offsets[k], res[0].tokens[k].offset);
      lps.push_back(res[0].tokens[k].logprob);
    }
    ids_only << nlohmann::json{{"id", rec.id}, {"token_ids", t.ids}, {"logprobs", lps}}.dump() << "\n";
    const std::vector<int32_t> p = vocab->tokenize(prompt, false).ids;
    std::vector<int32_t> all = p;
    all.insert(all.end(), t.ids.begin(), t.ids.end());
    nlohmann::json all_lps(p.size(), nullptr);
    for (const auto& x : lps) all_lps.push_back(x);
    with_prompt << nlohmann::json{{"id", rec.id}, {"prompt", prompt}, {"token_ids", all}, {"logprobs", all_lps}}.dump()
                << "\n";
    if (i == 0) {
      first_prompt_tokens = p.size();
      one_n << nlohmann::json{{"id", rec.id}, {"token_ids", all}, {"logprobs", all_lps}}.dump() << "\n";
    }
  }
  ids_only.close();
  with_prompt.close();
  one_n.close();

  const std::string tok = " --model teacher --tokenizer teacher='" + model + "'";
  r = rdpt("import --data '" + data + "' --store '" + path("ids.db") + "' --logprobs '" + path("ids.jsonl") + "'" + tok);
  ASSERT_EQ(r.rc, 0) << r.err;
  expect_same_pairs(want, pairs(path("ids.db")));
  r = rdpt("import --data '" + data + "' --store '" + path("prompt.db") + "' --logprobs '" + path("ids_prompt.jsonl") +
           "'" + tok);
  ASSERT_EQ(r.rc, 0) << r.err;
  expect_same_pairs(want, pairs(path("prompt.db")));
  r = rdpt("import --data '" + data + "' --store '" + path("n.db") + "' --logprobs '" + path("ids_n.jsonl") + "'" + tok +
           " --ids-include-prompt " + std::to_string(first_prompt_tokens));
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto one = pairs(path("n.db"));
  ASSERT_EQ(one.size(), 1u);
  expect_same_pairs({{one.begin()->first, want.at(one.begin()->first)}}, one);
  // Neither a prompt field nor --ids-include-prompt: the prompt's ids are found by matching.
  r = rdpt("import --data '" + data + "' --store '" + path("m.db") + "' --logprobs '" + path("ids_n.jsonl") + "'" + tok);
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto matched = pairs(path("m.db"));
  ASSERT_EQ(matched.size(), 1u);
  expect_same_pairs({{matched.begin()->first, want.at(matched.begin()->first)}}, matched);
  // The DASD -Logprob shape: Parquet rows {sample_uuid, token_ids: BIGINT[], logprobs: DOUBLE[]}.
  if (rdpt::io::parquet_available()) {
    rdpt::io::duckdb_exec("COPY (SELECT id AS sample_uuid, token_ids, logprobs FROM read_json('" + path("ids.jsonl") +
                          "', format='newline_delimited')) TO '" + path("ids.parquet") + "' (FORMAT parquet)");
    r = rdpt("import --data '" + data + "' --store '" + path("pq.db") + "' --logprobs '" + path("ids.parquet") + "'" +
             tok + " --id-field sample_uuid");
    ASSERT_EQ(r.rc, 0) << r.err;
    expect_same_pairs(want, pairs(path("pq.db")));
    // Other field names, for ids and log-probs too.
    rdpt::io::duckdb_exec("COPY (SELECT id AS uuid, token_ids AS ids, logprobs AS lp FROM read_json('" +
                          path("ids.jsonl") + "', format='newline_delimited')) TO '" + path("ids2.parquet") +
                          "' (FORMAT parquet)");
    r = rdpt("import --data '" + data + "' --store '" + path("pq2.db") + "' --logprobs '" + path("ids2.parquet") + "'" +
             tok + " --id-field uuid --token-ids-field ids --logprobs-field lp");
    ASSERT_EQ(r.rc, 0) << r.err;
    expect_same_pairs(want, pairs(path("pq2.db")));
    // A wrong id field names the row.
    r = rdpt("import --data '" + data + "' --store '" + path("pq3.db") + "' --logprobs '" + path("ids2.parquet") + "'" +
             tok + " --id-field nope --token-ids-field ids --logprobs-field lp");
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.err.find(path("ids2.parquet") + ":1: missing field 'nope'"), std::string::npos) << r.err;
  }
  // The model's tokenizer is recorded with it.
  EXPECT_EQ(rdpt::Store::open(path("ids.db"), rdpt::OpenMode::ReadOnly)->model("teacher")->tokenizer,
            vocab->description());

  // Errors: no vocabulary; an id that does not fit the text; an id outside the vocabulary.
  const std::string line1 = rdpt_test::slurp(path("ids.jsonl")).substr(0, rdpt_test::slurp(path("ids.jsonl")).find('\n'));
  r = rdpt("import --data '" + data + "' --store '" + path("e.db") + "' --logprobs '" + path("ids.jsonl") +
           "' --model teacher");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("ids.jsonl:1: record '" + recs[0].id + "': 'token_ids' need the model's vocabulary"),
            std::string::npos)
      << r.err;
  nlohmann::json bad = nlohmann::json::parse(line1);
  std::swap(bad["token_ids"][2], bad["token_ids"][3]);
  if (bad["token_ids"][2] == bad["token_ids"][3]) bad["token_ids"][2] = 0;
  write("bad.jsonl", bad.dump() + "\n");
  r = rdpt("import --data '" + data + "' --store '" + path("e.db") + "' --logprobs '" + path("bad.jsonl") + "'" + tok);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("bad.jsonl:1: record '" + recs[0].id + "': tokens do not reproduce the text: token 2 (id "),
            std::string::npos)
      << r.err;
  bad = nlohmann::json::parse(line1);
  bad["token_ids"][0] = 9999999;
  write("bad2.jsonl", bad.dump() + "\n");
  r = rdpt("import --data '" + data + "' --store '" + path("e.db") + "' --logprobs '" + path("bad2.jsonl") + "'" + tok);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("token 0 (id 9999999) is not in the vocabulary (50257 tokens)"), std::string::npos) << r.err;
  r = rdpt("import --store '" + path("e.db") + "' --logprobs '" + path("ids.jsonl") + "' --model teacher " +
           "--ids-include-prompt 3");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--ids-include-prompt needs --tokenizer teacher=VOCAB.gguf"), std::string::npos) << r.err;
}

#endif

}  // namespace
