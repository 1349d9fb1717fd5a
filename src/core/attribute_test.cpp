#include "rdpt/attribute.h"

#include <gtest/gtest.h>

#include <array>

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

}  // namespace
}  // namespace rdpt
