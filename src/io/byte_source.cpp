#include "io/byte_source.h"

#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "rdpt/error.h"

namespace rdpt::io {
namespace {

constexpr size_t kChunk = 1 << 18;

class FileSource : public ByteSource {
 public:
  FileSource(FILE* f, std::string name, bool owned) : f_(f), name_(std::move(name)), owned_(owned) {}
  ~FileSource() override {
    if (owned_) std::fclose(f_);
  }
  size_t read(char* buf, size_t n) override {
    if (!pending_.empty()) {  // bytes peeked for format detection
      size_t k = std::min(n, pending_.size());
      std::memcpy(buf, pending_.data(), k);
      pending_.erase(0, k);
      return k;
    }
    size_t k = std::fread(buf, 1, n, f_);
    if (k == 0 && std::ferror(f_)) throw Error("reading '" + name_ + "' failed: " + std::strerror(errno));
    bytes_ += k;
    return k;
  }
  uint64_t compressed_bytes_read() const override { return bytes_; }
  std::string pending_;  // filled by open_source with the peeked magic bytes
  uint64_t bytes_ = 0;

 private:
  FILE* f_;
  std::string name_;
  bool owned_;
};

class GzipSource : public ByteSource {
 public:
  GzipSource(std::unique_ptr<FileSource> in, std::string name) : in_(std::move(in)), name_(std::move(name)), inbuf_(kChunk) {
    std::memset(&zs_, 0, sizeof zs_);
    if (inflateInit2(&zs_, 15 + 32) != Z_OK) throw Error("zlib: cannot initialise inflate");
  }
  ~GzipSource() override { inflateEnd(&zs_); }
  size_t read(char* buf, size_t n) override {
    zs_.next_out = reinterpret_cast<Bytef*>(buf);
    zs_.avail_out = static_cast<uInt>(n);
    while (zs_.avail_out == n) {
      if (zs_.avail_in == 0) {
        size_t k = in_->read(inbuf_.data(), inbuf_.size());
        if (k == 0) {
          if (!stream_end_) throw DataError("'" + name_ + "': truncated gzip stream");
          return 0;
        }
        zs_.next_in = reinterpret_cast<Bytef*>(inbuf_.data());
        zs_.avail_in = static_cast<uInt>(k);
      }
      if (stream_end_) {  // another gzip member follows (concatenated .gz files)
        inflateReset(&zs_);
        stream_end_ = false;
      }
      int rc = inflate(&zs_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        stream_end_ = true;
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw DataError("'" + name_ + "': corrupt gzip data (" + (zs_.msg ? zs_.msg : "zlib error") + ")");
      }
    }
    return n - zs_.avail_out;
  }
  uint64_t compressed_bytes_read() const override { return in_->bytes_; }

 private:
  std::unique_ptr<FileSource> in_;
  std::string name_;
  std::vector<char> inbuf_;
  z_stream zs_;
  bool stream_end_ = false;
};

class ZstdSource : public ByteSource {
 public:
  ZstdSource(std::unique_ptr<FileSource> in, std::string name)
      : in_(std::move(in)), name_(std::move(name)), inbuf_(ZSTD_DStreamInSize()), ds_(ZSTD_createDStream()) {
    if (!ds_) throw Error("zstd: cannot create a decompression stream");
    ZSTD_initDStream(ds_);
  }
  ~ZstdSource() override { ZSTD_freeDStream(ds_); }
  size_t read(char* buf, size_t n) override {
    ZSTD_outBuffer out{buf, n, 0};
    while (out.pos == 0) {
      if (in_buf_.pos == in_buf_.size) {
        size_t k = in_->read(inbuf_.data(), inbuf_.size());
        if (k == 0) {
          if (frame_open_) throw DataError("'" + name_ + "': truncated zstd stream");
          return 0;
        }
        in_buf_ = {inbuf_.data(), k, 0};
      }
      size_t rc = ZSTD_decompressStream(ds_, &out, &in_buf_);
      if (ZSTD_isError(rc)) throw DataError("'" + name_ + "': corrupt zstd data (" + ZSTD_getErrorName(rc) + ")");
      frame_open_ = rc != 0;
    }
    return out.pos;
  }
  uint64_t compressed_bytes_read() const override { return in_->bytes_; }

 private:
  std::unique_ptr<FileSource> in_;
  std::string name_;
  std::vector<char> inbuf_;
  ZSTD_inBuffer in_buf_{nullptr, 0, 0};
  ZSTD_DStream* ds_;
  bool frame_open_ = false;
};

}  // namespace

std::unique_ptr<ByteSource> open_source(const std::string& path) {
  FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (!f) throw Error("cannot open '" + path + "': " + std::strerror(errno));
  auto src = std::make_unique<FileSource>(f, path, path != "-");
  char magic[4];
  size_t k = 0;
  while (k < 4) {
    size_t r = src->read(magic + k, 4 - k);
    if (r == 0) break;
    k += r;
  }
  src->pending_.assign(magic, k);
  if (k >= 2 && uint8_t(magic[0]) == 0x1f && uint8_t(magic[1]) == 0x8b) return std::make_unique<GzipSource>(std::move(src), path);
  if (k == 4 && uint8_t(magic[0]) == 0x28 && uint8_t(magic[1]) == 0xb5 && uint8_t(magic[2]) == 0x2f && uint8_t(magic[3]) == 0xfd)
    return std::make_unique<ZstdSource>(std::move(src), path);
  return src;
}

LineReader::LineReader(std::unique_ptr<ByteSource> src, std::string name, size_t max_line)
    : src_(std::move(src)), name_(std::move(name)), max_line_(max_line) {}

bool LineReader::next(std::string& line) {
  line.clear();
  for (;;) {
    size_t nl = buf_.find('\n', pos_);
    if (nl != std::string::npos) {
      line.append(buf_, pos_, nl - pos_);
      pos_ = nl + 1;
      ++line_no_;
      return true;
    }
    line.append(buf_, pos_, std::string::npos);
    buf_.clear();
    pos_ = 0;
    if (line.size() > max_line_) {
      throw DataError(name_ + ":" + std::to_string(line_no_ + 1) + ": line longer than " + std::to_string(max_line_) +
                      " bytes");
    }
    if (eof_) {
      if (line.empty()) return false;
      ++line_no_;
      return true;
    }
    buf_.resize(kChunk);
    size_t k = src_->read(buf_.data(), buf_.size());
    buf_.resize(k);
    if (k == 0) eof_ = true;
  }
}

}  // namespace rdpt::io
