// Unit tests of the report library: escaping, hashing, and the data embedded in the page.
#include "report/report.h"
#include "report/assets.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <unistd.h>

#include "rdpt/error.h"
#include "rdpt/segment.h"
#include "rdpt/curves.h"
#include "rdpt/store.h"

namespace rdpt::report {
namespace {

using json = nlohmann::json;

TEST(ReportHtml, ScriptSafeJsonEscapesEverythingThatCouldCloseTheBlock) {
  json j = {{"t", "</script><img src=x onerror=\"a()\"> & \xE2\x80\xA8"}};
  std::string s = script_safe_json(j.dump());
  EXPECT_EQ(s.find('<'), std::string::npos);
  EXPECT_EQ(s.find('>'), std::string::npos);
  EXPECT_EQ(s.find('&'), std::string::npos);
  EXPECT_EQ(s.find("\xE2\x80\xA8"), std::string::npos);
  EXPECT_EQ(json::parse(s), j);  // still the same JSON
}

TEST(ReportHtml, HtmlEscape) {
  EXPECT_EQ(html_escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(html_escape(""), "");
}

TEST(ReportHtml, Sha256KnownVectors) {
  // FIPS 180-2 vectors, base64 of the digest (as `openssl dgst -sha256 -binary | base64` gives).
  EXPECT_EQ(sha256_base64(""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  EXPECT_EQ(sha256_base64("abc"), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
  EXPECT_EQ(sha256_base64("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "JI1qYdIGOLjlwCaTDD5gOaM85Flk/yFn9uzt1BnbBsE=");
  EXPECT_EQ(sha256_base64(std::string(1000000, 'a')), "zcduXJkU+5KBocfihNc+Z/GAmkiklyAOBG05zMcRLNA=");
}

TEST(ReportHtml, QuantiseProbability) {
  EXPECT_EQ(quantise_probability(NAN), -1);
  EXPECT_EQ(quantise_probability(1.0), 0);
  EXPECT_EQ(quantise_probability(1.5), 0);
  EXPECT_EQ(quantise_probability(0.12345), 209192);  // -ln 0.12345 = 2.091915...
  EXPECT_EQ(quantise_probability(0.0), kSurprisalCap);
  EXPECT_EQ(quantise_probability(-0.1), kSurprisalCap);
  // Small probabilities keep three significant digits (they used to round to 0).
  for (double p : {2e-5, 3.7e-9, 1.234e-30}) {
    const double back = std::exp(-quantise_probability(p) / 1e5);
    EXPECT_NEAR(back / p, 1.0, 5e-6) << p;
  }
}

// A store with three responses and hand-made probabilities whose four-way types are known.
class ReportStore : public ::testing::Test {
 protected:
  std::string path = (std::filesystem::temp_directory_path() /
                      ("rdpt_report_test_" + std::to_string(::getpid()) + ".db")).string();
  std::unique_ptr<Store> st;
  void SetUp() override {
    if (!kLibrariesEmbedded) GTEST_SKIP() << "built with RDPT_WITH_REPORT=OFF";
    std::filesystem::remove(path);
    st = Store::open(path, OpenMode::Create);
    int64_t mT = st->put_model({.name = "teacher", .fingerprint = "fT"});
    int64_t mS = st->put_model({.name = "student", .fingerprint = "fS"});
    int64_t mD = st->put_model({.name = "distilled", .fingerprint = "fD"});
    // (pT, pS, pD) per action; alpha 0.1, beta 0.1 given:
    // a: Teacher (0.9,0.2,0.8); b: Shared (0.5,0.5,0.5); c: Student (0.1,0.8,0.7); d: Boosted (0.5,0.5,0.1)
    add(mT, mS, mD, "r1", "First. Second. Third.", true, {{0.9, 0.2, 0.8}, {0.5, 0.5, 0.5}, {0.1, 0.8, 0.7}});
    add(mT, mS, mD, "r2", "Alpha. Beta.", false, {{0.9, 0.2, 0.8}, {0.5, 0.5, 0.1}});
    add(mT, mS, mD, "</script><b>x</b>", "<script>alert(1)</script> Done.", std::nullopt, {{0.9, 0.2, 0.8}});
  }
  void TearDown() override {
    st.reset();
    std::filesystem::remove(path);
  }
  void add(int64_t mT, int64_t mS, int64_t mD, const std::string& id, const std::string& text,
           std::optional<bool> correct, std::vector<std::array<double, 3>> p) {
    StoredResponse r;
    r.id = id;
    r.response = text;
    r.correct = correct;
    r.actions = segment(text);
    ASSERT_EQ(r.actions.size(), p.size()) << text;
    int64_t rid = st->put_response(r);
    for (int m = 0; m < 3; ++m) {
      PairScore s;
      for (auto& a : p) s.actions.push_back({2, 2 * std::log(a[m])});
      s.n_tokens = s.n_tokens_total = uint32_t(2 * p.size());
      st->put_scores(m == 0 ? mT : m == 1 ? mS : mD, rid, s);
    }
  }
  // Writes the report and returns (html, summary JSON, pages).
  std::string html;
  json data;
  std::vector<json> pages;
  ReportStats run(ReportOptions o) {
    std::ostringstream os;
    ReportStats s = write_report(*st, o, os);
    html = os.str();
    // Plain string search: std::regex recurses per character and overflows the stack on large blocks.
    const std::string open = "<script type=\"application/json\" id=\"";
    pages.clear();
    for (size_t at = html.find(open); at != std::string::npos; at = html.find(open, at)) {
      const size_t id_begin = at + open.size(), id_end = html.find('"', id_begin);
      const size_t body_begin = html.find('>', id_end) + 1, body_end = html.find("</script>", body_begin);
      if (id_end == std::string::npos || body_end == std::string::npos) ADD_FAILURE() << "unterminated JSON block";
      if (id_end == std::string::npos || body_end == std::string::npos) break;
      const std::string id = html.substr(id_begin, id_end - id_begin), body = html.substr(body_begin, body_end - body_begin);
      EXPECT_EQ(body.find('<'), std::string::npos) << "a JSON block holds a raw '<'";
      if (id == "rdpt-data") data = json::parse(body);
      else if (id.rfind("rdpt-", 0) == 0) pages.push_back(json::parse(body));
      at = body_end;
    }
    return s;
  }
};

TEST_F(ReportStore, EmbedsTypesCurvesAndViewerData) {
  ReportOptions o;
  o.beta = 0.1;
  o.generated_at = "2026-01-01T00:00:00Z";
  ReportStats s = run(o);
  EXPECT_TRUE(s.four_way);
  EXPECT_FALSE(s.beta_auto);
  EXPECT_EQ(s.n_responses, 3u);
  EXPECT_EQ(s.n_embedded, 3u);
  ASSERT_TRUE(data.is_object());
  EXPECT_EQ(data["types"], json({"Shared", "Teacher", "Student", "Boosted"}));
  // Position 1: three responses, all Teacher; position 2: r1 Shared (correct), r2 Boosted (incorrect).
  const json& c = data["curves"];
  EXPECT_EQ(c["n"][2][0], 3);
  EXPECT_EQ(c["count"][2][1][0], 3);        // all, Teacher, j=1
  EXPECT_EQ(c["n"][0][1], 1);               // correct, j=2
  EXPECT_EQ(c["count"][0][0][1], 1);        // correct, Shared, j=2
  EXPECT_EQ(c["count"][1][3][1], 1);        // incorrect, Boosted, j=2
  EXPECT_EQ(c["count"][2][2][2], 1);        // all, Student, j=3
  EXPECT_EQ(c["n"][2].size(), 3u);
  // Viewer: pages hold the actions' text, the type letters and quantised probabilities.
  ASSERT_EQ(pages.size(), 1u);
  ASSERT_EQ(pages[0].size(), 3u);
  EXPECT_EQ(pages[0][0]["y"], "TSU");
  EXPECT_EQ(pages[0][1]["y"], "TB");
  EXPECT_EQ(pages[0][0]["p"][0], json({10536, 69315, 230259}));  // -ln p in 1e-5 nat: p = 0.9, 0.5, 0.1
  EXPECT_EQ(pages[0][2]["a"], json({"<script>alert(1)</script> Done."}));  // '>' + ' D' is no cut
  EXPECT_EQ(data["index"]["c"], "10-");
  EXPECT_EQ(data["index"]["id"][2], "</script><b>x</b>");
  EXPECT_EQ(data["meta"]["generated_at"], "2026-01-01T00:00:00Z");
  // The only "</script" in the file closes our own blocks; no raw '<' in any data block.
  size_t opens = 0, closes = 0;
  for (size_t i = html.find("<script"); i != std::string::npos; i = html.find("<script", i + 1)) ++opens;
  for (size_t i = html.find("</script"); i != std::string::npos; i = html.find("</script", i + 1)) ++closes;
  EXPECT_EQ(opens, closes);
  EXPECT_EQ(html.find("alert(1)</script>"), std::string::npos);
  // CSP with one hash per executable script.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(html, m, std::regex("Content-Security-Policy\" content=\"([^\"]*)\"")));
  std::string csp = std::regex_replace(m[1].str(), std::regex("&#39;"), "'");
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos);
  size_t hashes = 0;
  for (size_t i = csp.find("'sha256-"); i != std::string::npos; i = csp.find("'sha256-", i + 1)) ++hashes;
  EXPECT_EQ(hashes, 4u);
}

TEST_F(ReportStore, BetaAutoMarksThePickAndShowsEveryCandidate) {
  ReportStats s = run({});
  EXPECT_TRUE(s.beta_auto);
  const json& b = data["beta"];
  EXPECT_EQ(b["procedure"], "analysis");
  EXPECT_EQ(b["candidates"].size(), 4u);
  EXPECT_EQ(b["candidates"][size_t(b["pick"])]["beta"], s.beta);
  EXPECT_EQ(b["candidates"][0]["hist"]["Teacher"].size(), 20u);
  // The two most frequent types by mean per-response share (docs/method.md section 5): at every
  // candidate r1 is Teacher, Shared, Student (1/3 each), r2 Teacher, Boosted (1/2 each), r3 Teacher,
  // so the means are Teacher 11/18, Boosted 1/6, Shared 1/9, Student 1/9. Pooled counts (Teacher 3,
  // the others 1 each) would give Teacher and Shared.
  for (const auto& c : b["candidates"]) {
    EXPECT_EQ(c["first"], "Teacher");
    EXPECT_EQ(c["second"], "Boosted");
    EXPECT_EQ(c["n_actions"]["Shared"], 1);
  }
}

TEST_F(ReportStore, ThreeWayWithoutDistilledModel) {
  ReportOptions o;
  o.distilled.clear();
  ReportStats s = run(o);
  EXPECT_FALSE(s.four_way);
  EXPECT_EQ(data["types"], json({"Common", "Teacher", "Student"}));
  EXPECT_EQ(data["beta"]["procedure"], "training");
  EXPECT_EQ(pages[0][0]["p"].size(), 2u);  // pT and pS only
}

// --compare: the same store with teacher and student swapped. At j = 1 every response is Teacher
// in the report's run and Student in the swapped one, so Teacher's difference (swapped minus own)
// is -1 and Student's +1, with Newcombe's interval.
TEST_F(ReportStore, ComparisonEmbedsEachRunAndItsDifference) {
  auto other = Store::open(path, OpenMode::ReadOnly);
  ReportOptions o;
  o.beta = 0.1;
  o.label = "own";
  o.compare.push_back({.label = "swapped", .store = other.get(), .teacher = "student", .student = "teacher"});
  run(o);
  const json& c = data["comparison"];
  ASSERT_TRUE(c.is_object());
  ASSERT_EQ(c["runs"].size(), 2u);
  EXPECT_EQ(c["runs"][0]["label"], "own");
  EXPECT_EQ(c["runs"][1]["models"]["teacher"], "student");
  EXPECT_EQ(c["runs"][1]["curves"]["count"][2][2][0], 3);  // all, Student, j=1
  const json& d = c["diffs"][0];
  EXPECT_EQ(d["d"][2][1][0], -1.0);  // [subset all][Teacher][j=1]
  EXPECT_EQ(d["d"][2][2][0], 1.0);
  const Interval iv = difference_interval(0, 3, 3, 3);
  EXPECT_NEAR(d["lo"][2][1][0].get<double>(), iv.lo, 1e-4);
  EXPECT_NEAR(d["hi"][2][1][0].get<double>(), iv.hi, 1e-4);
  EXPECT_EQ(d["d"][2][1].size(), 3u);  // three positions in both runs
  EXPECT_TRUE(d["d"][1][1][2].is_null());  // incorrect, j = 3: r2 has two actions
  // The same comparison typed three-way is refused, as are two runs of one label.
  ReportOptions bad = o;
  bad.compare[0].distilled = "none";
  std::ostringstream os;
  EXPECT_THROW(write_report(*st, bad, os), UsageError);
  EXPECT_TRUE(os.str().empty()) << "refused before anything was written";
  bad = o;
  bad.compare[0].label = "own";
  EXPECT_THROW(write_report(*st, bad, os), UsageError);
}

// Curves by normalised position (20 bins): r1's actions sit at 1/6, 1/2, 5/6 (bins 3, 10, 16),
// r2's at 1/4, 3/4 (bins 5, 15), r3's one at 1/2 (bin 10).
TEST_F(ReportStore, CurvesByNormalisedPosition) {
  ReportOptions o;
  o.beta = 0.1;
  run(o);
  const json& n = data["curves"]["norm"];
  EXPECT_EQ(n["bins"], 20);
  const json& m = n["m"][2];
  ASSERT_EQ(m.size(), 20u);
  for (int b = 0; b < 20; ++b) EXPECT_EQ(m[b], b == 10 ? 2 : (b == 3 || b == 5 || b == 15 || b == 16) ? 1 : 0) << b;
  EXPECT_EQ(n["mean"][2][1][10], 0.5);  // all, Teacher, bin 10: r1 Shared, r3 Teacher
  EXPECT_EQ(n["mean"][2][0][10], 0.5);  // Shared
  EXPECT_EQ(n["mean"][0][0][10], 1.0);  // correct: r1 only
  EXPECT_TRUE(n["mean"][2][1][0].is_null());
  EXPECT_TRUE(n["lo"][2][1][3].is_null());  // one response: no interval
}

TEST_F(ReportStore, ViewerLimitsAndForcedIds) {
  ReportOptions o;
  o.viewer_responses = 1;
  o.viewer_ids = {"r2"};
  o.page_responses = 1;
  ReportStats s = run(o);
  EXPECT_EQ(s.n_embedded, 1u);
  EXPECT_EQ(data["index"]["id"], json({"r2"}));
  EXPECT_TRUE(data["meta"]["viewer"]["sampled"]);
  o.viewer_responses = 0;
  o.viewer_bytes = 1;  // nothing but the forced id fits
  run(o);
  EXPECT_EQ(data["index"]["id"], json({"r2"}));
  o.viewer_bytes = 0;
  s = run(o);
  EXPECT_EQ(s.n_embedded, 3u);
  EXPECT_EQ(pages.size(), 3u);  // one response per page
}

TEST_F(ReportStore, BadInputsAreClearErrors) {
  ReportOptions o;
  o.teacher = "nobody";
  std::ostringstream os;
  try {
    write_report(*st, o, os);
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("'nobody'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("teacher, student, distilled"), std::string::npos) << e.what();
  }
  o = {};
  o.distilled = "nobody";
  o.distilled_optional = false;
  EXPECT_THROW(write_report(*st, o, os), UsageError);
  o = {};
  o.viewer_ids = {"missing-id"};
  EXPECT_THROW(write_report(*st, o, os), UsageError);
  o = {};
  o.extras = {{"alignment", "a.json", "{not json"}};
  try {
    write_report(*st, o, os);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("a.json"), std::string::npos) << e.what();
  }
  o = {};
  o.alpha = -1;
  EXPECT_THROW(write_report(*st, o, os), UsageError);
}

TEST(ReportEmpty, StoreWithoutScoresIsADataError) {
  if (!kLibrariesEmbedded) GTEST_SKIP() << "built with RDPT_WITH_REPORT=OFF";
  std::string path = (std::filesystem::temp_directory_path() / ("rdpt_report_empty_test_" + std::to_string(::getpid()) + ".db")).string();
  std::filesystem::remove(path);
  auto st = Store::open(path, OpenMode::Create);
  st->put_model({.name = "teacher", .fingerprint = "a"});
  st->put_model({.name = "student", .fingerprint = "b"});
  StoredResponse r;
  r.id = "x";
  r.response = "Only text.";
  r.actions = segment(r.response);
  st->put_response(r);
  std::ostringstream os;
  EXPECT_THROW(write_report(*st, {}, os), DataError);
  st.reset();
  std::filesystem::remove(path);
}

TEST(ReportAssets, AppScriptNeverWritesHtml) {
  // The page's own script must build the DOM with textContent only.
  std::string_view app = asset("app");
  ASSERT_GT(app.size(), 1000u);
  for (const char* bad : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("})
    EXPECT_EQ(app.find(bad), std::string_view::npos) << bad;
}

}  // namespace
}  // namespace rdpt::report
