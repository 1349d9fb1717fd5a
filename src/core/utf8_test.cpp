// The one UTF-8 scanner: validity as RFC 3629 defines it, the incomplete-tail rule of sampling,
// and character boundaries.
#include "rdpt/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace rdpt {
namespace {

TEST(Utf8, FindInvalid) {
  EXPECT_EQ(find_invalid_utf8(""), std::string_view::npos);
  EXPECT_EQ(find_invalid_utf8("ok \xF0\x9F\x98\x80 caf\xC3\xA9"), std::string_view::npos);
  EXPECT_EQ(find_invalid_utf8("a\x80"), 1u);              // stray continuation byte
  EXPECT_EQ(find_invalid_utf8("ab\xC0\x80"), 2u);         // overlong 2-byte
  EXPECT_EQ(find_invalid_utf8("\xE0\x80\x80"), 0u);       // overlong 3-byte
  EXPECT_EQ(find_invalid_utf8("\xF0\x80\x80\x80"), 0u);   // overlong 4-byte
  EXPECT_EQ(find_invalid_utf8("ab\xED\xA0\x80"), 2u);     // surrogate
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);   // > U+10FFFF
  EXPECT_EQ(find_invalid_utf8("x\xF5\x80\x80\x80"), 1u);  // no such lead byte
  EXPECT_EQ(find_invalid_utf8("ab\xE6\x97"), 2u);         // incomplete at the end
  EXPECT_EQ(find_invalid_utf8("ab\xE6x\x97"), 2u);        // broken in the middle
}

TEST(Utf8, ValidPrefixAndTail) {
  EXPECT_EQ(valid_utf8_prefix("ab\xE6\x97"), 2u);
  EXPECT_EQ(valid_utf8_prefix("\xE6\x97\xA5\xE6\x9C\xAC"), 6u);
  EXPECT_TRUE(utf8_ok_but_tail(""));
  EXPECT_TRUE(utf8_ok_but_tail("ab\xE6\x97"));
  EXPECT_TRUE(utf8_ok_but_tail("ab\xF0"));
  EXPECT_TRUE(utf8_ok_but_tail("\xE6\x97\xA5\xE6\x9C\xAC"));
  EXPECT_FALSE(utf8_ok_but_tail("ab\x97x"));
  EXPECT_FALSE(utf8_ok_but_tail("\xC0\x80"));   // overlong
  EXPECT_FALSE(utf8_ok_but_tail("a\xC1"));      // lead byte of overlong forms only
  EXPECT_FALSE(utf8_ok_but_tail("a\xED\xA0"));  // a surrogate's first two bytes
  EXPECT_FALSE(utf8_ok_but_tail("a\xE0\x80"));  // an overlong form's first two bytes
  EXPECT_FALSE(utf8_ok_but_tail("a\xF4\x90"));  // above U+10FFFF
  EXPECT_FALSE(utf8_ok_but_tail("a\xE6x"));     // not continued
}

// The tail rule is the whole-text rule applied to every prefix: a text is ok-but-tail exactly
// when some completion by 1 to 3 continuation bytes makes it valid.
TEST(Utf8, TailIsPrefixOfValid) {
  // Continuation bytes on both sides of every threshold the rules use (0x90, 0xA0).
  const std::string conts = "\x80\x8F\x90\x9F\xA0\xBF";
  auto completable = [&](const std::string& s) {
    if (find_invalid_utf8(s) == std::string_view::npos) return true;
    for (char a : conts) {
      for (char b : conts) {
        for (char c : conts) {
          for (const std::string& t : {s + a, s + a + b, s + a + b + c})
            if (find_invalid_utf8(t) == std::string_view::npos) return true;
        }
      }
    }
    return false;
  };
  for (int x = 0x80; x < 0x100; ++x) {
    for (int y = -1; y < 0x100; y += 7) {
      std::string s = "a";
      s += char(x);
      if (y >= 0) s += char(y);
      EXPECT_EQ(utf8_ok_but_tail(s), completable(s)) << std::hex << x << " " << y;
    }
  }
}

TEST(Utf8, CharOffsets) {
  EXPECT_EQ(utf8_char_offsets(""), (std::vector<uint32_t>{0}));
  EXPECT_EQ(utf8_char_offsets("a\xC3\xA9z"), (std::vector<uint32_t>{0, 1, 3, 4}));
  EXPECT_TRUE(is_utf8_continuation(0x80));
  EXPECT_FALSE(is_utf8_continuation('a'));
  EXPECT_FALSE(is_utf8_continuation(0xC3));
}

}  // namespace
}  // namespace rdpt
