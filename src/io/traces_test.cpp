// Segmentation over every real trace shipped in data/traces, and golden spans made by the
// independent Python reference (tests/tools/segment_reference.py).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "rdpt/record.h"
#include "rdpt/segment.h"

namespace rdpt {
namespace {

namespace fs = std::filesystem;

std::vector<std::vector<Action>> golden_spans(const std::string& path, std::vector<std::string>* ids) {
  ReaderOptions o;
  o.fields.question = "id";  // golden files carry only id and spans
  o.fields.response = "id";
  RecordReader r(path, o);
  std::vector<std::vector<Action>> out;
  Record rec;
  while (r.next(rec)) {
    auto j = nlohmann::json::parse(rec.raw);
    std::vector<Action> acts;
    for (const auto& s : j["spans"]) acts.push_back({s[0].get<uint32_t>(), s[1].get<uint32_t>(), s[2].get<bool>()});
    out.push_back(std::move(acts));
    if (ids) ids->push_back(j["id"].get<std::string>());
  }
  return out;
}

TEST(Traces, EveryShippedTraceConcatenatesBackByteForByte) {
  size_t n_files = 0, n_records = 0, n_actions = 0;
  for (const auto& e : fs::directory_iterator(fs::path(RDPT_TEST_DATA) / "traces")) {
    ++n_files;
    RecordReader r(e.path().string());
    Record rec;
    while (r.next(rec)) {
      auto acts = segment(rec.response, {}, rec.id);
      std::string joined;
      for (const auto& a : acts) {
        ASSERT_LT(a.begin, a.end) << rec.id;
        joined += action_text(rec.response, a);
      }
      ASSERT_EQ(joined, rec.response) << rec.id;
      ++n_records;
      n_actions += acts.size();
    }
  }
  EXPECT_EQ(n_files, 6u);
  EXPECT_EQ(n_records, 5u + 536 + 28 + 140 + 880);
  EXPECT_GT(n_actions, 100000u);
}

TEST(Traces, SpansMatchTheIndependentReferenceOnR1DistillTraces) {
  std::vector<std::string> ids;
  auto gold = golden_spans(std::string(RDPT_TEST_GOLDEN) + "/r1distill_thought_anchors.spans.jsonl.zst", &ids);
  RecordReader r(std::string(RDPT_TEST_DATA) + "/traces/r1distill_thought_anchors.jsonl.zst");
  Record rec;
  size_t k = 0;
  while (r.next(rec)) {
    ASSERT_LT(k, gold.size());
    EXPECT_EQ(rec.id, ids[k]);
    EXPECT_EQ(segment(rec.response), gold[k]) << rec.id;
    ++k;
  }
  EXPECT_EQ(k, 28u);
}

TEST(Traces, GoldenCases) {
  std::vector<std::string> ids;
  auto gold = golden_spans(std::string(RDPT_TEST_GOLDEN) + "/segment_cases.expected.jsonl", &ids);
  RecordReader r(std::string(RDPT_TEST_GOLDEN) + "/segment_cases.jsonl");
  Record rec;
  size_t k = 0;
  while (r.next(rec)) {
    ASSERT_LT(k, gold.size());
    EXPECT_EQ(rec.id, ids[k]);
    auto got = segment(rec.response);
    EXPECT_EQ(got, gold[k]) << "case " << rec.id;
    ++k;
  }
  EXPECT_EQ(k, gold.size());
  EXPECT_GE(k, 20u);
}

}  // namespace
}  // namespace rdpt
