// Answer grading (docs/method.md section 9): extract a response's final answer and decide whether
// it is equivalent to a reference answer. Pure functions over strings; no I/O.
//
// Example:
//   rdpt::GradeOptions o;
//   auto g = rdpt::grade_response("<think>... \\boxed{3}</think> So \\boxed{\\frac12}.", "0.5", o);
//   // g.verdict == Verdict::Correct, g.extracted == "\\frac12", g.method == "boxed"
//
// Contract: nothing here throws on any input text (malformed LaTeX, unterminated or deeply
// nested braces give "no answer" or "not equivalent"); time is linear in the response length
// for extraction and bounded by the answer length for equivalence (answers longer than
// EquivOptions::max_length are compared as normalised strings only).
// Options structs whose values are invalid (negative tolerance, ...) throw UsageError from
// check_options().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rdpt {

enum class Verdict { Correct, Incorrect, NoAnswer };

// "correct", "incorrect", "no-answer".
std::string_view verdict_name(Verdict v);

struct ExtractOptions {
  // The answer is searched after the last of these markers when the response has one,
  // else in the whole response: the end of a <think> thought, of Sky-T1's thought, and the
  // opening of gpt-oss's final channel, raw ("<|channel|>final<|message|>") or as a decode that
  // skips special tokens writes it ("analysis...assistantfinal...").
  std::vector<std::string> reasoning_end = {"</think>", "<|end_of_thought|>", "<|channel|>final<|message|>",
                                            "assistantfinal"};
  // Also accept a multiple-choice letter ("Answer: C", "The answer is (C)", "**Answer:** C").
  bool multiple_choice = false;
  std::string choices = "ABCDE";  // accepted letters for multiple choice
  // Without a \boxed answer, also try "final answer is X", "answer: X", the last $...$ span and
  // the last number (off by default: docs/method.md counts only \boxed answers).
  bool fallback_text = false;
  size_t max_depth = 64;  // brace nesting deeper than this inside \boxed{...} gives no answer
};

struct Extraction {
  std::optional<std::string> answer;  // nullopt: no answer found
  std::string method;                 // "boxed", "fbox", "boxed-nobrace", "letter", "text", "math", "number" or ""
  size_t offset = 0;                  // byte offset of the answer's start in the response
};

// Extracts the final answer from a response.
Extraction extract_answer(std::string_view response, const ExtractOptions& opts = {});

struct EquivOptions {
  double rel_tol = 1e-6;   // relative tolerance for non-integer numbers: |a-b| <= rel_tol*max(|a|,|b|)
  double abs_tol = 1e-9;   // absolute tolerance (for values near 0)
  int n_points = 6;        // random points at which expressions with variables are compared
  uint64_t seed = 12345;   // seed of those points (fixed: grading is deterministic)
  size_t max_length = 2000;  // longer answers are compared as normalised strings only
};

// Throws UsageError naming the field when an option is out of range.
void check_options(const EquivOptions& o);

// True when `answer` and `reference` denote the same mathematical object: numbers (leading
// zeros, thousands commas, decimals, fractions, percent, degrees, units as trailing text),
// tuples and intervals (order and bracket types matter), sets and plain lists (order-free),
// \pm, equations "x = v" against "v", and simple expressions compared numerically.
bool answers_equivalent(std::string_view answer, std::string_view reference, const EquivOptions& opts = {});

// The LaTeX/text normalisation used before comparison (exposed for tests and --explain).
std::string normalize_answer(std::string_view s);

struct GradeOptions {
  ExtractOptions extract;
  EquivOptions equiv;
  // The reference is given as free text (e.g. a full solution): extract its answer first
  // (\boxed if any, else the text itself).
  bool extract_reference = false;
};

struct Grade {
  Verdict verdict = Verdict::NoAnswer;
  std::optional<std::string> extracted;  // the response's final answer, if any
  std::string method;                    // how it was found (see Extraction::method)
};

// Extracts the response's answer and compares it to the reference.
Grade grade_response(std::string_view response, std::string_view reference, const GradeOptions& opts = {});

// Extracts the answer from a reference string as it appears in benchmarks: the last \boxed{}
// when present, else the string itself with $...$ removed.
std::string reference_answer(std::string_view reference);

}  // namespace rdpt
