// Unit tests of the pipeline's reading of the store (stream_scores, stream_probs, view_pair) and
// of trace()'s scores-only first pass against the full one.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "rdpt/error.h"
#include "rdpt/pipeline.h"
#include "support/scratch_dir.h"

namespace rdpt {
namespace {

namespace fs = std::filesystem;

std::string temp_store(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path p = testing_support::scratch_dir("rdpt_pipeline") / (std::string(info->name()) + "_" + name);
  fs::remove(p);
  return p.string();
}

// n responses of 1-8 actions; teacher, student and distilled pairs with random scores, some
// actions unscored, some pairs absent, Failed or Truncated. Returns the mids.
std::vector<int64_t> fill(Store& st, int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> mids;
  for (const char* m : {"teacher", "student", "distilled"})
    mids.push_back(st.put_model({.name = m, .backend = "import", .location = "x", .fingerprint = m,
                                  .tokenizer = "", .chat_template = "", .info_json = "{}"}));
  for (int i = 0; i < n; ++i) {
    StoredResponse r;
    r.id = "r" + std::to_string(i);
    r.group = "q" + std::to_string(i / 3);
    if (i % 4) r.correct = i % 4 == 1;
    const int n_act = 1 + int(rng() % 8);
    for (int k = 0; k < n_act; ++k) r.response += std::string(k ? " " : "") + (rng() % 5 ? "So we add." : "Wait, check.");
    r.actions = segment(r.response);
    const int64_t rid = st.put_response(r);
    for (int64_t mid : mids) {
      const uint64_t what = rng() % 10;
      if (what == 0) continue;  // absent
      PairScore p;
      if (what == 1) {
        p.status = ScoreStatus::Failed;
        p.error = "refused";
      } else {
        if (what == 2) p.status = ScoreStatus::Truncated;
        for (size_t k = 0; k < r.actions.size(); ++k) {
          const uint32_t t = rng() % 6 ? 1 + uint32_t(rng() % 9) : 0;
          p.actions.push_back({t, t ? -std::uniform_real_distribution<double>(0, 3)(rng) * t : 0.0});
          p.n_tokens += t;
        }
        p.n_tokens_total = p.n_tokens;
      }
      st.put_scores(mid, rid, p);
    }
  }
  return mids;
}

// The response 'odd one' (3 actions) with the same good pair under teacher, student and distilled:
// the tests of corrupt pairs cut these behind the store's back.
void add_odd_one(Store& st) {
  StoredResponse r;
  r.id = "odd one";
  r.response = "One. Two. Three.";
  r.actions = segment(r.response);
  const int64_t rid = st.put_response(r);
  PairScore p;
  p.actions = {{1, -0.5}, {1, -0.5}, {1, -0.5}};
  p.n_tokens = p.n_tokens_total = 3;
  for (const char* m : {"teacher", "student", "distilled"}) st.put_scores(st.model(m)->mid, rid, p);
}

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

TEST(Stream, ProbsOnlyPassSeesTheSameProbabilitiesAsTheFullStream) {
  const auto path = temp_store("s.db");
  auto st = Store::open(path, OpenMode::Create);
  const auto mids = fill(*st, 300, 5);
  // [response with at least one pair][model] -> p per action, from the full stream.
  std::vector<std::vector<std::vector<double>>> full;
  size_t n_all = 0;
  stream_scores(*st, mids, [&](const StoredResponse& r, std::span<const PairView> v) {
    ++n_all;
    bool any = false;
    for (const PairView& x : v) any = any || x.present;
    if (!any) return true;
    auto& f = full.emplace_back();
    for (const PairView& x : v) {
      EXPECT_EQ(x.p.size(), r.actions.size());
      f.push_back(x.p);
    }
    return true;
  });
  EXPECT_EQ(n_all, 300u);
  ASSERT_LT(full.size(), 300u) << "the fixture has responses without any pair";
  // The scores-only pass visits exactly those, in order, with the same p (empty arrays where no
  // pair of the response is usable, i.e. every p of the full row is NaN).
  size_t i = 0;
  const uint64_t skipped = stream_probs(*st, mids, [&](int64_t, std::span<const PairView> v) {
    EXPECT_LT(i, full.size());
    if (i >= full.size()) return false;
    const auto& f = full[i++];
    for (size_t m = 0; m < v.size(); ++m) {
      EXPECT_FALSE(v[m].logprob.size()) << "no log-probs in this pass";
      if (v[m].p.empty()) {
        for (double p : f[m]) EXPECT_TRUE(std::isnan(p)) << "row " << i;
        continue;
      }
      EXPECT_EQ(v[m].p.size(), f[m].size()) << "row " << i;
      if (v[m].p.size() != f[m].size()) continue;
      for (size_t k = 0; k < f[m].size(); ++k) EXPECT_TRUE(same(v[m].p[k], f[m][k])) << "row " << i << " model " << m;
    }
    return true;
  });
  EXPECT_EQ(i, full.size());
  EXPECT_EQ(skipped, 300u - full.size());

  // The beta search and trace give the same result through either pass (trace takes the full
  // stream when a first-pass hook needs the responses).
  BetaOptions bo;
  bo.procedure = BetaProcedure::Analysis;
  const BetaResult a = beta_search(*st, bo, mids[0], mids[1], mids[2]);
  const BetaResult b = beta_search(*st, bo, mids[0], mids[1], mids[2], [](const StoredResponse&) { return true; });
  EXPECT_EQ(a.n_responses, b.n_responses);
  EXPECT_EQ(a.n_skipped, b.n_skipped);
  EXPECT_EQ(a.n_skipped + a.n_responses, 300u);
  EXPECT_EQ(a.beta, b.beta);
  for (size_t c = 0; c < a.candidates.size(); ++c) {
    EXPECT_EQ(a.candidates[c].histogram, b.candidates[c].histogram);
    EXPECT_EQ(a.candidates[c].n_actions, b.candidates[c].n_actions);
    EXPECT_EQ(a.candidates[c].mean_proportion, b.candidates[c].mean_proportion);
  }
  const TraceResult t1 = trace(*st, {}, null_progress());
  size_t hooked = 0;
  TraceHooks hooks;
  hooks.first_pass = [&](const StoredResponse&) { ++hooked; };
  const TraceResult t2 = trace(*st, {}, null_progress(), hooks);
  EXPECT_EQ(hooked, 300u);
  EXPECT_EQ(t1.search->beta, t2.search->beta);
  EXPECT_EQ(t1.search->n_skipped, t2.search->n_skipped);
  EXPECT_EQ(t1.counts, t2.counts);
  EXPECT_EQ(t1.n_actions, t2.n_actions);
  fs::remove(path);
}

// trace() with the search pass's codes kept for the typing pass, against trace() reading every
// pair again (pass_memory 0): the same results and the same per-response types.
TEST(Stream, TypingFromTheSearchPassEqualsTypingFromTheStore) {
  const auto path = temp_store("k.db");
  auto st = Store::open(path, OpenMode::Create);
  fill(*st, 400, 17);
  struct Run {
    TraceResult r;
    std::vector<std::string> ids;
    std::vector<std::vector<std::optional<ActionType>>> types;
    std::vector<size_t> n_pairs;
  };
  auto run = [&](TraceOptions o, size_t memory) {
    o.pass_memory = memory;
    Run out;
    TraceHooks hooks;
    hooks.each_reads_pairs = false;
    hooks.each = [&](const TypedResponse& t) {
      out.ids.push_back(t.response.id);
      out.types.emplace_back(t.types.begin(), t.types.end());
      out.n_pairs.push_back(t.pairs.size());
    };
    out.r = trace(*st, o, null_progress(), hooks);
    return out;
  };
  std::vector<TraceOptions> cases(5);
  cases[1].distilled = "absent";  // three-way, the training search
  cases[1].distilled_optional = true;
  cases[2].beta_candidates = {0.2, 0.05, 0.0, 0.2, 0.4};  // unsorted, a duplicate
  cases[3].beta = 0.15;  // a given beta among the candidates, with the search's histograms
  cases[3].always_search = true;
  cases[4].alpha = 0.3;
  for (size_t c = 0; c < cases.size(); ++c) {
    const Run kept = run(cases[c], size_t(64) << 20), reread = run(cases[c], 0);
    EXPECT_EQ(kept.n_pairs, std::vector<size_t>(400, 0)) << "case " << c << ": typed from the codes";
    EXPECT_EQ(reread.n_pairs, std::vector<size_t>(400, cases[c].distilled == "absent" ? 2 : 3)) << "case " << c;
    EXPECT_EQ(kept.ids, reread.ids);
    EXPECT_EQ(kept.types, reread.types) << "case " << c;
    EXPECT_EQ(trace_summary_json(kept.r, path, KeywordList::Upstream).dump(),
              trace_summary_json(reread.r, path, KeywordList::Upstream).dump()) << "case " << c;
    EXPECT_EQ(curves_json(kept.r.curves).dump(), curves_json(reread.r.curves).dump()) << "case " << c;
    EXPECT_EQ(kept.r.counts, reread.r.counts);
    EXPECT_EQ(kept.r.prop_sum, reread.r.prop_sum);
    size_t typed = 0;
    for (const auto& v : kept.types)
      for (const auto& t : v) typed += t.has_value();
    EXPECT_GT(typed, 500u) << "case " << c;
  }
  // A hook that reads the pairs gets them; a given beta off the candidates types from the store.
  TraceHooks reads;
  size_t with_pairs = 0;
  reads.each = [&](const TypedResponse& t) { with_pairs += t.pairs.size() == 3; };
  trace(*st, {}, null_progress(), reads);
  EXPECT_EQ(with_pairs, 400u);
  TraceOptions off;
  off.beta = 0.123;
  off.always_search = true;
  EXPECT_EQ(run(off, size_t(64) << 20).n_pairs, std::vector<size_t>(400, 3));
  // A given beta without the search: one pass, from the store, typed as with the search's codes.
  TraceOptions given;
  given.beta = 0.15;
  const Run one = run(given, size_t(64) << 20);
  EXPECT_FALSE(one.r.search.has_value());
  EXPECT_EQ(one.n_pairs, std::vector<size_t>(400, 3));
  EXPECT_EQ(one.types, run(cases[3], size_t(64) << 20).types);
  fs::remove(path);
}

TEST(Stream, PairsThatDisagreeWithTheirResponseAreNamedInBothPasses) {
  const auto path = temp_store("c.db");
  {
    auto st = Store::open(path, OpenMode::Create);
    fill(*st, 5, 9);
    add_odd_one(*st);
  }
  // Cut the student's pair to two actions behind the store's back (both BLOBs, so that the pair
  // is self-consistent and only the response disagrees).
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "UPDATE scores SET token_counts = substr(token_counts, 1, 8), logprob_sums = "
                         "substr(logprob_sums, 1, 16) WHERE rid = (SELECT rid FROM responses WHERE id = 'odd one') "
                         "AND mid = (SELECT mid FROM models WHERE name = 'student')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto st = Store::open(path, OpenMode::ReadOnly);
  const int64_t mids[] = {st->model("teacher")->mid, st->model("student")->mid, st->model("distilled")->mid};
  // Both streams give the store's own error, naming the pair that disagrees with its response.
  const std::string want = "scores(mid " + std::to_string(mids[1]) + ", rid ";
  const std::string want_tail = "): token_counts/logprob_sums BLOBs of 8/16 bytes, expected 12/24 for 3 actions";
  for (int pass = 0; pass < 2; ++pass) {
    try {
      if (pass == 0) stream_scores(*st, mids, [](const StoredResponse&, auto) { return true; });
      else stream_probs(*st, mids, [](int64_t, auto) { return true; });
      ADD_FAILURE() << "no error in pass " << pass;
    } catch (const StoreError& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(want_tail), std::string::npos) << e.what();
    }
  }
  st.reset();
  // All three pairs cut alike: they agree with each other, so only the typing pass sees that they
  // disagree with their response: the search pass's scan checks each pair against its response's
  // length, so the error names the teacher's pair whether the typing pass would type from the
  // search pass's codes or not.
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "UPDATE scores SET token_counts = substr(token_counts, 1, 8), logprob_sums = "
                         "substr(logprob_sums, 1, 16) WHERE rid = (SELECT rid FROM responses WHERE id = 'odd one')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  st = Store::open(path, OpenMode::ReadOnly);
  for (size_t memory : {size_t(1) << 20, size_t(0)}) {
    TraceOptions o;
    o.pass_memory = memory;
    try {
      trace(*st, o, null_progress());
      ADD_FAILURE() << "no error with pass_memory " << memory;
    } catch (const StoreError& e) {
      const int64_t named = mids[0];
      EXPECT_NE(std::string(e.what()).find("scores(mid " + std::to_string(named) + ", rid "), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find(want_tail), std::string::npos) << e.what();
    }
  }
  fs::remove(path);
}

// Corrupt pairs that the pairs' agreement alone would not reveal give one error whichever way
// trace() reads the store: with the search pass (typing from its codes or from the store) or
// with a given beta (the full stream only).
TEST(Stream, CorruptPairsGiveTheSameErrorOnEveryPath) {
  for (int variant = 0; variant < 2; ++variant) {
    SCOPED_TRACE(variant ? "usable pairs with empty BLOBs" : "a failed pair with BLOBs of another length");
    const auto path = temp_store("v" + std::to_string(variant) + ".db");
    int64_t teacher = 0;
    {
      auto st = Store::open(path, OpenMode::Create);
      fill(*st, 6, 3);
      add_odd_one(*st);
      teacher = st->model("teacher")->mid;
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const std::string odd = "(SELECT rid FROM responses WHERE id = 'odd one')";
    const std::string sql =
        variant == 0 ? "UPDATE scores SET status = 1, error = 'x', token_counts = substr(token_counts, 1, 8), "
                       "logprob_sums = substr(logprob_sums, 1, 16) WHERE rid = " + odd + " AND mid = " +
                           std::to_string(teacher)
                     : "UPDATE scores SET token_counts = X'', logprob_sums = X'' WHERE rid = " + odd +
                           " AND mid IN (SELECT mid FROM models WHERE name IN ('teacher', 'student'))";
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    auto st = Store::open(path, OpenMode::ReadOnly);
    std::vector<std::string> errors;
    for (int way = 0; way < 3; ++way) {
      TraceOptions o;
      if (way == 1) o.pass_memory = 0;
      if (way == 2) o.beta = 0.15;
      try {
        trace(*st, o, null_progress());
        errors.push_back("no error");
      } catch (const Error& e) {
        errors.push_back(e.what());
      }
    }
    const std::string want = variant == 0 ? "scores(mid " + std::to_string(teacher) +
                                                ", rid 7): token_counts/logprob_sums BLOBs of 8/16 bytes, expected "
                                                "12/24 for 3 actions"
                                          : "record 'odd one': 0 action scores under model #" +
                                                std::to_string(teacher) + " for 3 actions (a corrupt pair)";
    for (const auto& e : errors) EXPECT_NE(e.find(want), std::string::npos) << e;
    fs::remove(path);
  }
}

TEST(Stream, PairsWithoutAResponseAreNotRead) {
  const auto path = temp_store("o.db");
  std::vector<int64_t> mids;
  {
    auto st = Store::open(path, OpenMode::Create);
    mids = fill(*st, 40, 3);
  }
  const auto before = [&] {
    auto st = Store::open(path, OpenMode::ReadOnly);
    return beta_search(*st, {}, mids[0], mids[1], mids[2]);
  }();
  // Pairs of a response that does not exist (another tool, without foreign keys, wrote them).
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "INSERT INTO scores SELECT mid, 1000000 + rid, status, n_tokens, n_tokens_total, token_counts, "
                         "logprob_sums, error, updated_at, rank_sums FROM scores",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto st = Store::open(path, OpenMode::ReadOnly);
  size_t visited = 0;
  const uint64_t skipped = stream_probs(*st, mids, [&](int64_t, auto) { return ++visited, true; });
  EXPECT_EQ(visited + skipped, 40u);
  const BetaResult after = beta_search(*st, {}, mids[0], mids[1], mids[2]);
  EXPECT_EQ(after.n_responses, before.n_responses);
  EXPECT_EQ(after.n_skipped, before.n_skipped);
  EXPECT_EQ(after.candidates[0].n_actions, before.candidates[0].n_actions);
  fs::remove(path);
}

}  // namespace
}  // namespace rdpt
