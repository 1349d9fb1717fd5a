// A test fixture for running the built rdpt executable: a fresh directory per test and
// process (ctest runs tests side by side), files in it, and rdpt's exit code and output.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace rdpt_test {

struct CmdResult {
  int rc = -1;
  std::string out, err;
};

inline std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("rdpt_cli_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
            std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path(name), std::ios::binary) << text;
    return path(name);
  }
  // Runs rdpt with args (already shell-quoted where needed).
  CmdResult rdpt(const std::string& args) const {
    CmdResult r;
    const std::string o = path("stdout.txt"), e = path("stderr.txt");
    const int st = std::system((std::string("'") + RDPT_BINARY + "' " + args + " >'" + o + "' 2>'" + e + "'").c_str());
    r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.out = slurp(o);
    r.err = slurp(e);
    return r;
  }
  std::filesystem::path dir_;
};

}  // namespace rdpt_test
