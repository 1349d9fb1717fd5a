// rdpt score: score every response under every named GGUF model (llama.cpp) into the store.
// Resumable: each (model, response) pair is written atomically, and pairs already scored under
// the same model fingerprint are skipped. docs/score.md has the details.
#include <algorithm>
#include <chrono>
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
#include "rdpt/record.h"
#include "rdpt/scorer.h"
#include "rdpt/segment.h"
#include "rdpt/store.h"

namespace rdpt::cli {

namespace {

struct ModelArg {
  std::string name, path;
};

// A record as the store holds it (the same row `rdpt import` writes; rid once stored).
using Input = StoredResponse;

std::vector<ModelArg> parse_models(const std::vector<std::string>& specs) {
  std::vector<ModelArg> out;
  std::set<std::string> names;
  for (const auto& s : specs) {
    size_t eq = s.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
      throw UsageError("--model: expected NAME=PATH (e.g. teacher=T.gguf), got '" + s + "'");
    ModelArg m{s.substr(0, eq), s.substr(eq + 1)};
    if (!names.insert(m.name).second) throw UsageError("--model: name '" + m.name + "' given twice");
    if (!is_http_spec(m.path) && !std::filesystem::is_regular_file(m.path))
      throw Error("--model " + m.name + ": file not found: '" + m.path + "'");  // a missing file: exit 1
    out.push_back(std::move(m));
  }
  return out;
}

double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int run_score(int argc, char** argv) {
  CLI::App app{
      "Score every response under every named GGUF model with llama.cpp (docs/method.md section 2) and write each "
      "action's token count and log-prob sum to the store. Each model sees its own prompt (the chat template in "
      "its GGUF, or --template / --prompt-format) followed by the response. Resumable: pairs already scored under "
      "the same model file are skipped, each pair is written atomically.",
      "rdpt score"};
  std::vector<std::string> data_files, model_specs;
  std::string store_path, template_name, prompt_format, flash = "auto";
  LlamaOptions lo;
  bool replace = false, show_prompt = false, verbose = false;
  uint32_t chunk = 64;
  ReaderOptions ropts;
  SegmentOptions sopts;
  std::vector<std::string> extra;
  bool no_default = false;
  app.add_option("--data,-d", data_files, "input JSONL (.gz/.zst ok; repeatable)")->required();
  app.add_option("--model,-m", model_specs,
                 "NAME=PATH of a GGUF model, e.g. teacher=T.gguf (repeatable; names are how the store and "
                 "`rdpt trace` refer to models: teacher, student, distilled)")
      ->required();
  app.add_option("--store,-s", store_path, "score store (SQLite; created if absent)");
  app.add_flag("--replace", replace,
               "a name the store holds with another model file (or prompt): replace it and drop its scores "
               "(default: refuse)");
  app.add_flag("--show-prompt", show_prompt,
               "print the exact prompt each model sees for the first record, then exit (no store needed)");
  app.add_option("--template", template_name,
                 "chat template: a llama.cpp built-in name (chatml, llama3, deepseek3, ...) instead of the GGUF's "
                 "Jinja tokenizer.chat_template (default: the GGUF's, rendered as Hugging Face renders it)")
      ->group("Prompt");
  TemplateOptionValues tov;
  add_template_options(app, tov);
  auto* format_opt = app.add_option("--prompt-format", prompt_format,
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
  std::string reduce = "auto";
  app.add_option("--reduce", reduce,
                 "where each token's log-softmax is taken: device (inside llama.cpp's graph, on the device holding "
                 "the output layer, a GPU with --ngl; only the log-probs come back, not the logits; needs --ubatch "
                 "equal to --batch), host (from logits copied back, on CPU threads), auto (default: device when "
                 "the output layer runs on a GPU and --ubatch equals --batch, else host; on the CPU the device "
                 "path costs memory for no gain, docs/score.md)")
      ->check(CLI::IsMember({"auto", "device", "host"}))
      ->group("Performance");
  app.add_flag("--kv-f32", lo.kv_f32, "f32 KV cache (more exact, twice the memory; default f16)")->group("Performance");
  app.add_flag("--truncate", lo.truncate,
               "score a response longer than the context up to the limit and mark it truncated: the action the "
               "limit cuts and every action after it are left unscored (default: the pair fails with an error)");
  app.add_flag("--no-prompt-sharing", [&lo](int64_t) { lo.share_prompt = false; },
               "decode the prompt again for every response (default: responses to one question share it)")
      ->group("Performance");
  std::vector<std::string> tokenizer_specs;
  std::string api_key_env;
  uint32_t concurrency = 64;
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
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  finish_segment_options(sopts, extra, no_default);
  if (!show_prompt && store_path.empty()) throw UsageError("--store is required (unless --show-prompt)");
  if (!template_name.empty() && format_opt->count())
    throw UsageError("--template and --prompt-format exclude each other");
  lo.template_name = template_name;
  if (format_opt->count()) lo.prompt_format = PromptFormat::from_cli(prompt_format);
  lo.flash_attn = flash == "on" ? 1 : flash == "off" ? 0 : -1;
  lo.reduce_on_device = reduce == "device" ? 1 : reduce == "host" ? 0 : -1;
  // llama.cpp's own lines only with --verbose: a failed load's reason is in rdpt's one-line error.
  lo.log = [verbose](LogLevel lv, std::string_view msg) {
    if (verbose && (lv == LogLevel::Error || lv == LogLevel::Warn))
      std::fprintf(stderr, "llama.cpp: %.*s", int(msg.size()), msg.data());
  };
  const auto models = parse_models(model_specs);
  std::vector<std::string> model_names;
  for (const auto& m : models) model_names.push_back(m.name);
  if ((!template_name.empty() || format_opt->count()) && (!tov.files.empty() || !tov.kwargs.empty()))
    throw UsageError("--chat-template-file/--chat-template-kwargs apply to Jinja templates; they exclude --template "
                     "and --prompt-format");
  std::map<std::string, JinjaOptions> jinja;
  for (const auto& n : model_names) jinja[n] = jinja_options_for(tov, n, model_names);
  std::map<std::string, std::string> tokenizers;
  for (const auto& t : tokenizer_specs) {
    size_t eq = t.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError("--tokenizer: expected NAME=vocab.gguf, got '" + t + "'");
    tokenizers[t.substr(0, eq)] = t.substr(eq + 1);
  }
  // A model is a GGUF file (llama.cpp) or a server spec "http://host:port/v1[#served-name]"
  // ("sglang+http://..." for SGLang's native API); docs/http.md.
  auto make_scorer = [&](const ModelArg& m) -> std::unique_ptr<Scorer> {
    if (!is_http_spec(m.path)) {
#ifdef RDPT_WITH_LLAMA
      LlamaOptions mlo = lo;
      mlo.jinja = jinja[m.name];
      return make_llama_scorer(m.path, mlo);
#else
      throw UsageError("--model " + m.name + ": " + no_llama_backend(m.path));
#endif
    }
    HttpOptions ho = parse_http_spec(m.path);
    if (auto it = tokenizers.find(m.name); it != tokenizers.end()) ho.tokenizer = it->second;
    ho.api_key_env = api_key_env;
    ho.concurrency = concurrency;
    ho.prompt_format = lo.prompt_format;
    ho.template_name = lo.template_name;
    ho.jinja = jinja[m.name];
    ho.log = [](LogLevel lv, std::string_view msg) {
      if (lv != LogLevel::Debug) std::fprintf(stderr, "rdpt: http: %.*s\n", int(msg.size()), msg.data());
    };
    return make_http_scorer(ho);
  };

  // Read and segment all records (responses are kept in memory while scoring).
  std::vector<Input> inputs;
  std::set<std::string> seen_ids;
  for (const auto& file : data_files) {
    RecordReader reader(file, ropts);
    Record rec;
    while (reader.next(rec)) {
      std::optional<Input> in = stored_response(std::move(rec), sopts, ropts.skip_bad);
      if (!in) continue;
      if (!seen_ids.insert(in->id).second)
        throw DataError(in->source_file + ":" + std::to_string(in->source_line) + ": record id '" + in->id +
                        "' appears twice in the input (ids must be unique; use --id-field)");
      inputs.push_back(std::move(*in));
      if (show_prompt) break;
    }
    if (!reader.stats().skipped.empty()) warn(file + ": " + reader.stats().skipped_summary());
    if (show_prompt && !inputs.empty()) break;
  }
  if (inputs.empty()) throw DataError("no records in the input");

  if (show_prompt) {
    for (const auto& m : models) {
      auto sc = make_scorer(m);
      const std::string prompt = sc->format_prompt(inputs[0].question, inputs[0].system);
      const size_t ov = is_harmony_prompt(prompt) ? 0 : prompt_overlap(prompt, inputs[0].response);
      std::cout << "=== " << m.name << " (" << m.path << "), record " << inputs[0].id << " ===\n"
                << prompt << "\n=== end of prompt; the response follows ===\n";
      // The first tokens on each side of the boundary, as the model sees them.
      const RenderedResponse rr = render_response(prompt, inputs[0].response);
      auto show_tokens = [&](const char* what, std::vector<std::pair<int32_t, std::string>> toks, bool tail) {
        if (toks.empty()) return;
        const size_t n = std::min<size_t>(toks.size(), 12), from = tail ? toks.size() - n : 0;
        std::cout << "=== " << what << " (" << toks.size() << " tokens):";
        for (size_t i = from; i < from + n; ++i) {
          std::string piece;
          for (char c : toks[i].second) piece += c == '\n' ? std::string("\\n") : std::string(1, c);
          std::cout << " " << toks[i].first << ":'" << piece << "'";
        }
        std::cout << " ===\n";
      };
      show_tokens("last prompt tokens", sc->tokens_of(prompt, true), true);
      show_tokens("first response tokens", sc->tokens_of(rr.text, false), false);
      if (!is_harmony_prompt(prompt)) {
        const std::string& resp = inputs[0].response;
        for (const char* end_tag : {"</think>", "<|end_of_thought|>"})
          if (size_t at = resp.find(end_tag); at != std::string::npos)
            std::cout << "=== the thought ends at byte " << at << " of the response ('" << end_tag
                      << "'); the answer follows it ===\n";
      }
      if (is_harmony_prompt(prompt))
        std::cout << "=== harmony (gpt-oss): the response is rendered as\n"
                  << render_response(prompt, inputs[0].response).text.substr(0, 400)
                  << "\n=== the thought in the analysis channel, the answer in the final one; the thinking tags "
                     "and the channel headers belong to no action ===\n";
      if (ov)
        std::cout << "=== the prompt already ends with the response's first " << ov << " bytes ('"
                  << inputs[0].response.substr(0, ov)
                  << "'): counted once, as prompt; the action holding them is unscored under this model ===\n";
    }
    return 0;
  }

  auto store = Store::open(store_path, OpenMode::Create);
  store->begin();
  try {
    for (auto& in : inputs) in.rid = store->put_response(in);  // an id already stored keeps its row
    store->commit();
  } catch (...) {
    try { store->commit(); } catch (...) {}
    throw;
  }

  // Order: responses of one group together, so that they share the prompt's KV cache.
  std::map<std::string, size_t> group_order;
  for (const auto& in : inputs) group_order.try_emplace(in.group, group_order.size());
  std::vector<size_t> order(inputs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return group_order[inputs[a].group] < group_order[inputs[b].group]; });

  uint64_t n_failed_all = 0;
  for (const auto& m : models) {
    auto sc = make_scorer(m);
    ModelInfo minfo = sc->describe();
    minfo.name = m.name;
    if (auto old = store->model(m.name); old && !replace) {
      if (old->fingerprint == minfo.fingerprint && old->chat_template != minfo.chat_template)
        throw UsageError("model '" + m.name + "' is in the store with another prompt template ('" +
                         old->chat_template.substr(0, 40) + "' vs '" + minfo.chat_template.substr(0, 40) +
                         "'): its scores would mix prompts; use --replace to rescore or another name");
    }
    // Checked now, written with the model's first scored pair: a run refused before it (no chat
    // template, an unknown --template) leaves no model row behind.
    ModelSlot slot;
    try {
      slot = store->prepare_model(minfo, replace);
    } catch (const UsageError& e) {
      throw UsageError("model '" + m.name + "' (" + m.path + "): " + e.what() +
                       " (the store holds another file under this name; --replace drops its scores)");
    }
    auto unscored = store->unscored(slot);
    std::set<int64_t> todo_set(unscored.begin(), unscored.end());
    std::vector<size_t> todo;
    for (size_t i : order)
      if (todo_set.count(inputs[i].rid)) todo.push_back(i);
    const size_t n_skip = inputs.size() - todo.size();
    TtyProgress progress;
    progress.start("score " + m.name, todo.size(), "responses");
    uint64_t n_done = 0, n_tok = 0, n_failed = 0, n_trunc = 0, n_cut_actions = 0;
    std::string first_error;
    const double t0 = now_s();
    struct ChunkProgress : Progress {
      Progress* outer;
      uint64_t base_done, base_tok;
      void update(uint64_t done, uint64_t extra) override { outer->update(base_done + done, base_tok + extra); }
    } cp;
    cp.outer = &progress;
    for (size_t c0 = 0; c0 < todo.size(); c0 += chunk) {
      const size_t c1 = std::min(todo.size(), c0 + chunk);
      std::vector<ScoreItem> items;
      // Each response as this model sees it (its thinking format), mapped back to the canonical text.
      std::vector<RenderedResponse> rendered;
      for (size_t k = c0; k < c1; ++k) {
        const Input& in = inputs[todo[k]];
        std::string prompt = sc->format_prompt(in.question, in.system);
        rendered.push_back(render_response(prompt, in.response));
        items.push_back({std::move(prompt), rendered.back().text, in.group});
      }
      cp.base_done = n_done;
      cp.base_tok = n_tok;
      auto results = sc->score(items, cp);
      for (size_t k = c0; k < c1; ++k) {
        const Input& in = inputs[todo[k]];
        const ScoreResult& r = results[k - c0];
        PairScore ps;
        if (!r.ok()) {
          ps.status = ScoreStatus::Failed;
          ps.error = r.error;
          ps.n_tokens_total = r.n_tokens_total;
          ++n_failed;
          if (first_error.empty()) first_error = "record " + in.id + ": " + r.error;
        } else {
          ps.status = r.truncated ? ScoreStatus::Truncated : ScoreStatus::Ok;
          ps.n_tokens_total = r.n_tokens_total;
          const RenderedResponse& rr = rendered[k - c0];
          // Tokens map back to the canonical text; those of bytes the rendering added (harmony's
          // channel headers) belong to no action.
          std::vector<TokenLogprob> toks;
          for (const auto& t : r.tokens)
            if (auto at = rr.canonical(t.offset)) toks.push_back({*at, t.logprob});
          ps.actions = align_tokens(in.actions, toks);
          // An action whose text this model never scored (a "<think>" its prompt already holds,
          // the tags harmony replaces) is unscored, beyond its leading whitespace.
          for (size_t a = 0; a < in.actions.size() && a < ps.actions.size(); ++a)
            if (rr.drops_text(in.response, in.actions[a].begin, in.actions[a].end)) ps.actions[a] = ActionScore{};
          // The action the context cut was scored from its first tokens only: it and the
          // actions after it stay unscored; n_tokens counts the tokens of the actions kept.
          if (r.truncated) {
            // The cut lies in the rendering: the canonical byte of the first copied byte at or after it.
            uint32_t cut = uint32_t(in.response.size());
            for (const auto& p : rr.pieces)
              if (p.at + p.size > r.cut_offset) {
                cut = p.from + (r.cut_offset > p.at ? r.cut_offset - p.at : 0);
                break;
              }
            n_cut_actions += drop_cut_actions(in.actions, ps.actions, cut);
          }
          for (const auto& a : ps.actions) ps.n_tokens += a.n_tokens;
          n_trunc += r.truncated;
          n_tok += r.tokens.size();
        }
        store->put_scores(slot, in.rid, ps);
        ++n_done;
      }
      progress.update(n_done, n_tok);
    }
    progress.finish();
    const double el = std::max(1e-9, now_s() - t0);
    std::string msg = "model " + m.name + ": scored " + std::to_string(n_done - n_failed) + " responses (" +
                      std::to_string(n_tok) + " tokens, " + std::to_string(uint64_t(n_tok / el)) + " tok/s)";
    if (n_skip) msg += ", " + std::to_string(n_skip) + " already scored";
    if (n_trunc)
      msg += ", " + std::to_string(n_trunc) + " truncated (" + std::to_string(n_cut_actions) +
             " actions cut by or past the context left unscored)";
    info(msg);
    if (n_failed) warn("model " + m.name + ": " + std::to_string(n_failed) + " responses failed (stored with their error; a rerun retries them); first: " + first_error);
    n_failed_all += n_failed;
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
