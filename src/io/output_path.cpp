#include "io/output_path.h"

#include <filesystem>
#include <system_error>

#include "rdpt/error.h"

namespace rdpt::io {

namespace fs = std::filesystem;

OutputTarget output_target(const std::string& path, const std::string& suffix) {
  const OutputTarget direct{path, path, true};
  const OutputTarget staged{path, path + suffix, false};
  std::error_code ec;
  const fs::file_status ls = fs::symlink_status(path, ec);
  if (ec || !fs::exists(ls)) return staged;  // a new file (also under /dev/shm)
  if (fs::is_regular_file(ls)) return staged;
  if (!fs::is_symlink(ls)) return direct;  // a device, FIFO or socket
  // /dev/stdout, /dev/fd/N, /proc/self/fd/N name the process's own streams: written into
  if (path.rfind("/dev/", 0) == 0 || path.rfind("/proc/", 0) == 0) return direct;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::is_regular_file(st)) return direct;  // dangling, or a link to a device or FIFO
  const fs::path target = fs::canonical(path, ec);
  if (ec) return direct;
  return {target.string(), target.string() + suffix, false};
}

void check_not_same_file(const std::string& out, const std::string& in, const std::string& what) {
  if (out == "-" || in == "-") return;
  std::error_code ec;
  if (!fs::is_regular_file(in, ec)) return;  // a device or pipe read and written is the caller's choice
  if (fs::equivalent(out, in, ec) && !ec)
    throw UsageError(what + " name the same file ('" + out + "'): writing the output would overwrite the input; "
                     "give another output path");
}

namespace {

// What an output path ends up writing to, for comparing two of them: "-" and the paths of the
// process's standard output are one stream; other paths compare as absolute, normalised paths
// (the file need not exist yet), or as the same existing file.
bool same_output(const std::string& a, const std::string& b) {
  auto is_stdout = [](const std::string& p) {
    return p == "-" || p == "/dev/stdout" || p == "/dev/fd/1" || p == "/proc/self/fd/1";
  };
  if (is_stdout(a) && is_stdout(b)) return true;
  if (a == "-" || b == "-") return false;
  std::error_code ec;
  if (fs::is_character_file(a, ec)) return false;  // /dev/null (or a copy of it) takes any number
  if (fs::equivalent(a, b, ec) && !ec) return true;
  const fs::path pa = fs::weakly_canonical(a, ec);
  if (ec) return false;
  const fs::path pb = fs::weakly_canonical(b, ec);
  return !ec && pa == pb;
}

}  // namespace

void check_distinct_outputs(const std::vector<std::pair<std::string, std::string>>& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i)
    for (size_t j = i + 1; j < outputs.size(); ++j) {
      const auto& [oi, pi] = outputs[i];
      const auto& [oj, pj] = outputs[j];
      if (pi.empty() || pj.empty()) continue;
      if (same_output(pi, pj))
        throw UsageError(oi + " and " + oj + " name the same output ('" + pi + "', '" + pj +
                         "'): one would overwrite the other; give each its own file");
    }
}

}  // namespace rdpt::io
