// The store reader: any file content gives a StoreError (not SQLite, other schema, corrupt
// pages, BLOBs of the wrong length) or readable rows, never a crash.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_util.h"
#include "rdpt/error.h"
#include "rdpt/store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = rdpt::fuzz::write_input_file("rdpt_fuzz_store", data, size);
  std::remove((path + "-wal").c_str());
  std::remove((path + "-shm").c_str());
  try {
    auto st = rdpt::Store::open(path, rdpt::OpenMode::ReadOnly);
    std::vector<int64_t> mids;
    for (const auto& m : st->models()) mids.push_back(m.mid);
    uint64_t n = 0;
    st->for_each_scored(mids, [&](const rdpt::StoredResponse& r, std::span<const std::optional<rdpt::PairScore>> sc) {
      for (const auto& s : sc)
        if (s && s->status != rdpt::ScoreStatus::Failed && s->actions.size() != r.actions.size()) std::abort();
      return ++n < 1000;
    });
  } catch (const rdpt::Error&) {
  }
  return 0;
}
