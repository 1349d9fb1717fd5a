// Where an output file is written, so that writing it never turns a device, a FIFO or a symbolic
// link into a regular file.
#pragma once

#include <string>

namespace rdpt::io {

// A new or regular file is written beside itself as `<path><suffix>` and renamed over it at the
// end (an interrupted run keeps the old file). A symbolic link to a regular file is handled the
// same way at its target, so the link stays a link. Anything else that exists (a character device
// such as /dev/null, a FIFO, a socket), a dangling link, and every path under /dev/ or /proc/
// (/dev/stdout follows the shell's redirection) is written straight into: renaming over it would
// replace the device or pipe with a regular file.
struct OutputTarget {
  std::string final_path;  // the file the output ends up in (a link's target)
  std::string write_path;  // the file to open: final_path + suffix, or the path itself when direct
  bool direct = false;
};
OutputTarget output_target(const std::string& path, const std::string& suffix);

// Throws UsageError when out names the same file as in (after links): writing it would destroy
// the input before it is read. what: the options, e.g. "--out and --data".
void check_not_same_file(const std::string& out, const std::string& in, const std::string& what);

}  // namespace rdpt::io
