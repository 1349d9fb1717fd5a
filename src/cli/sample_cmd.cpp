// rdpt sample: N completions per question from a local GGUF model or a server, as JSONL that
// grade / score / select read, with the sampled tokens' byte offsets and log-probs (the
// `offsets` + `logprobs` line shape of `rdpt import --logprobs`). docs/http.md.
#include <filesystem>
#include <future>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "rdpt/error.h"
#include "rdpt/generator.h"
#include "rdpt/http.h"
#include "rdpt/record.h"
#include "rdpt/scorer.h"

namespace rdpt::cli {

namespace {

struct Question {
  Record rec;
  std::string prefix;
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
  std::string data, out = "-", model_spec, prefix_field, system_prompt;
  GenerateOptions g;
  g.max_tokens = 1024;
  LlamaOptions lo;
  HttpOptions ho;
  std::string tokenizer, api_key_env, template_name, prompt_format;
  uint32_t concurrency = 16;
  uint32_t max_retries = 6;
  double timeout_s = 900;
  bool no_retok = false;
  ReaderOptions ropts;
  ropts.require_response = false;
  app.add_option("--data,-d", data, "questions JSONL (.gz/.zst ok; - for stdin)")->required();
  app.add_option("--model,-m", model_spec,
                 "NAME=PATH.gguf, or NAME=URL[,URL...][#served-model] of a vLLM (http://host:8000/v1) or SGLang "
                 "(sglang+http://host:30000) server")
      ->required();
  app.add_option("--out,-o", out, "output JSONL (default - = stdout)");
  app.add_option("-n,--n", g.n, "completions per question (default 1)")->check(CLI::Range(1u, 100000u));
  app.add_option("--temperature", g.temperature, "sampling temperature; 0 = greedy (default 1)")->check(CLI::Range(0.0, 100.0));
  app.add_option("--top-p", g.top_p, "nucleus mass kept (default 1 = no truncation)")->check(CLI::Range(1e-12, 1.0));
  app.add_option("--max-tokens", g.max_tokens, "generated tokens per completion (default 1024)");
  app.add_option("--seed", g.seed, "random seed; completion k of a question uses a stream from (seed, k) (default 0)");
  app.add_option("--stop", g.stop, "stop string; the completion ends before it (repeatable; default none)");
  app.add_option("--prefix-field", prefix_field,
                 "input field holding a forced start of the response, which the model continues (default none)");
  app.add_option("--system", system_prompt, "system prompt for records without one (default none)");
  app.add_option("--template", template_name, "chat template: a llama.cpp built-in name (chatml, llama3, ...) "
                 "instead of the GGUF's Jinja tokenizer.chat_template (default: the GGUF's)")->group("Prompt");
  TemplateOptionValues tov;
  add_template_options(app, tov);
  auto* format_opt = app.add_option("--prompt-format", prompt_format,
                                    "raw prompt format with {question} and {system} instead of a chat template; \\n, "
                                    "\\t and \\\\ are newline, tab and backslash; '' is the empty prompt (default none)")
                         ->group("Prompt");
  bool show_prompt = false;
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
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;

  const auto eq = model_spec.find('=');
  std::string name = eq == std::string::npos ? "" : model_spec.substr(0, eq);
  const std::string spec = eq == std::string::npos ? model_spec : model_spec.substr(eq + 1);
  if (name.empty() && eq != std::string::npos) throw UsageError("--model: empty NAME in '" + model_spec + "'");
  const bool http = is_http_spec(spec);
  if (name.empty()) {
    if (http) throw UsageError("--model: give a NAME for a server, e.g. teacher=" + spec);
    name = std::filesystem::path(spec).stem().string();
  }
  g.retokenize_safe = !no_retok;
  if (!template_name.empty() && format_opt->count())
    throw UsageError("--template and --prompt-format exclude each other");
  std::optional<PromptFormat> format;
  if (format_opt->count()) format = PromptFormat::from_cli(prompt_format);
  if ((!template_name.empty() || format) && (!tov.files.empty() || !tov.kwargs.empty() || !tov.date.empty()))
    throw UsageError("--chat-template-file/--chat-template-kwargs/--template-date apply to Jinja templates; they "
                     "exclude --template and --prompt-format");
  const JinjaOptions jinja = jinja_options_for(tov, name, {name});

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
    ho.concurrency = std::max<uint32_t>(1, g.n);
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

  RecordReader reader(data, ropts);
  Output output(out);
  std::ostream& os = output.stream();
  TtyProgress progress;
  progress.start("sample " + name, 0, "questions");
  uint64_t n_questions = 0, n_samples = 0, n_failed = 0, n_tokens = 0;
  std::string first_error;

  // The prompt's fingerprint (a hash of how the prompt is made: template, kwargs, date, or the raw
  // format), written with every completion: `rdpt score` of the same model with the same options
  // records the same template, so samples and their scoring share one prompt.
  const std::string prompt_fp = prompt_fingerprint(gens[0]->describe().chat_template);
  auto emit = [&](const Question& q, const std::vector<Generation>& outs) {
    for (size_t k = 0; k < outs.size(); ++k) {
      const Generation& s = outs[k];
      if (!s.ok()) {
        ++n_failed;
        if (first_error.empty()) first_error = "question '" + q.rec.id + "' sample " + std::to_string(k) + ": " + s.error;
        continue;
      }
      nlohmann::json j;
      j["id"] = q.rec.id + ":" + name + ":" + std::to_string(k);
      j["question_id"] = q.rec.group;
      j["question"] = q.rec.question;
      if (!q.rec.system.empty()) j["system"] = q.rec.system;
      if (q.rec.answer) j["answer"] = *q.rec.answer;
      j["response"] = s.response;
      j["model"] = name;
      j["sample_index"] = k;
      j["finish_reason"] = s.finish_reason;
      j["prompt_fingerprint"] = prompt_fp;
      if (!q.prefix.empty()) j["prefix_bytes"] = q.prefix.size();
      auto& offs = j["offsets"] = nlohmann::json::array();
      auto& lps = j["logprobs"] = nlohmann::json::array();
      for (const auto& t : s.tokens) {
        offs.push_back(t.offset);
        lps.push_back(t.logprob);
      }
      os << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
      ++n_samples;
      n_tokens += s.tokens.size();
    }
    progress.update(++n_questions, n_tokens);
  };

  auto prepare = [&](Record&& rec) {
    Question q;
    q.rec = std::move(rec);
    if (q.rec.system.empty()) q.rec.system = system_prompt;
    if (!prefix_field.empty()) {
      auto j = nlohmann::json::parse(q.rec.raw, nullptr, false);
      auto it = j.is_object() ? j.find(prefix_field) : j.end();
      if (it != j.end() && !it->is_null()) {
        if (!it->is_string())
          throw DataError(q.rec.file + ":" + std::to_string(q.rec.line) + ": record '" + q.rec.id + "': field '" +
                          prefix_field + "' is not a string");
        q.prefix = it->get<std::string>();
      }
    }
    return q;
  };

  auto run_one = [&](Generator& gen, const Question& q) {
    GenerateOptions o = g;
    o.prefix = q.prefix;
    return gen.generate(gen.format_prompt(q.rec.question, q.rec.system), o);
  };

  Record rec;
  if (show_prompt) {
    if (!reader.next(rec)) throw DataError("no records in the input");
    const Question q = prepare(std::move(rec));
    std::cout << "=== " << name << " (" << spec << "), record " << q.rec.id << " ===\n"
              << gens[0]->format_prompt(q.rec.question, q.rec.system) << "\n=== end of prompt";
    if (!q.prefix.empty()) std::cout << "; the forced prefix follows ===\n" << q.prefix << "\n=== end of prefix";
    std::cout << "; the completion follows ===\n";
    return 0;
  }
  if (!http) {
    while (reader.next(rec)) {
      Question q = prepare(std::move(rec));
      emit(q, run_one(*gens[0], q));
    }
  } else {
    // Batches of `concurrency` questions in parallel, written in input order.
    bool more = true;
    while (more) {
      std::vector<Question> batch;
      while (batch.size() < gens.size() && (more = reader.next(rec))) batch.push_back(prepare(std::move(rec)));
      std::vector<std::future<std::vector<Generation>>> futs;
      for (size_t w = 0; w < batch.size(); ++w)
        futs.push_back(std::async(std::launch::async, [&, w] { return run_one(*gens[w], batch[w]); }));
      for (size_t w = 0; w < batch.size(); ++w) emit(batch[w], futs[w].get());
    }
  }
  progress.finish();
  output.close();
  std::string msg = "sampled " + std::to_string(n_samples) + " completions (" + std::to_string(n_tokens) +
                    " tokens) for " + std::to_string(n_questions) + " questions with " + name;
  if (reader.stats().n_skipped()) msg += "; " + reader.stats().skipped_summary();
  info(msg);
  if (n_failed) {
    warn(std::to_string(n_failed) + " completions failed and were not written; first: " + first_error);
    return kExitFailedPairs;
  }
  return 0;
}

}  // namespace rdpt::cli
