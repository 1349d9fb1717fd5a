// Builds a score store for the report tests through the store API, with hand-made scores:
//   report_fixture OUT.db [N] [SHIFT]   (N responses, default 40; ids r0000, r0001, ... plus the
//   hostile ones; SHIFT in [0, 0.25] moves that much of the draws from Shared to Teacher: a store
//   with more Teacher actions, for the report's Comparison tab; default 0)
// Probabilities are drawn from a seeded generator so that every type occurs; response xss-1 and
// xss-2 carry script/HTML payloads, one id is itself HTML, one id and one word are thousands of
// characters long, and the teacher's location holds a
// script tag. The scores of response k do not depend on N, so stores of any size agree.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "rdpt/segment.h"
#include "rdpt/store.h"

namespace {

const char* kSentences[] = {
    "Let me compute the sum of the first terms.", "Wait, that is not right.", "So the answer is 42.",
    "Alternatively, we can use induction.", "First, note that x is even.", "Let me check the base case.",
    "Hence the claim holds for all n.", "We factor the polynomial as (x-1)(x+2).", "Therefore x = 1 or x = -2.",
    "Hmm, I should verify this with an example.", "Plug in n = 3 to get 9.", "This matches the pattern."};

std::string make_response(std::mt19937_64& rng, size_t k) {
  std::string r = "<think>\n";
  size_t n = 4 + rng() % (k % 7 == 0 ? 40 : 12);
  for (size_t i = 0; i < n; ++i) r += std::string(i ? " " : "") + kSentences[rng() % 12];
  r += "</think>\nThe final answer is \\boxed{" + std::to_string(k % 10) + "}.";
  return r;
}

// Action probability under (teacher, student, distilled): a mix that gives every type.
void probs(std::mt19937_64& rng, bool correct, double& pT, double& pS, double& pD, double shift) {
  std::uniform_real_distribution<double> u(0, 1);
  double x = u(rng);
  double base = 0.2 + 0.7 * u(rng);
  if (x < 0.35 - shift) {  // shared
    pT = base; pS = base + 0.05 * (u(rng) - 0.5); pD = base + 0.05 * (u(rng) - 0.5);
  } else if (x < (correct ? 0.75 : 0.6)) {  // teacher
    pT = std::min(0.99, base + 0.3); pS = std::max(0.01, base - 0.4); pD = pT - 0.05;
  } else if (x < 0.85) {  // student
    pS = std::min(0.99, base + 0.3); pT = std::max(0.01, base - 0.4); pD = pS - 0.05;
  } else {  // boosted
    pT = base; pS = base; pD = std::max(0.01, base - 0.5);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: report_fixture OUT.db [N]\n");
    return 2;
  }
  const std::string path = argv[1];
  const size_t n = argc > 2 ? std::stoul(argv[2]) : 40;
  const double shift = argc > 3 ? std::stod(argv[3]) : 0.0;
  if (!(shift >= 0 && shift <= 0.25)) {
    std::fprintf(stderr, "report_fixture: SHIFT must be in [0, 0.25]\n");
    return 2;
  }
  std::filesystem::remove(path);
  auto st = rdpt::Store::open(path, rdpt::OpenMode::Create);
  const int64_t mT = st->put_model({.name = "teacher", .backend = "import",
                                    .location = "/models/<script>window.__pwned=4</script>teacher.gguf",
                                    .fingerprint = "sha256:teacher-fixture", .tokenizer = "fixture"});
  const int64_t mS = st->put_model({.name = "student", .backend = "import", .location = "/models/student.gguf",
                                    .fingerprint = "sha256:student-fixture", .tokenizer = "fixture"});
  const int64_t mD = st->put_model({.name = "distilled", .backend = "import", .location = "/models/distilled.gguf",
                                    .fingerprint = "sha256:distilled-fixture", .tokenizer = "fixture"});
  struct Item {
    std::string id, text;
    std::optional<bool> correct;
  };
  std::vector<Item> items;
  items.push_back({"xss-1",
                   "<think>\nLet me try <script>window.__pwned=1</script> here. Then more text follows.</think>\n"
                   "The answer is <b>4</b> & done.",
                   true});
  items.push_back({"xss-2",
                   "</script><img src=x onerror=\"window.__pwned=2\"> Hello there. World <iframe src=\"javascript:"
                   "window.__pwned=5\"></iframe> ends. Code: if (a < b && c > d) { alert(1); }",
                   false});
  items.push_back({"<img src=x onerror=\"window.__pwned=3\">", "An id that is HTML. It must show as text.", std::nullopt});
  // A long unbreakable id and word: the page must wrap them, not widen to their length.
  items.push_back({"long-" + std::string(3000, 'x'), "Unbreakable " + std::string(6000, 'y') + ". Then a sentence.", true});
  st->begin();
  for (size_t k = 0; k < n; ++k) {
    std::mt19937_64 rng(1000 + k);
    char id[32];
    std::snprintf(id, sizeof id, "r%04zu", k);
    items.push_back({id, make_response(rng, k), k % 3 != 0});
  }
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& it = items[i];
    rdpt::StoredResponse r;
    r.id = it.id;
    r.group = "q" + std::to_string(i % 10);
    r.question = "What is the answer?";
    r.response = it.text;
    r.correct = it.correct;
    r.actions = rdpt::segment(it.text);
    const int64_t rid = st->put_response(r);
    std::mt19937_64 rng(7 + std::hash<std::string>{}(it.id));
    rdpt::PairScore sT, sS, sD;
    for (auto* s : {&sT, &sS, &sD}) s->actions.resize(r.actions.size());
    for (size_t a = 0; a < r.actions.size(); ++a) {
      double pT, pS, pD;
      probs(rng, it.correct.value_or(true), pT, pS, pD, shift);
      const uint32_t nt = r.actions[a].special ? 1 : 3 + uint32_t(rng() % 20);
      // The second action of every fifth response is left unscored under the distilled model.
      const bool unscored = a == 1 && i % 5 == 4;
      sT.actions[a] = {nt, nt * std::log(pT)};
      sS.actions[a] = {nt, nt * std::log(pS)};
      sD.actions[a] = unscored ? rdpt::ActionScore{} : rdpt::ActionScore{nt, nt * std::log(pD)};
    }
    for (auto* s : {&sT, &sS, &sD}) {
      for (const auto& a : s->actions) s->n_tokens += a.n_tokens;
      s->n_tokens_total = s->n_tokens;
    }
    st->put_scores(mT, rid, sT);
    st->put_scores(mS, rid, sS);
    st->put_scores(mD, rid, sD);
  }
  st->commit();
  std::printf("%zu\n", items.size());
  return 0;
}
