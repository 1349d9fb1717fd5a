// HTTP scoring client: overhead per scored token (CPU time of the scoring thread: local
// tokenization, request building, curl, JSON parsing, checks) and requests/s sustained against
// the fake engine (tests/tools/fake_engine.*, hash model: the server does no model work) at
// several concurrencies. Each run first checks that every item was scored with as many tokens
// as the local tokenizer gives.
#include <benchmark/benchmark.h>
#include <time.h>

#include <stdexcept>

#include "rdpt/http.h"

#ifdef RDPT_WITH_LLAMA
#include "tools/fake_engine.h"

namespace {

const std::string kVocab = std::string(RDPT_LLAMA_SOURCE_DIR_BENCH) + "/models/ggml-vocab-qwen2.gguf";

double thread_cpu_s() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

std::vector<rdpt::ScoreItem> corpus(size_t n, size_t sentences) {
  std::vector<rdpt::ScoreItem> items;
  for (size_t i = 0; i < n; ++i) {
    std::string r = "<think>\n";
    for (size_t s = 0; s < sentences; ++s)
      r += "Step " + std::to_string(s) + ": we compute " + std::to_string(i * 31 + s) + " times 7, which gives " +
           std::to_string((i * 31 + s) * 7) + ". Wait, let me verify this again. ";
    r += "</think> The answer is \\boxed{" + std::to_string(i) + "}.";
    items.push_back({"Q: problem " + std::to_string(i) + "?\nA: ", r, "g" + std::to_string(i)});
  }
  return items;
}

void BM_HttpScore(benchmark::State& state) {
  static auto model = rdpt::testing::make_hash_model(kVocab);
  rdpt::testing::FakeEngine eng(*model, rdpt::testing::FakeApi::VLLM);
  rdpt::HttpOptions o = rdpt::parse_http_spec(eng.base_url() + "#fake-model");
  o.tokenizer = kVocab;
  o.concurrency = uint32_t(state.range(0));
  o.prompt_format = "Q: {question}\nA: ";
  auto sc = rdpt::make_http_scorer(o);
  const auto items = corpus(size_t(state.range(1)), size_t(state.range(2)));
  uint64_t tokens = 0, requests = 0;
  double cpu = 0;
  for (auto _ : state) {
    const double c0 = thread_cpu_s();
    auto res = sc->score(items);
    cpu += thread_cpu_s() - c0;
    for (const auto& r : res) {
      if (!r.ok() || r.tokens.size() != r.n_tokens_total || r.tokens.empty())
        throw std::runtime_error("bench: item not scored: " + r.error);
      tokens += r.tokens.size();
    }
    requests += res.size();
  }
  state.counters["requests_per_s"] = benchmark::Counter(double(requests), benchmark::Counter::kIsRate);
  state.counters["tokens_per_s"] = benchmark::Counter(double(tokens), benchmark::Counter::kIsRate);
  state.counters["client_cpu_ns_per_token"] = 1e9 * cpu / double(tokens);
  state.counters["tokens_per_request"] = double(tokens) / double(requests);
}
// Args: concurrency, items per batch, sentences per response (~30 tokens each).
BENCHMARK(BM_HttpScore)->Args({1, 64, 16})->Args({16, 256, 16})->Args({64, 256, 16})->Args({64, 64, 128})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

}  // namespace
#endif

BENCHMARK_MAIN();
