// Dataset records: one response to one question, read from JSON Lines (plain, .gz, .zst).
//
// Layouts (detected per record unless forced):
//   flat          {"id", "question", "response", "answer", "correct", ...} with configurable names
//   messages      {"messages": [{"role": "user"|"assistant"|"system", "content": ...}]} (OpenAI style)
//   conversations {"conversations": [{"from": "human"|"gpt"|..., "value": ...}]} (ShareGPT style)
// A record whose response field is a list of strings gives one Record per element
// (ids "<id>#<k>"). Records are streamed: a file is never held in memory whole.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rdpt {

struct Record {
  std::string id;                     // record id (field, or "<file stem>:<line>" when absent)
  std::string group;                  // question id, or a hash of the question text
  std::string question;               // user turn
  std::string response;               // assistant turn (the text that is segmented and scored)
  std::string system;                 // system prompt, if any
  std::optional<std::string> answer;  // reference answer, if any
  std::optional<bool> correct;        // correctness label given in the input (wins over grading)
  std::string raw;                    // the record's exact line bytes (without the newline)
  std::string file;                   // source file (for messages)
  uint64_t line = 0;                  // 1-based line number in the source file
  int sub_index = -1;                 // index within a record holding several responses, else -1
};

enum class Layout { Auto, Flat, Messages, Conversations };

// FieldNames::id value that asks for "<file name>:<line>" ids (--id-field @line), for data whose
// id-like fields repeat (several samples per problem_id).
inline constexpr const char* kLineIds = "@line";

struct FieldNames {
  std::string id = "id";              // also tried: "_id", "uid", "problem_id"... see docs
  std::string question = "question";  // also tried: "problem", "prompt", "instruction", "input"
  std::string response = "response";  // also tried: "generation", "output", "completion", "solution"
  std::string answer = "answer";      // also tried: "gt", "gold", "expected_answer", "final_answer"
  std::string correct = "correct";    // also tried: "is_correct", "score"
  std::string group = "question_id";  // also tried: "problem_id", "qid"; else the question text
  std::string system = "system";
  bool fallbacks = true;              // try the alternatives above when the named field is absent
};

struct ReaderOptions {
  Layout layout = Layout::Auto;
  FieldNames fields;
  bool skip_bad = false;       // skip malformed records (counted by reason) instead of throwing
  bool require_response = true;
};

// Counts kept while reading.
struct ReaderStats {
  uint64_t n_lines = 0;                         // non-empty lines seen
  uint64_t n_records = 0;                       // records returned
  std::map<std::string, uint64_t> skipped;      // reason -> count (only with skip_bad)
  uint64_t n_skipped() const;
  std::string skipped_summary() const;          // "3 skipped: 2 invalid JSON, 1 missing field 'response'"
};

// Streams records from one file ("-" is stdin). Throws DataError naming file, line, record
// id and field for a malformed record unless skip_bad is set.
class RecordReader {
 public:
  RecordReader(const std::string& path, ReaderOptions opts = {});
  ~RecordReader();
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  bool next(Record& out);  // false at end of input
  const ReaderStats& stats() const;
  uint64_t bytes_read() const;           // compressed bytes consumed (for progress)
  std::optional<uint64_t> size() const;  // file size in bytes when known

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Group id used when a record has no question id: "q:" + 16 hex digits of a 64-bit FNV-1a
// hash of the question text (stable across runs and machines).
std::string group_from_question(std::string_view question);

}  // namespace rdpt
