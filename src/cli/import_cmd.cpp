// rdpt import: load responses (segmented) and per-token log-probs that users already have
// into the score store. A thin client: the line formats are rdpt/logprob_import.h's, the store
// side rdpt::import_responses / rdpt::import_logprobs (rdpt/pipeline.h). Formats: docs/store.md.
#include <map>

#include "cli/commands.h"
#include "cli/common.h"
#include "rdpt/error.h"
#include "rdpt/logprob_import.h"
#include "rdpt/pipeline.h"
#include "rdpt/store.h"
#include "rdpt/vocab.h"

namespace rdpt::cli {

namespace {

struct ImportArgs {
  std::string data, store_path, logprobs, model_name, location, fingerprint, tokenizer;
  bool replace = false, no_default = false;
  OffsetUnit unit = OffsetUnit::Auto;
  uint64_t batch = 1000;
  size_t ids_include_prompt = 0;
  uint32_t rank_clip = 100;
  ReaderOptions ropts;
  SegmentOptions sopts;
  std::vector<std::string> extra;
  LogprobFieldNames lp_fields;
};

void add_import_options(CLI::App& app, ImportArgs& a) {
  app.add_option("--data,-d", a.data,
                 "dataset JSONL (.gz/.zst ok; - for stdin) or Parquet (a file, a directory, or a quoted glob of shards) whose responses are segmented and stored (default: "
                 "none; then --logprobs refers to responses already in the store)");
  app.add_option("--store,-s", a.store_path, "score store (SQLite) to create or add to")->required();
  app.add_option("--logprobs,-l", a.logprobs,
                 "per-token log-probs JSONL (.gz/.zst ok; - for stdin), one response per line, or Parquet, one per row (default: none)");
  app.add_option("--model,-m", a.model_name, "model name the log-probs belong to, e.g. teacher (required with "
                                           "--logprobs)");
  app.add_option("--model-location", a.location,
                 "file or endpoint that produced the log-probs, recorded with the model (default: empty)");
  app.add_option("--fingerprint", a.fingerprint,
                 "identity of the model; importing under a name stored with another fingerprint is refused "
                 "unless --replace (default: import:<--model-location>, or import:<name> without it)");
  app.add_option("--tokenizer", a.tokenizer,
                 "NAME=VOCAB.gguf (NAME: the --model name): the model's vocabulary, which places lines of token ids "
                 "('token_ids' + 'logprobs') on the text as rdpt's own tokenization does, and whose description and "
                 "file fingerprint are recorded with the model; or any other text: a tokenizer description recorded "
                 "with the model (default: empty)");
  app.add_option("--token-ids-field", a.lp_fields.token_ids,
                 "--logprobs: field holding the token ids (default token_ids; the record id's field is --id-field, "
                 "e.g. sample_uuid)");
  app.add_option("--logprobs-field", a.lp_fields.logprobs,
                 "--logprobs: field holding the log-probs (default logprobs)");
  app.add_option("--ranks-field", a.lp_fields.ranks,
                 "--logprobs: field holding each token's rank under the model, for rdpt select --strategy rsr "
                 "(default ranks; lines without it import no ranks)");
  app.add_option("--rank-clip", a.rank_clip, "--logprobs with ranks: clip each rank at this (default 100)")
      ->check(CLI::Range(1u, kMaxRankClip));
  app.add_option("--ids-include-prompt", a.ids_include_prompt,
                 "lines of token ids: the first N ids are prompt tokens (dropped) and the rest the response's "
                 "(default 0: the ids are the response's, or the line's 'prompt' field says where they start)");
  app.add_flag("--replace", a.replace,
               "replace a model of the same name stored with another fingerprint (deletes its scores) "
               "(default: off)");
  static const std::map<std::string, OffsetUnit> kUnits = {
      {"auto", OffsetUnit::Auto}, {"bytes", OffsetUnit::Bytes}, {"chars", OffsetUnit::Chars}};
  app.add_option("--offset-unit", a.unit,
                 "unit of 'offsets' and OpenAI 'text_offset': bytes, chars (Unicode code points), or auto "
                 "('offsets' in bytes, 'text_offset' in characters) (default auto). OpenAI lines with 'tokens' are "
                 "placed by their token strings, as the HTTP backend places them; 'text_offset' is then not read")
      ->transform(CLI::CheckedTransformer(kUnits, CLI::ignore_case));
  app.add_option("--batch", a.batch, "responses or lines written per transaction (default 1000)")
      ->check(CLI::Range(uint64_t(1), uint64_t(1) << 30));
  add_reader_options(app, a.ropts);
  add_segment_options(app, a.sopts, a.extra, a.no_default);
}

}  // namespace

int run_import(int argc, char** argv) {
  CLI::App app{
      "Load responses into a score store (created if absent) and, with --logprobs, per-token log-probs you "
      "already have (e.g. saved by a serving engine while sampling), aligned to the responses' actions "
      "(a token belongs to the action holding its first byte). Re-importing is idempotent: responses are "
      "keyed by id, a pair (model, response) is replaced as a whole. Log-prob line formats: docs/store.md.",
      "rdpt import"};
  ImportArgs a;
  add_import_options(app, a);
  if (int rc = parse(app, argc, argv); rc >= 0) return rc;
  finish_segment_options(a.sopts, a.extra, a.no_default);
  if (a.data.empty() && a.logprobs.empty()) throw UsageError("nothing to import: give --data, --logprobs or both");
  if (!a.logprobs.empty() && a.ropts.fields.id == kLineIds)
    throw UsageError("--id-field @line names the dataset's ids, but --logprobs rows are matched to responses by an id "
                     "field: import the data with --id-field @line on its own (rdpt import --data), then the "
                     "log-probs with their own --id-field, whose values are those '<file name>:<line>' ids");
  a.lp_fields.id = a.ropts.fields.id;
  if (!a.logprobs.empty() && a.model_name.empty()) throw UsageError("--logprobs needs --model NAME");
  if (a.logprobs.empty() && (!a.model_name.empty() || !a.location.empty() || !a.fingerprint.empty())) {
    throw UsageError("--model, --model-location and --fingerprint need --logprobs");
  }
  if (a.data == "-" && a.logprobs == "-") throw UsageError("--data and --logprobs cannot both be stdin");

  // --tokenizer NAME=VOCAB.gguf: the vocabulary for token ids (its description and fingerprint recorded).
  std::unique_ptr<Vocabulary> vocab;
  if (!a.model_name.empty() && a.tokenizer.starts_with(a.model_name + "=")) {
    vocab = open_import_vocabulary(a.tokenizer.substr(a.model_name.size() + 1));
    a.tokenizer = vocab->description();
    if (a.fingerprint.empty()) a.fingerprint = "import:" + (a.location.empty() ? a.model_name : a.location) + "|tokenizer:" + vocab->fingerprint();
  } else if (a.ids_include_prompt) {
    throw UsageError("--ids-include-prompt needs --tokenizer " + (a.model_name.empty() ? std::string("NAME") : a.model_name) +
                     "=VOCAB.gguf (token ids)");
  }
  auto store = Store::open(a.store_path, OpenMode::Create);
  // The model is checked against the store before any work (another fingerprint is refused
  // without --replace) but written only with its first pair: a failed import leaves no model.
  std::optional<ModelSlot> slot;
  std::optional<ModelInfo> old;
  if (!a.logprobs.empty()) {
    old = store->model(a.model_name);
    slot = store->prepare_model(imported_model(a.model_name, a.location, a.fingerprint, a.tokenizer), a.replace);
  }
  TtyProgress progress;
  if (!a.data.empty()) import_responses(*store, a.data, a.ropts, a.sopts, a.batch, progress, cli_log);
  if (slot) {
    import_logprobs(*store, a.logprobs, *slot, a.unit, a.ropts.skip_bad, a.batch, progress, cli_log,
                    {.vocab = vocab.get(), .ids_include_prompt = a.ids_include_prompt}, a.lp_fields, a.rank_clip);
    if (!slot->stored()) {
      warn("no pair imported: model '" + a.model_name + "' is not stored");
    } else if (old && old->fingerprint != slot->info.fingerprint) {
      info("replaced model '" + a.model_name + "' (fingerprint " + old->fingerprint + " -> " + slot->info.fingerprint +
           ")");
    }
  }
  return 0;
}

}  // namespace rdpt::cli
