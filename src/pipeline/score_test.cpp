// score_responses keeps each result as the scorer hands it over: a run stopped mid-chunk (an
// exception from the scorer, as Ctrl-C raises in Python) keeps the pairs finished before it.
#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>

#include "rdpt/error.h"
#include "rdpt/pipeline.h"
#include "rdpt/segment.h"
#include "support/scratch_dir.h"

namespace rdpt {
namespace {

// Scores one token per response (log-prob -1 at offset 0), handing over the first `stop_after`
// items and then throwing, as an interrupted backend would.
class StoppingScorer : public Scorer {
 public:
  explicit StoppingScorer(size_t stop_after) : stop_after_(stop_after) {}
  ModelInfo describe() const override {
    return {.name = "", .backend = "test", .location = "x", .fingerprint = "f", .tokenizer = "", .chat_template = "t",
            .info_json = "{}"};
  }
  std::string format_prompt(std::string_view q, std::string_view) const override { return std::string(q); }
  ScorerCapabilities capabilities() const override { return {}; }
  using Scorer::score;
  std::vector<ScoreResult> score(std::span<const ScoreItem> items, Progress& progress,
                                 const ResultFn& on_result) override {
    std::vector<ScoreResult> out(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      if (i == stop_after_) throw std::runtime_error("interrupted");
      out[i].tokens = {{0, -1.0, 0}};
      out[i].n_tokens_total = 1;
      if (on_result) on_result(i, out[i]);
      progress.update(i + 1, i + 1);
    }
    return out;
  }

 private:
  size_t stop_after_;
};

TEST(ScoreResponses, PairsFinishedBeforeAStopAreKept) {
  const std::string path = (testing_support::scratch_dir("rdpt_score") / "s.db").string();
  auto st = Store::open(path, OpenMode::Create);
  std::vector<StoredResponse> rs;
  for (int i = 0; i < 10; ++i) {
    StoredResponse r;
    r.id = "r" + std::to_string(i);
    r.group = "q";
    r.question = "Q?";
    r.response = "Answer " + std::to_string(i) + ". Done.";
    r.actions = segment(r.response);
    r.rid = st->put_response(r);
    rs.push_back(r);
  }
  StoppingScorer stops(3);
  ScoreRunOptions o;
  o.chunk = 64;  // one chunk: every kept pair came through the hook
  EXPECT_THROW(score_responses(*st, stops, "teacher", rs, o, null_progress()), std::runtime_error);
  auto m = st->model("teacher");
  ASSERT_TRUE(m.has_value());
  int n_stored = 0;
  for (const auto& r : rs) {
    const auto p = st->get_scores(m->mid, r.rid);
    if (!p) continue;
    ++n_stored;
    EXPECT_EQ(p->status, ScoreStatus::Ok) << r.id;
    EXPECT_EQ(p->actions.at(0).n_tokens, 1u) << r.id;
  }
  EXPECT_EQ(n_stored, 3);
  // The rerun scores only the 7 left.
  StoppingScorer all(100);
  const ScoreRunStats s = score_responses(*st, all, "teacher", rs, o, null_progress());
  EXPECT_EQ(s.n_skipped, 3u);
  EXPECT_EQ(s.n_scored, 7u);
}

// put_responses names where a record came from when the store refuses it (as import does).
TEST(ScoreResponses, RefusedRecordsAreNamedByFileAndLine) {
  const std::string path = (testing_support::scratch_dir("rdpt_score") / "named.db").string();
  auto st = Store::open(path, OpenMode::Create);
  StoredResponse r;
  r.id = "r1";
  r.group = "q";
  r.question = "Q?";
  r.response = "Answer. Done.";
  r.actions = segment(r.response);
  r.source_file = "data.jsonl";
  r.source_line = 7;
  std::vector<StoredResponse> rs = {r};
  put_responses(*st, rs);
  rs[0].response = "Another answer.";
  rs[0].actions = segment(rs[0].response);
  try {
    put_responses(*st, rs);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("data.jsonl:7: record 'r1': ", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace rdpt
