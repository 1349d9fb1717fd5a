// Unit tests of shards (parse_shard, shard_of, keep_shard) and merge_stores on stores built here.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "rdpt/error.h"
#include "rdpt/pipeline.h"
#include "support/scratch_dir.h"

namespace rdpt {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path p = testing_support::scratch_dir("rdpt_merge") / (std::string(info->name()) + "_" + name);
  fs::remove(p);
  return p.string();
}

ModelInfo model_info(const std::string& name, const std::string& fingerprint = "") {
  return {.name = name, .backend = "import", .location = "x", .fingerprint = fingerprint.empty() ? name : fingerprint,
          .tokenizer = "", .chat_template = "", .info_json = "{}"};
}

StoredResponse response(int i) {
  StoredResponse r;
  r.id = "r" + std::to_string(i);
  r.group = "q" + std::to_string(i / 3);
  r.response = "First step " + std::to_string(i) + ". Then the answer.";
  r.actions = segment(r.response);
  r.source_file = "data.jsonl";
  r.source_line = uint64_t(i + 1);
  return r;
}

PairScore pair(const StoredResponse& r, uint64_t seed) {
  std::mt19937_64 rng(seed);
  PairScore p;
  for (size_t k = 0; k < r.actions.size(); ++k) {
    const uint32_t t = 1 + uint32_t(rng() % 5);
    p.actions.push_back({t, -std::uniform_real_distribution<double>(0, 2)(rng) * t});
    p.n_tokens += t;
  }
  p.n_tokens_total = p.n_tokens;
  return p;
}

// Responses 0..n-1 into `path`, keeping those of `shard`, each scored under teacher and student.
void write_store(const std::string& path, int n, std::optional<Shard> shard = std::nullopt) {
  auto st = Store::open(path, OpenMode::Create);
  const int64_t t = st->put_model(model_info("teacher")), s = st->put_model(model_info("student"));
  for (int i = 0; i < n; ++i) {
    const StoredResponse r = response(i);
    if (shard && shard_of(r.group, shard->count) != shard->index) continue;
    const int64_t rid = st->put_response(r);
    st->put_scores(t, rid, pair(r, uint64_t(i)));
    st->put_scores(s, rid, pair(r, uint64_t(1000 + i)));
  }
}

// Every response (in rid order) with its pairs, as comparable text.
std::vector<std::string> dump(const std::string& path) {
  auto st = Store::open(path, OpenMode::ReadOnly);
  std::vector<ModelInfo> ms = st->models();
  std::vector<int64_t> mids;
  for (const auto& m : ms) mids.push_back(m.mid);
  std::vector<std::string> out;
  st->for_each_scored(mids, [&](const StoredResponse& r, std::span<const std::optional<PairScore>> s) {
    std::string line = r.id + " " + r.group + " " + r.response + " correct=" +
                       (r.correct ? std::to_string(int(*r.correct)) : "-");
    for (size_t k = 0; k < s.size(); ++k) {
      line += " | " + ms[k].name + ":";
      if (!s[k]) continue;
      line += std::to_string(int(s[k]->status)) + "," + std::to_string(s[k]->n_tokens) + "," + s[k]->error;
      for (const auto& a : s[k]->actions) line += "," + std::to_string(a.n_tokens) + ":" + std::to_string(a.logprob_sum);
    }
    out.push_back(line);
    return true;
  });
  return out;
}

TEST(Shard, ParseAcceptsIOverNOnly) {
  EXPECT_EQ(parse_shard("0/4").index, 0u);
  EXPECT_EQ(parse_shard("3/4").count, 4u);
  for (const char* bad : {"4/4", "1/0", "-1/4", "1", "a/4", "1/4/2", "/4", "1/", " 1/4", "1/4 "}) {
    try {
      parse_shard(bad);
      ADD_FAILURE() << bad;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("--shard: expected I/N with 0 <= I < N"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos) << e.what();
    }
  }
}

TEST(Shard, ResponsesOfOneGroupStayTogetherAndTheShardsPartitionTheData) {
  std::vector<StoredResponse> all;
  for (int i = 0; i < 300; ++i) all.push_back(response(i));
  EXPECT_EQ(shard_of("q1", 1), 0u);
  EXPECT_EQ(shard_of("", 7), uint32_t(14695981039346656037ull % 7));  // FNV-1a offset basis: a fixed function
  std::multiset<std::string> seen;
  std::map<std::string, uint32_t> group_shard;
  for (uint32_t i = 0; i < 4; ++i) {
    std::vector<StoredResponse> part = all;
    const size_t dropped = keep_shard(part, {i, 4});
    EXPECT_EQ(dropped + part.size(), all.size());
    EXPECT_GT(part.size(), 30u) << "shard " << i << " of 100 groups";
    for (const auto& r : part) {
      seen.insert(r.id);
      auto [it, fresh] = group_shard.try_emplace(r.group, i);
      EXPECT_EQ(it->second, i) << r.group << " split over shards";
    }
    for (size_t k = 1; k < part.size(); ++k) EXPECT_LT(part[k - 1].source_line, part[k].source_line) << "order kept";
  }
  EXPECT_EQ(seen.size(), all.size());
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), all.size()) << "each response in one shard";
}

TEST(Merge, ShardsMergeToTheUnshardedStoreAndMergingAgainChangesNothing) {
  const auto whole = temp_path("whole.db"), merged = temp_path("merged.db");
  write_store(whole, 60);
  std::vector<std::string> shards;
  for (uint32_t i = 0; i < 4; ++i) {
    shards.push_back(temp_path("s" + std::to_string(i) + ".db"));
    write_store(shards.back(), 60, Shard{i, 4});
  }
  std::reverse(shards.begin(), shards.end());  // the order of the inputs does not matter
  auto out = Store::open(merged, OpenMode::Create);
  MergeStats st = merge_stores(*out, shards, null_progress());
  EXPECT_EQ(st.n_inputs, 4u);
  EXPECT_EQ(st.n_models_added, 2u);
  EXPECT_EQ(st.n_responses_added, 60u);
  EXPECT_EQ(st.n_pairs_added, 120u);
  EXPECT_EQ(dump(merged), dump(whole));
  st = merge_stores(*out, shards, null_progress());
  EXPECT_EQ(st.n_responses_added, 0u);
  EXPECT_EQ(st.n_responses_present, 60u);
  EXPECT_EQ(st.n_pairs_present, 120u);
  EXPECT_EQ(dump(merged), dump(whole));
  // Merging a store into a copy of itself, or a store into a superset, adds nothing either.
  st = merge_stores(*out, {whole}, null_progress());
  EXPECT_EQ(st.n_pairs_added, 0u);
  EXPECT_EQ(dump(merged), dump(whole));
}

// Stores that record their shard (rdpt score --shard): a shard missing from the merge, shards of
// two splits, or of datasets of different sizes are warned; merging the rest later completes it.
TEST(Merge, MissingShardsAndMixedSplitsAreWarned) {
  std::vector<std::string> s4;
  for (uint32_t i = 0; i < 4; ++i) {
    s4.push_back(temp_path("m" + std::to_string(i) + ".db"));
    write_store(s4.back(), 40, Shard{i, 4});
    auto st = Store::open(s4.back(), OpenMode::ReadWrite);
    record_shard(*st, Shard{i, 4}, 40);
  }
  std::vector<std::string> warnings;
  auto warn = [&](LogLevel l, std::string_view m) {
    if (l == LogLevel::Warn) warnings.emplace_back(m);
  };
  const auto out_path = temp_path("mout.db");
  auto out = Store::open(out_path, OpenMode::Create);
  merge_stores(*out, {s4[0], s4[1], s4[3]}, null_progress(), warn);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], "shard 2 of 4 is not among the stores merged so far: the merged store lacks its responses "
                         "(merge them too, now or later)");
  warnings.clear();
  merge_stores(*out, {s4[2]}, null_progress(), warn);  // the missing one, in a later call: complete
  EXPECT_TRUE(warnings.empty()) << warnings[0];
  EXPECT_EQ(out->meta("shards_merged"), std::optional<std::string>("4:0,1,2,3"));

  // Tree merges: a store merged from shards counts as those shards (its shards_merged), and a
  // shard's own store merged into counts as its shard.
  warnings.clear();
  const auto left = temp_path("mleft.db"), tree = temp_path("mtree.db");
  {
    auto l = Store::open(left, OpenMode::Create);
    merge_stores(*l, {s4[0], s4[1]}, null_progress(), warn);
  }
  ASSERT_EQ(warnings.size(), 1u);  // 2 and 3 still missing
  EXPECT_NE(warnings[0].find("shards 2, 3 of 4 are not among"), std::string::npos) << warnings[0];
  warnings.clear();
  {
    auto t = Store::open(tree, OpenMode::Create);
    merge_stores(*t, {left, s4[2], s4[3]}, null_progress(), warn);
    EXPECT_TRUE(warnings.empty()) << warnings[0];
    EXPECT_EQ(t->meta("shards_merged"), std::optional<std::string>("4:0,1,2,3"));
  }
  {
    const auto copy0 = temp_path("mcopy0.db");
    fs::copy_file(s4[0], copy0);
    auto c = Store::open(copy0, OpenMode::ReadWrite);
    merge_stores(*c, {s4[1], s4[2], s4[3]}, null_progress(), warn);
    EXPECT_TRUE(warnings.empty()) << warnings[0];
    EXPECT_EQ(c->meta("shards_merged"), std::optional<std::string>("4:0,1,2,3"));
    EXPECT_EQ(c->meta("shard"), std::optional<std::string>(""));
  }

  // A shard of another split, and of another dataset size.
  const auto other = temp_path("m_other.db");
  write_store(other, 30, Shard{1, 2});
  {
    auto st = Store::open(other, OpenMode::ReadWrite);
    record_shard(*st, Shard{1, 2}, 30);
  }
  const auto out2 = temp_path("mout2.db");
  auto o2 = Store::open(out2, OpenMode::Create);
  merge_stores(*o2, {s4[0], other}, null_progress(), warn);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("shards of different splits (into 2, 4 shards)"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("datasets of different sizes (responses: 40 in '" + s4[0] + "', 30 in '" + other + "')"),
            std::string::npos)
      << warnings[1];
  // A store that records a shard and is given another one says so.
  warnings.clear();
  auto st = Store::open(s4[0], OpenMode::ReadWrite);
  record_shard(*st, Shard{2, 4}, 40, warn);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("already holds shard 0/4; it now records shard 2/4"), std::string::npos) << warnings[0];
}

// Shards that read one file under two paths are warned (their records would be ordered file by
// file); two files of one name in two directories are not one file.
TEST(Merge, OneFileUnderTwoPathsIsWarned) {
  const fs::path dir = fs::path(temp_path("paths"));
  fs::create_directories(dir / "sub");
  std::ofstream(dir / "d.jsonl") << "x\n";
  std::ofstream(dir / "sub" / "d.jsonl") << "y\n";
  auto store_reading = [&](const std::string& name, const std::string& source, int from) {
    const auto path = temp_path(name);
    auto st = Store::open(path, OpenMode::Create);
    for (int i = from; i < from + 3; ++i) {
      StoredResponse r = response(i);
      r.source_file = source;
      st->put_response(r);
    }
    return path;
  };
  const auto a = store_reading("pa.db", (dir / "d.jsonl").string(), 0);
  const auto b = store_reading("pb.db", (dir / "." / "d.jsonl").string(), 3);
  const auto c = store_reading("pc.db", (dir / "sub" / "d.jsonl").string(), 6);
  std::vector<std::string> warnings;
  auto warn = [&](LogLevel l, std::string_view m) {
    if (l == LogLevel::Warn) warnings.emplace_back(m);
  };
  auto out = Store::open(temp_path("pout.db"), OpenMode::Create);
  merge_stores(*out, {a, c}, null_progress(), warn);
  EXPECT_TRUE(warnings.empty()) << warnings[0];
  auto out2 = Store::open(temp_path("pout2.db"), OpenMode::Create);
  merge_stores(*out2, {a, b, c}, null_progress(), warn);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("the stores read one file under two paths"), std::string::npos) << warnings[0];
}

TEST(Merge, ShardsOfSeveralFilesMergeInTheRunsFileOrder) {
  // A run read b.jsonl, then a.jsonl (not by name), one response of each group per file line.
  auto resp = [](const std::string& file, int line) {
    StoredResponse r;
    r.id = file + std::to_string(line);
    r.group = r.id;
    r.response = "Text of " + r.id + ".";
    r.actions = segment(r.response);
    r.source_file = file;
    r.source_line = uint64_t(line);
    return r;
  };
  std::vector<StoredResponse> run;
  for (const char* f : {"b.jsonl", "a.jsonl"})
    for (int line = 1; line <= 12; ++line) run.push_back(resp(f, line));
  // Three shards; one of them holds no response of b.jsonl (the first file) at all.
  std::vector<std::vector<StoredResponse>> shards(3);
  for (const auto& r : run) {
    const int line = int(r.source_line);
    shards[r.source_file == "b.jsonl" ? (line % 2) : (line % 3)].push_back(r);
  }
  ASSERT_TRUE(std::none_of(shards[2].begin(), shards[2].end(), [](auto& r) { return r.source_file == "b.jsonl"; }));
  std::vector<std::string> paths;
  for (size_t i = 0; i < shards.size(); ++i) {
    paths.push_back(temp_path("s" + std::to_string(i) + ".db"));
    auto st = Store::open(paths.back(), OpenMode::Create);
    for (const auto& r : shards[i]) st->put_response(r);
  }
  for (const auto& order : {std::vector<size_t>{2, 1, 0}, std::vector<size_t>{0, 1, 2}, std::vector<size_t>{1, 2, 0}}) {
    const auto out_path = temp_path("out.db");
    {
      auto out = Store::open(out_path, OpenMode::Create);
      std::vector<std::string> in;
      for (size_t i : order) in.push_back(paths[i]);
      merge_stores(*out, in, null_progress());
    }
    std::vector<std::string> got, want;
    Store::open(out_path, OpenMode::ReadOnly)->for_each_response([&](const StoredResponse& r) {
      got.push_back(r.id);
      return true;
    });
    for (const auto& r : run) want.push_back(r.id);
    EXPECT_EQ(got, want);
  }
}

TEST(Merge, AnUnscoredCopyOfAnotherSegmentationMergesInEitherOrder) {
  // One record: scored in `scored`, unscored in `plain` under another segmentation, question or
  // system prompt (an unscored copy brings no scores, so the scored one's row stays).
  const auto scored = temp_path("scored.db");
  write_store(scored, 3);
  for (int variant = 0; variant < 3; ++variant) {
    SCOPED_TRACE(variant);
    const auto plain = temp_path("plain" + std::to_string(variant) + ".db");
    {
      auto st = Store::open(plain, OpenMode::Create);
      StoredResponse r = response(1);
      if (variant == 0) r.actions = {{0, uint32_t(r.response.size()), false}};  // one action
      if (variant == 1) r.question += " (reworded)";
      if (variant == 2) r.system = "Another system prompt.";
      st->put_response(r);
    }
    for (const auto& order : {std::vector<std::string>{scored, plain}, std::vector<std::string>{plain, scored}}) {
      const auto out_path = temp_path("out.db");
      {
        auto out = Store::open(out_path, OpenMode::Create);
        const MergeStats st = merge_stores(*out, order, null_progress());
        EXPECT_EQ(st.n_pairs_added, 6u);
      }
      EXPECT_EQ(dump(out_path), dump(scored)) << "the scored copy's row stays, its pairs fit it";
      auto o = Store::open(out_path, OpenMode::ReadOnly);
      const auto held = o->get_response(*o->find_response(response(1).id));
      EXPECT_EQ(held->question, response(1).question);
      EXPECT_EQ(held->system, response(1).system);
    }
  }
}

TEST(Merge, OtherScoringSettingsAreAWarning) {
  const auto a = temp_path("a.db"), b = temp_path("b.db"), out_path = temp_path("out.db");
  for (const auto& [path, ctx] : {std::pair{a, 4096}, std::pair{b, 8192}}) {
    auto st = Store::open(path, OpenMode::Create);
    ModelInfo m = model_info("teacher");
    m.info_json = "{\"n_ctx\": " + std::to_string(ctx) + ", \"reduce\": \"host\"}";
    st->put_model(m);
  }
  std::vector<std::string> warnings;
  auto out = Store::open(out_path, OpenMode::Create);
  merge_stores(*out, {a, b}, null_progress(), [&](LogLevel l, std::string_view m) {
    if (l == LogLevel::Warn) warnings.emplace_back(m);
  });
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("model 'teacher' was scored with other settings in '" + a + "' and '" + b +
                             "' (n_ctx 4096 vs 8192)"),
            std::string::npos)
      << warnings[0];
}

TEST(Merge, ConflictsAreErrorsNamingTheStoresAndLeaveTheOutputAsItWas) {
  const auto a = temp_path("a.db"), b = temp_path("b.db"), out_path = temp_path("out.db");
  write_store(a, 9);
  write_store(b, 9);
  {
    auto st = Store::open(b, OpenMode::ReadWrite);
    const auto r = response(4);
    const int64_t rid = *st->find_response(r.id);
    st->put_scores(st->model("student")->mid, rid, pair(r, 77));  // another score of one pair
  }
  auto out = Store::open(out_path, OpenMode::Create);
  try {
    merge_stores(*out, {a, b}, null_progress());
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("merge: record 'r4', model 'student': the pair in '" + b + "' differs from the one in '" + a +
                     "'"),
              std::string::npos)
        << m;
  }
  EXPECT_TRUE(dump(out_path).empty()) << "the failed merge wrote nothing";
  EXPECT_TRUE(out->models().empty());
  // The output stays usable: the good store merges after the failure.
  EXPECT_EQ(merge_stores(*out, {a}, null_progress()).n_responses_added, 9u);

  // Another model file under one name.
  const auto c = temp_path("c.db");
  {
    auto st = Store::open(c, OpenMode::Create);
    st->put_model(model_info("teacher", "another-file"));
  }
  try {
    merge_stores(*out, {c}, null_progress());
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("model 'teacher' differs between '" + out_path + "' and '" + c + "' (fingerprint teacher vs "
                     "another-file)"),
              std::string::npos)
        << m;
  }
  // Another text under one record id.
  const auto d = temp_path("d.db");
  {
    auto st = Store::open(d, OpenMode::Create);
    StoredResponse r = response(2);
    r.response = "Something else entirely.";
    r.actions = segment(r.response);
    st->put_response(r);
  }
  try {
    merge_stores(*out, {d}, null_progress());
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("merge: '" + d + "': record 'r2': "), std::string::npos) << e.what();
  }
  EXPECT_THROW(merge_stores(*out, {}, null_progress()), UsageError);
  EXPECT_THROW(merge_stores(*out, {out_path}, null_progress()), UsageError);
  EXPECT_EQ(dump(out_path), dump(a));
}

// A resumed shard's pairs differ from another copy in the last digits (batching): within 1e-4
// per action they are one pair and the first stays; beyond, or with other token counts, an error.
TEST(Merge, PairsEqualUpToRoundingMergeAndTheFirstStays) {
  const auto a = temp_path("ra.db"), b = temp_path("rb.db"), c = temp_path("rc.db"), out_path = temp_path("rout.db");
  write_store(a, 5);
  write_store(b, 5);
  write_store(c, 5);
  const auto r = response(2);
  auto nudge = [&](const std::string& path, double rel, uint32_t extra_tokens) {
    auto st = Store::open(path, OpenMode::ReadWrite);
    PairScore p = pair(r, 1002);  // the student's pair of r2
    for (auto& act : p.actions) act.logprob_sum *= 1 + rel;
    p.actions[0].n_tokens += extra_tokens;
    p.n_tokens += extra_tokens;
    p.n_tokens_total += extra_tokens;
    st->put_scores(st->model("student")->mid, *st->find_response(r.id), p);
  };
  nudge(b, 3e-5, 0);
  nudge(c, 3e-5, 1);
  {
    auto out = Store::open(out_path, OpenMode::Create);
    const MergeStats st = merge_stores(*out, {a, b}, null_progress());
    EXPECT_EQ(st.n_pairs_rounding, 1u);
    EXPECT_EQ(st.n_pairs_present, 9u);
  }
  EXPECT_EQ(dump(out_path), dump(a)) << "the pair held first stays";
  fs::remove(out_path);
  auto out = Store::open(out_path, OpenMode::Create);
  EXPECT_THROW(merge_stores(*out, {a, c}, null_progress()), DataError) << "other token counts are another scoring";
  nudge(b, 2e-3, 0);
  EXPECT_THROW(merge_stores(*out, {a, b}, null_progress()), DataError) << "beyond rounding";
}

// Failed pairs that stay failed are counted (the CLI warns and exits 3), and a failed pair that is
// not taken is counted too, so that the counts add up.
TEST(Merge, FailedPairsLeftInTheOutputAreCounted) {
  const auto a = temp_path("fa.db"), b = temp_path("fb.db"), out_path = temp_path("fout.db");
  write_store(a, 4);
  write_store(b, 4);
  for (const auto& path : {a, b}) {
    auto st = Store::open(path, OpenMode::ReadWrite);
    PairScore f;
    f.status = ScoreStatus::Failed;
    f.error = "server said 500 in " + path;
    st->put_scores(st->model("teacher")->mid, *st->find_response("r1"), f);
  }
  auto out = Store::open(out_path, OpenMode::Create);
  const MergeStats st = merge_stores(*out, {a, b}, null_progress());
  EXPECT_EQ(st.n_pairs_failed, 1u);
  EXPECT_EQ(st.n_pairs_failed_ignored, 1u);
  EXPECT_EQ(st.n_pairs_added + st.n_pairs_present + st.n_pairs_failed_ignored, 16u);
}

TEST(Merge, AUsablePairReplacesAFailedOneAndNotTheOtherWayRound) {
  const auto failed = temp_path("failed.db"), good = temp_path("good.db"), out_path = temp_path("out.db");
  write_store(good, 6);
  write_store(failed, 6);
  {
    auto st = Store::open(failed, OpenMode::ReadWrite);
    PairScore f;
    f.status = ScoreStatus::Failed;
    f.error = "server said 500";
    st->put_scores(st->model("teacher")->mid, *st->find_response("r1"), f);
    StoredResponse r = response(3);
    r.correct = true;  // graded in this store only
    st->put_response(r);
    st->set_correct(*st->find_response("r3"), true);
  }
  for (const auto& order : {std::vector<std::string>{failed, good}, std::vector<std::string>{good, failed}}) {
    fs::remove(out_path);
    auto out = Store::open(out_path, OpenMode::Create);
    const MergeStats st = merge_stores(*out, order, null_progress());
    EXPECT_EQ(st.n_pairs_replaced, order[0] == failed ? 1u : 0u);
    const auto s = out->get_scores(out->model("teacher")->mid, *out->find_response("r1"));
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->status, ScoreStatus::Ok);
    EXPECT_EQ(out->get_response(*out->find_response("r3"))->correct, std::optional<bool>(true));
  }
  // A grade that disagrees is an error.
  {
    auto st = Store::open(good, OpenMode::ReadWrite);
    st->set_correct(*st->find_response("r3"), false);
  }
  fs::remove(out_path);
  auto out = Store::open(out_path, OpenMode::Create);
  try {
    merge_stores(*out, {failed, good}, null_progress());
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("record 'r3' is graded incorrect in '" + good + "' and correct in '" +
                                         failed + "'"),
              std::string::npos)
        << e.what();
  }
}

// Ranks: shards scored with --ranks merge with their ranks and clip; the same scores with ranks
// replace them without (in either order); ranks of two clips do not merge.
TEST(Merge, RanksAndTheirClipMerge) {
  const auto ranked = temp_path("ranked.db"), plain = temp_path("plain.db"), other = temp_path("other.db"),
             out_path = temp_path("out.db");
  for (const auto& p : {ranked, plain, other}) write_store(p, 6);
  auto add_ranks = [](const std::string& path, uint32_t clip) {
    auto st = Store::open(path, OpenMode::ReadWrite);
    const int64_t t = st->model("student")->mid;
    for (int i = 0; i < 6; ++i) {
      const int64_t rid = *st->find_response("r" + std::to_string(i));
      PairScore p = *st->get_scores(t, rid);
      p.has_ranks = true;
      for (auto& a : p.actions) a.rank_sum = a.n_tokens * 7;
      st->put_scores(t, rid, p);
    }
    st->set_meta(rank_clip_key("student"), std::to_string(clip));
  };
  add_ranks(ranked, 50);
  add_ranks(other, 60);
  for (const auto& order : {std::vector<std::string>{plain, ranked}, std::vector<std::string>{ranked, plain}}) {
    fs::remove(out_path);
    auto out = Store::open(out_path, OpenMode::Create);
    const MergeStats st = merge_stores(*out, order, null_progress());
    EXPECT_EQ(st.n_pairs_ranked, order[0] == plain ? 6u : 0u);
    EXPECT_EQ(rank_clip_of(*out, "student"), std::optional<uint32_t>(50));
    EXPECT_EQ(rank_clip_of(*out, "teacher"), std::nullopt);
    const auto p = out->get_scores(out->model("student")->mid, *out->find_response("r2"));
    ASSERT_TRUE(p && p->has_ranks);
    EXPECT_EQ(p->actions[0].rank_sum, p->actions[0].n_tokens * 7u);
  }
  fs::remove(out_path);
  auto out = Store::open(out_path, OpenMode::Create);
  try {
    merge_stores(*out, {ranked, other}, null_progress());
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("clipped at 50 in '" + ranked + "' and at 60 in '" + other + "'"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(out->n_responses(), 0) << "the failed merge changed nothing";
}

}  // namespace
}  // namespace rdpt
