// Answer equivalence: structure (lists, sets, tuples, intervals, unions, matrices, \pm,
// equations) first, then scalars (exact integers, numbers with tolerance, expressions
// compared at random points).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>
#include <random>
#include <set>

#include "core/grade_internal.h"
#include "rdpt/error.h"
#include "rdpt/grade.h"

namespace rdpt {

using namespace grade_detail;

namespace {

constexpr int kMaxRecursion = 12;

const std::set<std::string, std::less<>> kMathWords = {"sin",    "cos",    "tan",    "cot",  "sec",  "csc",
                                                       "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
                                                       "ln",     "log",    "exp",    "sqrt", "pi",   "frac",
                                                       "infty",  "binom",  "lfloor", "rfloor", "lceil", "rceil"};

std::string lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = char(std::tolower(uint8_t(c)));
  return o;
}

bool is_int_literal(std::string_view s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (i >= s.size()) return false;
  for (size_t k = i; k < s.size(); ++k)
    if (!std::isdigit(uint8_t(s[k]))) return false;
  return true;
}

std::string canon_int(std::string_view s) {
  bool neg = s[0] == '-';
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  while (i + 1 < s.size() && s[i] == '0') ++i;
  std::string d(s.substr(i));
  if (d == "0") neg = false;
  return (neg ? "-" : "") + d;
}

// A run of 3+ letters that is not a math function name (outside commands): text, not algebra.
bool looks_textual(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (std::isalpha(uint8_t(s[i]))) {
      size_t j = i;
      while (j < s.size() && std::isalpha(uint8_t(s[j]))) ++j;
      bool cmd = i > 0 && s[i - 1] == '\\';
      if (!cmd && j - i >= 3 && !kMathWords.count(lower(s.substr(i, j - i)))) return true;
      i = j;
    } else {
      ++i;
    }
  }
  return false;
}

// Bytes of the unit letter at s[i], 0 when there is none: an ASCII letter, a Latin letter with
// a diacritic (U+00C0-U+024F except the signs U+00D7 and U+00F7: "Å"), the micro sign and Greek
// mu, omega (U+00B5, U+03BC, U+03A9, U+2126) or the angstrom sign U+212B. Other non-ASCII
// characters are not unit letters: pi, plus-minus, square roots and other Greek letters are
// mathematics, so "5 π" keeps its pi.
size_t unit_letter(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return uint32_t(uint8_t(s[k])); };
  if (i >= s.size()) return 0;
  if (b(i) < 0x80) return std::isalpha(int(b(i))) ? 1 : 0;
  uint32_t cp = 0;
  size_t n = 0;
  if ((b(i) & 0xE0) == 0xC0) cp = b(i) & 0x1F, n = 2;
  else if ((b(i) & 0xF0) == 0xE0) cp = b(i) & 0x0F, n = 3;
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  const bool latin = cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7;
  const bool unit_sign = cp == 0xB5 || cp == 0x3BC || cp == 0x3A9 || cp == 0x2126 || cp == 0x212B;
  return latin || unit_sign ? n : 0;
}

// "5.4 cents", "864 inches^2", "28 percent", "\frac{270}7 degrees", "1000 rad/s", "4080 Å",
// "3 kg m^{-1}" -> the number part. Words may be joined by '/' or '*' and carry an integer
// exponent; one of them must have two or more letters ("5 x" and "5 m/s" are products).
std::string strip_units(const std::string& s) {
  size_t k = s.find(' ');
  while (k != std::string::npos) {
    std::string head = trim(s.substr(0, k));
    std::string tail = s.substr(k + 1);
    bool ok = unit_letter(tail, 0) > 0;
    bool has_long_word = false;
    bool need_word = false;  // after '/' or '*'
    for (size_t i = 0; ok && i < tail.size();) {
      if (unit_letter(tail, i)) {
        size_t j = i, n_chars = 0;
        for (size_t n; (n = unit_letter(tail, j)) > 0; j += n) ++n_chars;
        std::string w = lower(tail.substr(i, j - i));
        // Two letters, or one of the non-ASCII unit letters ("4080 Å", "5 Ω"), which unlike a
        // single ASCII letter ("5 m" = 5m) are never variables.
        if (n_chars >= 2 || j - i > n_chars) has_long_word = true;
        if (kMathWords.count(w) || w == "and" || w == "or") ok = false;
        need_word = false;
        i = j;
        if (i < tail.size() && tail[i] == '^') {  // ^2, ^-1, ^{-1}
          size_t e = i + 1;
          bool brace = e < tail.size() && tail[e] == '{';
          if (brace) ++e;
          if (e < tail.size() && tail[e] == '-') ++e;
          size_t d = e;
          while (e < tail.size() && std::isdigit(uint8_t(tail[e]))) ++e;
          if (e == d || (brace && (e >= tail.size() || tail[e] != '}'))) ok = false;
          i = brace ? e + 1 : e;
        }
      } else if (tail[i] == ' ') {
        ++i;
      } else if ((tail[i] == '/' || tail[i] == '*') && !need_word) {
        need_word = true;
        ++i;
      } else if (tail[i] == '^' && i + 1 < tail.size() && std::isdigit(uint8_t(tail[i + 1]))) {
        i += 2;
      } else {
        ok = false;
      }
    }
    if (need_word) ok = false;
    bool head_numeric = !head.empty() && std::any_of(head.begin(), head.end(), [](char c) { return std::isdigit(uint8_t(c)); }) &&
                        !looks_textual(head);
    if (ok && has_long_word && head_numeric) return head;
    k = s.find(' ', k + 1);
  }
  return s;
}

bool close(double a, double b, const EquivOptions& o) {
  if (std::isnan(a) || std::isnan(b)) return false;
  if (std::isinf(a) || std::isinf(b)) return a == b;
  double d = std::fabs(a - b);
  return d <= o.abs_tol || d <= o.rel_tol * std::max(std::fabs(a), std::fabs(b));
}

bool expr_equal(const Expr& a, const Expr& b, const EquivOptions& o) {
  std::vector<std::string> vars;
  collect_vars(a, vars);
  collect_vars(b, vars);
  vars.erase(std::remove(vars.begin(), vars.end(), "e"), vars.end());  // Euler's number
  if (vars.empty()) return close(eval_expr(a, {}), eval_expr(b, {}), o);
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> dist(0.6, 2.4);
  int n_valid = 0;
  for (int p = 0; p < std::max(1, o.n_points) * 3 && n_valid < std::max(1, o.n_points); ++p) {
    std::map<std::string, double> values;
    for (const auto& v : vars) values[v] = dist(rng);
    double x = eval_expr(a, values), y = eval_expr(b, values);
    bool fx = std::isfinite(x), fy = std::isfinite(y);
    if (!fx && !fy) continue;  // outside both domains: try another point
    if (fx != fy) return false;
    // expressions are compared with a slightly looser tolerance (rounding in long formulas)
    EquivOptions loose = o;
    loose.rel_tol = std::max(o.rel_tol, 1e-9);
    if (!close(x, y, loose)) return false;
    ++n_valid;
  }
  return n_valid >= 2 || (n_valid >= 1 && o.n_points <= 1);
}

bool scalar_equal(const std::string& a0, const std::string& b0, const EquivOptions& o) {
  std::string a = strip_units(a0), b = strip_units(b0);
  std::string na = remove_spaces(a), nb = remove_spaces(b);
  if (na == nb) return true;
  if (is_int_literal(na) && is_int_literal(nb)) return canon_int(na) == canon_int(nb);
  // multiple-choice letters: "(C)" vs "C"
  if (looks_textual(na) || looks_textual(nb)) return lower(na) == lower(nb);
  if (na.size() > o.max_length || nb.size() > o.max_length) return false;
  auto ea = parse_expr(a), eb = parse_expr(b);
  if (!ea || !eb) return false;
  // single letters are symbols (choices, variables): "C" != "D" even though both are free variables
  return expr_equal(*ea, *eb, o);
}

// "x = 5" -> "5"; chains "x = 1+1 = 2" -> "2"; "x \in [0,1]" -> "[0,1]". Only when the left side
// is a bare name: a letter or command with optional subscript, f(x), |AB|, or a tuple of names.
bool simple_lhs(std::string_view lhs) {
  std::string l = remove_spaces(lhs);
  if (l.empty() || l.size() > 24) return false;
  if (l.front() == '(' && l.back() == ')') {
    for (auto& part : split_top(l.substr(1, l.size() - 2), ",")) {
      if (!simple_lhs(part)) return false;
    }
    return true;
  }
  if (l.front() == '|' && l.back() == '|') l = l.substr(1, l.size() - 2);
  size_t i = 0;
  if (i < l.size() && l[i] == '\\') {
    ++i;
    while (i < l.size() && std::isalpha(uint8_t(l[i]))) ++i;
  } else {
    while (i < l.size() && std::isalpha(uint8_t(l[i]))) ++i;
  }
  if (i == 0) return false;
  if (i < l.size() && l[i] == '_') {
    ++i;
    if (i < l.size() && l[i] == '{') {
      size_t e = match_brace(l, i);
      if (e == std::string::npos) return false;
      i = e;
    } else if (i < l.size()) {
      ++i;
    }
  }
  if (i < l.size() && l[i] == '(') {
    size_t depth = 0, j = i;
    for (; j < l.size(); ++j) {
      if (l[j] == '(') ++depth;
      if (l[j] == ')' && --depth == 0) break;
    }
    i = j + 1;
  }
  // ratio names "A:B"
  if (i < l.size() && l[i] == ':') return simple_lhs(l.substr(i + 1)) && i > 0;
  return i >= l.size();
}

std::vector<std::string> split_list(const std::string& s);

std::string strip_lhs(const std::string& s) {
  if (split_list(s).size() > 1) return s;  // lists are handled element by element
  // "x \approx 11" -> "11"; "x = 1/3 \approx 0.33" -> "1/3"
  auto ap = split_top(s, "\\approx");
  if (ap.size() >= 2) {
    if (simple_lhs(ap[0]) && !ap[1].empty()) return ap[1];
    if (!ap[0].empty()) return strip_lhs(ap[0]);
  }
  // relations other than '=' are left alone
  auto eq = split_top(s, "=");
  if (eq.size() >= 2) {
    bool relational = false;
    for (size_t k = 0; k + 1 < eq.size(); ++k) {
      const auto& piece = eq[k];
      if (!piece.empty() && (piece.back() == '<' || piece.back() == '>' || piece.back() == '!')) relational = true;
    }
    if (!relational && simple_lhs(eq[0]) && !eq.back().empty()) return eq.back();
  }
  auto in = split_top(s, "\\in");
  if (in.size() == 2 && simple_lhs(in[0]) && !in[1].empty()) return in[1];
  return s;
}

enum class Shape { Scalar, List, Set, Tuple, Union, Matrix };

struct Parsed {
  Shape shape = Shape::Scalar;
  char open = 0, close = 0;        // Tuple brackets
  std::vector<std::string> items;  // elements (or rows joined as "a&b" for matrices)
};

std::vector<std::string> split_list(const std::string& s) {
  // separators: ',' ';' and the words and / or (also unspaced between brackets: "(11,7)or(7,11)")
  std::string t = s;
  for (const char* w : {"or", "and"}) {
    for (const char* close : {")", "]"}) {
      for (const char* open : {"(", "["}) {
        std::string from = std::string(close) + w + open, to = std::string(close) + " " + w + " " + open;
        for (size_t k = t.find(from); k != std::string::npos; k = t.find(from, k + to.size())) t.replace(k, from.size(), to);
      }
    }
  }
  std::vector<std::string> out;
  for (auto& piece : split_top(t, ",")) {
    for (auto& p2 : split_top(piece, ";")) {
      for (auto& p3 : split_top(p2, " and ")) {
        for (auto& p4 : split_top(p3, " or ")) {
          std::string q = trim(p4);
          if (q.rfind("and ", 0) == 0) q = trim(q.substr(4));
          if (q.rfind("or ", 0) == 0) q = trim(q.substr(3));
          if (!q.empty()) out.push_back(q);
        }
      }
    }
  }
  return out;
}

bool parse_matrix(const std::string& s, Parsed& p) {
  if (s.rfind("\\begin{", 0) != 0) return false;
  size_t e = s.find('}');
  std::string env = s.substr(7, e - 7);
  if (env != "pmatrix" && env != "bmatrix" && env != "matrix" && env != "array" && env != "smallmatrix") return false;
  std::string end = "\\end{" + env + "}";
  if (s.size() < end.size() || s.compare(s.size() - end.size(), end.size(), end) != 0) return false;
  size_t body = e + 1;
  if (env == "array" && body < s.size() && s[body] == '{') {
    size_t c = match_brace(s, body);
    if (c == std::string::npos) return false;
    body = c;
  }
  std::string inner = s.substr(body, s.size() - end.size() - body);
  p.shape = Shape::Matrix;
  std::vector<std::string> rows;
  size_t pos = 0;
  for (;;) {
    size_t k = inner.find("\\\\", pos);
    rows.push_back(trim(inner.substr(pos, k == std::string::npos ? std::string::npos : k - pos)));
    if (k == std::string::npos) break;
    pos = k + 2;
  }
  while (!rows.empty() && rows.back().empty()) rows.pop_back();
  for (auto& r : rows) {
    auto cells = split_top(r, "&");
    p.items.push_back("#row" + std::to_string(cells.size()));
    for (auto& c : cells) p.items.push_back(c);
  }
  return true;
}

Parsed shape_of(const std::string& s) {
  Parsed p;
  if (one_group(s) && s.find("\\begin") == 1) return shape_of(trim(s.substr(1, s.size() - 2)));
  if (parse_matrix(s, p)) return p;
  auto u = split_top(s, "\\cup");
  if (u.size() >= 2) {
    p.shape = Shape::Union;
    p.items = u;
    return p;
  }
  if (s.size() >= 4 && s.rfind("\\{", 0) == 0 && s.compare(s.size() - 2, 2, "\\}") == 0) {
    std::string inner = s.substr(2, s.size() - 4);
    // make sure the outer \{ \} enclose everything
    auto probe = split_top("{" + inner + "}", ",");
    if (probe.size() == 1) {
      p.shape = Shape::Set;
      p.items = split_list(inner);
      return p;
    }
  }
  if (one_group(s) && s[0] != '{') {
    auto inner = split_top(s.substr(1, s.size() - 2), ",");
    if (inner.size() == 1) inner = split_top(s.substr(1, s.size() - 2), ";");
    if (inner.size() >= 2) {
      p.shape = Shape::Tuple;
      p.open = s[0];
      p.close = s.back();
      p.items = inner;
      return p;
    }
  }
  auto items = split_list(s);
  if (items.size() >= 2) {
    p.shape = Shape::List;
    p.items = items;
    return p;
  }
  p.items = {s};
  return p;
}

bool equiv_rec(const std::string& a, const std::string& b, const EquivOptions& o, int depth);

struct Relation {
  enum class Kind { None, Single, Chain };
  Kind kind = Kind::None;
  std::string lhs, rhs, op;  // Single, with op one of "<", "<=", "!=" (">" forms are flipped)
  std::string interval;      // Chain: "a < x <= b" -> "(a,b]"
};

// Top-level relation operators of s, in order, with their positions.
Relation parse_relation(const std::string& s) {
  Relation r;
  std::vector<std::pair<size_t, std::string>> ops;
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    else if (c == ')' || c == ']' || c == '}') depth = std::max(0, depth - 1);
    if (depth != 0) continue;
    if (c == '<' || c == '>' || (c == '!' && i + 1 < s.size() && s[i + 1] == '=')) {
      std::string op(1, c);
      if (i + 1 < s.size() && s[i + 1] == '=') op += '=';
      ops.push_back({i, op});
      i += op.size() - 1;
    }
  }
  if (ops.empty() || ops.size() > 2) return r;
  std::vector<std::string> parts;
  size_t prev = 0;
  for (auto& [pos, op] : ops) {
    parts.push_back(trim(s.substr(prev, pos - prev)));
    prev = pos + op.size();
  }
  parts.push_back(trim(s.substr(prev)));
  for (auto& p : parts)
    if (p.empty()) return r;
  if (ops.size() == 1) {
    r.kind = Relation::Kind::Single;
    r.lhs = parts[0];
    r.rhs = parts[1];
    r.op = ops[0].second;
    if (r.op[0] == '>') {
      std::swap(r.lhs, r.rhs);
      r.op[0] = '<';
    }
    return r;
  }
  std::string o1 = ops[0].second, o2 = ops[1].second;
  if (o1[0] == '!' || o2[0] == '!' || o1[0] != o2[0] || !simple_lhs(parts[1])) return r;
  std::string lo = parts[0], hi = parts[2];
  bool lo_closed = o1.size() == 2, hi_closed = o2.size() == 2;
  if (o1[0] == '>') {
    std::swap(lo, hi);
    std::swap(lo_closed, hi_closed);
  }
  r.kind = Relation::Kind::Chain;
  r.interval = std::string(lo_closed ? "[" : "(") + lo + "," + hi + (hi_closed ? "]" : ")");
  return r;
}

// "x < a" -> "(-\infty,a)", "a <= x" -> "[a,\infty)": a one-sided bound on a lone variable as the
// interval it describes; nothing for "!=" or when neither side is a lone variable.
std::optional<std::string> relation_as_interval(const Relation& r) {
  if (r.op != "<" && r.op != "<=") return std::nullopt;
  bool closed = r.op == "<=";
  auto lone = [](const std::string& x) { return x.size() == 1 && std::isalpha(uint8_t(x[0])); };
  // a bound is one value: "x < 1, 2" is no interval
  if (split_top(r.lhs, ",").size() > 1 || split_top(r.rhs, ",").size() > 1 || split_top(r.lhs, ";").size() > 1 ||
      split_top(r.rhs, ";").size() > 1)
    return std::nullopt;
  if (lone(r.lhs) && !lone(r.rhs)) return "(-\\infty," + r.rhs + (closed ? "]" : ")");
  if (lone(r.rhs) && !lone(r.lhs)) return std::string(closed ? "[" : "(") + r.lhs + ",\\infty)";
  return std::nullopt;
}

bool same_relation(const Relation& a, const Relation& b, const EquivOptions& o) {
  if (a.op != b.op) return false;
  std::string da = "(" + a.rhs + ")-(" + a.lhs + ")", db = "(" + b.rhs + ")-(" + b.lhs + ")";
  if (remove_spaces(a.lhs) == remove_spaces(b.lhs) && remove_spaces(a.rhs) == remove_spaces(b.rhs)) return true;
  auto ea = parse_expr(da), eb = parse_expr(db);
  if (!ea || !eb) return false;
  if (expr_equal(*ea, *eb, o)) return true;
  if (a.op == "!=") {
    auto nb = parse_expr("(" + b.lhs + ")-(" + b.rhs + ")");
    return nb && expr_equal(*ea, *nb, o);
  }
  return false;
}

// L1 = R1 and L2 = R2 describe the same set: L1 - R1 is a constant non-zero multiple of L2 - R2.
bool equations_equivalent(const std::vector<std::string>& a, const std::vector<std::string>& b,
                          const EquivOptions& o) {
  auto da = parse_expr("(" + a[0] + ")-(" + a[1] + ")"), db = parse_expr("(" + b[0] + ")-(" + b[1] + ")");
  if (!da || !db) return false;
  std::vector<std::string> vars;
  collect_vars(*da, vars);
  collect_vars(*db, vars);
  vars.erase(std::remove(vars.begin(), vars.end(), "e"), vars.end());
  if (vars.empty()) return false;
  std::mt19937_64 rng(o.seed + 1);
  std::uniform_real_distribution<double> dist(0.6, 2.4);
  double ratio = NAN;
  int n_valid = 0;
  for (int p = 0; p < 3 * o.n_points && n_valid < o.n_points; ++p) {
    std::map<std::string, double> values;
    for (const auto& v : vars) values[v] = dist(rng);
    double x = eval_expr(*da, values), y = eval_expr(*db, values);
    if (!std::isfinite(x) || !std::isfinite(y)) continue;
    if (std::fabs(y) < 1e-12 || std::fabs(x) < 1e-12) {
      if (std::fabs(x) < 1e-12 && std::fabs(y) < 1e-12) continue;
      return false;
    }
    double r = x / y;
    if (std::isnan(ratio)) ratio = r;
    else if (!close(r, ratio, o)) return false;
    ++n_valid;
  }
  return n_valid >= 2;
}

// Order-free matching of two multisets.
bool same_multiset(const std::vector<std::string>& a, const std::vector<std::string>& b, const EquivOptions& o,
                   int depth) {
  if (a.size() != b.size()) return false;
  if (a.size() > 64) return false;
  std::vector<bool> used(b.size(), false);
  for (const auto& x : a) {
    bool found = false;
    for (size_t k = 0; k < b.size() && !found; ++k) {
      if (!used[k] && equiv_rec(x, b[k], o, depth + 1)) {
        used[k] = true;
        found = true;
      }
    }
    if (!found) return false;
  }
  return true;
}

bool same_sequence(const std::vector<std::string>& a, const std::vector<std::string>& b, const EquivOptions& o,
                   int depth) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k)
    if (!equiv_rec(a[k], b[k], o, depth + 1)) return false;
  return true;
}

// Expands every \pm at once: "1 \pm \sqrt{2}" -> {"1 + \sqrt{2}", "1 - \sqrt{2}"}; n of them
// give 2^n strings without \pm, so comparing those never expands again. More than kMaxPm
// (2^3 = 8 variants) is not expanded: {s} (the answers are then compared as text).
constexpr size_t kMaxPm = 3;
// Next "\pm" at or after `from` that is the command itself, not \pmod or \pmb.
size_t find_pm(const std::string& s, size_t from) {
  for (size_t k = s.find("\\pm", from); k != std::string::npos; k = s.find("\\pm", k + 3))
    if (k + 3 >= s.size() || !std::isalpha(static_cast<unsigned char>(s[k + 3]))) return k;
  return std::string::npos;
}
std::vector<std::string> expand_pm(const std::string& s) {
  std::vector<size_t> at;
  for (size_t k = find_pm(s, 0); k != std::string::npos; k = find_pm(s, k + 3)) {
    if (at.size() == kMaxPm) return {s};
    at.push_back(k);
  }
  if (at.empty()) return {s};
  std::vector<std::string> out;
  for (size_t mask = 0; mask < (size_t(1) << at.size()); ++mask) {
    std::string t;
    size_t from = 0;
    for (size_t i = 0; i < at.size(); ++i) {
      t.append(s, from, at[i] - from);
      t += (mask >> i) & 1 ? '-' : '+';
      from = at[i] + 3;
    }
    t.append(s, from, std::string::npos);
    out.push_back(trim(t));
  }
  return out;
}

bool equiv_rec(const std::string& a, const std::string& b, const EquivOptions& o, int depth) {
  if (depth > kMaxRecursion) return remove_spaces(a) == remove_spaces(b);
  std::string na = remove_spaces(a), nb = remove_spaces(b);
  if (na == nb) return true;
  if (na.empty() || nb.empty()) return false;

  // relations: "x <= 5" vs "5 >= x"; chains "a < x < b" vs the interval "(a,b)"
  Relation ra = parse_relation(a), rb = parse_relation(b);
  if (ra.kind == Relation::Kind::Single && rb.kind == Relation::Kind::Single) return same_relation(ra, rb, o);
  if (ra.kind == Relation::Kind::Chain) return equiv_rec(ra.interval, rb.kind == Relation::Kind::Chain ? rb.interval : b, o, depth + 1);
  if (rb.kind == Relation::Kind::Chain) return equiv_rec(a, rb.interval, o, depth + 1);
  // "x < 1" vs the interval "(-\infty,1)"
  if (ra.kind == Relation::Kind::Single && rb.kind == Relation::Kind::None) {
    if (auto i = relation_as_interval(ra)) return equiv_rec(*i, b, o, depth + 1);
  }
  if (rb.kind == Relation::Kind::Single && ra.kind == Relation::Kind::None) {
    if (auto i = relation_as_interval(rb)) return equiv_rec(a, *i, o, depth + 1);
  }
  if (ra.kind != Relation::Kind::None || rb.kind != Relation::Kind::None) {
    // one relation against a non-relation: compare after dropping a bare left side ("x > 5" vs "> 5" is rare)
    if (ra.kind != rb.kind) return false;
  }
  // two equations: "2x+4y-3=0" vs "y=-x/2+3/4" (differences proportional)
  auto qa = split_top(a, "="), qb = split_top(b, "=");
  if (qa.size() == 2 && qb.size() == 2 && !qa[0].empty() && !qa[1].empty() && !qb[0].empty() && !qb[1].empty() &&
      equations_equivalent(qa, qb, o))
    return true;

  std::string sa = strip_lhs(a), sb = strip_lhs(b);
  if (sa != a || sb != b) return equiv_rec(sa, sb, o, depth + 1);

  bool pa = find_pm(a, 0) != std::string::npos, pb = find_pm(b, 0) != std::string::npos;
  Parsed A = shape_of(a), B = shape_of(b);
  if ((pa || pb) && (A.shape == Shape::Scalar || A.shape == Shape::List || A.shape == Shape::Set) &&
      (B.shape == Shape::Scalar || B.shape == Shape::List || B.shape == Shape::Set)) {
    std::vector<std::string> xa, xb;
    for (auto& it : A.items)
      for (auto& x : expand_pm(it)) xa.push_back(x);
    for (auto& it : B.items)
      for (auto& x : expand_pm(it)) xb.push_back(x);
    if (xa.size() == A.items.size() && xb.size() == B.items.size()) return false;  // \pm not expandable
    return same_multiset(xa, xb, o, depth);
  }
  if (A.shape == Shape::Matrix || B.shape == Shape::Matrix) {
    if (A.shape != B.shape) {
      // a column vector equals a tuple of the same entries
      auto flat = [](const Parsed& p) {
        std::vector<std::string> v;
        for (auto& x : p.items)
          if (x.rfind("#row", 0) != 0) v.push_back(x);
        return v;
      };
      const Parsed& M = A.shape == Shape::Matrix ? A : B;
      const Parsed& T = A.shape == Shape::Matrix ? B : A;
      bool column = std::all_of(M.items.begin(), M.items.end(), [](const std::string& x) { return x.rfind("#row", 0) != 0 || x == "#row1"; });
      if (T.shape == Shape::Tuple && T.open == '(' && column) return same_sequence(flat(M), T.items, o, depth);
      return false;
    }
    if (A.items.size() != B.items.size()) return false;
    for (size_t k = 0; k < A.items.size(); ++k) {
      bool ra = A.items[k].rfind("#row", 0) == 0, rb = B.items[k].rfind("#row", 0) == 0;
      if (ra || rb) {
        if (A.items[k] != B.items[k]) return false;
      } else if (!equiv_rec(A.items[k], B.items[k], o, depth + 1)) {
        return false;
      }
    }
    return true;
  }
  if (A.shape == Shape::Union || B.shape == Shape::Union) {
    if (A.shape != B.shape) return false;
    return same_multiset(A.items, B.items, o, depth);
  }
  if (A.shape == Shape::Tuple || B.shape == Shape::Tuple) {
    if (A.shape == Shape::Tuple && B.shape == Shape::Tuple)
      return A.open == B.open && A.close == B.close && same_sequence(A.items, B.items, o, depth);
    return false;
  }
  if (A.shape == Shape::Set || A.shape == Shape::List || B.shape == Shape::Set || B.shape == Shape::List) {
    // a set/list against another set/list: order-free; a one-element set equals its element
    return same_multiset(A.items, B.items, o, depth);
  }
  // single items: drop one pair of grouping parentheses "(9+1)" -> "9+1"
  std::string ua = a, ub = b;
  bool changed = false;
  auto unwrappable = [](const std::string& x) {
    return one_group(x) && (x[0] == '(' || x[0] == '{' || (x[0] == '[' && x.find("\\begin") == 1));
  };
  if (unwrappable(ua)) {
    ua = trim(ua.substr(1, ua.size() - 2));
    changed = true;
  }
  if (unwrappable(ub)) {
    ub = trim(ub.substr(1, ub.size() - 2));
    changed = true;
  }
  if (changed) return equiv_rec(ua, ub, o, depth + 1);
  return scalar_equal(a, b, o);
}

}  // namespace

void check_options(const EquivOptions& o) {
  if (!(o.rel_tol >= 0) || o.rel_tol >= 1)
    throw UsageError("grading: rel_tol must be in [0, 1), got " + std::to_string(o.rel_tol));
  if (!(o.abs_tol >= 0)) throw UsageError("grading: abs_tol must be >= 0, got " + std::to_string(o.abs_tol));
  if (o.n_points < 1 || o.n_points > 1000)
    throw UsageError("grading: n_points must be in [1, 1000], got " + std::to_string(o.n_points));
  if (o.max_length == 0) throw UsageError("grading: max_length must be > 0");
}

bool answers_equivalent(std::string_view answer, std::string_view reference, const EquivOptions& o) {
  if (answer.size() > o.max_length || reference.size() > o.max_length)
    return remove_spaces(answer) == remove_spaces(reference);
  std::string a = normalize_answer(answer), b = normalize_answer(reference);
  if (a.empty() || b.empty()) return false;
  if (equiv_rec(a, b, o, 0)) return true;
  // A number written with a percent sign is also that number over 100: "25\%" equals 25 (above)
  // and 0.25. An answer without the sign is read as written: 0.25 is not 25.
  auto over_100 = [](std::string_view raw, const std::string& norm) -> std::optional<std::string> {
    if (raw.find('%') == std::string_view::npos || shape_of(norm).shape != Shape::Scalar) return std::nullopt;
    auto e = parse_expr(norm);
    if (!e) return std::nullopt;
    std::vector<std::string> vars;
    collect_vars(*e, vars);
    if (!vars.empty()) return std::nullopt;
    return "(" + norm + ")/100";
  };
  if (auto pa = over_100(answer, a); pa && equiv_rec(*pa, b, o, 0)) return true;
  if (auto pb = over_100(reference, b); pb && equiv_rec(a, *pb, o, 0)) return true;
  // A decimal comma in the answer against a decimal point in the reference: "1,22" is 1.22. Not
  // when the comma can be a thousands separator (three digits after it, "1,000"), except after a
  // lone 0 ("0,111"). Not in the reference: benchmarks write two-value answers so ("7,4" goats
  // and helicopters), and the answer 7.4 is not one of them.
  auto decimal_comma = [](const std::string& x) -> std::optional<std::string> {
    size_t c = x.find(',');
    if (c == std::string::npos || x.find(',', c + 1) != std::string::npos) return std::nullopt;
    size_t i = x[0] == '-' ? 1 : 0;
    auto digits = [&](size_t from, size_t to) {
      if (from >= to) return false;
      for (size_t k = from; k < to; ++k)
        if (!std::isdigit(uint8_t(x[k]))) return false;
      return true;
    };
    if (!digits(i, c) || !digits(c + 1, x.size())) return std::nullopt;
    if (x.size() - c - 1 == 3 && !(c - i == 1 && x[i] == '0')) return std::nullopt;
    std::string y = x;
    y[c] = '.';
    return y;
  };
  auto has_point = [](const std::string& x) { return x.find('.') != std::string::npos && x.find(',') == std::string::npos; };
  if (auto da = decimal_comma(a); da && has_point(b) && equiv_rec(*da, b, o, 0)) return true;
  return false;
}

}  // namespace rdpt
