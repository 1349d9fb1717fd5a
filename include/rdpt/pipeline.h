// The pipeline layer: what joins the store, the model backends and the core, for every front
// end (the CLI, the report, library users). No terminal code: progress goes to a Progress&,
// messages to a LogSink.
//
//   rdpt::ScorerSpec spec;                     // a GGUF path or a server URL, and its options
//   spec.location = "QwQ-32B-Q8_0.gguf";
//   auto scorer = rdpt::make_scorer(spec);
//   auto store = rdpt::Store::open("scores.db", rdpt::OpenMode::Create);
//   rdpt::ScoreRunStats st = rdpt::score_responses(*store, *scorer, "teacher", responses, {}, progress);
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rdpt/http.h"
#include "rdpt/progress.h"
#include "rdpt/prompt.h"
#include "rdpt/scorer.h"
#include "rdpt/store.h"

namespace rdpt {

// A model to score with and the options of either backend. `location` is a GGUF file (llama.cpp)
// or a server spec "http://host:port/v1[#served-name]" ("sglang+http://..."; docs/http.md).
struct ScorerSpec {
  std::string name;          // how errors name the model ("teacher")
  std::string location;
  LlamaOptions llama;        // GGUF models; its prompt_format, template_name and jinja serve both backends
  std::string tokenizer;     // server models: vocab-only GGUF of the served model ("" = none)
  std::string api_key_env;   // server models: environment variable holding the API key
  uint32_t concurrency = 64; // server models: requests in flight
  LogSink http_log;          // server models: retries and warnings
};

// "'PATH': this rdpt was built without the llama.cpp backend ...": the error for a GGUF model
// given to a build configured with -DRDPT_WITH_LLAMA=OFF (server models still work there).
std::string no_llama_backend(const std::string& path);

// The scorer of a spec: llama.cpp for a GGUF path, the HTTP backend for a server spec. Throws
// UsageError (bad options; a GGUF in a build without llama.cpp), Error (missing file),
// BackendError (cannot load).
std::unique_ptr<Scorer> make_scorer(const ScorerSpec& spec);

struct ScoreRunOptions {
  uint32_t chunk = 64;   // responses handed to the scorer at a time (each written as it finishes)
  bool replace = false;  // a name stored with another model file or prompt: drop its scores and rescore
};

struct ScoreRunStats {
  uint64_t n_scored = 0;       // pairs written as scored (truncated included)
  uint64_t n_failed = 0;       // pairs written as failed (a rerun retries them)
  uint64_t n_skipped = 0;      // pairs already in the store
  uint64_t n_truncated = 0;
  uint64_t n_cut_actions = 0;  // actions left unscored by truncation
  uint64_t n_tokens = 0;       // response tokens scored
  double seconds = 0;
  std::string first_error;     // "record ID: error" of the first failed pair
};

// Scores `responses` (stored already: rid set, e.g. by Store::put_response) under `scorer`,
// recorded in `store` as model `name`, and writes each pair's per-action scores as it finishes.
// Resumable: pairs the store holds for this model are skipped. Responses of one group are
// scored together (they share the prompt's KV cache). Each response is rendered in the
// model's thinking format and mapped back to its canonical bytes (rdpt::render_response): tokens
// of bytes the rendering adds belong to no action, an action whose text the model never scored
// is unscored, and a truncated pair leaves the cut action and those after it unscored.
// `progress` gets start("score NAME", pairs to score, "responses"), update(done, tokens) and
// finish(). Throws UsageError when the store holds `name` with another file or prompt (unless
// options.replace).
ScoreRunStats score_responses(Store& store, Scorer& scorer, const std::string& name,
                              const std::vector<StoredResponse>& responses, const ScoreRunOptions& options,
                              Progress& progress);

}  // namespace rdpt
