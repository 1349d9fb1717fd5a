// Segmentation of a response into actions (docs/method.md section 1).
//
// Invariant: concatenating text[a.begin, a.end) over the returned actions, in order,
// gives back the response byte for byte; actions are non-empty and contiguous.
// Example:
//   auto acts = rdpt::segment("<think>\nA b. C d.</think>", {});
//   // -> "<think>" (special), "\nA b.", " C d.", "</think>" (special)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rdpt/utf8.h"  // find_invalid_utf8: segment() rejects invalid text

namespace rdpt {

struct Action {
  uint32_t begin = 0;    // byte offset of the first byte (leading whitespace included)
  uint32_t end = 0;      // byte offset one past the last byte
  bool special = false;  // a special-token action (<think>, </think>, <|...|>)
  uint32_t size() const { return end - begin; }
  bool operator==(const Action&) const = default;
};

struct SegmentOptions {
  // Literal special tokens that become actions of their own.
  std::vector<std::string> special_tokens = {"<think>", "</think>"};
  // Also treat any "<|...|>" marker (an inside of 1-60 bytes without ASCII whitespace, '<', '>' or '|') as special.
  bool angle_bar_markers = true;
  // Reject text that is not valid UTF-8 (DataError naming the record).
  bool check_utf8 = true;
};

// Cuts `text` into actions. Throws DataError on invalid UTF-8 (when checked) and when the
// text is 4 GiB or larger. `record_id` is only used in error messages.
std::vector<Action> segment(std::string_view text, const SegmentOptions& opts = {},
                            std::string_view record_id = {});

// Text of one action.
inline std::string_view action_text(std::string_view text, const Action& a) {
  return text.substr(a.begin, a.end - a.begin);
}

}  // namespace rdpt
