// Internals of answer grading shared by grade_*.cpp (not a public API).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rdpt::grade_detail {

// A parsed arithmetic expression: numbers, variables, + - * / ^, functions, factorial.
struct Expr {
  enum class Kind { Num, Var, Neg, Add, Sub, Mul, Div, Pow, Func, Fact };
  Kind kind = Kind::Num;
  double num = 0;          // Num
  std::string name;        // Var: variable name; Func: function name
  std::vector<std::unique_ptr<Expr>> args;
};
using ExprPtr = std::unique_ptr<Expr>;

// Parses a normalised LaTeX/plain expression; nullptr when it is not one (never throws).
// Nesting deeper than max_depth fails.
ExprPtr parse_expr(std::string_view s, int max_depth = 64);

// Evaluates with the given variable values ("e" without a value is Euler's number).
double eval_expr(const Expr& e, const std::map<std::string, double>& vars);
void collect_vars(const Expr& e, std::vector<std::string>& out);

// Splits s at top-level occurrences of sep (outside (), [], {}). Pieces are trimmed.
std::vector<std::string> split_top(std::string_view s, std::string_view sep);
// True when s[0] is an opening bracket whose match is the last character.
bool one_group(std::string_view s);

std::string trim(std::string_view s);
std::string remove_spaces(std::string_view s);

// Index just past the brace group opening at s[open] ('{'), or npos when unterminated.
size_t match_brace(std::string_view s, size_t open);

}  // namespace rdpt::grade_detail
