// Segmentation (docs/method.md section 1): special tokens first, then the paper's rule
// ([.?!}\]])([ \t\n\r\f\v]+)([A-Z]) with the cut right after the punctuation.
#include "rdpt/segment.h"

#include <algorithm>
#include <limits>

#include "rdpt/error.h"

namespace rdpt {
namespace {

bool is_ws(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_punct(unsigned char c) { return c == '.' || c == '?' || c == '!' || c == '}' || c == ']'; }
bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }

bool all_ws(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return is_ws(static_cast<unsigned char>(c)); });
}

// Length of a "<|...|>" (or DeepSeek's full-width "<｜...｜>") marker starting at i, or 0.
size_t marker_len(std::string_view t, size_t i) {
  static constexpr std::string_view kOpen[] = {"<|", "<\xEF\xBD\x9C"};   // "<|", "<｜"
  static constexpr std::string_view kClose[] = {"|>", "\xEF\xBD\x9C>"};  // "|>", "｜>"
  constexpr size_t kMaxInside = 60;  // bytes between the opening and the closing bar
  for (int v = 0; v < 2; ++v) {
    if (t.compare(i, kOpen[v].size(), kOpen[v]) != 0) continue;
    size_t j = i + kOpen[v].size();
    for (size_t k = j; k < t.size() && k - j <= kMaxInside; ++k) {
      if (t.compare(k, kClose[v].size(), kClose[v]) == 0) return k > j ? k + kClose[v].size() - i : 0;
      unsigned char c = static_cast<unsigned char>(t[k]);
      if (is_ws(c) || c == '<' || c == '>' || c == '|') break;
    }
  }
  return 0;
}

}  // namespace

std::vector<Action> segment(std::string_view text, const SegmentOptions& opts, std::string_view record_id) {
  if (text.size() >= std::numeric_limits<uint32_t>::max()) {
    throw DataError("record '" + std::string(record_id) + "': response of " + std::to_string(text.size()) +
                    " bytes is too long to segment (limit 4 GiB)");
  }
  if (opts.check_utf8) {
    size_t bad = find_invalid_utf8(text);
    if (bad != std::string_view::npos) {
      throw DataError("record '" + std::string(record_id) + "': invalid UTF-8 in response at byte " +
                      std::to_string(bad));
    }
  }
  std::vector<std::string_view> specials(opts.special_tokens.begin(), opts.special_tokens.end());
  std::erase_if(specials, [](std::string_view s) { return s.empty(); });
  std::sort(specials.begin(), specials.end(), [](auto a, auto b) { return a.size() > b.size(); });
  bool first_byte[256] = {};  // the bytes a special token can start with ("[END]" too, not only '<')
  for (auto s : specials) first_byte[static_cast<unsigned char>(s[0])] = true;

  // Pieces before whitespace attachment: [begin, end, special].
  std::vector<Action> pieces;
  auto emit_text = [&](size_t b, size_t e) {
    // Cut text [b, e) after each punctuation that is followed by whitespace and A-Z.
    size_t start = b;
    size_t i = b;
    while (i < e) {
      if (is_punct(static_cast<unsigned char>(text[i]))) {
        size_t k = i + 1;
        while (k < e && is_ws(static_cast<unsigned char>(text[k]))) ++k;
        if (k > i + 1 && k < e && is_upper(static_cast<unsigned char>(text[k]))) {
          pieces.push_back({uint32_t(start), uint32_t(i + 1), false});
          start = i + 1;
          i = k + 1;  // the uppercase letter is consumed by the match, as in re.split
          continue;
        }
      }
      ++i;
    }
    if (start < e) pieces.push_back({uint32_t(start), uint32_t(e), false});
  };

  size_t text_begin = 0;
  for (size_t i = 0; i < text.size();) {
    size_t len = 0;
    if (first_byte[static_cast<unsigned char>(text[i])]) {
      for (auto s : specials) {
        if (text.compare(i, s.size(), s) == 0) { len = s.size(); break; }
      }
    }
    if (text[i] == '<' && opts.angle_bar_markers) len = std::max(len, marker_len(text, i));
    if (len == 0) { ++i; continue; }
    if (text_begin < i) emit_text(text_begin, i);
    pieces.push_back({uint32_t(i), uint32_t(i + len), true});
    i += len;
    text_begin = i;
  }
  if (text_begin < text.size()) emit_text(text_begin, text.size());

  // Whitespace-only pieces join the next action as leading whitespace, or the last one at the end.
  std::vector<Action> out;
  out.reserve(pieces.size());
  uint32_t pending = std::numeric_limits<uint32_t>::max();  // begin of unattached whitespace
  for (const Action& p : pieces) {
    if (!p.special && all_ws(action_text(text, p))) {
      if (pending == std::numeric_limits<uint32_t>::max()) pending = p.begin;
      continue;
    }
    Action a = p;
    if (pending != std::numeric_limits<uint32_t>::max()) { a.begin = pending; pending = std::numeric_limits<uint32_t>::max(); }
    out.push_back(a);
  }
  if (pending != std::numeric_limits<uint32_t>::max()) {
    if (out.empty()) out.push_back({pending, uint32_t(text.size()), false});  // whitespace-only response
    else out.back().end = uint32_t(text.size());
  }
  return out;
}

}  // namespace rdpt
