// Shared pieces of the subcommands: error handling, option parsing, outputs, progress.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "rdpt/pipeline.h"
#include "rdpt/progress.h"
#include "rdpt/prompt.h"
#include "rdpt/record.h"
#include "rdpt/segment.h"
#include "rdpt/store.h"

namespace rdpt::cli {

// Exit codes of every subcommand (README.md "Exit codes"): 0 ok, 1 runtime error (unreadable or
// missing file, bad data, backend failure), 2 usage error (bad option or option value, unknown
// model name), 3 finished, but some pairs (score) or completions (sample) failed: rerun to retry.
inline constexpr int kExitOk = 0, kExitRuntimeError = 1, kExitUsage = 2, kExitFailedPairs = 3;

// Runs fn, turning exceptions into one line "rdpt: error: ..." on stderr and an exit code:
// 2 for UsageError and CLI parse errors, 1 for every other error.
int guarded(const char* command, const std::function<int()>& fn);

// Parses argv with app. Returns -1 to continue, else the exit code to return now
// (0 after --help, 2 on a usage error, with the message printed).
int parse(CLI::App& app, int argc, char** argv);

// Dataset reading options shared by the commands that read JSONL.
void add_reader_options(CLI::App& app, ReaderOptions& opts);
// Segmentation options (--special-token, --no-markers).
void add_segment_options(CLI::App& app, SegmentOptions& opts, std::vector<std::string>& extra_specials,
                         bool& no_default_specials);
void finish_segment_options(SegmentOptions& opts, const std::vector<std::string>& extra, bool no_default);
// The store row of a dataset record, its response segmented with opts: the one way `rdpt import`
// and `rdpt score` store a record (answer, correctness label and source line included). A
// response that cannot be segmented is a DataError naming file and line, or with skip_bad a
// warning and nullopt.
std::optional<StoredResponse> stored_response(Record&& rec, const SegmentOptions& opts, bool skip_bad);
// A LogSink printing warnings and errors with warn(), information with info(); debug dropped.
void cli_log(LogLevel level, std::string_view msg);

// An output stream: "-" is stdout; files are written to "<path>.tmp" and renamed on close(),
// so a failed run never leaves a half-written output under the final name.
class Output {
 public:
  explicit Output(const std::string& path);
  ~Output();
  std::ostream& stream();
  void close();  // flush, check, rename; throws Error on failure
  // After a failure, keeps what was written: a file as "<path>.partial" (or .partial.1, ...: never
  // over an existing file; the final name is left as it was). Returns where it is, as a message
  // names it ("'out.jsonl.partial'", "standard output").
  std::string keep_partial();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Progress drawn on stderr when it is a terminal (done/total, rate, ETA); silent otherwise.
class TtyProgress : public Progress {
 public:
  explicit TtyProgress(bool enabled = true);
  void start(std::string_view what, uint64_t total, std::string_view unit) override;
  void update(uint64_t done, uint64_t extra = 0) override;
  void finish() override;

 private:
  bool enabled_;
  std::string what_, unit_;
  uint64_t total_ = 0, done_ = 0, extra_ = 0;
  double t0_ = 0, last_draw_ = 0;
  void draw(bool final);
};


// Model roles (--teacher, --student, --distilled): one model named in two roles (e.g. --teacher
// student) is refused with a UsageError naming the roles and the model, unless --allow-same-model
// (add_same_model_flag) says it is meant. `roles` are {option, model name}; empty names are skipped.
void add_same_model_flag(CLI::App& app, bool& allow);
void check_distinct_roles(const std::vector<std::pair<std::string, std::string>>& roles, bool allow);
// After the store is opened: a warning when two roles name models of one fingerprint and prompt
// (the same file scored under two names: every action comes out Shared or Common).
void warn_same_models(Store& store, const std::vector<std::pair<std::string, std::string>>& roles, bool allow);

// The chat-template options of `rdpt score` and `rdpt sample` (docs/score.md, "Prompts"):
//   --chat-template-file [NAME=]F.jinja     a Jinja template instead of the GGUF's (per model or all)
//   --chat-template-kwargs [NAME:]JSON      extra template variables ('{"enable_thinking": true}')
//   --template-date YYYY-MM-DD              the day strftime_now() returns (default kDefaultTemplateDate)
struct TemplateOptionValues {
  std::vector<std::string> files, kwargs;
  std::string date;
};
void add_template_options(CLI::App& app, TemplateOptionValues& v);
// The JinjaOptions of model `name` (one of `names`, all the command's models): a value with a
// NAME prefix applies to that model, one without to every model; a NAME that is no model, a
// second value for one model, an unreadable file, bad JSON or a bad date is a UsageError.
JinjaOptions jinja_options_for(const TemplateOptionValues& v, const std::string& name,
                               const std::vector<std::string>& names);

// The prompt source of `rdpt score` and `rdpt sample`: --template NAME, --prompt-format F (given:
// `format_given`) and the Jinja options exclude each other (UsageError). Returns the parsed format.
std::optional<PromptFormat> check_prompt_options(const std::string& template_name, bool format_given,
                                                 const std::string& prompt_format, const TemplateOptionValues& v);

// A model role option (--teacher, --student, --distilled) with the help "ROLE model name (default ROLE)".
CLI::Option* add_model_role(CLI::App& app, const std::string& role, std::string& name);

// Writes j to `path` (through Output) as j.dump(indent) and a newline.
void write_json_file(const std::string& path, const nlohmann::json& j, int indent);

// Prints an informational line to stderr (never to stdout, which carries data).
// --shard I/N given an empty value (an unset variable in a job script: --shard "$SHARD") would
// otherwise be no shard at all, and every array task would score everything.
inline const CLI::Validator kShardGiven(
    [](std::string& s) {
      return s.empty() ? std::string("empty: give I/N (is the variable in --shard \"$VAR\" unset?)") : std::string();
    },
    "I/N");

// For unsigned options: CLI11 reads "-3" into a uint64_t as 2^64 - 3; this refuses a sign.
inline const CLI::Validator kNonNegative(
    [](std::string& s) {
      const size_t k = s.find_first_not_of(" \t");
      return k != std::string::npos && s[k] == '-' ? "must be >= 0, got " + s : std::string();
    },
    "INT>=0");

void info(const std::string& msg);
void warn(const std::string& msg);

}  // namespace rdpt::cli
