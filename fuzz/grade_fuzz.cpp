// The answer extractor and the equivalence checker: any bytes give an answer or none, and a
// verdict, never a crash, a hang or quadratic blow-up. Input: "response\0reference" (or the
// whole input as both). Equivalence must be reflexive on what the extractor returns.
#include <cstdlib>
#include <string>

#include "rdpt/error.h"
#include "rdpt/grade.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nul = in.find('\0');
  std::string_view response = in.substr(0, nul);
  std::string_view reference = nul == std::string_view::npos ? in : in.substr(nul + 1);
  try {
    rdpt::ExtractOptions eo;
    eo.multiple_choice = size % 2;
    eo.fallback_text = size % 3 == 0;
    auto ex = rdpt::extract_answer(response, eo);
    if (ex.answer && !rdpt::answers_equivalent(*ex.answer, *ex.answer)) std::abort();  // reflexive
    (void)rdpt::grade_response(response, reference);
    (void)rdpt::answers_equivalent(reference, response);
    (void)rdpt::normalize_answer(reference);
  } catch (const rdpt::Error&) {
  }
  return 0;
}
