// The JSON objects of one dataset input, one at a time, whatever its format: the non-blank lines
// of JSON Lines (plain, .gz, .zst; "-" is stdin), or the rows of a Parquet path (a file, a
// directory or a glob of shards), each as the JSON object DuckDB's to_json writes for it. The
// record reader and the log-prob import read their inputs through it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "io/byte_source.h"
#include "io/parquet.h"

namespace rdpt::io {

class JsonRows {
 public:
  explicit JsonRows(const std::string& path);
  bool next(std::string& text);  // false at the end
  const std::string& file() const { return rows_ ? rows_->file() : path_; }  // the current row's file
  uint64_t number() const { return rows_ ? rows_->row() : lines_->line_number(); }  // 1-based line or row
  bool parquet() const { return rows_ != nullptr; }
  size_t n_files() const { return rows_ ? rows_->n_files() : 1; }
  uint64_t bytes_read() const { return rows_ ? rows_->bytes_read() : lines_->compressed_bytes_read(); }
  std::optional<uint64_t> size() const { return size_; }  // bytes, when known

 private:
  std::string path_;
  std::unique_ptr<LineReader> lines_;
  std::unique_ptr<ParquetRows> rows_;
  std::optional<uint64_t> size_;
};

}  // namespace rdpt::io
