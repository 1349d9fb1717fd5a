// Token-to-action alignment (docs/method.md section 2).
//
// A token belongs to the action that contains the token's first byte. The caller gives each
// token's byte offset into the response (tokens of the prompt are not passed) and log-prob.
// Example:
//   std::vector<rdpt::TokenLogprob> toks = {{0, -0.5}, {3, -1.0}, {9, -0.2}};
//   auto scores = rdpt::align_tokens(actions, toks);
//   double p0 = scores[0].p();   // exp(mean log-prob) of action 0, or NaN if unscored
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "rdpt/segment.h"

namespace rdpt {

struct TokenLogprob {
  uint32_t offset = 0;   // byte offset of the token's first byte in the response
  double logprob = 0.0;  // natural log of p(token | everything before it)
  // Clipped rank of the token under the model (1 + vocabulary entries with a strictly larger
  // logit, at most the scorer's rank clip); 0 when ranks were not computed.
  uint32_t rank = 0;
};

struct ActionScore {
  uint32_t n_tokens = 0;     // tokens whose first byte lies in the action; 0 means unscored
  double logprob_sum = 0.0;  // sum of those tokens' log-probs
  uint64_t rank_sum = 0;     // sum of those tokens' clipped ranks (0 when ranks were not computed)
  bool scored() const { return n_tokens > 0; }
  double logprob_mean() const { return n_tokens ? logprob_sum / n_tokens : NAN; }
  // Geometric-mean token probability exp(mean log p); NaN when unscored.
  double p() const { return n_tokens ? std::exp(logprob_sum / n_tokens) : NAN; }
  bool operator==(const ActionScore&) const = default;
};

// Aligns tokens to actions. Offsets must be non-decreasing and below the response size
// (the end of the last action); throws DataError otherwise, naming the token index.
std::vector<ActionScore> align_tokens(std::span<const Action> actions,
                                      std::span<const TokenLogprob> tokens);

// A scoring cut short (a context limit) whose first unscored token starts at byte `cut`:
// the action holding that byte was scored from its first tokens only, so it and every action
// after it are made unscored (n_tokens 0). Returns how many actions that leaves unscored
// (those that end after `cut`).
size_t drop_cut_actions(std::span<const Action> actions, std::vector<ActionScore>& scores, uint32_t cut);

}  // namespace rdpt
