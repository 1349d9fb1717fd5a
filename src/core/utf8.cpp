// The UTF-8 scanner (include/rdpt/utf8.h). One routine, char_at(), decides what a character is;
// the rest only loop over it.
#include "rdpt/utf8.h"

#include <algorithm>

namespace rdpt {

namespace {

enum class At { Ok, Incomplete, Bad };

// The character starting at s[i]: Ok with its length, Incomplete when s ends inside a character
// whose bytes so far are valid, Bad otherwise.
At char_at(std::string_view s, size_t i, size_t& len) {
  const unsigned char c = s[i];
  len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  // C0/C1 start only overlong 2-byte forms; F5-F7 only code points above U+10FFFF.
  if (len == 0 || (len == 2 && c < 0xC2) || (len == 4 && c > 0xF4)) return At::Bad;
  const size_t avail = std::min(len, s.size() - i);
  for (size_t k = 1; k < avail; ++k)
    if (!is_utf8_continuation(s[i + k])) return At::Bad;
  if (avail >= 2) {  // overlong 3- and 4-byte forms, surrogates, above U+10FFFF
    const unsigned char d = s[i + 1];
    if ((c == 0xE0 && d < 0xA0) || (c == 0xED && d >= 0xA0) || (c == 0xF0 && d < 0x90) || (c == 0xF4 && d >= 0x90))
      return At::Bad;
  }
  return avail < len ? At::Incomplete : At::Ok;
}

}  // namespace

size_t valid_utf8_prefix(std::string_view s) {
  size_t i = 0, len = 0;
  while (i < s.size() && char_at(s, i, len) == At::Ok) i += len;
  return i;
}

size_t find_invalid_utf8(std::string_view s) {
  const size_t good = valid_utf8_prefix(s);
  return good == s.size() ? std::string_view::npos : good;
}

bool utf8_ok_but_tail(std::string_view s) {
  const size_t good = valid_utf8_prefix(s);
  size_t len = 0;
  return good == s.size() || char_at(s, good, len) == At::Incomplete;
}

std::vector<uint32_t> utf8_char_offsets(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size() + 1);
  for (size_t i = 0; i < s.size(); ++i) {
    if (!is_utf8_continuation(s[i])) out.push_back(uint32_t(i));
  }
  out.push_back(uint32_t(s.size()));
  return out;
}

}  // namespace rdpt
