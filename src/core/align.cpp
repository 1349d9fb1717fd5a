#include "rdpt/align.h"

#include <string>

#include "rdpt/error.h"

namespace rdpt {

std::vector<ActionScore> align_tokens(std::span<const Action> actions, std::span<const TokenLogprob> tokens) {
  std::vector<ActionScore> out(actions.size());
  const uint32_t size = actions.empty() ? 0 : actions.back().end;
  size_t a = 0;
  uint32_t prev = 0;
  for (size_t t = 0; t < tokens.size(); ++t) {
    const uint32_t off = tokens[t].offset;
    if (off >= size) {
      throw DataError("token " + std::to_string(t) + ": byte offset " + std::to_string(off) +
                      " is outside the response (" + std::to_string(size) + " bytes)");
    }
    if (off < prev) {
      throw DataError("token " + std::to_string(t) + ": byte offset " + std::to_string(off) +
                      " is before the previous token's offset " + std::to_string(prev));
    }
    prev = off;
    while (actions[a].end <= off) ++a;  // terminates: off < size == actions.back().end
    out[a].n_tokens += 1;
    out[a].logprob_sum += tokens[t].logprob;
    out[a].rank_sum += tokens[t].rank;
  }
  return out;
}

size_t drop_cut_actions(std::span<const Action> actions, std::vector<ActionScore>& scores, uint32_t cut) {
  size_t n = 0;
  for (size_t a = 0; a < actions.size() && a < scores.size(); ++a)
    if (actions[a].end > cut) {
      scores[a] = ActionScore{};
      ++n;
    }
  return n;
}

}  // namespace rdpt
