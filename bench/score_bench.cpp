// score_bench: rdpt's scoring throughput (tokens/s) on one model and one text of N tokens.
// Used by bench/score_bench.sh, which runs llama-bench and llama-perplexity on the same model
// and token count and prints the ratios. Own main (no Google Benchmark needed on a GPU box).
//   score_bench MODEL.gguf [--tokens N] [--batch N] [--ubatch N] [--ngl N] [--threads N] [--reps N] [--fa 0|1] [--reduce device|host|auto] [--ranks CLIP] [--ranks-ratio CLIP]
// --ranks CLIP scores with token ranks (rdpt score --ranks). --ranks-ratio CLIP times the same
// scoring without and with ranks, repetitions interleaved, and prints both and their ratio.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "rdpt/scorer.h"

int main(int argc, char** argv) {
#ifndef RDPT_WITH_LLAMA
  std::fprintf(stderr, "score_bench: built without llama.cpp\n");
  return 1;
#else
  if (argc < 2) {
    std::fprintf(stderr, "usage: score_bench MODEL.gguf [--tokens N] [--batch N] [--ubatch N] [--ngl N] [--threads N] [--reps N] [--fa 0|1] [--reduce device|host|auto] [--ranks CLIP] [--ranks-ratio CLIP]\n");
    return 2;
  }
  std::string model = argv[1];
  uint32_t n_tokens = 4096;
  int reps = 3;
  rdpt::LlamaOptions o;
  uint32_t ratio_clip = 0;
  o.n_batch = 2048;
  o.n_ubatch = 2048;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    long v = std::atol(argv[i + 1]);
    if (a == "--tokens") n_tokens = uint32_t(v);
    else if (a == "--batch") o.n_batch = uint32_t(v);
    else if (a == "--ubatch") o.n_ubatch = uint32_t(v);
    else if (a == "--ngl") o.n_gpu_layers = int(v);
    else if (a == "--threads") o.n_threads = int(v);
    else if (a == "--reps") reps = int(v);
    else if (a == "--fa") o.flash_attn = int(v);
    else if (a == "--ranks") o.rank_clip = uint32_t(v);
    else if (a == "--ranks-ratio") ratio_clip = uint32_t(v);
    else if (a == "--reduce") o.reduce_on_device = std::strcmp(argv[i + 1], "device") == 0 ? 1 : std::strcmp(argv[i + 1], "host") == 0 ? 0 : -1;
    else {
      std::fprintf(stderr, "score_bench: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  o.n_ctx = n_tokens + 64;
  o.n_seq_max = 1;
  try {
    auto sc = rdpt::make_llama_scorer(model, o);
    // A text of about n_tokens tokens: numbered sentences (tokenizes the same on every vocabulary).
    std::string text;
    for (int k = 0; text.size() < size_t(n_tokens) * 3; ++k)
      text += "Step " + std::to_string(k) + ": we add " + std::to_string(k * 7 % 13) + " and check the sum. ";
    std::vector<rdpt::ScoreItem> items = {{"Q: add the numbers.\nA: ", text, "g"}};
    auto first = sc->score(items);  // warm-up; also tells the token count
    if (!first[0].ok() && first[0].error.find("exceed") == std::string::npos) {
      std::fprintf(stderr, "score_bench: %s\n", first[0].error.c_str());
      return 1;
    }
    // Cut the text to n_tokens - prompt tokens exactly.
    const uint32_t want = n_tokens - first[0].n_prompt_tokens;
    rdpt::LlamaOptions o2 = o;
    o2.truncate = true;
    o2.n_ctx = n_tokens;
    auto sc2 = rdpt::make_llama_scorer(model, o2);
    auto warm = sc2->score(items);
    if (!warm[0].ok()) {
      std::fprintf(stderr, "score_bench: %s\n", warm[0].error.c_str());
      return 1;
    }
    // Median seconds per repetition of each scorer, repetitions interleaved (load drifts alike).
    auto time_all = [&](std::vector<rdpt::Scorer*> scs, std::vector<std::vector<double>>& times) {
      times.assign(scs.size(), {});
      for (int r = 0; r < reps; ++r)
        for (size_t k = 0; k < scs.size(); ++k) {
          auto t0 = std::chrono::steady_clock::now();
          auto res = scs[k]->score(items);
          times[k].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
          double lp_sum = 0;
          for (auto& t : res[0].tokens) lp_sum += t.logprob;
          if (!std::isfinite(lp_sum)) throw std::runtime_error("non-finite log-prob sum");
        }
      for (auto& t : times) std::sort(t.begin(), t.end());
    };
    const uint32_t n_scored = uint32_t(warm[0].tokens.size());
    // Tokens processed = prompt + scored response tokens (the context filled), as llama-bench counts.
    const uint32_t n_proc = n_scored + warm[0].n_prompt_tokens;
    double lp_sum = 0;
    for (auto& t : warm[0].tokens) lp_sum += t.logprob;
    if (ratio_clip) {
      rdpt::LlamaOptions o3 = o2;
      o2.rank_clip = 0;
      o3.rank_clip = ratio_clip;
      auto plain = rdpt::make_llama_scorer(model, o2), ranked = rdpt::make_llama_scorer(model, o3);
      ranked->score(items);  // warm-up
      std::vector<std::vector<double>> times;
      time_all({plain.get(), ranked.get()}, times);
      const double a = times[0][times[0].size() / 2], b = times[1][times[1].size() / 2];
      std::printf("rdpt_score_ranks tokens=%u scored=%u reduce=%s plain_median_s=%.4f ranks_median_s=%.4f "
                  "plain_tok_per_s=%.1f ranks_tok_per_s=%.1f ranks_over_plain=%.3f clip=%u reps=%d\n",
                  n_proc, n_scored, plain->capabilities().device_reduction ? "device" : "host", a, b, n_proc / a,
                  n_proc / b, b / a, ratio_clip, reps);
      return 0;
    }
    std::vector<std::vector<double>> times;
    time_all({sc2.get()}, times);
    const double med = times[0][times[0].size() / 2];
    std::printf("rdpt_score tokens=%u scored=%u median_s=%.4f min_s=%.4f max_s=%.4f tok_per_s=%.1f mean_logprob=%.4f (want %u)\n",
                n_proc, n_scored, med, times[0].front(), times[0].back(), n_proc / med, lp_sum / n_scored, want);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "score_bench: %s\n", e.what());
    return 1;
  }
  return 0;
#endif
}
