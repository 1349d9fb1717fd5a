// A scratch directory for one test process, removed when the process exits unless a test failed
// (then it stays, for a look at what the test wrote). ctest runs each test in a process of its
// own and several at once, so the directory is named by prefix and process id.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace rdpt::testing_support {

inline const std::filesystem::path& scratch_dir(const std::string& prefix) {
  struct Dir {
    std::filesystem::path path;
    explicit Dir(const std::string& prefix)
        : path(std::filesystem::path(::testing::TempDir()) / (prefix + "_" + std::to_string(::getpid()))) {
      std::filesystem::remove_all(path);
      std::filesystem::create_directories(path);
    }
    ~Dir() {
      const auto* unit = ::testing::UnitTest::GetInstance();
      if (unit && unit->failed_test_count() > 0) return;
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir dir(prefix);
  return dir.path;
}

}  // namespace rdpt::testing_support
