// Records in: read, segment and store dataset records (rdpt import, rdpt score, rdpt.score).
#include <algorithm>
#include <map>
#include <set>

#include "pipeline/batch.h"
#include "rdpt/error.h"
#include "rdpt/pipeline.h"

namespace rdpt {

std::optional<StoredResponse> to_stored_response(Record&& rec, const SegmentOptions& opts, bool skip_bad,
                                                 const LogSink& log) {
  StoredResponse r;
  try {
    r.actions = segment(rec.response, opts, rec.id);
  } catch (const DataError& e) {
    const std::string where = rec.file + ":" + std::to_string(rec.line) + ": ";
    if (!skip_bad) throw DataError(where + e.what());
    if (log) log(LogLevel::Warn, where + "skipped: " + e.what());
    return std::nullopt;
  }
  r.id = std::move(rec.id);
  r.group = std::move(rec.group);
  r.question = std::move(rec.question);
  r.response = std::move(rec.response);
  r.system = std::move(rec.system);
  r.answer = std::move(rec.answer);
  r.correct = rec.correct;
  r.source_file = std::move(rec.file);
  r.source_line = rec.line;
  return r;
}

void EmptyResponses::note(const StoredResponse& r) {
  if (r.response.find_first_not_of(" \t\n\r\f\v") != std::string::npos) return;
  const std::string at = "record '" + r.id + "' at " + r.source_file + ":" + std::to_string(r.source_line);
  if (r.response.empty()) {
    if (n++ == 0) first = at;
  } else if (n_space++ == 0) {
    first_space = at;
  }
}

void EmptyResponses::report(const std::string& file, const LogSink& log) {
  // Kept (the record is the input's), but said once per input: an empty response has nothing to
  // score or type, a whitespace-only one a single action of whitespace (section 1), and a
  // strategy that needs no scores (longest, random) could still pick either.
  auto count = [](uint64_t k) { return std::to_string(k) + (k == 1 ? " response is" : " responses are"); };
  if ((n || n_space) && log) {
    std::string msg = file + ": ";
    if (n) msg += count(n) + " empty (nothing to score or type), e.g. " + first;
    if (n && n_space) msg += "; ";
    if (n_space) msg += count(n_space) + " whitespace only (one action of whitespace), e.g. " + first_space;
    log(LogLevel::Warn, msg);
  }
  n = n_space = 0;
  first.clear();
  first_space.clear();
}

std::string duplicate_id_message(const StoredResponse& r, bool line_ids, const std::string& first_at) {
  const std::string where = r.source_file + ":" + std::to_string(r.source_line) + ": record id '" + r.id + "'";
  // Another file: most often the same data given twice (--data a.jsonl --data a.parquet).
  if (!line_ids && !first_at.empty() && first_at.rfind(r.source_file + ":", 0) != 0)
    return where + " was read before at " + first_at +
           " (ids must be unique across the inputs: is the same data given twice? Otherwise name a unique field "
           "with --id-field FIELD)";
  if (line_ids)
    return where + " appears twice in the input (with --id-field @line, two input files of one name give the same "
                   "ids: rename one, or name a unique field with --id-field FIELD)";
  return where +
         " appears twice in the input (ids must be unique: name a unique field with --id-field FIELD, or give "
         "--id-field @line for '<file name>:<line>' ids; fields such as problem_id or question_id are tried as ids "
         "when there is no id field, and repeat when a question has several responses)";
}

std::vector<StoredResponse> read_responses(const std::vector<std::string>& files, const ReaderOptions& reader_opts,
                                           const SegmentOptions& segment_opts, const LogSink& log, size_t limit) {
  std::vector<StoredResponse> out;
  std::map<std::string, std::pair<size_t, uint64_t>> seen_ids;  // id -> (source file number, line) of its first record
  std::vector<std::string> sources;                              // the source files seen, numbered
  auto source_number = [&](const std::string& f) {
    if (sources.empty() || sources.back() != f) {
      const auto it = std::find(sources.begin(), sources.end(), f);
      if (it == sources.end()) sources.push_back(f);
      else return size_t(it - sources.begin());
    }
    return sources.size() - 1;
  };
  EmptyResponses empty;
  for (const auto& file : files) {
    RecordReader reader(file, reader_opts);
    Record rec;
    while (reader.next(rec)) {
      std::optional<StoredResponse> in = to_stored_response(std::move(rec), segment_opts, reader_opts.skip_bad, log);
      if (!in) continue;
      empty.note(*in);
      if (auto [it, fresh] = seen_ids.try_emplace(in->id, source_number(in->source_file), in->source_line); !fresh)
        throw DataError(duplicate_id_message(*in, reader_opts.fields.id == kLineIds,
                                             sources[it->second.first] + ":" + std::to_string(it->second.second)));
      out.push_back(std::move(*in));
      if (limit && out.size() >= limit) break;
    }
    if (!reader.stats().skipped.empty() && log) log(LogLevel::Warn, file + ": " + reader.stats().skipped_summary());
    empty.report(file, log);
    if (limit && out.size() >= limit) break;
  }
  if (out.empty()) throw DataError("no records in the input");
  return out;
}

void put_responses(Store& store, std::vector<StoredResponse>& responses) {
  detail::in_batch(store, [&] {
    for (auto& r : responses) r.rid = put_response_from_input(store, r);
  });
}

int64_t put_response_from_input(Store& store, const StoredResponse& r) {
  try {
    return store.put_response(r);
  } catch (const DataError& e) {
    throw DataError(r.source_file + ":" + std::to_string(r.source_line) + ": " + e.what());
  }
}

}  // namespace rdpt
