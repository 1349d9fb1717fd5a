#include "io/json_rows.h"

#include <sys/stat.h>

namespace rdpt::io {

JsonRows::JsonRows(const std::string& path) : path_(path) {
  if (is_parquet_path(path)) {
    rows_ = std::make_unique<ParquetRows>(path);
    size_ = rows_->total_bytes();
    return;
  }
  lines_ = std::make_unique<LineReader>(open_source(path), path);
  struct stat st;
  if (path != "-" && ::stat(path.c_str(), &st) == 0) size_ = uint64_t(st.st_size);
}

bool JsonRows::next(std::string& text) {
  if (rows_) return rows_->next(text);
  while (lines_->next(text))
    if (text.find_first_not_of(" \t\r") != std::string::npos) return true;  // blank lines are skipped
  return false;
}

}  // namespace rdpt::io
