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
    bool ok = all_digits(parts[0]) && parts[0].size() <= 3;
    for (size_t k = 1; ok && k < parts.size(); ++k) ok = all_digits(parts[k]) && parts[k].size() == 3;
    if (!ok) return s;
    std::string joined;
    for (auto& x : parts) joined += x;
    return sign + joined + frac;
  }
  return s;
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

std::string normalize_answer(std::string_view in) {
  std::string s(in);
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
  replace_all(s, "\xc2\xb0", "");  // degree sign
  replace_all(s, "\\%", "");
  replace_all(s, "%", "");
  s = rewrite_commands(std::move(s));
  drop_empty_scripts(s);
  // collapse spaces
  std::string t;
  for (char c : s) {
    if (c == ' ' && (t.empty() || t.back() == ' ')) continue;
    t += c;
  }
  s = trim(t);
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
    for (const std::string pat : {std::string("^{ ") + suf + " }", std::string("^{") + suf + "}", std::string("^ ") + suf + " "}) {
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
