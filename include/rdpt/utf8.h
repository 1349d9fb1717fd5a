// The one UTF-8 scanner of rdpt: validity (overlong forms, surrogates and code points above
// U+10FFFF are invalid, as in RFC 3629) and character boundaries. Segmentation, sampling, the
// HTTP backend, token placing and `rdpt import` all use it, so that a text is valid or not the
// same way everywhere.
//   rdpt::find_invalid_utf8("ab\xED\xA0\x80");  // 2: a surrogate
//   rdpt::valid_utf8_prefix("ab\xE6\x97");      // 2: the last character is incomplete
//   rdpt::utf8_ok_but_tail("ab\xE6\x97");       // true: it may still be completed
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace rdpt {

// Length of the longest prefix of s that is valid UTF-8 (an incomplete last character excluded).
size_t valid_utf8_prefix(std::string_view s);
// The byte offset of the first invalid (or incomplete) UTF-8 sequence, or npos when s is valid.
size_t find_invalid_utf8(std::string_view s);
// True when s is valid UTF-8 except possibly for an incomplete final character (a text being
// generated token by token, whose next token may complete it).
bool utf8_ok_but_tail(std::string_view s);

// A continuation byte (10xxxxxx): not the first byte of a character.
constexpr bool is_utf8_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }
// Byte offset of every character boundary of s, counting a stray continuation byte with the
// character before it (size = characters + 1, the last being s.size()).
std::vector<uint32_t> utf8_char_offsets(std::string_view s);

}  // namespace rdpt
