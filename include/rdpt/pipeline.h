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

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "rdpt/attribute.h"
#include "rdpt/behaviour.h"
#include "rdpt/beta.h"
#include "rdpt/curves.h"
#include "rdpt/http.h"
#include "rdpt/logprob_import.h"
#include "rdpt/progress.h"
#include "rdpt/prompt.h"
#include "rdpt/provenance.h"
#include "rdpt/record.h"
#include "rdpt/select.h"
#include "rdpt/scorer.h"
#include "rdpt/store.h"

namespace rdpt::io {
class ParquetWriter;  // io/parquet.h
}  // namespace rdpt::io

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

// Error "model NAME: file not found: 'PATH'" when `location` is neither a server spec nor a file.
void check_model_location(const std::string& name, const std::string& location);

// The scorer of a spec: llama.cpp for a GGUF path, the HTTP backend for a server spec. Throws
// UsageError (bad options; a GGUF in a build without llama.cpp), Error (missing file),
// BackendError (cannot load).
std::unique_ptr<Scorer> make_scorer(const ScorerSpec& spec);

// ---- Records in: read, segment, store ------------------------------------------------------
// The store row of a dataset record, its response segmented with `opts`: the one way rdpt import,
// rdpt score and rdpt.score store a record. A response that cannot be segmented is a DataError
// naming file and line, or with skip_bad a Warn to `log` and nullopt.
std::optional<StoredResponse> to_stored_response(Record&& rec, const SegmentOptions& opts, bool skip_bad,
                                                 const LogSink& log = {});

// "FILE:LINE: record id 'ID' appears twice in the input (...)", with what to do about it; with
// `first_at` ("FILE:LINE" of the first record of that id) in another file, that it was read there.
std::string duplicate_id_message(const StoredResponse& r, bool line_ids, const std::string& first_at = "");

// Counts the responses of one input that are empty or whitespace only and warns once for them all
// (how many, and the first one's id, file and line).
struct EmptyResponses {
  uint64_t n = 0, n_space = 0;     // empty; whitespace only (one action of whitespace)
  std::string first, first_space;  // the first of each, as "record 'ID' at FILE:LINE"
  void note(const StoredResponse& r);
  void report(const std::string& file, const LogSink& log);  // warns if any, then starts over
};

// Reads and segments every record of `files` (JSON Lines, .gz, .zst); record ids must be unique
// across them (DataError naming file, line and id otherwise). `limit` > 0 stops after that many.
// Skipped records (reader.skip_bad) are summarised per file to `log`. DataError when none is read.
std::vector<StoredResponse> read_responses(const std::vector<std::string>& files, const ReaderOptions& reader,
                                           const SegmentOptions& segment, const LogSink& log = {}, size_t limit = 0);

// Stores `responses` in one transaction and sets each one's rid (an id already stored keeps its row).
void put_responses(Store& store, std::vector<StoredResponse>& responses);
// store.put_response(r), its DataError prefixed with where the record came from ("FILE:LINE: ").
int64_t put_response_from_input(Store& store, const StoredResponse& r);

// ---- rdpt import: responses and log-probs users already have (docs/store.md) ----------------
// Reads dataset `path` (JSON Lines, .gz, .zst; "-" for stdin), segments its responses and stores
// them, `batch` per transaction (an error keeps what was stored before it; every response is
// whole). Summary and skipped records to `log`; `progress` counts bytes. Returns responses read.
int64_t import_responses(Store& store, const std::string& path, const ReaderOptions& reader,
                         const SegmentOptions& segment, uint64_t batch, Progress& progress, const LogSink& log = {});

// The model of imported log-probs: backend "import", fingerprint `fingerprint`, or
// "import:LOCATION" ("import:NAME" without a location).
ModelInfo imported_model(const std::string& name, const std::string& location, const std::string& fingerprint,
                         const std::string& tokenizer);

// One pair's scores from its imported tokens: aligned to the actions (a token belongs to the
// action holding its first byte); truncated, the action the truncation cut and those after it
// stay unscored (added to *n_cut_actions). Tokens with ranks (tokens.has_ranks) give rank sums,
// each rank clipped at rank_clip (>= 1). LogprobLineError "alignment failed".
PairScore imported_pair_score(std::span<const Action> actions, const ImportedTokens& tokens,
                              uint64_t* n_cut_actions = nullptr, uint32_t rank_clip = 100);

struct LogprobImportStats {
  uint64_t n_lines = 0, n_pairs = 0, n_tokens = 0, n_prompt_tokens = 0, n_empty_tokens = 0, n_truncated = 0;
  uint64_t n_cut_actions = 0, n_chars_unit = 0, n_ranked = 0;  // n_ranked: pairs with "ranks"
  std::map<std::string, uint64_t> skipped;  // lines skipped, by LogprobLineError::reason
  // "imported N scored responses (T tokens) from PATH; ..."
  std::string summary(const std::string& path) const;
};

// Reads log-prob lines (rdpt/logprob_import.h) from `path` (.gz/.zst; "-" for stdin) and writes
// each pair under `slot` (prepared with Store::prepare_model: the model row comes with the first
// pair), `batch` lines per transaction. A bad line is a DataError naming file, line and record;
// with skip_bad a Warn "skipped: ..." to `log`, counted by reason. The summary goes to `log`.
// The vocabulary (a GGUF, vocab-only is enough) that places imported token ids: UsageError in a
// build without llama.cpp, Error for a missing file, BackendError when llama.cpp cannot load it.
std::unique_ptr<Vocabulary> open_import_vocabulary(const std::string& path);

// Lines of token ids need `ids.vocab` (the model's vocabulary). `path` is JSON Lines (.gz/.zst
// ok) or Parquet (a file, a directory or a glob of shards; each row is read as one line).
// Lines with "ranks" store rank sums clipped at rank_clip, recorded as the model's clip (store
// meta rank_clip:NAME); a ranked line of a model whose stored clip differs is a UsageError
// (the batches before it stay imported).
LogprobImportStats import_logprobs(Store& store, const std::string& path, ModelSlot& slot, OffsetUnit unit,
                                   bool skip_bad, uint64_t batch, Progress& progress, const LogSink& log = {},
                                   const TokenIdOptions& ids = {}, const LogprobFieldNames& fields = {},
                                   uint32_t rank_clip = 100);

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
  uint64_t n_kept = 0;         // failed pairs not written: a usable stored pair (without ranks) kept
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
// Ranks (a scorer whose capabilities().rank_clip > 0): pairs stored without ranks are scored
// again (when that fails, the stored pair stays: counted in n_failed and n_kept), the clip is
// recorded as store meta "rank_clip:NAME" with the first ranked pair, and a stored clip that
// differs is a UsageError (unless the model is being replaced).
ScoreRunStats score_responses(Store& store, Scorer& scorer, const std::string& name,
                              const std::vector<StoredResponse>& responses, const ScoreRunOptions& options,
                              Progress& progress);

// The store meta key of a model's rank clip, and its value (nullopt: the model has no ranks).
// A value that is not an integer >= 1 is a StoreError.
std::string rank_clip_key(const std::string& model);
std::optional<uint32_t> rank_clip_of(Store& store, const std::string& model);

}  // namespace rdpt

// ---- Reading scores back: one policy for every front end ------------------------------------
namespace rdpt {

// One model's scores of one response, as every analysis reads them. The policy (docs/store.md,
// "Absent, failed and truncated pairs"):
//   - an absent pair (the model never scored the response) or a failed one: `usable` false,
//     every action unscored (p NaN, logprob NaN, n_tokens 0);
//   - a truncated pair: usable; the actions past the cut are unscored (p NaN) as the store holds them;
//   - a pair whose action count differs from the response's: an error naming the store and the
//     record (the store is corrupt; no analysis guesses around it). The store's own decoding
//     catches most such pairs first (StoreError); a Store of another make gets DataError here.
struct PairView {
  bool present = false;             // the store holds the pair (any status)
  bool usable = false;              // present and not Failed
  ScoreStatus status = ScoreStatus::Ok;
  std::vector<double> p;            // per action: exp(logprob / n_tokens) when scored, else NaN
  std::vector<uint32_t> n_tokens;   // per action (0 where unscored)
  std::vector<double> logprob;      // per action log-prob sum (NaN when the pair is not usable)
  std::vector<uint64_t> rank_sum;   // per action clipped-rank sum when usable with ranks (and logprob read), else empty
  // Token counts for CurveAccumulator: the per-action counts when usable, else empty.
  std::span<const uint32_t> tokens() const { return usable ? std::span<const uint32_t>(n_tokens) : std::span<const uint32_t>(); }
};

// The view of one pair under that policy (`mid` and `store_path` name it in errors).
PairView view_pair(const std::optional<PairScore>& score, const StoredResponse& r, const std::string& store_path,
                   int64_t mid);

// Streams the store in rid order, handing each response with one PairView per mid (same order).
// `fn` returns false to stop. Memory: one response. With logprobs false, PairView::logprob is
// left empty (the analyses that need only p and token counts skip building it).
using ScoredFn = std::function<bool(const StoredResponse&, std::span<const PairView>)>;
void stream_scores(Store& store, std::span<const int64_t> mids, const ScoredFn& fn, bool logprobs = true);

// The same stream reading the scores table only (no response row: a fraction of the bytes), for
// passes that need nothing but p, such as the beta search. fn gets the views of each response
// that has a pair under at least one of mids (logprob left empty); where none of its pairs is
// usable the views are empty (nothing of it is scored) instead of NaN arrays. Every pair is held
// to its response's length (the scan reads it with the pair): a corrupt pair gives the same
// store error, naming the same pair, as in the full stream.
// Returns how many responses of the store it did not visit (those without any pair).
using ProbsFn = std::function<bool(int64_t rid, std::span<const PairView>)>;
uint64_t stream_probs(Store& store, std::span<const int64_t> mids, const ProbsFn& fn);

// The model `name`, or UsageError "OPTION: no model 'NAME' in store 'PATH' (models: ...)".
ModelInfo require_model(Store& store, const std::string& name, const std::string& option);

// "auto" -> nullopt; else a number >= 0 (UsageError naming --beta otherwise).
std::optional<double> parse_beta(const std::string& s);

// Runs the beta search over the store (one pass): mids {teacher, student[, distilled]} by the
// procedure (Analysis needs the distilled model). `keep` filters responses (empty: all).
BetaResult beta_search(Store& store, const BetaOptions& options, int64_t teacher, int64_t student,
                       int64_t distilled = 0, const std::function<bool(const StoredResponse&)>& keep = {},
                       Progress* progress = nullptr);

// ---- trace: provenance types, beta, curves, shares, behaviours (rdpt trace, rdpt report, Python)
struct TraceOptions {
  std::string teacher = "teacher", student = "student", distilled = "distilled";
  bool distilled_optional = false;  // a distilled model absent from the store means three-way types
                                    // (teacher vs student, docs/method.md section 4); else UsageError
  double alpha = 0.1;
  std::optional<double> beta;       // nullopt: the search of docs/method.md section 5
  std::vector<double> beta_candidates;  // empty: the procedure's default list
  bool always_search = false;       // run the search pass (its histograms) even with a given beta
  uint32_t max_positions = 0;       // curve positions kept (0: all)
  uint64_t token_mark = 4096;       // mark each multiple of this many mean cumulative tokens (0: none)
  KeywordList keywords = KeywordList::Upstream;
  std::string label = "trace";      // progress labels "LABEL: beta search", "LABEL: types"
  size_t pass_memory = size_t(256) << 20;  // bytes the search pass may keep for the typing pass
                                           // (a byte per action, 24 per response; 0: keep none)
};

// One typed response, as trace() hands it to its caller (types.csv rows, the report's viewer).
struct TypedResponse {
  const StoredResponse& response;
  std::span<const PairView> pairs;                       // teacher, student[, distilled]
  std::span<const std::optional<ActionType>> types;      // per action (nullopt: unscored)
  const TypeCounts& counts;
};

struct TraceResult {
  ModelInfo teacher, student;
  std::optional<ModelInfo> distilled;  // absent: three-way
  TypeScheme scheme = TypeScheme::FourWay;
  Thresholds thresholds;
  bool beta_auto = true;
  std::optional<BetaResult> search;    // when the search pass ran
  Curves curves;
  BehaviourTable behaviours;           // typed, non-special actions
  uint64_t n_special_typed = 0;        // typed special actions left out of the behaviours
  uint64_t n_responses = 0, n_actions = 0, n_scored = 0;  // n_scored: typed actions
  // Per subset (Subset::Correct, Incorrect, All): responses with a typed action, type counts, and
  // the sum over those responses of each type's proportion.
  std::array<uint64_t, kNumSubsets> n_typed{};
  std::array<std::array<uint64_t, kNumActionTypes>, kNumSubsets> counts{};
  std::array<std::array<double, kNumActionTypes>, kNumSubsets> prop_sum{};
  bool four_way() const { return distilled.has_value(); }
  // Share of type t among the typed actions of subset s (NaN when none).
  double pooled_share(Subset s, ActionType t) const;
  // Mean over typed responses of subset s of t's proportion (NaN when none).
  double mean_share(Subset s, ActionType t) const;
};

// What a caller sees of trace()'s passes (all optional).
struct TraceHooks {
  std::function<void(const StoredResponse&)> first_pass;  // each response of the search pass
  std::function<void(const TraceResult&)> after_search;   // between the passes (thresholds, search set)
  std::function<void(const TypedResponse&)> each;         // each response of the typing pass
  // Whether `each` reads TypedResponse::pairs. When it does not, and the beta is one of the search's
  // candidates, the typing pass types from what the search pass kept (a byte per action, up to
  // TraceOptions::pass_memory) and reads only the responses and the curve model's token counts;
  // `pairs` is then empty. The numbers are the same either way.
  bool each_reads_pairs = true;
};

// Types every action of the distilled model's responses (four-way) or the student's (three-way).
// Pass 1 (when beta is auto, always_search, or hooks.first_pass is set): the beta search. Pass 2:
// types with the chosen beta, curves, shares, behaviours. Throws UsageError (unknown model, bad
// thresholds), DataError (the search found no response with an action scored under every model;
// a corrupt pair).
TraceResult trace(Store& store, const TraceOptions& options, Progress& progress, const TraceHooks& hooks = {});

// ---- Selection over a store (docs/method.md section 7): rdpt select and rdpt.select --------
struct SelectRunOptions {
  std::string teacher = "teacher", student = "student";
  SelectOptions select;
  std::optional<double> beta;  // nullopt: the training search (Algorithm 1) over the candidates
};

// One candidate's criteria, as the strategies see them (rdpt select --scores-out).
struct CandidateScores {
  Candidate c;                   // order, n_actions, n_scored, n_teacher, student_logprob_mean
  uint64_t student_tokens = 0;   // the student's tokens of the response (0: no usable student pair)
  std::optional<bool> correct;   // the store's label (input or grade)
};

struct SelectRunResult {
  std::vector<uint64_t> chosen;   // candidate orders, ascending
  SelectSummary summary;
  uint64_t n_not_in_store = 0;    // candidates the store does not hold
  bool typed = false;             // teacher and student scores were used (three-way types)
  bool has_student = false;       // the student is in the store (grape can rank)
  std::optional<uint32_t> student_rank_clip;  // the student has ranks (rsr can rank), clipped at this
  double beta = NAN;              // the beta used when typed
  std::optional<BetaResult> search;
  std::vector<std::optional<CandidateScores>> candidates;  // by candidate order; nullopt: not in the store
};

// Every strategy run on the same candidates (rdpt select --compare): per strategy its picks and
// their means, and the Jaccard overlap |A and B| / |A or B| of each pair of strategies' picks
// (1 when both pick nothing). A strategy the store cannot serve (no teacher or student scores)
// is listed with the reason and no picks.
struct StrategyOutcome {
  Strategy strategy = Strategy::TeacherCount;
  std::string not_run;              // why it could not run; empty when it ran
  std::vector<uint64_t> chosen;     // candidate orders, ascending
  SelectSummary summary;
  double mean_teacher_share = NAN;  // mean n_teacher / n_scored over picks with n_scored > 0
  double mean_tokens = NAN;         // mean student tokens over picks with a student pair
  double mean_student_logprob = NAN;  // mean of the picks' mean token log-prob under the student (GRAPE's score)
  double mean_rsr = NAN;            // mean of the picks' rank-surprisal ratios (where the student has ranks)
  double accuracy = NAN;            // correct / labelled among the picks
  uint64_t n_labelled = 0;
};
struct SelectComparison {
  std::vector<StrategyOutcome> strategies;  // in strategy_names() order
  std::vector<std::vector<double>> jaccard; // [a][b]; NaN when a or b did not run
};
SelectComparison compare_strategies(const SelectRunResult& run, const SelectRunOptions& options,
                                    const std::vector<std::pair<std::string, std::string>>& order);
nlohmann::json comparison_json(const SelectComparison& c);
std::string comparison_table(const SelectComparison& c);  // for a terminal, one line per strategy
// One CSV row per candidate in the store: id, group, order, n_actions, n_scored, n_teacher,
// teacher_share, student_tokens, student_logprob_mean, rsr, correct.
void write_candidate_scores_csv(std::ostream& os, const SelectRunResult& run,
                                const std::vector<std::pair<std::string, std::string>>& order);

// Ranks candidates (ids in `order`; order[k] = {id, group} is candidate k) by the strategy and
// keeps the best per group. Teacher shares are typed whenever both models are in the store;
// strategies that rank by types (teacher-count, teacher-ratio, min-teacher-count) need them and
// grape needs the student (UsageError otherwise). DataError when no candidate is in the store
// ("none of the N SOURCE is in store ..."; source e.g. "records of 'data.jsonl'").
SelectRunResult select_responses(Store& store, const SelectRunOptions& options,
                                 const std::vector<std::pair<std::string, std::string>>& order,
                                 const std::string& source = "candidates");

// ---- Which teacher? (docs/method.md section 8): rdpt attribute and rdpt.attribute ----------
struct AttributeOptions {
  std::vector<std::string> teachers;  // candidate teacher model names (>= 1, distinct)
  std::string student = "student", distilled = "distilled";
  double alpha = 0.1;
  std::optional<double> beta;         // nullopt: the analysis search per teacher
  uint32_t replicates = 1000;         // Poisson bootstrap replicates
  uint64_t seed = 0;
  uint32_t first_positions = 400;     // positions summed in the correct-minus-incorrect Teacher fraction
};

struct AttributeRow {
  std::string teacher;
  size_t rank = 0;                    // by Teacher share, highest first (ties: lower Student share)
  size_t student_rank = 0;            // by Student share, lowest first
  double beta = NAN;
  ShareEstimate teacher_share, student_share;  // mean per-response proportions, bootstrap 95%
  double teacher_share_pooled = NAN, student_share_pooled = NAN;
  double summed_correct_minus_incorrect = NAN;
  std::optional<BetaResult> search;
};

struct AttributeResult {
  std::vector<AttributeRow> rows;     // in rank order
  uint64_t n_responses = 0;
  bool consistent = false;            // the top teacher also has the lowest Student share
};

// UsageError for no teacher, a teacher named twice, or bad thresholds (attribute() checks too).
void check_attribute_options(const AttributeOptions& options);
// Two streaming passes (the per-teacher beta searches, then shares, bootstrap and curves).
// UsageError: no teacher, a teacher named twice, an unknown model, bad thresholds.
AttributeResult attribute(Store& store, const AttributeOptions& options, Progress& progress);
// The JSON rdpt attribute writes.
nlohmann::json attribute_json(const AttributeResult& r, const AttributeOptions& options, const std::string& store_path);

// ---- Scale-out: shards of a dataset, and merging their stores (docs/scale.md) --------------
// Shard I of N (0 <= I < N): the responses whose group hashes to I. A question's responses stay
// together (they share a prompt, and the prompt cache), and the split depends only on the group
// ids: not on the order of the data, the number of files, or the host.
struct Shard {
  uint32_t index = 0, count = 1;
};
// "I/N" (UsageError naming `option` otherwise).
Shard parse_shard(const std::string& text, const std::string& option = "--shard");
// FNV-1a 64 of the group's bytes, modulo count.
uint32_t shard_of(std::string_view group, uint32_t count);
// Keeps the responses of shard s, in their order; returns how many were dropped.
size_t keep_shard(std::vector<StoredResponse>& responses, const Shard& s);
// Records in the store which shard of how large a dataset it holds (meta "shard" = "I/N",
// "shard_dataset_responses" = the responses of the whole dataset), so that merge_stores can say
// when a shard is missing or the shards were cut from different data. Warns to `log` when the
// store already records another shard.
void record_shard(Store& store, const Shard& s, uint64_t n_dataset_responses, const LogSink& log = {});

struct MergeStats {
  uint64_t n_inputs = 0;
  uint64_t n_models_added = 0;
  uint64_t n_responses_added = 0, n_responses_present = 0;  // present: already in the output
  uint64_t n_pairs_added = 0, n_pairs_present = 0;          // present: an identical pair was there
  uint64_t n_pairs_replaced = 0;                            // a Failed pair replaced by a usable one
  uint64_t n_pairs_ranked = 0;  // a pair without ranks replaced by the same scores with ranks
  uint64_t n_pairs_failed_ignored = 0;  // a Failed pair not taken: the output held another pair
  uint64_t n_pairs_rounding = 0;  // a pair equal up to the rounding of batched evaluation: the held one stays
  uint64_t n_pairs_failed = 0;    // pairs met in this merge that are Failed in the output afterwards
};
// Merges the stores `inputs` into `out`, in one transaction: a merge that fails or is killed
// leaves `out` as it was, and merging again what is already merged changes nothing. A model is
// the same model in every store (its fingerprint, tokenizer and prompt must match: DataError
// naming both stores otherwise); a record id is the same response (same text; segmentation as
// put_response rules); a pair held by two stores must be identical (DataError naming the record,
// model and stores), except that a usable pair replaces a Failed one (a retry's result), the same
// scores with token ranks replace them without (a model's rank clip must agree across the stores:
// DataError; it is copied to the output), two usable pairs equal up to rounding (the same tokens
// per action, each action's log-prob sum within 1e-4 relative: a resumed run's last digits) keep
// the one held first, and a Failed pair never replaces a usable one. Other scoring settings (ModelInfo::info_json) that
// differ are a Warn to `log`. New responses are written in their run's order: source file (the
// order the inputs store their files in; by name where none orders two files) and line, so that
// merging all shards of a dataset in one call gives the rid order of an unsharded run.
// UsageError: no input, or an input that is the output store.
MergeStats merge_stores(Store& out, const std::vector<std::string>& inputs, Progress& progress,
                        const LogSink& log = {});

// ---- Writers: one JSON shape and one CSV dialect for every command -----------------------
// CSV: RFC 4180 fields (quoted when holding , " CR or LF), lines end in "\n".
void append_csv_field(std::string& out, std::string_view s);
std::string csv_field(std::string_view s);
// Shortest round-trip text of a double; "" for NaN.
std::string csv_number(double x);
// A number for humans (4 significant digits); "-" for NaN.
std::string fmt_share(double x);

nlohmann::json beta_json(const BetaResult& r);
nlohmann::json curves_json(const Curves& c);
// Long format: j,subset,n,type,count,fraction,lo,hi,mean_cum_tokens (one row per j, subset, type).
void write_curves_csv(std::ostream& os, const Curves& c);
// summary.json of rdpt trace (models, thresholds, totals, shares, behaviours, token marks).
nlohmann::json trace_summary_json(const TraceResult& r, const std::string& store_path, KeywordList keywords);
// types.csv: header and one row per response.
void write_types_csv_header(std::ostream& os, TypeScheme scheme);
void write_types_csv_row(std::ostream& os, const TypedResponse& t, TypeScheme scheme);

// The same tables as Parquet (rdpt trace --format parquet): the CSV's columns, typed (counts
// BIGINT, shares and fractions DOUBLE with null for NaN, correct BOOLEAN or null). UsageError in
// a build without DuckDB. The file appears when finish() returns.
class TypesParquet {
 public:
  TypesParquet(const std::string& path, TypeScheme scheme);
  ~TypesParquet();
  void row(const TypedResponse& t);
  void finish();

 private:
  std::unique_ptr<io::ParquetWriter> w_;
  TypeScheme scheme_;
};
void write_curves_parquet(const std::string& path, const Curves& c);

}  // namespace rdpt
