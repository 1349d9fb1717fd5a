#include "rdpt/attribute.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "rdpt/discrepancy.h"
#include "rdpt/error.h"

namespace rdpt {
namespace {

TEST(Bootstrap, Poisson1InverseCdf) {
  EXPECT_EQ(poisson1_from_uniform(0.0), 0u);
  EXPECT_EQ(poisson1_from_uniform(0.36), 0u);   // P(0) = 0.3679
  EXPECT_EQ(poisson1_from_uniform(0.37), 1u);   // P(<=1) = 0.7358
  EXPECT_EQ(poisson1_from_uniform(0.80), 2u);   // P(<=2) = 0.9197
  EXPECT_EQ(poisson1_from_uniform(0.95), 3u);   // P(<=3) = 0.9810
}

TEST(Bootstrap, ConstantSeriesHasZeroWidth) {
  ShareBootstrap b(2, {.n_replicates = 200, .seed = 3});
  for (int k = 0; k < 50; ++k) b.add(std::array{0.25, k % 2 ? NAN : 0.75});
  ShareEstimate e = b.estimate(0);
  EXPECT_EQ(e.n, 50u);
  EXPECT_DOUBLE_EQ(e.mean, 0.25);
  EXPECT_DOUBLE_EQ(e.lo, 0.25);
  EXPECT_DOUBLE_EQ(e.hi, 0.25);
  EXPECT_EQ(b.estimate(1).n, 25u);  // NaN values are not counted
  EXPECT_DOUBLE_EQ(b.estimate(1).mean, 0.75);
}

TEST(Bootstrap, IntervalMatchesNormalApproximation) {
  // 400 values 0/1 with mean 0.5: standard error 0.025, so a 95% interval about +-0.049.
  ShareBootstrap b(1, {.n_replicates = 1000, .seed = 11});
  for (int k = 0; k < 400; ++k) b.add(std::array{double(k % 2)});
  ShareEstimate e = b.estimate(0);
  EXPECT_DOUBLE_EQ(e.mean, 0.5);
  EXPECT_NEAR(e.lo, 0.451, 0.012);
  EXPECT_NEAR(e.hi, 0.549, 0.012);
  // Seeded: same seed, same interval; another seed, another one.
  ShareBootstrap b2(1, {.n_replicates = 1000, .seed = 11}), b3(1, {.n_replicates = 1000, .seed = 12});
  for (int k = 0; k < 400; ++k) {
    b2.add(std::array{double(k % 2)});
    b3.add(std::array{double(k % 2)});
  }
  EXPECT_EQ(b2.estimate(0).lo, e.lo);
  EXPECT_NE(b3.estimate(0).lo, e.lo);
}

TEST(Bootstrap, BadArguments) {
  EXPECT_THROW(ShareBootstrap(0), UsageError);
  EXPECT_THROW(ShareBootstrap(1, {.n_replicates = 0}), UsageError);
  EXPECT_THROW(ShareBootstrap(1, {.level = 1.0}), UsageError);
  ShareBootstrap b(2);
  EXPECT_THROW(b.add(std::array{0.5}), UsageError);
  EXPECT_THROW(b.estimate(2), UsageError);
  EXPECT_TRUE(std::isnan(b.estimate(0).mean));
}

TEST(DiffHistogram, BinsClampAndMoments) {
  DiffHistogram h(4, -1, 1);  // bins [-1,-.5) [-.5,0) [0,.5) [.5,1]
  h.add(-1.0);
  h.add(-0.5);
  h.add(0.0);
  h.add(1.0);
  h.add(2.0);  // clamped into the last bin
  h.add(NAN);  // ignored
  EXPECT_EQ(h.n(), 5u);
  EXPECT_EQ(h.counts(), (std::vector<uint64_t>{1, 1, 1, 2}));
  auto f = h.normalised();
  EXPECT_DOUBLE_EQ(f[3], 0.4);
  EXPECT_DOUBLE_EQ(h.mean(), 1.5 / 5);
  EXPECT_DOUBLE_EQ(h.mean_abs(), 4.5 / 5);
  EXPECT_DOUBLE_EQ(h.bin_lo(2), 0.0);
  EXPECT_THROW(DiffHistogram(0), UsageError);
  EXPECT_THROW(DiffHistogram(10, 1, -1), UsageError);
  EXPECT_TRUE(std::isnan(DiffHistogram().mean()));
}

// The bin of d is the k with edges[k] <= d < edges[k+1] against the very doubles edges() returns
// (those rdpt align writes as bin_edges), never a neighbour picked by rounding (d - lo) / w.
TEST(DiffHistogram, BinsAgreeExactlyWithTheirEdges) {
  {
    // The edges are the doubles of their decimals: a difference equal to -0.1 (pT 0.01, pD 0.11
    // gives that very double) is in [-0.1, -0.05), not in [-0.15, -0.1).
    DiffHistogram h;  // 40 bins on [-1, 1]
    for (int k = 0; k <= 40; ++k) {
      char dec[16];
      std::snprintf(dec, sizeof dec, "%.2f", -1.0 + 0.05 * k);
      EXPECT_EQ(h.edges()[k], std::strtod(dec, nullptr)) << "edge " << k << " is not " << dec;
    }
    const double d = 0.01 - 0.11;
    ASSERT_EQ(d, -0.1);
    EXPECT_EQ(h.bin_of(d), 18u);
    EXPECT_EQ(h.bin_of(-0.05), 19u);
    EXPECT_EQ(h.bin_of(0.1), 22u);
  }
  {
    DiffHistogram h;  // 40 bins on [-1, 1]
    const double d = 0.075 - 0.025;  // 0.049999999999999996, just below the edge 0.05
    ASSERT_LT(d, 0.05);
    EXPECT_EQ(h.bin_of(d), 20u);
    EXPECT_LT(d, h.edges()[21]);
    EXPECT_LE(h.edges()[20], d);
    h.add(d);
    EXPECT_EQ(h.counts()[20], 1u);
    EXPECT_EQ(h.counts()[21], 0u);
  }
  struct Range {
    uint32_t n;
    double lo, hi;
  };
  std::mt19937_64 rng(12);
  for (Range rg : {Range{40, -1, 1}, Range{16, -1, 1}, Range{7, -1, 1}, Range{3, -0.3, 0.7}, Range{100, -1, 1},
                   Range{1, -1, 1}, Range{13, 0.1, 0.2}}) {
    DiffHistogram h(rg.n, rg.lo, rg.hi);
    const auto& e = h.edges();
    ASSERT_EQ(e.size(), rg.n + 1u);
    EXPECT_EQ(e.front(), rg.lo);
    EXPECT_EQ(e.back(), rg.hi);
    auto holds = [&](uint32_t k, double d) { return e[k] <= d && (d < e[k + 1] || (k + 1 == rg.n && d == rg.hi)); };
    for (uint32_t k = 0; k <= rg.n; ++k) {
      // Every edge, and the doubles a few ulps either side of it.
      double below = e[k], above = e[k];
      for (int u = 0; u < 4; ++u) {
        below = std::nextafter(below, -INFINITY);
        above = std::nextafter(above, INFINITY);
        for (double d : {below, e[k], above}) {
          uint32_t b = h.bin_of(d);
          if (d < rg.lo) {
            EXPECT_EQ(b, 0u) << d;  // clamped into the first bin
          } else if (d > rg.hi) {
            EXPECT_EQ(b, rg.n - 1) << d;  // clamped into the last bin
          } else {
            EXPECT_TRUE(holds(b, d)) << "n " << rg.n << " edge " << k << " d " << d << " bin " << b;
          }
        }
      }
      if (k < rg.n) {
        EXPECT_EQ(h.bin_of(e[k]), k);
      }
    }
    std::uniform_real_distribution<double> U(rg.lo, rg.hi);
    for (int i = 0; i < 20000; ++i) {
      // Random d, and pT - pD differences of the kind align computes.
      double d = i % 2 ? U(rng) : U(rng) - U(rng) + rg.lo / 2 + rg.hi / 2;
      if (d < rg.lo || d > rg.hi) continue;
      uint32_t b = h.bin_of(d);
      ASSERT_TRUE(holds(b, d)) << "n " << rg.n << " d " << d << " bin " << b;
    }
  }
}

}  // namespace
}  // namespace rdpt
