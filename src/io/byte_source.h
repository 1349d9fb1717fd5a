// Streaming byte sources: plain files, gzip and zstd (detected by magic bytes, not by name).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace rdpt::io {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to n decompressed bytes into buf; returns 0 at end of input. Throws DataError.
  virtual size_t read(char* buf, size_t n) = 0;
  virtual uint64_t compressed_bytes_read() const = 0;
};

// Opens path ("-" = stdin). Throws Error when the file cannot be opened.
std::unique_ptr<ByteSource> open_source(const std::string& path);

// Splits a ByteSource into lines ('\n'; the newline is not included, '\r' is kept).
class LineReader {
 public:
  LineReader(std::unique_ptr<ByteSource> src, std::string name, size_t max_line = size_t(1) << 31);
  // Returns false at end of input. A final line without '\n' is returned too.
  bool next(std::string& line);
  uint64_t line_number() const { return line_no_; }
  uint64_t compressed_bytes_read() const { return src_->compressed_bytes_read(); }

 private:
  std::unique_ptr<ByteSource> src_;
  std::string name_;
  size_t max_line_;
  std::string buf_;
  size_t pos_ = 0;
  bool eof_ = false;
  uint64_t line_no_ = 0;
};

}  // namespace rdpt::io
