// Small deterministic generators shared by selection, bootstrap, the llama backend's sampler and
// the test fixture tool (internal: include as "core/rng.h").
#pragma once

#include <cstdint>
#include <string_view>

namespace rdpt::detail {

// splitmix64 step (Steele, Lea, Flood 2014): a good 64-bit mix for seeding and hashing.
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
inline uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t s = a ^ (b * 0xD6E8FEB86659FD93ull);
  return splitmix64(s);
}
// Uniform double in [0, 1) from the top 53 bits.
inline double to_unit(uint64_t x) { return double(x >> 11) * 0x1.0p-53; }
// Uniform double in (0, 1]: the top 53 bits plus a half step, never 0 (for log() in Box-Muller; the
// sum rounds to 1 only for the largest values). The test fixture's weights are drawn with it.
inline double to_open_unit(uint64_t x) { return (double(x >> 11) + 0.5) * 0x1.0p-53; }

// A splitmix64 stream from state `s`: the one implementation behind every seeded draw.
struct SplitMix64 {
  uint64_t s;
  uint64_t next() { return splitmix64(s); }
  double uniform() { return to_unit(next()); }            // [0, 1)
  double uniform_open() { return to_open_unit(next()); }  // (0, 1]
};

}  // namespace rdpt::detail
