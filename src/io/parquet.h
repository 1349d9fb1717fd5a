// Parquet input and output through DuckDB's embedded engine (its C API; libduckdb.so carries the
// Parquet reader and writer). rdpt has no Parquet code of its own: a Parquet dataset is read as a
// stream of rows, each row handed on as the JSON object DuckDB's to_json() writes for it, so that
// every layout, field option and error of the JSON Lines reader holds for Parquet unchanged.
//
// A Parquet "path" is a file (found by its magic bytes "PAR1", or by the .parquet suffix), a
// directory (every *.parquet file in it), or a glob pattern ("data/train-*.parquet"); the files
// are read one after the other in name order, and rows are numbered from 1 in each file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rdpt::io {

// Whether this build reads and writes Parquet (DuckDB was found at build time).
bool parquet_available();

// The DuckDB library's own version ("v1.4.4"), or "" without DuckDB.
std::string duckdb_version();

// True when `path` names Parquet data (see above). A path that does not exist and has no glob
// characters is not Parquet (the caller's "cannot open" error names it).
bool is_parquet_path(const std::string& path);

// The files of a Parquet path, sorted by name. Throws DataError when none match.
std::vector<std::string> parquet_files(const std::string& path);

// Streams the rows of a Parquet path, each as a JSON object in one line of text. Memory stays
// bounded: rows are read a slice of about 16 MB at a time, each slice inside one row group.
class ParquetRows {
 public:
  explicit ParquetRows(const std::string& path);
  ~ParquetRows();
  ParquetRows(const ParquetRows&) = delete;
  ParquetRows& operator=(const ParquetRows&) = delete;

  // The next row as JSON; false at the end. Throws DataError naming the file for a file DuckDB
  // cannot read (not Parquet, truncated, corrupt).
  bool next(std::string& json);
  const std::string& file() const;  // the current row's file
  uint64_t row() const;             // the current row's 1-based number in that file
  uint64_t bytes_read() const;      // an estimate from rows read, for progress
  uint64_t total_bytes() const;     // the files' sizes
  size_t n_files() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Writes the rows `rows` ((file, 1-based row) pairs of files of `path`) to `out` as one Parquet
// file with the input's schema, in input order. Returns the number of rows written.
uint64_t write_parquet_rows(const std::string& path, const std::vector<std::pair<std::string, uint64_t>>& rows,
                            const std::string& out);

// Runs SQL statements in a fresh in-memory DuckDB (tests and benchmarks write their Parquet files
// with it: COPY (SELECT ...) TO 'x.parquet'). Throws DataError with DuckDB's message.
void duckdb_exec(const std::string& sql);

// A Parquet file written a row at a time with typed columns. Rows go into a temporary DuckDB
// database beside the output (so memory stays bounded), copied to `out` by finish(); the output
// appears only then (written to a temporary name and renamed).
class ParquetWriter {
 public:
  enum class Type { Int64, Double, Bool, Text };
  struct Column {
    std::string name;
    Type type;
  };
  ParquetWriter(const std::string& out, std::vector<Column> columns);
  ~ParquetWriter();  // removes the temporary files; without finish() no output is written
  ParquetWriter(const ParquetWriter&) = delete;
  ParquetWriter& operator=(const ParquetWriter&) = delete;

  // Values of the current row, in column order; end_row() after the last.
  void put_int(int64_t v);
  void put_double(double v);
  void put_bool(bool v);
  void put_text(std::string_view v);
  void put_null();
  void end_row();
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rdpt::io
