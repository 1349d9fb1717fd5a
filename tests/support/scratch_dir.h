// A scratch directory for one test process, removed when the process exits unless a test failed
// (then it stays, for a look at what the test wrote). ctest runs each test in a process of its
// own and several at once, so the directory is named by prefix and process id; one directory per
// prefix.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <system_error>

namespace rdpt::testing_support {

inline const std::filesystem::path& scratch_dir(const std::string& prefix) {
  struct Dir {
    std::filesystem::path path;
    pid_t owner;  // a forked child that exits normally must not remove its parent's directory
    explicit Dir(const std::string& prefix)
        : path(std::filesystem::path(::testing::TempDir()) / (prefix + "_" + std::to_string(::getpid()))),
          owner(::getpid()) {
      std::filesystem::remove_all(path);
      std::filesystem::create_directories(path);
    }
    ~Dir() {
      if (::getpid() != owner) return;
      const auto* unit = ::testing::UnitTest::GetInstance();
      if (unit && unit->Failed()) return;  // failed tests and failures outside tests (SetUpTestSuite)
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static std::map<std::string, std::unique_ptr<Dir>> dirs;
  auto& d = dirs[prefix];
  if (!d) d = std::make_unique<Dir>(prefix);
  return d->path;
}

}  // namespace rdpt::testing_support
