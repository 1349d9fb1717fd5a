// Reading a large dataset: the same traces as one Parquet file and as JSON Lines compressed with
// zstd, read record by record through rdpt's RecordReader (what rdpt import/score/segment use).
//
//   build/bench/dataset_read_bench [--dir DIR] [--parquet-mb 1024 | --copies N] [--row-group 1000] [--keep]
//
// Makes DIR/traces.parquet (about --parquet-mb MB: the shipped traces repeated with distinct ids
// and texts, written by DuckDB in row groups of --row-group rows: 1000 is what Hugging Face
// datasets' to_parquet writes; DuckDB's own default is 122880) and DIR/traces.jsonl.zst holding the same rows, once; then reads
// each in a child process of its own and prints, per format: file size, wall and CPU seconds,
// file MB/s, text MB/s (question + response bytes delivered), records/s and peak resident memory,
// and the ratio Parquet / JSONL.zst of each, measured in this run.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "io/parquet.h"
#include "rdpt/record.h"

namespace fs = std::filesystem;

namespace {

struct Reading {
  uint64_t records = 0, text_bytes = 0;
  double wall = 0, cpu = 0;
  long max_rss_kb = 0;
};

// Reads `path` in a child process (so that its peak memory is its own).
Reading read_in_child(const std::string& path) {
  int fd[2];
  if (pipe(fd) != 0) std::abort();
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    Reading r;
    try {
      rdpt::RecordReader reader(path);
      rdpt::Record rec;
      while (reader.next(rec)) {
        ++r.records;
        r.text_bytes += rec.question.size() + rec.response.size();
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), e.what());
      _exit(1);
    }
    if (write(fd[1], &r, sizeof r) != ssize_t(sizeof r)) _exit(1);
    _exit(0);
  }
  close(fd[1]);
  Reading r;
  const bool got = read(fd[0], &r, sizeof r) == ssize_t(sizeof r);
  close(fd[0]);
  int st = 0;
  struct rusage ru {};
  wait4(pid, &st, 0, &ru);
  if (!got || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    std::fprintf(stderr, "reading %s failed\n", path.c_str());
    std::exit(1);
  }
  r.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.cpu = double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1e-6 * double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  r.max_rss_kb = ru.ru_maxrss;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp/rdpt_dataset_bench";
  double target_mb = 1024;
  bool keep = false;
  int row_group = 1000, copies_given = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--parquet-mb" && i + 1 < argc) target_mb = std::stod(argv[++i]);
    else if (a == "--copies" && i + 1 < argc) copies_given = std::stoi(argv[++i]);
    else if (a == "--row-group" && i + 1 < argc) row_group = std::stoi(argv[++i]);
    else if (a == "--keep") keep = true;
    else {
      std::fprintf(stderr, "usage: %s [--dir DIR] [--parquet-mb MB | --copies N] [--row-group N] [--keep]\n", argv[0]);
      return 2;
    }
  }
  if (!rdpt::io::parquet_available()) {
    std::fprintf(stderr, "built without DuckDB: nothing to measure\n");
    return 0;
  }
  fs::create_directories(dir);
  const std::string pq = dir + "/traces-rg" + std::to_string(row_group) + ".parquet", js = dir + "/traces.jsonl.zst";
  const std::string base = "(SELECT id, question_id, question, response, answer, correct FROM read_json('" +
                           std::string(RDPT_SOURCE_DIR_BENCH) +
                           "/data/traces/*.jsonl.zst', format='newline_delimited', union_by_name=true))";
  if (!fs::exists(pq) || !fs::exists(js)) {
    // Copy k of the traces, copy after copy (ORDER BY k): ids and texts made distinct per copy.
    // Without the order DuckDB may write a record's copies side by side, and zstd then stores
    // 1100 copies in 16 MB (a run of 1.7 M records read from 16 MB says nothing about 1 GB).
    auto rows = [&](int copies) {
      return "SELECT id || '/' || k AS id, question_id || '/' || k AS question_id, question, 'Copy ' || k || '. ' || "
             "response AS response, answer, correct FROM range(" + std::to_string(copies) +
             ") c(k), (SELECT *, row_number() OVER () AS rn FROM " + base + ") ORDER BY k, rn";
    };
    const std::string pq_opts = " (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE " + std::to_string(row_group) + ")";
    const std::string probe = dir + "/probe.parquet";
    rdpt::io::duckdb_exec("COPY (" + rows(16) + ") TO '" + probe + "'" + pq_opts);
    const double per_copy = double(fs::file_size(probe)) / 16.0;
    fs::remove(probe);
    const int copies = copies_given ? copies_given : std::max(1, int(target_mb * 1e6 / per_copy + 0.5));
    std::fprintf(stderr, "writing %d copies of the shipped traces as Parquet and as JSONL.zst in %s ...\n", copies,
                 dir.c_str());
    rdpt::io::duckdb_exec("COPY (" + rows(copies) + ") TO '" + pq + ".part'" + pq_opts);
    rdpt::io::duckdb_exec("COPY (SELECT * FROM read_parquet('" + pq + ".part')) TO '" + js +
                          ".part' (FORMAT json, COMPRESSION zstd)");
    fs::rename(pq + ".part", pq);
    fs::rename(js + ".part", js);
  }
  const uint64_t pq_size = fs::file_size(pq), js_size = fs::file_size(js);
  const Reading rp = read_in_child(pq), rj = read_in_child(js);
  if (rp.records != rj.records || rp.text_bytes != rj.text_bytes) {
    std::fprintf(stderr, "the two files differ: %llu vs %llu records\n", (unsigned long long)rp.records,
                 (unsigned long long)rj.records);
    return 1;
  }
  std::printf("%-12s %10s %9s %8s %9s %9s %11s %9s\n", "format", "file MB", "wall s", "cpu s", "file MB/s",
              "text MB/s", "records/s", "peak MB");
  auto row = [](const char* name, uint64_t size, const Reading& r) {
    std::printf("%-12s %10.1f %9.2f %8.2f %9.1f %9.1f %11.0f %9.1f\n", name, double(size) / 1e6, r.wall, r.cpu,
                double(size) / 1e6 / r.wall, double(r.text_bytes) / 1e6 / r.wall, double(r.records) / r.wall,
                double(r.max_rss_kb) / 1024.0);
  };
  row("parquet", pq_size, rp);
  row("jsonl.zst", js_size, rj);
  std::printf("%-12s %10.2f %9.2f %8.2f %9s %9.2f %11s %9.2f\n", "ratio pq/js", double(pq_size) / double(js_size),
              rp.wall / rj.wall, rp.cpu / rj.cpu, "", (double(rp.text_bytes) / rp.wall) / (double(rj.text_bytes) / rj.wall),
              "", double(rp.max_rss_kb) / double(rj.max_rss_kb));
  std::printf("%llu records, %.1f MB of question + response text in each\n", (unsigned long long)rp.records,
              double(rp.text_bytes) / 1e6);
  if (!keep) {
    fs::remove(pq);
    fs::remove(js);
  }
  return 0;
}
