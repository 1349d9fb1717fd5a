// Parquet through DuckDB's C API (see parquet.h). Without DuckDB (RDPT_HAVE_DUCKDB unset) every
// entry point but the path test is a UsageError saying how to get it.
#include "io/parquet.h"

#include <glob.h>
#include <unistd.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "io/output_path.h"
#include "rdpt/error.h"

#ifdef RDPT_HAVE_DUCKDB
#include <duckdb.h>
#endif

namespace rdpt::io {

namespace fs = std::filesystem;

namespace {

bool has_glob_chars(const std::string& p) { return p.find_first_of("*?[") != std::string::npos; }

bool starts_with_par1(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char m[4] = {};
  return f.read(m, 4) && std::memcmp(m, "PAR1", 4) == 0;
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// s between quote characters q, each q inside doubled (SQL string literals and identifiers).
[[maybe_unused]] std::string sql_quoted(const std::string& s, char q) {
  std::string out(1, q);
  for (char c : s) {
    out += c;
    if (c == q) out += q;
  }
  return out + q;
}
[[maybe_unused]] std::string sql_string(const std::string& s) { return sql_quoted(s, '\''); }
[[maybe_unused]] std::string sql_ident(const std::string& s) { return sql_quoted(s, '"'); }

// DuckDB's messages can span lines (a "LINE 1: <query>" part follows); rdpt's errors are one line
// and name what the user gave, not the query rdpt wrote.
[[maybe_unused]] std::string one_line(std::string s) {
  if (auto at = s.find("\nLINE "); at != std::string::npos) s.resize(at);
  if (auto at = s.find(" Error: "); at != std::string::npos && at < 40) s.erase(0, at + 8);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace

bool is_parquet_path(const std::string& path) {
  if (path == "-") return false;
  std::error_code ec;
  if (fs::is_directory(path, ec)) return true;
  if (fs::is_regular_file(path, ec)) return starts_with_par1(path) || ends_with(path, ".parquet");
  return has_glob_chars(path) || ends_with(path, ".parquet");
}

std::vector<std::string> parquet_files(const std::string& path) {
  std::vector<std::string> files;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    for (const auto& e : fs::directory_iterator(path, ec))
      if (e.is_regular_file() && e.path().extension() == ".parquet") files.push_back(e.path().string());
    if (files.empty()) throw DataError(path + ": no *.parquet files in this directory");
  } else if (fs::exists(path, ec)) {
    files.push_back(path);
  } else if (has_glob_chars(path)) {
    glob_t g{};
    int rc = ::glob(path.c_str(), 0, nullptr, &g);
    for (size_t k = 0; rc == 0 && k < g.gl_pathc; ++k)
      if (fs::is_regular_file(g.gl_pathv[k], ec)) files.push_back(g.gl_pathv[k]);
    globfree(&g);
    if (files.empty()) throw DataError(path + ": no files match this pattern");
  } else {
    throw Error("cannot open '" + path + "': no such file");
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    // DuckDB reads every name it is given as a pattern: "x[1].parquet" would read "x1.parquet".
    if (has_glob_chars(f))
      throw DataError(f + ": a Parquet file name with '*', '?' or '[' cannot be read (DuckDB takes it for a "
                          "pattern); rename the file");
    if (files.size() > 1 && !starts_with_par1(f))
      throw DataError(f + ": not a Parquet file (a directory or pattern in --data is read as Parquet shards; give "
                          "JSON Lines files one by one)");
  }
  return files;
}

#ifndef RDPT_HAVE_DUCKDB

namespace {
[[noreturn]] void no_duckdb(const std::string& what) {
  throw UsageError(what + ": this rdpt was built without DuckDB, which reads and writes Parquet; run "
                   "scripts/setup.sh (it fetches DuckDB) and rebuild, or convert the data to JSON Lines");
}
}  // namespace

bool parquet_available() { return false; }
std::string duckdb_version() { return ""; }

struct ParquetRows::Impl {};
ParquetRows::ParquetRows(const std::string& path) { no_duckdb(path); }
ParquetRows::~ParquetRows() = default;
bool ParquetRows::next(std::string&) { return false; }
const std::string& ParquetRows::file() const {
  static const std::string empty;
  return empty;
}
uint64_t ParquetRows::row() const { return 0; }
uint64_t ParquetRows::bytes_read() const { return 0; }
uint64_t ParquetRows::total_bytes() const { return 0; }
size_t ParquetRows::n_files() const { return 0; }

uint64_t write_parquet_rows(const std::string& path, const std::vector<std::pair<std::string, uint64_t>>&,
                            const std::string&) {
  no_duckdb(path);
}

void duckdb_exec(const std::string&) { no_duckdb("DuckDB"); }

struct ParquetWriter::Impl {};
ParquetWriter::ParquetWriter(const std::string& out, std::vector<Column>) { no_duckdb(out); }
ParquetWriter::~ParquetWriter() = default;
void ParquetWriter::put_int(int64_t) {}
void ParquetWriter::put_double(double) {}
void ParquetWriter::put_bool(bool) {}
void ParquetWriter::put_text(std::string_view) {}
void ParquetWriter::put_null() {}
void ParquetWriter::end_row() {}
void ParquetWriter::finish() {}

#else

namespace {

// One DuckDB database and connection; the library's version is checked on the first open.
class Duck {
 public:
  explicit Duck(const std::string& db_path = "", const char* threads = nullptr) {
    static const std::string checked = [] {
      const std::string v = duckdb_library_version();
      if (v != std::string("v") + RDPT_DUCKDB_VERSION)
        throw Error("DuckDB library " + v + " is loaded, but rdpt was built against v" RDPT_DUCKDB_VERSION
                    "; run scripts/setup.sh, which fetches the pinned version, and rebuild");
      return v;
    }();
    (void)checked;
    char* err = nullptr;
    duckdb_config cfg;
    duckdb_create_config(&cfg);
    duckdb_set_config(cfg, "preserve_insertion_order", "true");
    if (threads) duckdb_set_config(cfg, "threads", threads);
    duckdb_set_config(cfg, "autoinstall_known_extensions", "false");
    duckdb_set_config(cfg, "autoload_known_extensions", "false");
    const duckdb_state st = duckdb_open_ext(db_path.empty() ? nullptr : db_path.c_str(), &db_, cfg, &err);
    duckdb_destroy_config(&cfg);
    if (st != DuckDBSuccess) {
      std::string msg = err ? err : "unknown error";
      duckdb_free(err);
      throw Error("cannot start DuckDB" + (db_path.empty() ? std::string() : " on '" + db_path + "'") + ": " +
                  one_line(msg));
    }
    if (duckdb_connect(db_, &con_) != DuckDBSuccess) {
      duckdb_close(&db_);
      throw Error("cannot connect to DuckDB");
    }
  }
  ~Duck() {
    duckdb_disconnect(&con_);
    duckdb_close(&db_);
  }
  Duck(const Duck&) = delete;
  Duck& operator=(const Duck&) = delete;
  duckdb_connection con() const { return con_; }

  // Runs `sql`; on failure throws DataError(`what` + ": " + DuckDB's message).
  void exec(const std::string& sql, const std::string& what) {
    duckdb_result r;
    const bool ok = duckdb_query(con_, sql.c_str(), &r) == DuckDBSuccess;
    std::string msg = ok ? "" : one_line(duckdb_result_error(&r) ? duckdb_result_error(&r) : "unknown error");
    duckdb_destroy_result(&r);
    if (!ok) throw DataError(what + ": " + msg);
  }
  // The first column of the first row of `sql` as an integer.
  int64_t scalar(const std::string& sql, const std::string& what) {
    duckdb_result r;
    if (duckdb_query(con_, sql.c_str(), &r) != DuckDBSuccess) {
      std::string msg = one_line(duckdb_result_error(&r) ? duckdb_result_error(&r) : "unknown error");
      duckdb_destroy_result(&r);
      throw DataError(what + ": " + msg);
    }
    const int64_t v = duckdb_row_count(&r) ? duckdb_value_int64(&r, 0, 0) : 0;
    duckdb_destroy_result(&r);
    return v;
  }

 private:
  duckdb_database db_ = nullptr;
  duckdb_connection con_ = nullptr;
};

std::string_view string_at(duckdb_string_t* s) {
  return {duckdb_string_t_data(s), duckdb_string_t_length(*s)};
}

// A file DuckDB could not read is named with DuckDB's reason, shortened to what a user needs.
std::string unreadable(const std::string& file, const std::string& msg) {
  return file + ": not a readable Parquet file (" + msg + ")";
}

}  // namespace

bool parquet_available() { return true; }
std::string duckdb_version() { return duckdb_library_version(); }

// Rows are read a slice at a time, each slice a query of its own over a range of row numbers
// inside one row group (DuckDB skips the row groups outside it). One streaming query over the
// whole file would be simpler, but DuckDB's scan then runs ahead of the consumer: it held 3.9 GB
// on a 557 MB file of long responses. A slice holds about kSliceBytes of JSON text, sized from
// the rows read so far (the footer's sizes cannot say: a dictionary-encoded column of repeated
// 165 KB responses reports a few bytes per row).
constexpr double kSliceBytes = 16e6;

struct ParquetRows::Impl {
  std::vector<std::string> files;
  std::vector<uint64_t> sizes;
  size_t next_file = 0;
  std::string file;
  std::vector<uint64_t> group_ends;  // the current file's row groups: their end rows (0-based, exclusive)
  size_t group = 0;                  // the row group of the next slice
  uint64_t next_row = 0;             // 0-based first row of the next slice
  double bytes_per_row = 0;          // JSON bytes per row in the last slice (0: none read yet)
  uint64_t slice_bytes = 0, slice_rows = 0;
  uint64_t row = 0, rows_in_file = 0, done_bytes = 0, total = 0;
  Duck duck{"", "1"};  // one scan thread: rdpt reads rows one by one
  duckdb_result res{};
  bool have_res = false;
  duckdb_data_chunk chunk = nullptr;
  idx_t chunk_size = 0, chunk_pos = 0;
  duckdb_string_t* strings = nullptr;

  void close_result() {
    if (chunk) duckdb_destroy_data_chunk(&chunk);
    chunk = nullptr;
    if (have_res) duckdb_destroy_result(&res);
    have_res = false;
  }
  ~Impl() { close_result(); }

  // The next file's slices from its row groups' sizes; false after the last file.
  bool open_next_file() {
    close_result();
    if (next_file > 0 && !file.empty()) done_bytes += sizes[next_file - 1];
    file.clear();
    row = rows_in_file = 0;
    if (next_file == files.size()) return false;
    file = files[next_file++];
    row = 0;
    rows_in_file = 0;
    group_ends.clear();
    group = 0;
    next_row = 0;
    duckdb_result r;
    const std::string sql = "SELECT row_group_id, any_value(row_group_num_rows)::BIGINT FROM parquet_metadata(" +
                            sql_string(file) + ") GROUP BY row_group_id ORDER BY row_group_id";
    if (duckdb_query(duck.con(), sql.c_str(), &r) != DuckDBSuccess) {
      const std::string msg = one_line(duckdb_result_error(&r) ? duckdb_result_error(&r) : "unknown error");
      duckdb_destroy_result(&r);
      throw DataError(unreadable(file, msg));
    }
    for (idx_t k = 0; k < duckdb_row_count(&r); ++k) {
      rows_in_file += uint64_t(duckdb_value_int64(&r, 1, k));
      group_ends.push_back(rows_in_file);
    }
    duckdb_destroy_result(&r);
    return true;
  }

  // Runs the next slice's query; false when the file has no more.
  bool open_next_slice() {
    close_result();
    if (slice_rows) bytes_per_row = double(slice_bytes) / double(slice_rows);
    slice_bytes = slice_rows = 0;
    while (group < group_ends.size() && next_row >= group_ends[group]) ++group;
    if (group == group_ends.size()) return false;
    const uint64_t want = bytes_per_row > 0 ? std::clamp<uint64_t>(uint64_t(kSliceBytes / bytes_per_row), 8, 65536) : 64;
    struct {
      uint64_t begin, end;
    } sl{next_row, std::min(group_ends[group], next_row + want)};
    next_row = sl.end;
    const std::string sql =
        "SELECT to_json(t)::VARCHAR FROM (SELECT * EXCLUDE (file_row_number) FROM read_parquet(" + sql_string(file) +
        ", binary_as_string=true, file_row_number=true, hive_partitioning=false) WHERE file_row_number >= " + std::to_string(sl.begin) +
        " AND file_row_number < " + std::to_string(sl.end) + ") t";
    have_res = true;
    if (duckdb_query(duck.con(), sql.c_str(), &res) != DuckDBSuccess) {
      const std::string msg = one_line(duckdb_result_error(&res) ? duckdb_result_error(&res) : "unknown error");
      throw DataError(unreadable(file, msg) + (sl.begin ? " at row " + std::to_string(sl.begin + 1) : ""));
    }
    if (duckdb_row_count(&res) != sl.end - sl.begin)
      throw DataError(unreadable(file, "rows " + std::to_string(sl.begin + 1) + "-" + std::to_string(sl.end) +
                                           " gave " + std::to_string(duckdb_row_count(&res)) + " rows"));
    return true;
  }

  bool next_chunk() {
    for (;;) {
      if (chunk) duckdb_destroy_data_chunk(&chunk);
      chunk = have_res ? duckdb_fetch_chunk(res) : nullptr;
      if (chunk) {
        chunk_size = duckdb_data_chunk_get_size(chunk);
        auto* v = static_cast<duckdb_string_t*>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk, 0)));
        for (idx_t k = 0; k < chunk_size; ++k) slice_bytes += duckdb_string_t_length(v[k]);
        slice_rows += chunk_size;
        chunk_pos = 0;
        strings = static_cast<duckdb_string_t*>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk, 0)));
        if (chunk_size) return true;
        continue;
      }
      if (open_next_slice()) continue;
      if (!open_next_file()) return false;
    }
  }
};

ParquetRows::ParquetRows(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->files = parquet_files(path);
  for (const auto& f : impl_->files) {
    std::error_code ec;
    const auto n = fs::file_size(f, ec);
    impl_->sizes.push_back(ec ? 0 : uint64_t(n));
    impl_->total += impl_->sizes.back();
  }
}
ParquetRows::~ParquetRows() = default;

bool ParquetRows::next(std::string& json) {
  auto& I = *impl_;
  if (!I.chunk || I.chunk_pos == I.chunk_size) {
    if (!I.next_chunk()) return false;
  }
  const std::string_view s = string_at(&I.strings[I.chunk_pos++]);
  json.assign(s.data(), s.size());
  ++I.row;
  return true;
}
const std::string& ParquetRows::file() const { return impl_->file; }
uint64_t ParquetRows::row() const { return impl_->row; }
uint64_t ParquetRows::bytes_read() const {
  const auto& I = *impl_;
  if (I.next_file == 0 || I.next_file > I.sizes.size()) return I.done_bytes;
  const uint64_t sz = I.sizes[I.next_file - 1];
  return I.done_bytes + (I.rows_in_file ? uint64_t(double(sz) * double(I.row) / double(I.rows_in_file)) : 0);
}
uint64_t ParquetRows::total_bytes() const { return impl_->total; }
size_t ParquetRows::n_files() const { return impl_->files.size(); }

uint64_t write_parquet_rows(const std::string& path, const std::vector<std::pair<std::string, uint64_t>>& rows,
                            const std::string& out) {
  const std::vector<std::string> files = parquet_files(path);
  Duck duck;
  duck.exec("CREATE TEMP TABLE rdpt_keep (k BIGINT, f VARCHAR, r BIGINT)", out);
  {
    duckdb_appender app = nullptr;
    if (duckdb_appender_create(duck.con(), nullptr, "rdpt_keep", &app) != DuckDBSuccess) {
      duckdb_appender_destroy(&app);
      throw Error("writing '" + out + "': DuckDB cannot append to a temporary table");
    }
    int64_t k = 0;
    for (const auto& [f, r] : rows) {
      duckdb_append_int64(app, k++);
      duckdb_append_varchar_length(app, f.data(), f.size());
      duckdb_append_int64(app, int64_t(r) - 1);  // DuckDB's file_row_number counts from 0
      duckdb_appender_end_row(app);
    }
    const bool ok = duckdb_appender_close(app) == DuckDBSuccess;
    duckdb_appender_destroy(&app);
    if (!ok) throw Error("writing '" + out + "': DuckDB cannot append to a temporary table");
  }
  std::string list = "[";
  for (size_t k = 0; k < files.size(); ++k) list += (k ? ", " : "") + sql_string(files[k]);
  list += "]";
  const OutputTarget target = output_target(out, ".rdpt-tmp");  // never renamed over a device or FIFO
  const std::string& tmp = target.write_path;
  const std::string sql =
      "COPY (SELECT p.* EXCLUDE (rdpt_source_file__, file_row_number) FROM read_parquet(" + list +
      ", filename='rdpt_source_file__', file_row_number=true, hive_partitioning=false, union_by_name=true) p "
      "JOIN rdpt_keep s ON s.f = p.rdpt_source_file__ AND "
      "s.r = p.file_row_number ORDER BY s.k) TO " +
      sql_string(tmp) + " (FORMAT parquet, COMPRESSION zstd)";
  try {
    // COPY answers with the number of rows it wrote: every chosen row, once.
    const int64_t n = duck.scalar(sql, "writing " + out);
    if (uint64_t(n) != rows.size())
      throw DataError("writing " + out + ": " + std::to_string(n) + " rows written for " + std::to_string(rows.size()) +
                      " chosen (were the input files changed during the run?)");
  } catch (...) {
    if (!target.direct) std::remove(tmp.c_str());
    throw;
  }
  if (!target.direct && std::rename(tmp.c_str(), target.final_path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error("cannot write '" + out + "': " + std::strerror(errno));
  }
  return rows.size();
}

void duckdb_exec(const std::string& sql) {
  Duck duck;
  duck.exec(sql, "DuckDB");
}

struct ParquetWriter::Impl {
  std::string out, db_path;
  OutputTarget target;
  std::vector<Column> cols;
  std::unique_ptr<Duck> duck;
  duckdb_appender app = nullptr;
  bool finished = false;

  void check(duckdb_state st) {
    if (st != DuckDBSuccess) {
      const char* e = duckdb_appender_error(app);
      throw Error("writing '" + out + "': " + one_line(e ? e : "DuckDB appender error"));
    }
  }
  void remove_temp() {
    std::error_code ec;
    fs::remove(db_path, ec);
    fs::remove(db_path + ".wal", ec);
    fs::remove_all(db_path + ".tmp", ec);
    if (!target.direct) fs::remove(target.write_path, ec);
  }
  ~Impl() {
    if (app) duckdb_appender_destroy(&app);
    duck.reset();
    remove_temp();
  }
};

ParquetWriter::ParquetWriter(const std::string& out, std::vector<Column> columns) : impl_(std::make_unique<Impl>()) {
  auto& I = *impl_;
  I.out = out;
  I.target = output_target(out, ".rdpt-tmp");
  // the staging database sits beside the output, or in the temporary directory for a device
  I.db_path = I.target.direct ? (fs::temp_directory_path() / ("rdpt-" + std::to_string(::getpid()) + "-" +
                                                              std::to_string(reinterpret_cast<uintptr_t>(&I)) + ".duckdb"))
                                    .string()
                              : I.target.final_path + ".rdpt-tmp.duckdb";
  I.cols = std::move(columns);
  I.remove_temp();
  try {
    I.duck = std::make_unique<Duck>(I.db_path);
  } catch (const Error& e) {
    throw Error("cannot write '" + out + "': " + e.what());
  }
  std::string ddl = "CREATE TABLE rdpt_rows (";
  for (size_t k = 0; k < I.cols.size(); ++k) {
    const char* t = I.cols[k].type == Type::Int64    ? "BIGINT"
                    : I.cols[k].type == Type::Double ? "DOUBLE"
                    : I.cols[k].type == Type::Bool   ? "BOOLEAN"
                                                     : "VARCHAR";
    ddl += (k ? ", " : "") + sql_ident(I.cols[k].name) + " " + t;
  }
  I.duck->exec(ddl + ")", "writing " + out);
  if (duckdb_appender_create(I.duck->con(), nullptr, "rdpt_rows", &I.app) != DuckDBSuccess) {
    duckdb_appender_destroy(&I.app);
    I.app = nullptr;
    throw Error("writing '" + out + "': DuckDB cannot append rows");
  }
}
ParquetWriter::~ParquetWriter() = default;

void ParquetWriter::put_int(int64_t v) { impl_->check(duckdb_append_int64(impl_->app, v)); }
void ParquetWriter::put_double(double v) { impl_->check(duckdb_append_double(impl_->app, v)); }
void ParquetWriter::put_bool(bool v) { impl_->check(duckdb_append_bool(impl_->app, v)); }
void ParquetWriter::put_text(std::string_view v) {
  impl_->check(duckdb_append_varchar_length(impl_->app, v.data(), v.size()));
}
void ParquetWriter::put_null() { impl_->check(duckdb_append_null(impl_->app)); }
void ParquetWriter::end_row() { impl_->check(duckdb_appender_end_row(impl_->app)); }

void ParquetWriter::finish() {
  auto& I = *impl_;
  I.check(duckdb_appender_close(I.app));
  duckdb_appender_destroy(&I.app);
  I.app = nullptr;
  const std::string& tmp = I.target.write_path;
  I.duck->exec("COPY rdpt_rows TO " + sql_string(tmp) + " (FORMAT parquet, COMPRESSION zstd)", "writing " + I.out);
  if (!I.target.direct && std::rename(tmp.c_str(), I.target.final_path.c_str()) != 0)
    throw Error("cannot write '" + I.out + "': " + std::strerror(errno));
  I.finished = true;
}

#endif

}  // namespace rdpt::io
