// The shared splitmix64 stream (core/rng.h): the sequences the llama sampler and the fixture tool
// relied on before they shared it.
#include "core/rng.h"

#include <gtest/gtest.h>

namespace rdpt::detail {
namespace {

TEST(SplitMix64, StreamMatchesTheStep) {
  SplitMix64 r{42};
  uint64_t s = 42;
  for (int i = 0; i < 100; ++i) EXPECT_EQ(r.next(), splitmix64(s));
  // First outputs from seed 0 (the published splitmix64 reference values).
  SplitMix64 z{0};
  EXPECT_EQ(z.next(), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(z.next(), 0x6E789E6AA1B965F4ull);
}

TEST(SplitMix64, UniformAndOpenUniform) {
  SplitMix64 a{7}, b{7};
  for (int i = 0; i < 1000; ++i) {
    const uint64_t x = SplitMix64{uint64_t(i)}.next();
    const double u = a.uniform(), v = b.uniform_open();
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
    EXPECT_GT(v, 0.0);
    EXPECT_LE(v, 1.0);
    EXPECT_GE(v, u);  // the same 53 bits, half a step up
    EXPECT_EQ(to_unit(x), double(x >> 11) * (1.0 / 9007199254740992.0));
    EXPECT_EQ(to_open_unit(x), ((x >> 11) + 0.5) * (1.0 / 9007199254740992.0));
  }
  EXPECT_EQ(to_unit(0), 0.0);
  EXPECT_GT(to_open_unit(0), 0.0);
  EXPECT_EQ(to_open_unit(~0ull), 1.0);  // rounds up: the one value at the closed end
}

}  // namespace
}  // namespace rdpt::detail
