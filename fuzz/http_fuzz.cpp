// The serving engines' answer parsers and the token-string matcher: any bytes from a server
// give parsed tokens or an error (a DataError, or ParsedTokens::error), never a crash, a hang
// or undefined behaviour. Input: one selector byte, then the answer body; selector 4 reads
// "text\0token\0token..." for the matcher instead. What a parser accepts must be sane: one
// token per response token sent (ids mode), offsets inside the response, log-probs <= 0.
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "backends/http/http_internal.h"
#include "rdpt/error.h"

namespace {

using namespace rdpt::http_detail;

// A prompt of 2 tokens and a response of 4 ("ab", "cd", "ef", "gh") in ids mode.
constexpr int32_t kIds[] = {1, 2, 3, 4, 5, 6};
constexpr size_t kPrompt = 2;
constexpr uint32_t kOffsets[] = {0, 2, 4, 6};
constexpr std::string_view kPromptText = "Q: 1+1?\nA: ", kResponse = "abcdefgh";

void check(const ParsedTokens& p, bool ids_mode) {
  if (!p.error.empty()) return;
  if (ids_mode && p.tokens.size() != std::size(kOffsets)) std::abort();
  uint32_t last = 0;
  for (const auto& t : p.tokens) {
    if (t.offset > kResponse.size() || t.offset < last) std::abort();
    if (!std::isfinite(t.logprob) || t.logprob > 0) std::abort();
    last = t.offset;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 5) {
      case 0: check(parse_openai_score(body, kIds, kPrompt, kOffsets), true); break;
      case 1: check(parse_sglang_score(body, kIds, kPrompt, kOffsets), true); break;
      case 2: check(parse_openai_score_text(body, kPromptText, kResponse), false); break;
      case 3: check(parse_sglang_score_text(body, kPromptText, kResponse), false); break;
      case 4: {
        size_t nul = body.find('\0');
        std::string_view text = body.substr(0, nul);
        std::vector<std::string> tokens;
        while (nul != std::string_view::npos && tokens.size() < 4096) {
          const size_t next = body.find('\0', nul + 1);
          tokens.emplace_back(body.substr(nul + 1, next == std::string_view::npos ? next : next - nul - 1));
          nul = next;
        }
        std::vector<uint32_t> off = match_token_strings(text, tokens);
        if (off.size() != tokens.size()) std::abort();
        for (size_t k = 0; k < off.size(); ++k)
          if (off[k] > text.size() || (k && off[k] < off[k - 1])) std::abort();
        (void)valid_utf8_prefix(text);
        (void)utf8_ok_but_tail(text);
        break;
      }
    }
  } catch (const rdpt::DataError&) {
  }
  return 0;
}
