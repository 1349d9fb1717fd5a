// Segmentation: never crashes; valid UTF-8 input gives actions that concatenate back exactly;
// invalid UTF-8 gives a DataError.
#include <cstdlib>
#include <string>

#include "rdpt/error.h"
#include "rdpt/segment.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  rdpt::SegmentOptions o;
  o.special_tokens.push_back("<|im_start|>");
  try {
    auto acts = rdpt::segment(s, o, "fuzz");
    std::string joined;
    uint32_t pos = 0;
    for (const auto& a : acts) {
      if (a.begin != pos || a.end <= a.begin) std::abort();
      joined += rdpt::action_text(s, a);
      pos = a.end;
    }
    if (joined != s) std::abort();
  } catch (const rdpt::DataError&) {
    if (rdpt::find_invalid_utf8(s) == std::string_view::npos) std::abort();
  }
  return 0;
}
