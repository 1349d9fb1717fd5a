// Progress and log hooks. The library never prints: long operations report through a
// Progress, messages through a LogSink. The CLI draws them on a terminal only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace rdpt {

enum class LogLevel { Debug, Info, Warn, Error };
using LogSink = std::function<void(LogLevel, std::string_view)>;

class Progress {
 public:
  virtual ~Progress() = default;
  virtual void start(std::string_view what, uint64_t total, std::string_view unit) {}
  // `done` units of `total`; `extra` counts a second quantity (e.g. tokens) for rates.
  virtual void update(uint64_t done, uint64_t extra = 0) {}
  virtual void finish() {}
};

// A Progress that does nothing (the default everywhere).
Progress& null_progress();

}  // namespace rdpt
