// Final-answer extraction (last \boxed{...} after the reasoning, multiple-choice letters,
// optional free-text fallbacks) and grade_response. Linear time in the response length.
#include <algorithm>
#include <cctype>
#include <vector>

#include "core/grade_internal.h"
#include "rdpt/grade.h"

namespace rdpt {

using namespace grade_detail;

namespace {

constexpr size_t kNoMatch = size_t(-1);
constexpr size_t kTooDeep = size_t(-2);

// For each '{' in s (escaped \{ excluded) the index one past its matching '}', kNoMatch when
// unterminated, or kTooDeep when something inside nests deeper than max_depth relative to it.
// One linear pass; only braces at positions listed in `wanted` are recorded.
struct BraceMatcher {
  std::vector<size_t> close_of;  // indexed by position; sized s.size() (lazy: only for '{')
  explicit BraceMatcher(std::string_view s, size_t max_depth) : close_of(s.size(), kNoMatch) {
    struct Open {
      size_t pos;
      size_t depth_inside;  // deepest nesting seen inside, relative to this brace
    };
    std::vector<Open> stack;
    for (size_t i = 0; i < s.size(); ++i) {
      char c = s[i];
      if (c == '\\') {
        ++i;
        continue;
      }
      if (c == '{') {
        stack.push_back({i, 0});
      } else if (c == '}' && !stack.empty()) {
        Open top = stack.back();
        stack.pop_back();
        close_of[top.pos] = top.depth_inside > max_depth ? kTooDeep : i + 1;
        if (!stack.empty()) stack.back().depth_inside = std::max(stack.back().depth_inside, top.depth_inside + 1);
      }
    }
  }
};

bool starts_with_at(std::string_view s, size_t i, std::string_view t) { return s.substr(i, t.size()) == t; }

std::string trim_answer(std::string_view s) {
  std::string t = trim(s);
  while (!t.empty() && (t.back() == '.' || t.back() == ',')) t.pop_back();
  return trim(t);
}

struct BoxResult {
  bool found = false;            // a \boxed or \fbox occurrence exists
  std::optional<std::string> answer;
  std::string method;
  size_t offset = 0;
};

BoxResult last_box(std::string_view region, size_t base, size_t max_depth) {
  BoxResult r;
  // last occurrence of \boxed or \fbox
  size_t pb = region.rfind("\\boxed"), pf = region.rfind("\\fbox");
  size_t p = kNoMatch;
  std::string method;
  if (pb != std::string_view::npos) {
    p = pb;
    method = "boxed";
  }
  if (pf != std::string_view::npos && (p == kNoMatch || pf > p)) {
    p = pf;
    method = "fbox";
  }
  if (p == kNoMatch) return r;
  r.found = true;
  size_t i = p + (method == "boxed" ? 6 : 5);
  while (i < region.size() && (region[i] == ' ' || region[i] == '\t')) ++i;
  r.method = method;
  if (i < region.size() && region[i] == '{') {
    BraceMatcher m(region.substr(i), max_depth);
    size_t end = m.close_of[0];
    if (end == kNoMatch || end == kTooDeep) return r;  // unterminated or too deep: no answer
    std::string content = trim(region.substr(i + 1, end - 2));
    if (content.empty()) return r;
    r.answer = content;
    r.offset = base + i + 1;
    return r;
  }
  // "\boxed 5": up to whitespace or '$'
  if (i < region.size() && std::isalpha(uint8_t(region[i])) && i == p + 6) return r;  // \boxedfoo: not a box
  size_t j = i;
  while (j < region.size() && !std::isspace(uint8_t(region[j])) && region[j] != '$') ++j;
  std::string content = trim_answer(region.substr(i, j - i));
  if (content.empty()) return r;
  r.answer = content;
  r.method = method + "-nobrace";
  r.offset = base + i;
  return r;
}

// Last "answer ... X" with X a choice letter.
std::optional<std::pair<char, size_t>> last_letter(std::string_view region, std::string_view choices) {
  std::optional<std::pair<char, size_t>> best;
  std::string low(region);
  for (auto& c : low) c = char(std::tolower(uint8_t(c)));
  size_t pos = 0;
  while ((pos = low.find("answer", pos)) != std::string::npos) {
    size_t i = pos + 6;
    pos = i;
    // skip connectors: spaces, ':', '*', "is", "$", "\text{", "\textbf{", '(', '{', "option", "choice"
    for (int guard = 0; guard < 12 && i < region.size(); ++guard) {
      size_t before = i;
      while (i < region.size() && (std::isspace(uint8_t(region[i])) || region[i] == ':' || region[i] == '*' ||
                                   region[i] == '$' || region[i] == '(' || region[i] == '{' || region[i] == '['))
        ++i;
      for (std::string_view w : {"is", "\\text", "\\textbf", "\\mathrm", "\\boxed", "option", "choice", "should be",
                                 "would be", "be"}) {
        if (starts_with_at(low, i, w) && (i + w.size() >= low.size() || !std::isalpha(uint8_t(low[i + w.size()])))) {
          i += w.size();
          break;
        }
      }
      if (i == before) break;
    }
    if (i < region.size() && choices.find(region[i]) != std::string_view::npos &&
        (i + 1 >= region.size() || !std::isalnum(uint8_t(region[i + 1])))) {
      best = std::make_pair(region[i], i);
    }
  }
  return best;
}

// Free-text fallbacks: "final answer is X", the last $...$ / \(...\) / \[...\], the last number.
std::optional<std::pair<std::string, std::string>> text_fallback(std::string_view region) {
  std::string low(region);
  for (auto& c : low) c = char(std::tolower(uint8_t(c)));
  for (std::string_view key : {"final answer is", "the answer is", "answer is", "answer:"}) {
    size_t k = low.rfind(key);
    if (k == std::string::npos) continue;
    size_t i = k + key.size();
    size_t j = i;
    // up to the end of the sentence (". " or newline) but not inside $...$
    bool in_math = false;
    for (; j < region.size(); ++j) {
      char c = region[j];
      if (c == '$') in_math = !in_math;
      if (!in_math && (c == '\n' || (c == '.' && (j + 1 == region.size() || std::isspace(uint8_t(region[j + 1]))))))
        break;
    }
    std::string t = trim_answer(region.substr(i, j - i));
    // "The largest $n$ is 34" -> "34"
    size_t is = t.rfind(" is ");
    if (is != std::string::npos && t.find('$', is) == std::string::npos) t = trim_answer(t.substr(is + 4));
    if (!t.empty()) return std::make_pair(t, std::string("text"));
  }
  // last math span
  struct Delim {
    std::string_view open, close;
  };
  size_t best_pos = std::string::npos;
  std::string best;
  for (Delim d : {Delim{"$$", "$$"}, Delim{"\\[", "\\]"}, Delim{"\\(", "\\)"}, Delim{"$", "$"}}) {
    size_t e = region.rfind(d.close);
    if (e == std::string::npos || e == 0) continue;
    size_t b = region.rfind(d.open, e - 1);
    if (b == std::string::npos) continue;
    if (d.open == "$" && b + 1 > e) continue;
    size_t cb = b + d.open.size();
    if (cb > e) continue;
    std::string t = trim(region.substr(cb, e - cb));
    if (t.empty()) continue;
    if (best_pos == std::string::npos || e > best_pos) {
      best_pos = e;
      best = t;
    }
  }
  if (!best.empty()) return std::make_pair(best, std::string("math"));
  // last number not glued to letters ("AZYUK2A" holds none)
  size_t j = region.size(), i = 0;
  for (;;) {
    while (j > 0 && !std::isdigit(uint8_t(region[j - 1]))) --j;
    if (j == 0) return std::nullopt;
    i = j;
    while (i > 0 && (std::isdigit(uint8_t(region[i - 1])) || region[i - 1] == '.' || region[i - 1] == ',')) --i;
    bool glued = (i > 0 && std::isalpha(uint8_t(region[i - 1]))) ||
                 (j < region.size() && std::isalpha(uint8_t(region[j])) && !(j + 1 < region.size() && region[j] == 'm'));
    if (!glued) break;
    j = i;
  }
  if (i > 0 && region[i - 1] == '-') --i;
  std::string t = trim_answer(region.substr(i, j - i));
  while (!t.empty() && (t.front() == '.' || t.front() == ',') && t.size() > 1 && !std::isdigit(uint8_t(t[1]))) t.erase(0, 1);
  if (t.empty()) return std::nullopt;
  return std::make_pair(t, std::string("number"));
}

}  // namespace

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::Correct:
      return "correct";
    case Verdict::Incorrect:
      return "incorrect";
    case Verdict::NoAnswer:
      return "no-answer";
  }
  return "no-answer";
}

Extraction extract_answer(std::string_view response, const ExtractOptions& opts) {
  Extraction ex;
  size_t start = 0;
  for (const auto& m : opts.reasoning_end) {
    if (m.empty()) continue;
    size_t p = response.rfind(m);
    if (p != std::string_view::npos) start = std::max(start, p + m.size());
  }
  std::string_view region = response.substr(start);
  BoxResult box = last_box(region, start, opts.max_depth);
  // An answer that normalises to nothing (from \boxed\ or \boxed{\,}) cannot equal anything,
  // itself included: it is no answer (the box still ends the search).
  if (box.answer && normalize_answer(*box.answer).empty()) {
    box.answer.reset();
    box.found = true;
  }
  if (box.answer) {
    ex.answer = box.answer;
    ex.method = box.method;
    ex.offset = box.offset;
    return ex;
  }
  if (opts.multiple_choice) {
    if (auto l = last_letter(region, opts.choices)) {
      ex.answer = std::string(1, l->first);
      ex.method = "letter";
      ex.offset = start + l->second;
      return ex;
    }
  }
  if (box.found) return ex;  // an unterminated or too-deep box is the final answer: none
  if (opts.fallback_text) {
    if (auto t = text_fallback(region); t && !normalize_answer(t->first).empty()) {
      ex.answer = t->first;
      ex.method = t->second;
      ex.offset = start;
    }
  }
  return ex;
}

std::string reference_answer(std::string_view reference) {
  if (reference.find("\\boxed") != std::string_view::npos || reference.find("\\fbox") != std::string_view::npos) {
    BoxResult b = last_box(reference, 0, 64);
    if (b.answer) return *b.answer;
  }
  return trim(reference);
}

Grade grade_response(std::string_view response, std::string_view reference, const GradeOptions& opts) {
  Grade g;
  Extraction ex = extract_answer(response, opts.extract);
  g.method = ex.method;
  if (!ex.answer) {
    g.verdict = Verdict::NoAnswer;
    return g;
  }
  g.extracted = ex.answer;
  std::string ref;
  if (opts.extract_reference) {
    ExtractOptions ro = opts.extract;
    ro.fallback_text = true;
    Extraction rex = extract_answer(reference, ro);
    ref = rex.answer ? *rex.answer : trim(reference);
  } else {
    ref = reference_answer(reference);
  }
  bool eq = answers_equivalent(*ex.answer, ref, opts.equiv);
  if (!eq && opts.extract.multiple_choice) {
    // "(C) 42" against "C": compare the leading letter
    std::string a = normalize_answer(*ex.answer), r = normalize_answer(ref);
    auto letter = [&](const std::string& s) -> char {
      std::string t = s;
      if (t.size() >= 3 && t[0] == '(' && t[2] == ')') return t[1];
      if (t.size() == 1) return t[0];
      if (t.size() >= 2 && (t[1] == ')' || t[1] == '.' || t[1] == ' ')) return t[0];
      return 0;
    };
    // a lower-case letter is its choice when only the upper-case one is offered: "(c)" is C
    auto choice = [&](char c) -> char {
      const std::string& ch = opts.extract.choices;
      if (c && ch.find(c) == std::string::npos && ch.find(char(std::toupper(uint8_t(c)))) != std::string::npos)
        return char(std::toupper(uint8_t(c)));
      return c;
    };
    char la = choice(letter(a)), lr = choice(letter(r));
    if (la && la == lr && opts.extract.choices.find(la) != std::string::npos) eq = true;
  }
  g.verdict = eq ? Verdict::Correct : Verdict::Incorrect;
  return g;
}

}  // namespace rdpt
