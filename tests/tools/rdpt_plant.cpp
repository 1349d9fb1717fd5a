// rdpt_plant: builds responses with planted provenance, and checks how well rdpt recovers it.
//
//   rdpt_plant make  --questions Q.jsonl --model teacher=T.gguf --model student=S.gguf
//                    [--model distilled=D.gguf] --out planted.jsonl [--responses 40 --sentences 10]
//                    [--per-question 1 --sentence-tokens 60 --seed 1 --threads 1 --prompt-format F]
//   rdpt_plant check --planted planted.jsonl --store scores.db [--alpha 0.1 --beta 0.2]
//                    [--min-recall 0.5 | --min-recall teacher=0.5,student=0.5,distilled=0.9]
//   rdpt_plant check-selection --planted planted.jsonl --selected selected.jsonl [--min-gain 0.1]
//
// make: each response is "<think>\n" + sentences + "</think>" + a final sentence. Every sentence
// is written by one model, chosen at random with a per-response mix (so responses differ in how
// much the teacher wrote): it starts with a fixed capitalised word (forced), then that model
// continues the response so far greedily for --sentence-tokens tokens (default 60; the
// forced word and "." are unlikely under every peaked model, so sentences must be long enough
// for the writer's own tokens to dominate the geometric mean), then "." ends it. Each
// record keeps, per byte span, which model wrote it ("planted"), and its teacher share. Records
// whose teacher share is >= 0.5 are labelled correct (a planted link between provenance and
// correctness, so that curves split by correctness differ).
// --threads: llama.cpp threads per model (default 1: these models are tiny, and more threads
// only wait on each other; the text does not depend on it). make prints the generated tokens/s.
// check: types every scored action of the store with docs/method.md section 3 (or section 4 without
// a distilled model) and prints a confusion matrix planted source x type: teacher-written
// actions should come out Teacher, student-written Student, distilled-written Boosted. With
// --min-recall (one minimum for every source, or per source) it exits 3 when a source's share
// recovered as its expected type is below its minimum, or a source given a minimum is absent.
// check-selection: exits 3 unless the selected records' mean planted teacher share is at least
// the whole set's plus --min-gain (default 0).
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "rdpt/error.h"
#include "rdpt/generator.h"
#include "rdpt/provenance.h"
#include "rdpt/record.h"
#include "rdpt/scorer.h"
#include "rdpt/segment.h"
#include "rdpt/store.h"

namespace {

using nlohmann::json;

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "rdpt_plant: error: %s\n", msg.c_str());
  std::exit(1);
}

std::map<std::string, std::string> parse_args(int argc, char** argv, std::vector<std::pair<std::string, std::string>>& models) {
  std::map<std::string, std::string> a;
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0 || i + 1 >= argc) die("bad argument '" + k + "' (see the header of tests/tools/rdpt_plant.cpp)");
    std::string v = argv[++i];
    if (k == "--model") {
      auto eq = v.find('=');
      if (eq == std::string::npos) die("--model wants NAME=FILE.gguf");
      models.emplace_back(v.substr(0, eq), v.substr(eq + 1));
    } else {
      a[k.substr(2)] = v;
    }
  }
  return a;
}

std::string get(const std::map<std::string, std::string>& a, const std::string& k, const std::string& def = "") {
  auto it = a.find(k);
  if (it != a.end()) return it->second;
  if (def.empty()) die("missing --" + k);
  return def;
}

const char* kStarters[] = {"So", "Then", "Now", "Next", "Thus", "Hence", "Also", "Here", "First", "Finally",
                           "Wait", "Note", "Since", "Given", "Check", "Consider"};

int run_make(int argc, char** argv) {
  std::vector<std::pair<std::string, std::string>> models;
  auto a = parse_args(argc, argv, models);
  if (models.size() < 2) die("make needs at least two --model NAME=FILE.gguf");
  int n_responses = std::stoi(get(a, "responses", "40"));
  int per_question = std::max(1, std::stoi(get(a, "per-question", "1")));
  int n_sentences = std::stoi(get(a, "sentences", "10"));
  int sentence_tokens = std::stoi(get(a, "sentence-tokens", "60"));
  uint64_t seed = std::stoull(get(a, "seed", "1"));
  std::string prompt_format = get(a, "prompt-format", "Question: {question}\nAnswer: ");
  rdpt::LlamaOptions lo;
  lo.prompt_format = prompt_format;
  lo.n_ctx = 4096;
  lo.n_threads = std::stoi(get(a, "threads", "1"));
  std::vector<std::unique_ptr<rdpt::Generator>> gens;
  for (auto& [name, path] : models) gens.push_back(rdpt::make_llama_generator(path, lo));

  std::vector<rdpt::Record> questions;
  {
    rdpt::ReaderOptions ro;
    ro.require_response = false;
    rdpt::RecordReader r(get(a, "questions"), ro);
    rdpt::Record rec;
    while (r.next(rec) && int(questions.size()) * per_question < n_responses) questions.push_back(rec);
  }
  if (questions.empty()) die("no questions read");
  std::ofstream out(get(a, "out"), std::ios::binary);
  if (!out) die("cannot write " + get(a, "out"));
  std::mt19937_64 rng(seed);
  uint64_t n_generated = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n_responses; ++i) {
    const auto& q = questions[size_t(i / per_question) % questions.size()];
    // Mix: model 0 (teacher) writes a share w of sentences; the rest is split among the others.
    // With several responses per question, the responses of one question get different shares.
    int k = per_question > 1 ? i % per_question : i % 5, kn = per_question > 1 ? per_question : 5;
    double w = double(k) / double(kn - 1);
    std::string response = "<think>\n";
    json spans = json::array();
    int n_teacher = 0;
    for (int s = 0; s <= n_sentences; ++s) {
      size_t who;
      if (std::uniform_real_distribution<double>(0, 1)(rng) < w) who = 0;
      else who = 1 + rng() % (models.size() - 1);
      if (s == n_sentences) response += "</think>\n\n";
      std::string start = response.size() > 8 && s != n_sentences ? " " : "";
      start += kStarters[rng() % (sizeof kStarters / sizeof *kStarters)];
      uint32_t begin = uint32_t(response.size());
      rdpt::GenerateOptions go;
      go.temperature = 0;
      go.max_tokens = uint32_t(sentence_tokens);
      go.prefix = response + start;
      auto g = gens[who]->generate(gens[who]->format_prompt(q.question, q.system), go);
      if (g.empty() || !g[0].ok()) die("generation failed: " + (g.empty() ? std::string("no output") : g[0].error));
      n_generated += g[0].tokens.size();
      response = g[0].response + ".";
      spans.push_back({begin, uint32_t(response.size()), models[who].first});
      n_teacher += who == 0;
    }
    double share = double(n_teacher) / (n_sentences + 1);
    json rec = {{"id", "planted-" + std::to_string(i)}, {"question_id", q.group}, {"question", q.question},
                {"response", response}, {"answer", q.answer ? json(*q.answer) : json(nullptr)},
                {"correct", share >= 0.5}, {"teacher_share", share}, {"planted", spans}};
    out << rec.dump() << '\n';
    if (isatty(STDERR_FILENO)) std::fprintf(stderr, "\rrdpt_plant: %d/%d responses", i + 1, n_responses);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "rdpt_plant: wrote %d responses (%llu generated tokens in %.1f s: %.1f tokens/s)\n", n_responses,
               (unsigned long long)n_generated, secs, double(n_generated) / std::max(secs, 1e-9));
  return 0;
}

int run_check(int argc, char** argv) {
  std::vector<std::pair<std::string, std::string>> models;
  auto a = parse_args(argc, argv, models);
  double alpha = std::stod(get(a, "alpha", "0.1"));
  double beta = std::stod(get(a, "beta", "0.2"));
  auto store = rdpt::Store::open(get(a, "store"), rdpt::OpenMode::ReadOnly);
  auto t = store->model(get(a, "teacher", "teacher"));
  auto s = store->model(get(a, "student", "student"));
  auto d = store->model(get(a, "distilled", "distilled"));
  if (!t || !s) die("the store needs models named teacher and student");
  std::map<std::string, json> planted;
  {
    rdpt::RecordReader r(get(a, "planted"));
    rdpt::Record rec;
    while (r.next(rec)) planted[rec.id] = json::parse(rec.raw)["planted"];
  }
  std::vector<int64_t> mids = {t->mid, s->mid};
  if (d) mids.push_back(d->mid);
  std::map<std::string, std::map<std::string, uint64_t>> confusion;  // source -> type -> count
  store->for_each_scored(mids, [&](const rdpt::StoredResponse& r, std::span<const std::optional<rdpt::PairScore>> sc) {
    auto it = planted.find(r.id);
    if (it == planted.end()) return true;
    for (const auto& x : sc)
      if (!x || x->actions.size() != r.actions.size()) return true;
    for (size_t j = 0; j < r.actions.size(); ++j) {
      const auto& act = r.actions[j];
      if (act.special) continue;
      // The planted source holding most of the action's bytes.
      std::string src;
      uint32_t best = 0;
      for (const auto& sp : it->second) {
        uint32_t b = std::max(act.begin, sp[0].get<uint32_t>()), e = std::min(act.end, sp[1].get<uint32_t>());
        if (e > b && e - b > best) { best = e - b; src = sp[2].get<std::string>(); }
      }
      if (src.empty()) continue;
      double pT = sc[0]->actions[j].p(), pS = sc[1]->actions[j].p();
      if (std::isnan(pT) || std::isnan(pS)) { confusion[src]["unscored"]++; continue; }
      std::optional<rdpt::ActionType> ty;
      if (d) {
        double pD = sc[2]->actions[j].p();
        if (std::isnan(pD)) { confusion[src]["unscored"]++; continue; }
        ty = rdpt::type_four_way(pT, pS, pD, alpha, beta);
      } else {
        ty = rdpt::type_three_way(pT, pS, beta);
      }
      confusion[src][ty ? rdpt::type_name(*ty) : "unscored"]++;
    }
    return true;
  });
  if (confusion.empty()) die("no planted response of " + get(a, "planted") + " is scored in the store");
  std::printf("planted source -> rdpt type (alpha %.2f, beta %.2f), share of that source's actions\n", alpha, beta);
  // The type each source should come out as (distilled-only text: Boosted).
  const std::map<std::string, std::string> expected = {{"teacher", "Teacher"}, {"student", "Student"}, {"distilled", "Boosted"}};
  // --min-recall X (every source) or NAME=X,NAME=X (those sources, which must be present).
  std::map<std::string, double> min_recall;
  double min_recall_all = 0;
  {
    std::string spec = get(a, "min-recall", "0");
    for (size_t p = 0; p <= spec.size();) {
      size_t q = spec.find(',', p);
      if (q == std::string::npos) q = spec.size();
      std::string item = spec.substr(p, q - p);
      size_t eq = item.find('=');
      try {
        if (eq == std::string::npos) min_recall_all = std::stod(item);
        else min_recall[item.substr(0, eq)] = std::stod(item.substr(eq + 1));
      } catch (const std::exception&) {
        die("--min-recall wants X or NAME=X,NAME=X, got '" + spec + "'");
      }
      p = q + 1;
    }
  }
  bool ok = true;
  for (auto& [src, m] : min_recall)
    if (!confusion.count(src) || !expected.count(src) || (src == "distilled" && !d)) {
      std::fprintf(stderr, "rdpt_plant: --min-recall names '%s', which has no checked actions\n", src.c_str());
      ok = false;
    }
  for (auto& [src, row] : confusion) {
    uint64_t n = 0;
    for (auto& [k, v] : row) n += v;
    std::printf("  %-10s (n=%4llu):", src.c_str(), (unsigned long long)n);
    for (auto& [k, v] : row) std::printf("  %s %.1f%%", k.c_str(), 100.0 * v / n);
    auto e = expected.find(src);
    if (e != expected.end() && (src != "distilled" || d)) {
      double recall = double(row[e->second]) / n;
      std::printf("   [recovered as %s: %.1f%%]", e->second.c_str(), 100 * recall);
      auto m = min_recall.find(src);
      const double need = m != min_recall.end() ? m->second : min_recall_all;
      if (need > 0) std::printf(" (min %.1f%%)", 100 * need);
      if (recall < need) ok = false;
    }
    std::printf("\n");
  }
  if (!ok) {
    std::fprintf(stderr, "rdpt_plant: recovery below --min-recall\n");
    return 3;
  }
  return 0;
}

}  // namespace

// Mean planted teacher share of the selected records vs of all records: teacher-count must prefer
// responses with more teacher-written sentences.
int run_check_selection(int argc, char** argv) {
  std::vector<std::pair<std::string, std::string>> models;
  auto a = parse_args(argc, argv, models);
  auto mean_share = [](const std::string& path, size_t* n) {
    rdpt::RecordReader r(path);
    rdpt::Record rec;
    double sum = 0;
    *n = 0;
    while (r.next(rec)) {
      sum += json::parse(rec.raw)["teacher_share"].get<double>();
      ++*n;
    }
    return *n ? sum / *n : NAN;
  };
  size_t n_all, n_sel;
  double all = mean_share(get(a, "planted"), &n_all), sel = mean_share(get(a, "selected"), &n_sel);
  std::printf("planted teacher share: %.3f over all %zu responses, %.3f over the %zu selected\n", all, n_all, sel, n_sel);
  double min_gain = std::stod(get(a, "min-gain", "0"));
  if (!(sel >= all + min_gain)) {
    std::fprintf(stderr, "rdpt_plant: selection does not prefer teacher-written responses (gain %.3f < %.3f)\n", sel - all, min_gain);
    return 3;
  }
  return 0;
}

int main(int argc, char** argv) {
  try {
    std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "make") return run_make(argc, argv);
    if (cmd == "check-selection") return run_check_selection(argc, argv);
    if (cmd == "check") return run_check(argc, argv);
    std::fprintf(stderr, "usage: rdpt_plant make|check ... (see tests/tools/rdpt_plant.cpp)\n");
    return 2;
  } catch (const std::exception& e) {
    die(e.what());
  }
}
