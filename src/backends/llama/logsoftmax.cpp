// Per-row log-softmax reduction: logsumexp over the vocabulary with a vectorisable exp.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "backends/llama/llama_internal.h"

namespace rdpt::llama_detail {

namespace {

// exp(x) for x <= 0 (clamped at -87): 2^k * exp(r) with |r| <= ln2/2 and a degree-6 Taylor
// polynomial (relative error < 2e-7). Plain arithmetic so that the loops below vectorise.
inline float exp_nonpos(float x) {
  x = x < -87.0f ? -87.0f : x;
  const float t = x * 1.44269504088896341f;
  const float kf = (t + 12582912.0f) - 12582912.0f;  // round to nearest
  const float r = (t - kf) * 0.693147180559945309f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t k = int32_t(kf);
  const int32_t bits = (k + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return p * scale;
}

__attribute__((optimize("O3"))) float row_max(const float* x, int64_t n) {
  float m[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
  float r = -INFINITY;
  for (int j = 0; j < 8; ++j) r = m[j] > r ? m[j] : r;
  for (; i < n; ++i) r = x[i] > r ? x[i] : r;
  return r;
}

__attribute__((optimize("O3"))) double sum_exp(const float* x, int64_t n, float mx) {
  double total = 0;
  constexpr int64_t kBlock = 4096;  // float partial sums per block, accumulated in double
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = b + kBlock < n ? b + kBlock : n;
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = b;
    for (; i + 8 <= e; i += 8)
      for (int j = 0; j < 8; ++j) s[j] += exp_nonpos(x[i + j] - mx);
    float r = 0;
    for (; i < e; ++i) r += exp_nonpos(x[i] - mx);
    for (int j = 0; j < 8; ++j) total += s[j];
    total += r;
  }
  return total;
}

}  // namespace

double logsumexp(const float* row, int64_t n) {
  if (n <= 0) return -INFINITY;
  const float mx = row_max(row, n);
  if (!std::isfinite(mx)) return mx;
  return double(mx) + std::log(sum_exp(row, n, mx));
}

__attribute__((optimize("O3"))) uint32_t count_greater(const float* row, int64_t n, float x) {
  uint32_t c[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) c[j] += row[i + j] > x ? 1u : 0u;
  uint32_t r = 0;
  for (int j = 0; j < 8; ++j) r += c[j];
  for (; i < n; ++i) r += row[i] > x ? 1u : 0u;
  return r;
}

// One pass for the max and the count of entries above x: the rank costs no extra read of the row.
__attribute__((optimize("O3"))) float row_max_count(const float* x, int64_t n, float t, uint32_t* count) {
  float m[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
  uint32_t c[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) {
      m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
      c[j] += x[i + j] > t ? 1u : 0u;
    }
  float r = -INFINITY;
  uint32_t rc = 0;
  for (int j = 0; j < 8; ++j) r = m[j] > r ? m[j] : r, rc += c[j];
  for (; i < n; ++i) r = x[i] > r ? x[i] : r, rc += x[i] > t ? 1u : 0u;
  *count = rc;
  return r;
}

double target_logprob_count(const float* row, int64_t n, int32_t target, uint32_t* count) {
  const float mx = row_max_count(row, n, row[target], count);
  if (!std::isfinite(mx)) return double(row[target]) - double(mx);
  return double(row[target]) - (double(mx) + std::log(sum_exp(row, n, mx)));
}

double target_logprob(const float* row, int64_t n, int32_t target) {
  return double(row[target]) - logsumexp(row, n);
}

}  // namespace rdpt::llama_detail
