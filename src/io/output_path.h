// Where an output file is written, so that writing it never turns a device, a FIFO or a symbolic
// link into a regular file.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace rdpt::io {

// A new or regular file is written beside itself as `<path><suffix>` and renamed over it at the
// end (an interrupted run keeps the old file). A symbolic link to a regular file is handled the
// same way at its target (the target is replaced, the link stays a link). Anything else that
// exists (a character device such as /dev/null, a FIFO, a socket), a dangling link, and a link
// under /dev/ or /proc/ (/dev/stdout follows the shell's redirection) is written straight into,
// appending (a file behind /dev/stdout keeps what the shell or the process wrote before):
// renaming over it would replace the device or pipe with a regular file.
struct OutputTarget {
  std::string final_path;  // the file the output ends up in (a link's target)
  std::string write_path;  // the file to open: final_path + suffix, or the path itself when direct
  bool direct = false;
};
OutputTarget output_target(const std::string& path, const std::string& suffix);

// Throws UsageError when out names the same file as in (after links): writing it would destroy
// the input before it is read. what: the options, e.g. "--out and --data".
void check_not_same_file(const std::string& out, const std::string& in, const std::string& what);

// Throws UsageError when two outputs ({option, path}; empty paths are skipped) would write to one
// file or stream: the same path (also not yet existing, after "..", "." and links), or standard
// output twice ("-", /dev/stdout). A character device such as /dev/null may be given to several.
void check_distinct_outputs(const std::vector<std::pair<std::string, std::string>>& outputs);

}  // namespace rdpt::io
