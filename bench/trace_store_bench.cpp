// End-to-end speed of rdpt trace's reading and typing, against the typing kernel alone, in one run:
//   trace_store_bench [--responses N] [--actions A] [--store PATH]
// builds (or reuses) a store of N responses x A actions scored under teacher, student and
// distilled (random scores, 1% unscored actions), then times on one thread:
//   kernel        action_probs + type_actions + curves on the same numbers held in memory
//   scan          Store::for_each_scored (SQLite rows, BLOB decoding)
//   stream        rdpt::stream_scores (the one reading policy: p per action, token counts)
//   probs         rdpt::stream_probs (the beta search's pass: scores table only)
//   trace0        rdpt::trace with beta auto, the typing pass reading every pair again
//   trace         rdpt::trace with beta auto (two passes, behaviours, curves), as `rdpt trace`
// and prints actions/s for each, its ratio to the kernel, and the peak resident memory.
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "rdpt/pipeline.h"

namespace {

// CPU time of this process: the per-core figure, steadier than wall time on a shared machine.
double cpu() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

double wall() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Wall and CPU seconds since construction.
struct Timer {
  double w0 = wall(), c0 = cpu();
  std::pair<double, double> elapsed() const { return {wall() - w0, cpu() - c0}; }
};

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;
}

// Anonymous resident memory (heap, stacks), from /proc/self/status; excludes mapped files.
double anon_mb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("RssAnon:", 0) == 0) return std::stod(line.substr(8)) / 1024.0;
  return NAN;
}

struct Scores {
  std::vector<rdpt::ActionScore> t, s, d;
};

Scores make_scores(std::mt19937_64& rng, size_t n) {
  std::uniform_real_distribution<double> u(0.01, 1.0);
  std::uniform_int_distribution<uint32_t> nt(1, 30);
  Scores sc;
  for (size_t k = 0; k < n; ++k) {
    uint32_t m = nt(rng);
    bool unscored = rng() % 100 == 0;
    sc.t.push_back({unscored ? 0 : m, unscored ? 0.0 : m * std::log(u(rng))});
    sc.s.push_back({m, m * std::log(u(rng))});
    sc.d.push_back({m, m * std::log(u(rng))});
  }
  return sc;
}

void build_store(const std::string& path, uint64_t n, uint32_t n_actions) {
  std::filesystem::remove(path);
  auto st = rdpt::Store::open(path, rdpt::OpenMode::Create);
  int64_t mids[3];
  const char* names[3] = {"teacher", "student", "distilled"};
  for (int k = 0; k < 3; ++k)
    mids[k] = st->put_model({.name = names[k], .backend = "import", .location = "bench", .fingerprint = names[k],
                             .tokenizer = "", .chat_template = "", .info_json = "{}"});
  std::mt19937_64 rng(7);
  const char* words[] = {"So we", "Wait,", "Let me check", "Hence", "Therefore the sum", "Alternatively"};
  st->begin();
  for (uint64_t i = 0; i < n; ++i) {
    rdpt::StoredResponse r;
    r.id = "r" + std::to_string(i);
    r.group = "q" + std::to_string(i / 8);
    r.question = "Question " + std::to_string(i / 8);
    if (i % 3) r.correct = (i % 3) == 1;
    for (uint32_t k = 0; k < n_actions; ++k)
      r.response += std::string(k ? " " : "") + words[rng() % 6] + " step " + std::to_string(k) + ".";
    r.actions = rdpt::segment(r.response);
    if (r.actions.size() != n_actions) {
      std::fprintf(stderr, "segmentation gave %zu actions, expected %u\n", r.actions.size(), n_actions);
      std::exit(1);
    }
    const int64_t rid = st->put_response(r);
    Scores sc = make_scores(rng, n_actions);
    const std::vector<rdpt::ActionScore>* v[3] = {&sc.t, &sc.s, &sc.d};
    for (int k = 0; k < 3; ++k) {
      rdpt::PairScore p;
      p.actions = *v[k];
      for (const auto& a : p.actions) p.n_tokens += a.n_tokens;
      p.n_tokens_total = p.n_tokens;
      st->put_scores(mids[k], rid, p);
    }
    if (i % 2000 == 1999) {
      st->commit();
      st->begin();
      std::fprintf(stderr, "\rbuilding the store: %llu/%llu", (unsigned long long)(i + 1), (unsigned long long)n);
    }
  }
  st->commit();
  st->set_meta("bench", std::to_string(n) + "x" + std::to_string(n_actions));
  std::fprintf(stderr, "\n");
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t n = 20000;
  uint32_t n_actions = 300;
  std::string path = (std::filesystem::temp_directory_path() / "rdpt_trace_store_bench.db").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--responses")) n = std::stoull(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--actions")) n_actions = uint32_t(std::stoul(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--store")) path = argv[i + 1];
  }
  const std::string want = std::to_string(n) + "x" + std::to_string(n_actions);
  {
    bool reuse = false;
    if (std::filesystem::exists(path)) {
      auto st = rdpt::Store::open(path, rdpt::OpenMode::ReadOnly);
      reuse = st->meta("bench") == want;
    }
    if (!reuse) build_store(path, n, n_actions);
  }
  const double total = double(n) * n_actions;
  auto st = rdpt::Store::open(path, rdpt::OpenMode::ReadOnly);
  const int64_t mids[3] = {st->model("teacher")->mid, st->model("student")->mid, st->model("distilled")->mid};

  // Kernel: the same typing and curves on 1024 in-memory responses, cycled n times.
  std::mt19937_64 rng(7);
  std::vector<Scores> pool;
  for (int k = 0; k < 1024; ++k) pool.push_back(make_scores(rng, n_actions));
  Timer t0;
  {
    rdpt::CurveAccumulator acc({.scheme = rdpt::TypeScheme::FourWay});
    std::vector<double> pT, pS, pD;
    std::vector<uint32_t> tok(n_actions);
    std::vector<std::optional<rdpt::ActionType>> types;
    uint64_t sink = 0;
    for (uint64_t i = 0; i < n; ++i) {
      const Scores& r = pool[i % pool.size()];
      rdpt::action_probs(r.t, n_actions, pT);
      rdpt::action_probs(r.s, n_actions, pS);
      rdpt::action_probs(r.d, n_actions, pD);
      for (size_t k = 0; k < n_actions; ++k) tok[k] = r.d[k].n_tokens;
      sink += rdpt::type_actions(rdpt::TypeScheme::FourWay, pT, pS, pD, {0.1, 0.1}, &types).n_scored;
      acc.add(types, tok, i & 1);
    }
    if (sink == 0) std::puts("");
  }
  const auto t_kernel = t0.elapsed();

  t0 = Timer();
  uint64_t seen = 0;
  st->for_each_scored(mids, [&](const rdpt::StoredResponse& r, std::span<const std::optional<rdpt::PairScore>> s) {
    seen += r.actions.size() + (s[0] ? 1 : 0);
    return true;
  });
  const auto t_scan = t0.elapsed();

  t0 = Timer();
  rdpt::stream_scores(*st, mids, [&](const rdpt::StoredResponse& r, std::span<const rdpt::PairView> v) {
    seen += v[0].p.size();
    return true;
  });
  const auto t_stream = t0.elapsed();

  t0 = Timer();
  rdpt::stream_probs(*st, mids, [&](int64_t, std::span<const rdpt::PairView> v) {
    seen += v[0].p.size();
    return true;
  });
  const auto t_probs = t0.elapsed();

  t0 = Timer();
  rdpt::TraceOptions reread;
  reread.pass_memory = 0;
  const rdpt::TraceResult tr0 = rdpt::trace(*st, reread, rdpt::null_progress());
  const auto t_trace_reread = t0.elapsed();

  t0 = Timer();
  rdpt::TraceResult tr = rdpt::trace(*st, {}, rdpt::null_progress());
  const auto t_trace = t0.elapsed();
  if (tr.counts != tr0.counts) {
    std::fprintf(stderr, "trace typed differently with and without the search pass's codes\n");
    return 1;
  }
  if (tr.n_actions != uint64_t(total)) {
    std::fprintf(stderr, "trace saw %llu actions, expected %.0f\n", (unsigned long long)tr.n_actions, total);
    return 1;
  }

  auto row = [&](const char* what, std::pair<double, double> t, const char* note) {
    std::printf("%-8s %7.2f s wall %7.2f s CPU %7.2f M actions/s per core  %5.2fx kernel  %s\n", what, t.first,
                t.second, total / t.second / 1e6, t_kernel.second / t.second, note);
  };
  std::printf("store %s: %llu responses x %u actions, %.0f MB; one thread\n", path.c_str(), (unsigned long long)n,
              n_actions, double(std::filesystem::file_size(path)) / 1e6);
  row("kernel", t_kernel, "typing + curves, numbers in memory");
  row("scan", t_scan, "Store::for_each_scored, 3 models");
  row("stream", t_stream, "rdpt::stream_scores, 3 models");
  row("probs", t_probs, "rdpt::stream_probs (scores table only), 3 models");
  row("trace0", t_trace_reread, "rdpt::trace, beta auto, pass_memory 0: the typing pass reads every pair again");
  row("trace", t_trace, "rdpt::trace, beta auto: two passes, the second typed from the first's codes");
  std::printf("peak resident memory %.0f MB, of which anonymous (heap) now %.0f MB; the rest is the store's pages "
              "mapped by SQLite (page cache, reclaimable); beta %.3g\n",
              peak_rss_mb(), anon_mb(), tr.thresholds.beta);
  return 0;
}
