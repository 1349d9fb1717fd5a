// Shared by fuzz targets that need their input as a file.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace rdpt::fuzz {

// Writes data to one temporary file per process (named from prefix) and returns its path.
inline const std::string& write_input_file(const char* prefix, const uint8_t* data, size_t size) {
  // Removed when the process exits normally (a crash leaves it, next to the crashing input).
  struct TempFile {
    std::string path;
    explicit TempFile(const char* prefix) : path(std::string("/tmp/") + prefix + "_XXXXXX") {
      int fd = mkstemp(path.data());
      if (fd < 0) std::abort();
      close(fd);
    }
    ~TempFile() {  // and SQLite's side files, for the store target
      for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::remove((path + suffix).c_str());
    }
  };
  static const TempFile file(prefix);
  const std::string& path = file.path;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  return path;
}

}  // namespace rdpt::fuzz
