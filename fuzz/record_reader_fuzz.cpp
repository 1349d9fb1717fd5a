// The JSONL record reader and layout detection: arbitrary bytes (plain, or gzip/zstd-looking)
// give records or a DataError/Error, never a crash or a hang; with skip_bad it never throws
// DataError for a record.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_util.h"
#include "rdpt/error.h"
#include "rdpt/record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = rdpt::fuzz::write_input_file("rdpt_fuzz_reader", data, size);
  for (bool skip : {false, true}) {
    rdpt::ReaderOptions o;
    o.skip_bad = skip;
    try {
      rdpt::RecordReader r(path, o);
      rdpt::Record rec;
      while (r.next(rec)) {
        if (rec.id.empty() && rec.line == 0) std::abort();
      }
    } catch (const rdpt::Error&) {
    }
  }
  return 0;
}
