// rdpt score: score every response under every named GGUF model (llama.cpp) into the store.
// Resumable: each (model, response) pair is written atomically, and pairs already scored under
// the same model fingerprint are skipped. docs/score.md has the details.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "cli/commands.h"
#include "cli/common.h"
#include "rdpt/align.h"
#include "rdpt/error.h"
#include "rdpt/http.h"
#include "rdpt/operations.h"
#include "rdpt/pipeline.h"
#include "rdpt/record.h"
#include "rdpt/scorer.h"
#include "rdpt/segment.h"
#include "rdpt/store.h"

namespace rdpt::cli {

namespace {

struct ModelArg {
  std::string name, path;
};

std::vector<ModelArg> parse_models(const std::vector<std::string>& specs) {
  std::vector<ModelArg> out;
  std::set<std::string> names;
  for (const auto& s : specs) {
    size_t eq = s.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
      throw UsageError("--model: expected NAME=PATH (e.g. teacher=T.gguf), got '" + s + "'");
    ModelArg m{s.substr(0, eq), s.substr(eq + 1)};
    if (!names.insert(m.name).second) throw UsageError("--model: name '" + m.name + "' given twice");
    check_model_location(m.name, m.path);  // a missing file: exit 1
    out.push_back(std::move(m));
  }
  return out;
}

// The options of rdpt score, declared once here and turned into one ScorerSpec per --model.
struct ScoreArgs {
  std::vector<std::string> data_files, model_specs;
  std::string store_path, template_name, prompt_format, flash = "auto", shard;
  LlamaOptions lo;
  bool replace = false, show_prompt = false, verbose = false, no_progress = false;
  std::vector<std::string> ranks_models;  // --ranks: "" alone (every model) or model names
  CLI::Option* ranks_opt = nullptr;
  uint32_t rank_clip = 100;
  uint32_t chunk = 64;
  ReaderOptions ropts;
  SegmentOptions sopts;
  std::vector<std::string> extra;
  bool no_default = false;
  TemplateOptionValues tov;
  std::string reduce = "auto";
  std::vector<std::string> tokenizer_specs;
  std::string api_key_env;
  uint32_t concurrency = 64;
  CLI::Option* format_opt = nullptr;

  void add(CLI::App& app) {
    app.add_option("--data,-d", data_files, "input JSONL (.gz/.zst ok) or Parquet (a file, a directory, or a quoted glob of shards); repeatable")->required();
    app.add_option("--model,-m", model_specs,
                   "NAME=PATH of a GGUF model, e.g. teacher=T.gguf (repeatable; names are how the store and "
                   "`rdpt trace` refer to models: teacher, student, distilled)")
        ->required();
    app.add_option("--store,-s", store_path, "score store (SQLite; created if absent)");
    app.add_option("--shard", shard,
                   "I/N: score only shard I of N (0 <= I < N) of the responses, split by question (group) id, "
                   "into this run's own store; rdpt merge combines the shards' stores (docs/scale.md)")
        ->check(kShardGiven);
    app.add_flag("--replace", replace,
                 "a name the store holds with another model file (or prompt): replace it and drop its scores "
                 "(default: refuse)");
    app.add_flag("--no-progress", no_progress, "no progress line on the terminal (it is never drawn into a pipe or file)");
    app.add_flag("--show-prompt", show_prompt,
                 "print the exact prompt each model sees for the first record, then exit (no store needed)");
    app.add_option("--template", template_name,
                   "chat template: a llama.cpp built-in name (chatml, llama3, deepseek3, ...) instead of the GGUF's "
                   "Jinja tokenizer.chat_template (default: the GGUF's, rendered as Hugging Face renders it)")
        ->group("Prompt");
    add_template_options(app, tov);
    format_opt = app.add_option("--prompt-format", prompt_format,
                                      "raw prompt format with {question} and {system}; \\n, \\t and \\\\ are newline, "
                                      "tab and backslash; '' is the empty prompt (default: the chat template)")
                           ->group("Prompt");
    app.add_option("--ngl,--n-gpu-layers", lo.n_gpu_layers,
                   "layers offloaded to the GPU, -1 = all (default 0; needs llama.cpp built with CUDA)")
        ->group("Performance");
    app.add_option("--threads,-t", lo.n_threads, "CPU threads (default 0 = all hardware threads; at most 512, ggml's limit)")
        ->check(CLI::Range(0, 512))
        ->group("Performance");
    app.add_option("--batch,-b", lo.n_batch,
                   "tokens per llama_decode; logits of this many rows are held at once (default 512)")
        ->check(CLI::PositiveNumber)
        ->group("Performance");
    app.add_option("--ubatch", lo.n_ubatch, "physical micro-batch (default 512, at most --batch)")
        ->check(CLI::PositiveNumber)
        ->group("Performance");
    app.add_option("--parallel", lo.n_seq_max, "responses decoded side by side (default 8)")
        ->check(CLI::Range(1, 255))
        ->group("Performance");
    app.add_option("--chunk", chunk, "responses handed to the scorer at a time (default 64)")
        ->check(CLI::PositiveNumber)
        ->group("Performance");
    app.add_option("--ctx,-c", lo.n_ctx,
                   "context length; prompt + response must fit (default 0 = the model's, at most 32768)")
        ->group("Performance");
    app.add_option("--flash-attn", flash,
                   "flash attention on|off|auto (default auto: off on the CPU, where it changes results with the "
                   "batch shape; llama.cpp's choice with --ngl)")
        ->check(CLI::IsMember({"on", "off", "auto"}))
        ->group("Performance");
    app.add_option("--reduce", reduce,
                   "where each token's log-softmax is taken: device (inside llama.cpp's graph, on the device holding "
                   "the output layer, a GPU with --ngl; only the log-probs come back, not the logits; needs --ubatch "
                   "equal to --batch), host (from logits copied back, on CPU threads), auto (default: device when "
                   "the output layer runs on a GPU and --ubatch equals --batch, else host; on the CPU the device "
                   "path costs memory for no gain, docs/score.md)")
        ->check(CLI::IsMember({"auto", "device", "host"}))
        ->group("Performance");
    ranks_opt = app.add_option("--ranks", ranks_models,
                 "also store, per action, the sum of its tokens' ranks under the model (1 + vocabulary entries with "
                 "a strictly larger logit, clipped at --rank-clip), computed where the log-probs are reduced; for "
                 "rdpt select --strategy rsr (the rank-surprisal ratio). Alone: every --model of this run; with "
                 "names (--ranks student or --ranks student,teacher): those models only. Pairs already stored "
                 "without ranks are scored again (docs/score.md)")
                    ->expected(0, CLI::detail::expected_max_vector_size)
                    ->delimiter(',');
    app.add_option("--rank-clip", rank_clip, "with --ranks: clip each token's rank at this (default 100, the RSR paper's)")
        ->check(CLI::Range(1u, kMaxRankClip))
        ->needs(ranks_opt);
    app.add_flag("--kv-f32", lo.kv_f32, "f32 KV cache (more exact, twice the memory; default f16)")->group("Performance");
    app.add_flag("--truncate", lo.truncate,
                 "score a response longer than the context up to the limit and mark it truncated: the action the "
                 "limit cuts and every action after it are left unscored (default: the pair fails with an error)");
    app.add_flag("--no-prompt-sharing", [&lo = lo](int64_t) { lo.share_prompt = false; },
                 "decode the prompt again for every response (default: responses to one question share it)")
        ->group("Performance");
    app.add_option("--tokenizer", tokenizer_specs,
                   "server models: NAME=vocab.gguf, a vocab-only GGUF of the served model, so tokens and byte "
                   "offsets are exact (repeatable; default none: the server's tokens are matched to the text)")
        ->group("Server");
    app.add_option("--api-key-env", api_key_env,
                   "server models: environment variable holding the API key (default none; never printed)")
        ->group("Server");
    app.add_option("--concurrency", concurrency, "server models: requests in flight (default 64)")->group("Server");
    app.add_flag("--verbose,-v", verbose, "show llama.cpp's warnings");
    add_reader_options(app, ropts);
    add_segment_options(app, sopts, extra, no_default);
  }

  // After parsing: the prompt, backend and template options checked, the models' specs in order.
  std::vector<ScorerSpec> specs() {
    lo.prompt_format = check_prompt_options(template_name, format_opt->count(), prompt_format, tov);
    lo.template_name = template_name;
    lo.flash_attn = flash == "on" ? 1 : flash == "off" ? 0 : -1;
    lo.reduce_on_device = reduce == "device" ? 1 : reduce == "host" ? 0 : -1;
    // llama.cpp's own lines only with --verbose: a failed load's reason is in rdpt's one-line error.
    lo.log = [verbose = verbose](LogLevel lv, std::string_view msg) {
      if (verbose && (lv == LogLevel::Error || lv == LogLevel::Warn))
        std::fprintf(stderr, "llama.cpp: %.*s", int(msg.size()), msg.data());
    };
    const auto models = parse_models(model_specs);
    std::vector<std::string> model_names;
    for (const auto& m : models) model_names.push_back(m.name);
    std::map<std::string, JinjaOptions> jinja;
    for (const auto& n : model_names) jinja[n] = jinja_options_for(tov, n, model_names);
    std::map<std::string, std::string> tokenizers;
    for (const auto& t : tokenizer_specs) {
      size_t eq = t.find('=');
      if (eq == std::string::npos || eq == 0) throw UsageError("--tokenizer: expected NAME=vocab.gguf, got '" + t + "'");
      tokenizers[t.substr(0, eq)] = t.substr(eq + 1);
    }
    // --ranks: which models get ranks.
    std::set<std::string> ranked;
    for (const auto& n : ranks_models) {
      if (n.empty()) continue;
      if (std::find(model_names.begin(), model_names.end(), n) == model_names.end()) {
        std::string names;
        for (const auto& x : model_names) names += (names.empty() ? "" : ", ") + x;
        throw UsageError("--ranks: no --model named '" + n + "' in this run (its models: " + names + ")");
      }
      ranked.insert(n);
    }
    // A model is a GGUF file (llama.cpp) or a server spec "http://host:port/v1[#served-name]"
    // ("sglang+http://..." for SGLang's native API); docs/http.md.
    std::vector<ScorerSpec> out;
    for (const ModelArg& m : models) {
      ScorerSpec sp;
      sp.name = m.name;
      sp.location = m.path;
      sp.llama = lo;
      sp.llama.rank_clip = ranks_opt->count() && (ranked.empty() || ranked.count(m.name)) ? rank_clip : 0;
      sp.llama.jinja = jinja[m.name];
      if (auto it = tokenizers.find(m.name); it != tokenizers.end()) sp.tokenizer = it->second;
      sp.api_key_env = api_key_env;
      sp.concurrency = concurrency;
      sp.http_log = [](LogLevel lv, std::string_view msg) {
        if (lv != LogLevel::Debug) std::fprintf(stderr, "rdpt: http: %.*s\n", int(msg.size()), msg.data());
      };
      out.push_back(std::move(sp));
    }
    return out;
  }
};

// One model's line: scored, tokens, rate, skipped, truncated; a warning for failed pairs.
void report_model(const std::string& name, const ScoreRunStats& st) {
  std::string msg = "model " + name + ": scored " + std::to_string(st.n_scored) + " responses (" +
                    std::to_string(st.n_tokens) + " tokens, " +
                    std::to_string(uint64_t(double(st.n_tokens) / std::max(1e-9, st.seconds))) + " tok/s)";
  if (st.n_skipped) msg += ", " + std::to_string(st.n_skipped) + " already scored";
  if (st.n_truncated)
    msg += ", " + std::to_string(st.n_truncated) + " truncated (" + std::to_string(st.n_cut_actions) +
           " actions cut by or past the context left unscored)";
  info(msg);
  if (st.n_failed)
    warn("model " + name + ": " + std::to_string(st.n_failed) +
         " responses failed (stored with their error; a rerun retries them" +
         (st.n_kept ? "; " + std::to_string(st.n_kept) + " of them kept their stored scores without ranks" : "") +
         "); first: " + st.first_error);
}

}  // namespace

int run_score(int argc, char** argv) {
  CLI::App app{
      "Score every response under every named GGUF model with llama.cpp (docs/method.md section 2) and write each "
      "action's token count and log-prob sum to the store. Each model sees its own prompt (the chat template in "
      "its GGUF, or --template / --prompt-format) followed by the response. Resumable: pairs already scored under "
      "the same model file are skipped, each pair is written atomically.",
      "rdpt score"};
  ScoreArgs a;
  a.add(app);
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  finish_segment_options(a.sopts, a.extra, a.no_default);
  if (!a.show_prompt && a.store_path.empty()) throw UsageError("--store is required (unless --show-prompt)");
  const std::optional<Shard> shard = a.shard.empty() ? std::nullopt : std::optional<Shard>(parse_shard(a.shard));
  const std::vector<ScorerSpec> specs = a.specs();

  // Read and segment all records (responses are kept in memory while scoring).
  // (--show-prompt reads one record, or with --shard the first of the shard)
  std::vector<StoredResponse> inputs =
      read_responses(a.data_files, a.ropts, a.sopts, cli_log, a.show_prompt && !shard ? 1 : 0);
  const size_t n_dataset = inputs.size();
  if (shard) {
    const size_t dropped = keep_shard(inputs, *shard);
    if (!a.show_prompt)
      info("shard " + a.shard + ": " + std::to_string(n_dataset - dropped) + " of " + std::to_string(n_dataset) +
           " responses");
    if (inputs.empty()) {
      const std::string none = "shard " + a.shard + " holds none of the " + std::to_string(n_dataset) +
                               " responses (fewer questions than shards?)";
      if (a.show_prompt) throw DataError(none + ": no prompt to show");
      warn(none + "; its store records the shard, with no response");
    }
  }
  if (a.show_prompt) {
    for (const auto& sp : specs) prompt_preview(*make_scorer(sp), sp.name, sp.location, inputs[0], std::cout);
    return 0;
  }

  auto store = Store::open(a.store_path, OpenMode::Create);
  put_responses(*store, inputs);
  if (shard) record_shard(*store, *shard, n_dataset, cli_log);
  ScoreRunOptions so;
  so.chunk = a.chunk;
  so.replace = a.replace;
  uint64_t n_failed_all = 0;
  for (const auto& sp : specs) {
    auto sc = make_scorer(sp);
    if (!is_http_spec(sp.location) && sp.llama.n_gpu_layers != 0 && !sc->capabilities().gpu_offload)
      warn("model " + sp.name + ": --ngl " + std::to_string(sp.llama.n_gpu_layers) +
           " asks for GPU layers, but llama.cpp has no GPU device (a CPU-only build, or no visible GPU): it runs "
           "on the CPU (for CUDA: scripts/setup.sh --cuda, and a GPU in CUDA_VISIBLE_DEVICES)");
    TtyProgress progress(!a.no_progress);
    const ScoreRunStats st = score_responses(*store, *sc, sp.name, inputs, so, progress);
    report_model(sp.name, st);
    n_failed_all += st.n_failed;
  }
  info("store: " + store->path());
  if (n_failed_all) {
    warn(std::to_string(n_failed_all) + " pairs failed: exit " + std::to_string(kExitFailedPairs) +
         " (a rerun retries them)");
    return kExitFailedPairs;
  }
  return 0;
}

}  // namespace rdpt::cli
