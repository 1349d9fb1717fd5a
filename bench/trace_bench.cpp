// Throughput of typing + curves (the inner loop of rdpt trace) on in-memory streams shaped like
// the store: per response, per action an ActionScore (n_tokens, logprob_sum) under teacher,
// student and distilled. 10^5 and 10^6 responses of 300 actions; reports actions/s.
// A pool of 1024 synthetic responses is cycled so that generation is not timed.
// Run: build-*/bench/trace_bench  (add --benchmark_repetitions=3 for a spread)
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "rdpt/curves.h"
#include "rdpt/provenance.h"

namespace {

constexpr size_t kActions = 300, kPool = 1024;

struct Resp {
  std::vector<rdpt::ActionScore> t, s, d;
  bool correct = false;
};

const std::vector<Resp>& pool() {
  static const std::vector<Resp> p = [] {
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> u(0.01, 1.0);
    std::uniform_int_distribution<uint32_t> nt(1, 30);
    std::vector<Resp> v(kPool);
    for (auto& r : v) {
      r.correct = rng() & 1;
      for (size_t k = 0; k < kActions; ++k) {
        uint32_t n = nt(rng);
        bool unscored = rng() % 100 == 0;  // 1% unscored actions
        r.t.push_back({unscored ? 0 : n, n * std::log(u(rng))});
        r.s.push_back({n, n * std::log(u(rng))});
        r.d.push_back({n, n * std::log(u(rng))});
      }
    }
    return v;
  }();
  return p;
}

// Types + curves over n_responses; returns the number of typed actions (checked below).
uint64_t run(uint64_t n_responses, rdpt::Curves* out) {
  const auto& p = pool();
  rdpt::CurveAccumulator acc({.scheme = rdpt::TypeScheme::FourWay});
  std::vector<double> pT, pS, pD;
  std::vector<uint32_t> tok(kActions);
  std::vector<std::optional<rdpt::ActionType>> types;
  uint64_t n_scored = 0;
  for (uint64_t i = 0; i < n_responses; ++i) {
    const Resp& r = p[i % kPool];
    rdpt::action_probs(r.t, kActions, pT);
    rdpt::action_probs(r.s, kActions, pS);
    rdpt::action_probs(r.d, kActions, pD);
    for (size_t k = 0; k < kActions; ++k) tok[k] = r.d[k].n_tokens;
    rdpt::TypeCounts c = rdpt::type_actions(rdpt::TypeScheme::FourWay, pT, pS, pD, {0.1, 0.1}, &types);
    acc.add(types, tok, r.correct);
    n_scored += c.n_scored;
  }
  if (out) *out = acc.result();
  return n_scored;
}

void BM_TypeAndCurves(benchmark::State& state) {
  const uint64_t n = uint64_t(state.range(0));
  // Check the answer first: every scored action is counted once at its position in "all".
  rdpt::Curves c;
  uint64_t scored = run(kPool, &c);
  uint64_t sum = 0;
  for (size_t j = 1; j <= c.size(); ++j) sum += c.n_at(uint32_t(j), rdpt::Subset::All);
  if (sum != scored) state.SkipWithError("curves do not count every scored action");
  for (auto _ : state) benchmark::DoNotOptimize(run(n, nullptr));
  state.SetItemsProcessed(int64_t(state.iterations() * n * kActions));
  state.counters["responses"] = double(n);
  state.counters["actions/s"] = benchmark::Counter(double(n * kActions), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_TypeAndCurves)->Arg(100000)->Arg(1000000)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
