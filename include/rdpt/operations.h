// Whole operations of the pipeline layer beside those in rdpt/pipeline.h: grading a dataset or a
// store, exporting a store's actions, and the alignment histograms. Each is what one `rdpt`
// subcommand runs (the CLI parses options, calls these, writes files and picks the exit code)
// and what a library or Python user calls. No terminal code: progress goes to a Progress&,
// messages to a LogSink, output to a std::ostream.
//
//   auto st = rdpt::Store::open("scores.db", rdpt::OpenMode::ReadOnly);
//   rdpt::ExportOptions eo;
//   eo.format = rdpt::ExportFormat::Jsonl;
//   rdpt::export_actions(*st, rdpt::resolve_models(*st, {"teacher"}, "--models"), eo, std::cout,
//                        rdpt::null_progress());
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "rdpt/discrepancy.h"
#include "rdpt/generator.h"
#include "rdpt/grade.h"
#include "rdpt/pipeline.h"
#include "rdpt/progress.h"
#include "rdpt/record.h"
#include "rdpt/scorer.h"
#include "rdpt/store.h"

namespace rdpt {

// ---- Grading (docs/method.md section 9, docs/grade.md): rdpt grade --------------------------
// Reference answers of a benchmark file, keyed by a field (question text is whitespace-normalised).
struct AnswerTable {
  std::unordered_map<std::string, std::string> by_key;
  bool text_keys = false;     // keyed by question text (key field problem, question or prompt)
  uint64_t n_duplicates = 0;  // keys seen twice with different answers (the first one is kept)
};

// Reads `path` (JSONL), keyed by `key_field`, answers from `answer_field`. DataError naming file
// and line for a record that is no object, lacks either field, or has an empty key.
AnswerTable load_answers(const std::string& path, const std::string& key_field, const std::string& answer_field);

struct GradeRunOptions {
  GradeOptions grade;
  bool ignore_labels = false;  // grade records that carry a correct label (default: the label wins)
  bool regrade = false;        // store without data: also regrade responses with a correctness value
  ReaderOptions reader;        // for the data file
  std::string data_key;        // field of the data records matched against the answer table's key
                               // ("": the question text for text keys, else the group field)
};

struct GradeRunStats {
  uint64_t n = 0, correct = 0, incorrect = 0, no_answer = 0, no_reference = 0;
  uint64_t labels = 0, graded = 0, joined = 0;
  uint64_t agree_n = 0, agree = 0;  // labelled records that could also be graded
  uint64_t store_set = 0, store_missing = 0;
};

// Grades the records of `data` (a JSONL path; "-" stdin) or, with `data` empty, `store`'s own
// responses, writing one JSON line per record ({id, extracted, reference, verdict, source[, graded],
// [method]}) to `out`. References missing from a record are joined from `answers` when given. With
// a store, graded verdicts (not labels) set the correctness of the response with the same id.
// `progress` gets start("grading", bytes, "bytes") for a data file; skipped records are
// summarised to `log` (Warn).
GradeRunStats grade_records(const std::string& data, Store* store, const AnswerTable* answers,
                            const GradeRunOptions& options, std::ostream& out, Progress& progress,
                            const LogSink& log = {});

// ---- Export: one row per action of every stored response (rdpt export) ----------------------
enum class ExportFormat { Csv, Jsonl, Parquet };

struct ExportOptions {
  ExportFormat format = ExportFormat::Csv;
  bool text = true;  // the text column
};

struct ExportStats {
  uint64_t n_responses = 0, n_rows = 0;
};

// The models `names` in that order (every model of the store, in the order added, when empty);
// UsageError "OPTION: no model ..." for an unknown name.
std::vector<ModelInfo> resolve_models(Store& store, const std::vector<std::string>& names, const std::string& option);

// Per model: whether the store holds ranks for it (a rank clip is recorded: rdpt score --ranks,
// rdpt import with "ranks").
std::vector<bool> ranked_models(Store& store, std::span<const ModelInfo> models);

// Writes id, group, j, begin, end, special[, text] and per model <name>_n_tokens,
// <name>_logprob_sum, <name>_p, and <name>_rank_sum for a model with ranks (ranked_models), for
// every action of every response (CSV with a header, or JSON Lines; an unusable pair's columns
// empty or null, and the rank sum of a pair scored without ranks). DataError for a response that is not valid
// UTF-8 when JSON text is asked for. `progress` gets start("export", responses, "responses").
ExportStats export_actions(Store& store, std::span<const ModelInfo> models, const ExportOptions& options,
                           std::ostream& out, Progress& progress);
// The same rows as a Parquet file `path` (options.format is not read): typed columns (id, group,
// text VARCHAR; j, begin, end, <model>_n_tokens BIGINT; special BOOLEAN; <model>_logprob_sum,
// <model>_p DOUBLE, <model>_rank_sum BIGINT), null where CSV leaves a field empty. The file appears when all is written.
ExportStats export_actions_parquet(Store& store, std::span<const ModelInfo> models, const ExportOptions& options,
                                   const std::string& path, Progress& progress);

// ---- Alignment of output distributions (docs/method.md section 8, paper A.4.2): rdpt align --
// A named set of responses: SPEC is FILE or ids:FILE (record ids), groups:FILE (question ids),
// id-prefix:P or group-prefix:P.
struct ResponseSet {
  std::string name, kind, arg;  // kind: ids, groups, id-prefix, group-prefix
  std::unordered_set<std::string> members;
  std::vector<std::string> listed;  // ids/groups: the file's distinct lines, in file order
  bool contains(const StoredResponse& r) const;
};

// Non-empty lines of a text file (CR LF line ends taken); Error naming the file when unreadable.
std::vector<std::string> read_lines(const std::string& path);

// Parses NAME=SPEC and reads a FILE (UsageError for a bad spec or a file listing nothing; Error
// for an unreadable file).
ResponseSet parse_response_set(const std::string& name_eq_spec);

struct AlignOptions {
  std::string teacher = "teacher", distilled = "distilled";
  std::vector<ResponseSet> sets;
  uint32_t bins = 40;
  bool exclude_special = false;
};

struct AlignSetResult {
  DiffHistogram hist;
  uint64_t n_responses = 0;
  uint64_t n_ids_not_in_store = 0;  // ids sets: listed ids naming no response of the store
};

struct AlignResult {
  std::vector<AlignSetResult> sets;  // as options.sets
  std::vector<double> edges;         // the bin edges (the doubles the bins are compared against)
};

// Histograms of pT - pD per action over each set. Warns to `log` about ids not in the store and
// sets that match no response. UsageError for an unknown model.
AlignResult align_sets(Store& store, const AlignOptions& options, const LogSink& log = {});
// The JSON rdpt align writes, and its CSV (set,bin_lo,bin_hi,count,fraction) and stderr table.
nlohmann::json align_json(const AlignResult& r, const AlignOptions& options, const std::string& store_path);
void write_align_csv(std::ostream& os, const AlignResult& r, const AlignOptions& options);
std::string align_table(const AlignResult& r, const AlignOptions& options);

// ---- Scoring (rdpt score --show-prompt) ---------------------------------------------------
// What model `name` (at `location`) sees for response `r`: the exact prompt, the last prompt and
// first response tokens, where the thought ends (or the harmony rendering), and any bytes the
// prompt already holds. The text rdpt score --show-prompt prints.
// Written to `os` as it is found: the header and the prompt are out (and flushed) before the
// model's tokenizer is asked, so a tokenizer that fails still leaves the prompt on the screen.
void prompt_preview(const Scorer& scorer, const std::string& name, const std::string& location,
                    const StoredResponse& r, std::ostream& os);
std::string prompt_preview(const Scorer& scorer, const std::string& name, const std::string& location,
                           const StoredResponse& r);

// ---- Sampling (rdpt sample) ----------------------------------------------------------------
struct SampleRunOptions {
  std::string name;           // model name: written with every completion, part of its id
  GenerateOptions generate;   // per question (the prefix is set from prefix_field)
  std::string prefix_field;   // input field holding a forced start of the response ("" = none)
  std::string system_prompt;  // for records without a system prompt
  Shard shard;                // only the questions of this shard (by question id; default: all)
};

struct SampleRunStats {
  uint64_t n_questions = 0, n_samples = 0, n_failed = 0, n_tokens = 0;
  std::string first_error;    // "question 'ID' sample K: error" of the first failed completion
};

// Samples completions for every record of `reader` and writes one JSON line per completion
// ({id, question_id, question, [system], [answer], response, model, sample_index, finish_reason,
// prompt_fingerprint, [prefix_bytes], offsets, logprobs}); failed completions are counted, not
// written. One generator: questions in turn; several (one per server worker): batches of that many
// questions in parallel, written in input order. `progress` gets start("sample NAME", 0,
// "questions") and update(questions, tokens). DataError for a prefix field that is no string.
SampleRunStats sample_records(RecordReader& reader, std::span<const std::unique_ptr<Generator>> gens,
                              const SampleRunOptions& options, std::ostream& out, Progress& progress);

// What the model sees for the first record of `reader` (rdpt sample --show-prompt); DataError
// when there is none.
std::string sample_prompt_preview(RecordReader& reader, const Generator& gen, const SampleRunOptions& options,
                                  const std::string& location);

// ---- Selection over a dataset file (docs/method.md section 7): rdpt select ----------------
struct SelectCandidates {
  std::vector<std::pair<std::string, std::string>> order;  // {id, group} of each record, input order
  uint64_t n_multi = 0;                                    // records from lines holding several responses
  uint64_t n_skipped = 0;                                  // records skipped (--skip-bad)
  std::string skipped;                                     // why, as "2 skipped: 1 invalid JSON, ..." ("" if none)
};

// Pass 1 over `data` (a regular file or Parquet; it is read again by write_chosen_records): ids and
// groups in input order. UsageError for stdin or a pipe (it cannot be read twice); DataError naming
// file and line for a duplicate id, for an input without records, and, with `store`, for a record
// whose response, question or system prompt differs from the one the store holds under its id
// (the store's scores are of the stored text).
SelectCandidates read_candidates(const std::string& data, const ReaderOptions& reader, Store* store = nullptr);

// Pass 2: writes the exact input line of each chosen record (candidate orders, as
// SelectRunResult::chosen; `n_records` candidates in all) in input order; a line holding several
// responses is written once. Returns the lines written.
uint64_t write_chosen_records(const std::string& data, const ReaderOptions& reader, const std::vector<uint64_t>& chosen,
                              size_t n_records, std::ostream& out);
// The same for Parquet input (rdpt::io::is_parquet_path): the chosen rows written to the Parquet
// file `out` with the input's schema, in input order; returns the number of rows written.
uint64_t write_chosen_parquet(const std::string& data, const ReaderOptions& reader, const std::vector<uint64_t>& chosen,
                              size_t n_records, const std::string& out);

// The summary JSON of rdpt select (--summary-json).
nlohmann::json select_summary_json(const SelectRunResult& r, const SelectRunOptions& options, const std::string& data,
                                   const std::string& store_path, uint64_t n_records, uint64_t n_lines);
// Its one-line stderr summary ("select (teacher-count, K=1): ...").
std::string select_summary_line(const SelectRunResult& r, const SelectRunOptions& options, uint64_t n_lines);

}  // namespace rdpt
