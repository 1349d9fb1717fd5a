// LaTeX/text normalisation of answers before comparison (see docs/grade.md for the list).
#include <algorithm>
#include <cctype>

#include "core/grade_internal.h"
#include "rdpt/grade.h"

namespace rdpt {
namespace grade_detail {

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(uint8_t(s[b]))) ++b;
  while (e > b && std::isspace(uint8_t(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string remove_spaces(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    if (!std::isspace(uint8_t(c))) out += c;
  return out;
}

size_t match_brace(std::string_view s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\') {
      ++i;  // \{ \} \\ do not count
      continue;
    }
    if (c == '{') ++depth;
    if (c == '}' && --depth == 0) return i + 1;
  }
  return std::string_view::npos;
}

namespace {

bool is_open(char c) { return c == '(' || c == '[' || c == '{'; }
bool is_close(char c) { return c == ')' || c == ']' || c == '}'; }

// Replaces every occurrence of `from` by `to`.
void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  size_t pos = 0;
  std::string out;
  out.reserve(s.size());
  for (;;) {
    size_t k = s.find(from, pos);
    if (k == std::string::npos) break;
    out.append(s, pos, k - pos);
    out += to;
    pos = k + from.size();
  }
  out.append(s, pos, std::string::npos);
  s.swap(out);
}

const char* const kUnwrap[] = {"text",    "textbf",  "textit",  "textnormal", "textrm",     "texttt",
                               "textsf",  "mathrm",  "mathbf",  "mathit",     "mathsf",     "mbox",
                               "hbox",    "operatorname", "boldsymbol", "mathnormal", "boxed", "fbox",
                               "emph",    "textup"};
const char* const kDrop[] = {"left",  "right", "displaystyle", "textstyle", "limits", "quad", "qquad", "big",
                             "Big",   "bigl",  "bigr",         "Bigl",      "Bigr",   "bigg", "Bigg",  "circ",
                             "degree", "mathclap", "nonumber", "hfill", "therefore", "mathstrut", "strut",
                             "displaylimits", "!"};

// Replaces each occurrence of the word w (ASCII letters, any case, not inside a longer run of
// letters) by to.
void replace_word_ci(std::string& s, std::string_view w, std::string_view to) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    bool at = i + w.size() <= s.size() && (i == 0 || !std::isalpha(uint8_t(s[i - 1]))) &&
              (i + w.size() == s.size() || !std::isalpha(uint8_t(s[i + w.size()])));
    for (size_t k = 0; at && k < w.size(); ++k) at = std::tolower(uint8_t(s[i + k])) == w[k];
    if (at && (i == 0 || s[i - 1] != '\\')) {
      out += to;
      i += w.size();
    } else {
      out += s[i++];
    }
  }
  s.swap(out);
}

bool in_list(const char* const* b, const char* const* e, std::string_view name) {
  return std::any_of(b, e, [&](const char* x) { return name == x; });
}

// One pass over the LaTeX commands.
std::string rewrite_commands(std::string s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    if (c == '$') {
      ++i;
      continue;
    }
    if (c != '\\') {
      out += c;
      ++i;
      continue;
    }
    if (i + 1 >= s.size()) {
      ++i;
      continue;
    }
    char n = s[i + 1];
    if (!std::isalpha(uint8_t(n))) {
      switch (n) {
        case ',': case '!': case ';': case ':': case ' ': case '%': case '$': case '(': case ')':
        case '[': case ']': case '\n':
          out += ' ';
          i += 2;
          continue;
        default:
          out += c;
          out += n;  // \{ \} \\ kept
          i += 2;
          continue;
      }
    }
    size_t j = i + 1;
    while (j < s.size() && std::isalpha(uint8_t(s[j]))) ++j;
    std::string name = s.substr(i + 1, j - i - 1);
    if (in_list(std::begin(kUnwrap), std::end(kUnwrap), name)) {
      size_t k = j;
      while (k < s.size() && s[k] == ' ') ++k;
      if (k < s.size() && s[k] == '{') {
        size_t end = match_brace(s, k);
        if (end != std::string::npos) {
          // splice the content in place and go on scanning it
          std::string content = s.substr(k + 1, end - k - 2);
          s = s.substr(0, i) + " " + content + " " + s.substr(end);
          continue;
        }
      }
      i = j;
      continue;
    }
    if (in_list(std::begin(kDrop), std::end(kDrop), name)) {
      if (name == "circ" || name == "degree") {
        // drop a preceding ^ or ^{
        while (!out.empty() && (out.back() == ' ')) out.pop_back();
        if (!out.empty() && out.back() == '^') out.pop_back();
      }
      i = j;
      if ((name == "left" || name == "right") && i < s.size() && s[i] == '.') ++i;
      out += ' ';
      continue;
    }
    if (name == "dfrac" || name == "tfrac" || name == "cfrac") {
      out += "\\frac";
    } else if (name == "geq" || name == "ge" || name == "geqslant") {
      out += ">=";
    } else if (name == "leq" || name == "le" || name == "leqslant") {
      out += "<=";
    } else if (name == "neq" || name == "ne") {
      out += "!=";
    } else if (name == "lt") {
      out += "<";
    } else if (name == "gt") {
      out += ">";
    } else if (name == "cdot" || name == "times" || name == "ast") {
      out += "*";
    } else if (name == "div") {
      out += "/";
    } else if (name == "infin") {
      out += "\\infty";
    } else if (name == "varnothing") {
      out += "\\emptyset";
    } else if (name == "mathbb" && (s.compare(j, 3, "{R}") == 0 || s.compare(j, 2, " R") == 0)) {
      out += "(-\\infty,\\infty)";  // the real line as the interval a solver writes
      j += s[j] == '{' ? 3 : 2;
    } else {
      out += s.substr(i, j - i);
      // keep a separator so that "\pi r" does not become "\pir"
      if (j < s.size() && std::isalpha(uint8_t(s[j]))) out += ' ';
    }
    i = j;
  }
  return out;
}

// "^{\circ}" leftovers: "^{ }" and "^{}" after \circ was dropped.
void drop_empty_scripts(std::string& s) {
  for (;;) {
    size_t k = s.find("^{");
    bool changed = false;
    while (k != std::string::npos) {
      size_t e = k + 2;
      while (e < s.size() && s[e] == ' ') ++e;
      if (e < s.size() && s[e] == '}') {
        s.erase(k, e + 1 - k);
        changed = true;
        break;
      }
      k = s.find("^{", k + 2);
    }
    if (!changed) break;
  }
}

// "^{2}" -> "^2", "_{8}" -> "_8" when the braces hold one character.
void unbrace_single(std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if ((s[i] == '^' || s[i] == '_') && i + 3 < s.size() + 0 && s[i + 1] == '{' && s[i + 3] == '}' &&
        s[i + 2] != '\\' && s[i + 2] != '{' && s[i + 2] != '}') {
      out += s[i];
      out += s[i + 2];
      i += 3;
      continue;
    }
    out += s[i];
  }
  s.swap(out);
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(uint8_t(c)); });
}

// "1,000", "1,000.5", "1 000" (groups of three) -> digits only.
std::string strip_thousands(const std::string& s) {
  std::string body = s;
  std::string sign;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
    sign = body.substr(0, 1);
    body = body.substr(1);
  }
  std::string frac;
  size_t dot = body.find('.');
  if (dot != std::string::npos) {
    frac = body.substr(dot);
    body = body.substr(0, dot);
    if (!frac.empty() && !all_digits(frac.substr(1))) return s;
  }
  for (char sep : {',', ' '}) {
    if (body.find(sep) == std::string::npos) continue;
    std::vector<std::string> parts;
    size_t p = 0;
    for (;;) {
      size_t k = body.find(sep, p);
      parts.push_back(body.substr(p, k == std::string::npos ? std::string::npos : k - p));
      if (k == std::string::npos) break;
      p = k + 1;
    }
    if (parts.size() < 2) continue;
    bool ok = all_digits(parts[0]) && parts[0].size() <= 3 && parts[0][0] != '0';  // "0,111" is no thousands
    for (size_t k = 1; ok && k < parts.size(); ++k) ok = all_digits(parts[k]) && parts[k].size() == 3;
    if (!ok) return s;
    std::string joined;
    for (auto& x : parts) joined += x;
    return sign + joined + frac;
  }
  return s;
}

// ---------- mixed numbers (docs/grade.md, "Mixed numbers") ----------

// A \frac argument that is a digit string: "{12}", "{ 12 }", or one digit ("\frac12").
// Returns the index just past it (npos when it is something else) and the digits.
size_t digit_arg(std::string_view s, size_t i, std::string& digits) {
  while (i < s.size() && s[i] == ' ') ++i;
  if (i >= s.size()) return std::string_view::npos;
  if (std::isdigit(uint8_t(s[i]))) {
    digits.assign(1, s[i]);
    return i + 1;
  }
  if (s[i] != '{') return std::string_view::npos;
  size_t j = i + 1;
  while (j < s.size() && s[j] == ' ') ++j;
  size_t b = j;
  while (j < s.size() && std::isdigit(uint8_t(s[j]))) ++j;
  digits.assign(s.substr(b, j - b));
  while (j < s.size() && s[j] == ' ') ++j;
  if (digits.empty() || j >= s.size() || s[j] != '}') return std::string_view::npos;
  return j + 1;
}

// The whole part of a mixed number starts a term: not after a letter, digit, '.', a closing
// bracket, or (spaces skipped) an operator that would make it a factor or an exponent.
bool mixed_starts_term(std::string_view s, size_t i) {
  if (i == 0) return true;
  char c = s[i - 1];
  if (std::isalnum(uint8_t(c)) || std::string_view("._^\\})]|!'").find(c) != std::string_view::npos) return false;
  size_t k = i;
  while (k > 0 && s[k - 1] == ' ') --k;
  if (k == 0) return true;
  char p = s[k - 1];
  return !(std::isdigit(uint8_t(p)) || std::string_view("*/^_.").find(p) != std::string_view::npos);
}

// ... and the fraction ends it: not followed by a letter, digit, '^', '(', '{' or a command,
// nor (after spaces) by a command, bracket or single letter ("3 \frac{1}{2} \pi" is a
// product; "3\frac12 cups" is a mixed number with a unit).
bool mixed_ends_term(std::string_view s, size_t e) {
  if (e >= s.size()) return true;
  char c = s[e];
  if (c == '.') return !(e + 1 < s.size() && std::isdigit(uint8_t(s[e + 1])));
  if (c == '\\') return e + 1 < s.size() && !std::isalpha(uint8_t(s[e + 1]));  // "\}" ends it, "\pi" does not
  if (std::isalnum(uint8_t(c)) || std::string_view("^_!({'").find(c) != std::string_view::npos) return false;
  while (e < s.size() && s[e] == ' ') ++e;
  if (e >= s.size()) return true;
  if (std::string_view("\\({[").find(s[e]) != std::string_view::npos) return false;
  if (std::isalpha(uint8_t(s[e]))) return e + 1 < s.size() && std::isalpha(uint8_t(s[e + 1]));
  return true;
}

// a < b for digit strings (any length; leading zeros ignored).
bool digits_less(std::string_view a, std::string_view b) {
  a.remove_prefix(std::min(a.find_first_not_of('0'), a.size()));
  b.remove_prefix(std::min(b.find_first_not_of('0'), b.size()));
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

// "918\frac{1}{2}", "137 \frac12", "7 3/4" -> "(918+\frac{1}{2})": an integer followed by a
// fraction of two digit strings is a mixed number, not a product. Runs after \dfrac/\tfrac
// became \frac and \cdot became '*' (so "2\cdot\frac{1}{2}" stays a product).
std::string rewrite_mixed_numbers(const std::string& s) {
  if (s.find("\\frac") == std::string::npos && s.find('/') == std::string::npos) return s;
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) {
    if (!std::isdigit(uint8_t(s[i])) || (i > 0 && std::isdigit(uint8_t(s[i - 1])))) {
      out += s[i++];
      continue;
    }
    size_t j = i;
    while (j < s.size() && std::isdigit(uint8_t(s[j]))) ++j;
    size_t end = std::string::npos;
    std::string num, den;
    if (mixed_starts_term(s, i)) {
      size_t k = j;
      while (k < s.size() && s[k] == ' ') ++k;
      if (s.compare(k, 5, "\\frac") == 0 && !(k + 5 < s.size() && std::isalpha(uint8_t(s[k + 5])))) {
        size_t a = digit_arg(s, k + 5, num);
        if (a != std::string::npos) end = digit_arg(s, a, den);
      } else if (k == j + 1 && k < s.size() && std::isdigit(uint8_t(s[k]))) {  // plain "7 3/4"
        size_t a = k;
        while (a < s.size() && std::isdigit(uint8_t(s[a]))) ++a;
        size_t b = a + 1;
        while (b < s.size() && std::isdigit(uint8_t(s[b]))) ++b;
        // a proper fraction only ("12 345/2" is not a mixed number)
        if (a < s.size() && s[a] == '/' && b > a + 1 && digits_less(s.substr(k, a - k), s.substr(a + 1, b - a - 1))) {
          num = s.substr(k, a - k);
          den = s.substr(a + 1, b - a - 1);
          end = b;
        }
      }
    }
    bool zero_den = den.find_first_not_of('0') == std::string::npos;
    if (end != std::string::npos && !zero_den && mixed_ends_term(s, end)) {
      out += '(';
      out.append(s, i, j - i);
      out += "+\\frac{" + num + "}{" + den + "})";
      i = end;
      continue;
    }
    out.append(s, i, j - i);
    i = j;
  }
  return out;
}

// ---------- units in \text{...} (docs/grade.md, "Units") ----------

const char* const kUnitCommands[] = {"text", "textrm", "textnormal", "textup", "mathrm",
                                     "mbox", "hbox",   "si",         "unit"};

// Name of the command at s[i] == '\\' (letters), or "" for a control symbol like "\,".
std::string_view command_at(std::string_view s, size_t i) {
  size_t j = i + 1;
  while (j < s.size() && std::isalpha(uint8_t(s[j]))) ++j;
  return s.substr(i + 1, j - i - 1);
}

// Index past the spacing that may separate a number from its unit, or units from each
// other: spaces, "\," "\;" "\:" "\!" "\ " "~". With `products`, also '/', '*' and \cdot.
size_t skip_unit_spacing(std::string_view s, size_t i, bool products) {
  for (;;) {
    if (i < s.size() && (s[i] == ' ' || s[i] == '~' || (products && (s[i] == '/' || s[i] == '*')))) {
      ++i;
    } else if (i + 1 < s.size() && s[i] == '\\' && std::string_view(",;:! ").find(s[i + 1]) != std::string_view::npos) {
      i += 2;
    } else if (products && i < s.size() && s[i] == '\\' && command_at(s, i) == "cdot") {
      i += 5;
    } else {
      return i;
    }
  }
}

// The content of a \text{...} group reads as a unit: it has a letter (any non-ASCII byte
// counts: "Å", "μ"), no brackets or separators, and is not "and"/"or" or an upright e or i.
bool unit_like(std::string_view content) {
  bool letter = false;
  for (size_t i = 0; i < content.size(); ++i) {
    char c = content[i];
    if (c == '\\' && i + 1 < content.size() && !std::isalpha(uint8_t(content[i + 1]))) {
      ++i;  // "\," "\;" "\ " inside the unit
      continue;
    }
    if (std::string_view(",;=()[]<>|&$").find(c) != std::string_view::npos) return false;
    if (std::isalpha(uint8_t(c)) || uint8_t(c) >= 0x80) letter = true;
  }
  if (!letter) return false;
  std::string core = trim(content);
  while (!core.empty() && core.front() == '~') core.erase(0, 1);
  if (core == "e" || core == "i") return false;
  for (size_t i = 0; i < core.size();) {  // words
    if (!std::isalpha(uint8_t(core[i]))) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < core.size() && std::isalpha(uint8_t(core[j]))) ++j;
    std::string_view w(core.data() + i, j - i);
    if ((w == "and" || w == "or") && (i == 0 || core[i - 1] != '\\')) return false;
    i = j;
  }
  return true;
}

// A unit's braces close within kMaxUnit characters; longer text is not a unit (and bounding the
// scan keeps nested or repeated groups linear).
constexpr size_t kMaxUnit = 64;
size_t match_unit_brace(std::string_view s, size_t open) { return match_brace(s.substr(0, open + kMaxUnit + 2), open); }

// Index of the '{' of the group after the command at s[i] ("\text {x}" allows the space), or npos.
size_t group_open(std::string_view s, size_t i) {
  size_t k = i + 1 + command_at(s, i).size();
  while (k < s.size() && s[k] == ' ') ++k;
  return k < s.size() && s[k] == '{' ? k : std::string_view::npos;
}

// One unit at s[i]: "\text{ m/s}" with an optional exponent "^2", "^{-1}"; also the symbols
// \Omega and \AA, and "\mu" before a unit ("\mu\text{m}"). Index past it, or npos.
size_t unit_group(std::string_view s, size_t i) {
  if (i >= s.size() || s[i] != '\\') return std::string_view::npos;
  std::string_view name = command_at(s, i);
  size_t end = std::string_view::npos;
  if (name == "Omega" || name == "AA" || name == "ohm" || name == "angstrom") {
    end = i + 1 + name.size();
  } else if (name == "mu" || name == "micro") {
    size_t k = i + 1 + name.size();
    while (k < s.size() && s[k] == ' ') ++k;
    return command_at(s, k) == "mu" ? std::string_view::npos : unit_group(s, k);
  } else if (in_list(std::begin(kUnitCommands), std::end(kUnitCommands), name)) {
    size_t k = group_open(s, i);
    if (k == std::string_view::npos) return k;
    end = match_unit_brace(s, k);
    if (end == std::string_view::npos || !unit_like(s.substr(k + 1, end - k - 2))) return std::string_view::npos;
  } else {
    return std::string_view::npos;
  }
  size_t m = end;
  while (m < s.size() && s[m] == ' ') ++m;
  if (m >= s.size() || s[m] != '^') return end;
  ++m;
  while (m < s.size() && s[m] == ' ') ++m;
  if (m < s.size() && s[m] == '{') {
    size_t e = match_brace(s, m);
    if (e == std::string_view::npos) return end;
    std::string_view ex = s.substr(m + 1, e - m - 2);
    bool numeric = !ex.empty() && std::all_of(ex.begin(), ex.end(), [](char c) {
      return std::isdigit(uint8_t(c)) || c == '-' || c == '+' || c == ' ' || c == '.';
    });
    return numeric ? e : end;
  }
  if (m < s.size() && s[m] == '-') ++m;
  if (m < s.size() && std::isdigit(uint8_t(s[m]))) return m + 1;
  return end;
}

// What may follow a trailing unit: the end, a separator or closing bracket of the enclosing
// group, spacing, '$', "\right", or a final full stop.
bool unit_is_trailing(std::string_view s, size_t e) {
  for (;;) {
    e = skip_unit_spacing(s, e, false);
    if (e < s.size() && s[e] == '$') {
      ++e;
      continue;
    }
    if (e < s.size() && s[e] == '\\' && command_at(s, e) == "right") {
      e += 6;
      continue;
    }
    break;
  }
  if (e >= s.size()) return true;
  if (std::string_view(",;)]}").find(s[e]) != std::string_view::npos) return true;
  if (s[e] == '\\' && e + 1 < s.size() && std::string_view("})]").find(s[e + 1]) != std::string_view::npos) return true;
  if (s[e] == '.') return unit_is_trailing(s, e + 1) && (e + 1 >= s.size() || s[e + 1] != '.');
  return false;
}

// Relation commands end the number before a unit ("v \approx 5 \text{ m/s}").
bool separates_terms(std::string_view name) {
  static const char* const kRel[] = {"approx", "le", "ge", "leq", "geq", "lt", "gt", "neq", "ne",
                                     "sim", "simeq", "in", "to", "quad", "qquad", "colon"};
  return in_list(std::begin(kRel), std::end(kRel), name);
}

// "25^\circ C", "25^{\circ} F", "25°C" -> the scale letter after a degree sign is a unit:
// dropped (the sign itself is dropped later). "\text{C}" after it is a \text unit.
void drop_temperature_scale(std::string& s) {
  for (const std::string_view mark : {"^\\circ", "^{\\circ}", "\xc2\xb0", "\\degree"}) {
    for (size_t k = s.find(mark); k != std::string::npos; k = s.find(mark, k + 1)) {
      size_t e = k + mark.size();
      if (mark == "\\degree" && e < s.size() && std::isalpha(uint8_t(s[e]))) continue;
      size_t c = e;
      while (c < s.size() && s[c] == ' ') ++c;
      if (c < s.size() && (s[c] == 'C' || s[c] == 'F') && (c + 1 == s.size() || !std::isalnum(uint8_t(s[c + 1]))))
        s.erase(e, c + 1 - e);
    }
  }
}

}  // namespace

std::string normalize_impl(std::string_view in, bool strip_units);

namespace {

// The text before a unit is a number: it normalises to an expression without variables.
bool numeric_head(std::string_view head) {
  if (head.size() > 256) return false;
  std::string h = normalize_impl(head, false);
  if (h.empty()) return false;
  auto e = parse_expr(h);
  if (!e) return false;
  std::vector<std::string> vars;
  collect_vars(*e, vars);
  return std::all_of(vars.begin(), vars.end(), [](const std::string& v) { return v == "e"; });
}

// Drops every unit (chain) "\text{...}" that ends its group or the answer and follows a number
// of the same group: "9.8 \text{ m/s}^2" -> "9.8", "(3\text{ cm}, 4\text{ cm})" -> "(3, 4)",
// "6 \mathrm{~kg} \cdot \mathrm{m}^{2} / \mathrm{s}^{2}" -> "6". "\text{(C)}" and "\text{east}"
// are kept (nothing numeric before them).
std::string strip_text_units(const std::string& s) {
  if (s.find('\\') == std::string::npos) return s;
  std::string out;
  out.reserve(s.size());
  std::vector<size_t> seg{0};  // where (in out) the current term starts, one per bracket depth
  size_t tried_to = 0;         // end of the last unit chain that was kept: no chain starts inside it
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size()) {
      std::string_view name = command_at(s, i);
      if (name.empty()) {  // control symbol: "\{" "\}" open and close a set, the rest is copied
        char n = s[i + 1];
        out += c;
        out += n;
        i += 2;
        if (n == '{') seg.push_back(out.size());
        else if (n == '}' && seg.size() > 1) seg.pop_back();
        continue;
      }
      size_t e = i < tried_to ? std::string_view::npos : unit_group(s, i);
      if (e != std::string_view::npos) {
        for (;;) {  // a chain of units: "\mathrm{~m} / \mathrm{s}^{2}"
          size_t next = unit_group(s, skip_unit_spacing(s, e, true));
          if (next == std::string_view::npos) break;
          e = next;
        }
        if (unit_is_trailing(s, e)) {
          std::string_view head = std::string_view(out).substr(seg.back());
          if (numeric_head(head)) {
            out += ' ';
            i = e;
            continue;
          }
          // the number inside the text: "\text{5 m/s}" -> "5"
          size_t k = group_open(s, i), close = k == std::string_view::npos ? k : match_unit_brace(s, k);
          bool split = false;
          if (trim(head).empty() && close != std::string_view::npos) {
            std::string_view content = std::string_view(s).substr(k + 1, close - k - 2);
            for (size_t p = content.find(' '); p != std::string_view::npos && !split; p = content.find(' ', p + 1)) {
              std::string unit = trim(content.substr(p));
              split = !unit.empty() && (std::isalpha(uint8_t(unit[0])) || uint8_t(unit[0]) >= 0x80 || unit[0] == '\\') &&
                      numeric_head(content.substr(0, p));
              if (split) out.append(content.substr(0, p)) += ' ';
            }
          }
          if (split) {
            i = e;
            continue;
          }
        }
        tried_to = e;
      }
      out.append(s, i, name.size() + 1);
      i += name.size() + 1;
      if (separates_terms(name)) seg.back() = out.size();
      continue;
    }
    out += c;
    ++i;
    if (c == '(' || c == '[' || c == '{') seg.push_back(out.size());
    else if ((c == ')' || c == ']' || c == '}') && seg.size() > 1) seg.pop_back();
    else if (std::string_view(",;=<>:").find(c) != std::string_view::npos) seg.back() = out.size();
  }
  return out;
}

}  // namespace

std::vector<std::string> split_top(std::string_view s, std::string_view sep) {
  std::vector<std::string> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size() && !std::isalpha(uint8_t(s[i + 1])) && s[i + 1] != '{' && s[i + 1] != '}') {
      if (depth == 0 && s.substr(i, sep.size()) == sep) {
      } else {
        ++i;
        continue;
      }
    }
    if (is_open(c)) ++depth;
    else if (is_close(c)) depth = std::max(0, depth - 1);
    if (depth == 0 && s.substr(i, sep.size()) == sep) {
      // a command separator (\cup) must not be the prefix of a longer command
      if (sep[0] == '\\' && i + sep.size() < s.size() && std::isalpha(uint8_t(s[i + sep.size()]))) continue;
      out.push_back(trim(s.substr(start, i - start)));
      start = i + sep.size();
      i = start - 1;
    }
  }
  out.push_back(trim(s.substr(start)));
  return out;
}

bool one_group(std::string_view s) {
  if (s.size() < 2 || !is_open(s[0]) || !is_close(s.back())) return false;
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size() && (s[i + 1] == '\\')) {
      ++i;
      continue;
    }
    if (is_open(c)) ++depth;
    else if (is_close(c)) {
      if (--depth == 0 && i + 1 != s.size()) return false;
    }
  }
  return depth == 0;
}

}  // namespace grade_detail

using namespace grade_detail;

std::string normalize_answer(std::string_view in) { return normalize_impl(in, true); }

// strip_units: drop trailing \text{...} units after a number (off when checking that number).
std::string grade_detail::normalize_impl(std::string_view in, bool strip_units) {
  std::string s(in);
  // '~' (LaTeX's tie), no-break, figure, thin, hair and narrow no-break spaces are spaces
  for (const char* sp : {"~", "\xc2\xa0", "\xe2\x80\x87", "\xe2\x80\x89", "\xe2\x80\x8a", "\xe2\x80\xaf"})
    replace_all(s, sp, " ");
  // Unicode math symbols as their LaTeX or ASCII forms: pi, infinity, times, dot operators, the
  // minus sign (U+2212), square root, and the relations
  for (auto [from, to] : {std::pair<const char*, const char*>{"\xcf\x80", "\\pi "}, {"\xe2\x88\x9e", "\\infty "},
                          {"\xc3\x97", "*"}, {"\xc2\xb7", "*"}, {"\xe2\x8b\x85", "*"}, {"\xe2\x88\x92", "-"},
                          {"\xe2\x88\x9a", "\\sqrt "}, {"\xe2\x89\xa4", "<="}, {"\xe2\x89\xa5", ">="},
                          {"\xe2\x89\xa0", "!="}})
    replace_all(s, from, to);
  replace_all(s, "\r", " ");
  replace_all(s, "\n", " ");
  replace_all(s, "\t", " ");
  replace_all(s, "{,}", "");
  replace_all(s, "{, }", "");
  // "\\left" written with a doubled backslash (escaped text): one backslash, outside matrices
  if (s.find("begin{") == std::string::npos) {
    std::string u;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\\' && i + 2 < s.size() && s[i + 1] == '\\' && std::isalpha(uint8_t(s[i + 2]))) continue;
      u += s[i];
    }
    s.swap(u);
  }
  replace_all(s, ",\\!", ",");
  drop_temperature_scale(s);
  replace_all(s, "\xc2\xb0", "");  // degree sign
  replace_all(s, "\\%", "");
  replace_all(s, "%", "");
  if (strip_units) s = strip_text_units(s);
  s = rewrite_commands(std::move(s));
  drop_empty_scripts(s);
  // collapse spaces
  std::string t;
  for (char c : s) {
    if (c == ' ' && (t.empty() || t.back() == ' ')) continue;
    t += c;
  }
  s = trim(t);
  replace_word_ci(s, "infinity", "\\infty");  // "\text{infinity}", "-infinity"
  s = rewrite_mixed_numbers(s);
  // thousands separators written "1,\! 000": remove the space after ',' between digit groups
  {
    std::string u;
    for (size_t i = 0; i < s.size(); ++i) {
      u += s[i];
      if (s[i] == ',' && i > 0 && std::isdigit(uint8_t(s[i - 1])) && in.find(",\\!") != std::string_view::npos) {
        while (i + 1 < s.size() && s[i + 1] == ' ') ++i;
      }
    }
    s.swap(u);
  }
  // ordinals "12^{th}" (after \text{th} was unwrapped)
  for (const char* suf : {"th", "st", "nd", "rd"}) {
    for (const std::string& pat : {std::string("^{ ") + suf + " }", std::string("^{") + suf + "}", std::string("^ ") + suf + " "}) {
      replace_all(s, pat, " ");
    }
  }
  // a leading "=" (from "... = 10/9")
  while (!s.empty() && (s.front() == '=' || s.front() == ' ')) s.erase(0, 1);
  // trailing punctuation
  while (!s.empty() && (s.back() == '.' || s.back() == ',' || s.back() == ';' || s.back() == ' ')) s.pop_back();
  while (!s.empty() && s.front() == ' ') s.erase(0, 1);
  unbrace_single(s);
  // a whole answer wrapped in braces: {x} -> x
  while (s.size() >= 2 && s.front() == '{' && s.back() == '}' && match_brace(s, 0) == s.size()) s = trim(s.substr(1, s.size() - 2));
  s = strip_thousands(s);
  return s;
}

}  // namespace rdpt
