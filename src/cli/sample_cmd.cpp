// rdpt sample: N completions per question from a local GGUF model or a server, as JSONL that
// grade / score / select read, with the sampled tokens' byte offsets and log-probs (the
// `offsets` + `logprobs` line shape of `rdpt import --logprobs`). docs/http.md.
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "rdpt/error.h"
#include "rdpt/generator.h"
#include "rdpt/http.h"
#include "rdpt/operations.h"
#include "rdpt/record.h"
#include "rdpt/scorer.h"

namespace rdpt::cli {

namespace {

// The options of rdpt sample, declared once here and turned into the generators they name.
struct SampleArgs {
  std::string data, out = "-", model_spec;
  SampleRunOptions so;
  LlamaOptions lo;
  HttpOptions ho;
  std::string tokenizer, api_key_env, template_name, prompt_format, shard;
  uint32_t concurrency = 16;
  uint32_t max_retries = 6;
  double timeout_s = 900;
  bool no_retok = false;
  ReaderOptions ropts;
  TemplateOptionValues tov;
  bool show_prompt = false;
  CLI::Option* format_opt = nullptr;
  std::string name, spec;  // the model's name and its GGUF path or server spec, after generators()

  SampleArgs() {
    so.generate.max_tokens = 1024;
    ropts.require_response = false;
  }

  void add(CLI::App& app) {
    app.add_option("--data,-d", data, "questions JSONL (.gz/.zst ok; - for stdin) or Parquet (a file, a directory, or a quoted glob of shards)")->required();
    app.add_option("--model,-m", model_spec,
                   "NAME=PATH.gguf, or NAME=URL[,URL...][#served-model] of a vLLM (http://host:8000/v1) or SGLang "
                   "(sglang+http://host:30000) server")
        ->required();
    app.add_option("--out,-o", out, "output JSONL (default - = stdout)");
    app.add_option("--shard", shard,
                   "I/N: sample only shard I of N (0 <= I < N) of the questions, split by question id as "
                   "rdpt score --shard splits responses (docs/scale.md)")
        ->check(kShardGiven);
    app.add_option("-n,--n", so.generate.n, "completions per question (default 1)")->check(CLI::Range(1u, 100000u));
    app.add_option("--temperature", so.generate.temperature, "sampling temperature; 0 = greedy (default 1)")->check(CLI::Range(0.0, 100.0));
    app.add_option("--top-p", so.generate.top_p, "nucleus mass kept (default 1 = no truncation)")->check(CLI::Range(1e-12, 1.0));
    app.add_option("--max-tokens", so.generate.max_tokens, "generated tokens per completion (default 1024)");
    app.add_option("--seed", so.generate.seed, "random seed; completion k of a question uses a stream from (seed, k) (default 0)")->check(kNonNegative);
    app.add_option("--stop", so.generate.stop, "stop string; the completion ends before it (repeatable; default none)");
    app.add_option("--prefix-field", so.prefix_field,
                   "input field holding a forced start of the response, which the model continues (default none)");
    app.add_option("--system", so.system_prompt, "system prompt for records without one (default none)");
    app.add_option("--template", template_name, "chat template: a llama.cpp built-in name (chatml, llama3, ...) "
                   "instead of the GGUF's Jinja tokenizer.chat_template (default: the GGUF's)")->group("Prompt");
    add_template_options(app, tov);
    format_opt = app.add_option("--prompt-format", prompt_format,
                                      "raw prompt format with {question} and {system} instead of a chat template; \\n, "
                                      "\\t and \\\\ are newline, tab and backslash; '' is the empty prompt (default none)")
                           ->group("Prompt");
    app.add_flag("--show-prompt", show_prompt,
                 "print the exact prompt the model sees for the first question, then exit (nothing is sampled)")
        ->group("Prompt");
    app.add_option("--ctx,-c", lo.n_ctx, "GGUF: context length (default 0 = min(training context, 8192))")->group("Local model");
    app.add_option("--threads,-t", lo.n_threads, "GGUF: CPU threads (default 0 = all)")->group("Local model");
    app.add_option("--ngl,--n-gpu-layers", lo.n_gpu_layers, "GGUF: layers on the GPU (default 0; -1 = all)")->group("Local model");
    app.add_flag("--no-retokenize-check", no_retok,
                 "GGUF: keep tokens even when re-tokenizing the text would give other tokens (default: such draws are "
                 "rejected and redrawn, so the log-probs stay those of the text's own tokens)")->group("Local model");
    app.add_option("--tokenizer", tokenizer, "server: vocab-only GGUF of the served model (default none)")->group("Server");
    app.add_option("--api-key-env", api_key_env, "server: environment variable holding the API key (default none)")->group("Server");
    app.add_option("--concurrency", concurrency, "server: questions in flight (default 16)")->group("Server")->check(CLI::Range(1u, 4096u));
    app.add_option("--max-retries", max_retries, "server: retries per request on 429/5xx/timeouts (default 6)")->group("Server");
    app.add_option("--timeout", timeout_s, "server: seconds per request (default 900)")->group("Server");
    add_reader_options(app, ropts);
  }

  // After parsing: name and spec checked; one generator for a local model, one per worker for a server.
  std::vector<std::unique_ptr<Generator>> generators() {
    const auto eq = model_spec.find('=');
    name = eq == std::string::npos ? "" : model_spec.substr(0, eq);
    spec = eq == std::string::npos ? model_spec : model_spec.substr(eq + 1);
    if (name.empty() && eq != std::string::npos) throw UsageError("--model: empty NAME in '" + model_spec + "'");
    const bool http = is_http_spec(spec);
    if (name.empty()) {
      if (http) throw UsageError("--model: give a NAME for a server, e.g. teacher=" + spec);
      name = std::filesystem::path(spec).stem().string();
    }
    so.generate.retokenize_safe = !no_retok;
    if (!shard.empty()) so.shard = parse_shard(shard);
    const std::optional<PromptFormat> format = check_prompt_options(template_name, format_opt->count(), prompt_format, tov);
    const JinjaOptions jinja = jinja_options_for(tov, name, {name});
    so.name = name;

    // Generators: one for a local model; one per worker for a server (each runs its own requests).
    std::vector<std::unique_ptr<Generator>> gens;
    if (http) {
      ho = parse_http_spec(spec);
      ho.tokenizer = tokenizer;
      ho.api_key_env = api_key_env;
      ho.template_name = template_name;
      ho.prompt_format = format;
      ho.jinja = jinja;
      ho.max_retries = max_retries;
      ho.timeout_s = timeout_s;
      ho.concurrency = std::max<uint32_t>(1, so.generate.n);
      ho.log = [](LogLevel, std::string_view m) { warn(std::string(m)); };
      for (uint32_t w = 0; w < concurrency; ++w) gens.push_back(make_http_generator(ho));
    } else {
      lo.template_name = template_name;
      lo.prompt_format = format;
      lo.jinja = jinja;
      check_model_location(name, spec);
  #ifdef RDPT_WITH_LLAMA
      gens.push_back(make_llama_generator(spec, lo));
  #else
      throw UsageError("--model " + name + ": " + no_llama_backend(spec));
  #endif
    }
    return gens;
  }
};

}  // namespace

int run_sample(int argc, char** argv) {
  CLI::App app{
      "Sample N completions per question from a model: a GGUF file (llama.cpp, CPU/GPU) or a server "
      "(vLLM: NAME=http://host:8000/v1#served-name; SGLang: NAME=sglang+http://host:30000). Writes one JSON "
      "object per completion: {id, question_id, question, response, model, sample_index, finish_reason, "
      "offsets, logprobs (+ answer, system when the input has them)}; offsets are the bytes in `response` "
      "where each sampled token starts and logprobs their log-probs under the model (temperature 1, no "
      "truncation), so `rdpt import --data S --logprobs S --model NAME` stores them without rescoring.",
      "rdpt sample"};
  SampleArgs a;
  a.add(app);
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  const std::vector<std::unique_ptr<Generator>> gens = a.generators();

  RecordReader reader(a.data, a.ropts);
  Output output(a.out);
  if (a.show_prompt) {
    std::cout << sample_prompt_preview(reader, *gens[0], a.so, a.spec);
    return 0;
  }
  TtyProgress progress;
  const SampleRunStats st = sample_records(reader, gens, a.so, output.stream(), progress);
  output.close();
  std::string msg = "sampled " + std::to_string(st.n_samples) + " completions (" + std::to_string(st.n_tokens) +
                    " tokens) for " + std::to_string(st.n_questions) + " questions with " + a.name;
  if (reader.stats().n_skipped()) msg += "; " + reader.stats().skipped_summary();
  info(msg);
  if (st.n_failed) {
    warn(std::to_string(st.n_failed) + " completions failed and were not written; first: " + st.first_error);
    return kExitFailedPairs;
  }
  return 0;
}

}  // namespace rdpt::cli
