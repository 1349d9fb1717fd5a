#include "io/output_path.h"

#include <filesystem>
#include <system_error>

#include "rdpt/error.h"

namespace rdpt::io {

namespace fs = std::filesystem;

OutputTarget output_target(const std::string& path, const std::string& suffix) {
  OutputTarget direct{path, path, true};
  if (path.rfind("/dev/", 0) == 0 || path.rfind("/proc/", 0) == 0) return direct;
  std::error_code ec;
  const fs::file_status ls = fs::symlink_status(path, ec);
  if (ec || !fs::exists(ls)) return {path, path + suffix, false};  // a new file
  if (fs::is_regular_file(ls)) return {path, path + suffix, false};
  if (!fs::is_symlink(ls)) return direct;
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

}  // namespace rdpt::io
