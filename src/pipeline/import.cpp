// rdpt import in the library: dataset records and per-token log-probs users already have, into
// the store. The line formats are rdpt/logprob_import.h's; here they meet the store.
#include <algorithm>
#include <map>
#include <unordered_set>

#include "io/json_rows.h"
#include "pipeline/batch.h"
#include "rdpt/error.h"
#include "rdpt/logprob_import.h"
#include "rdpt/pipeline.h"
#include "rdpt/scorer.h"
#include "rdpt/vocab.h"

namespace rdpt {

ModelInfo imported_model(const std::string& name, const std::string& location, const std::string& fingerprint,
                         const std::string& tokenizer) {
  ModelInfo m;
  m.name = name;
  m.backend = "import";
  m.location = location;
  m.fingerprint = !fingerprint.empty() ? fingerprint : "import:" + (location.empty() ? name : location);
  m.tokenizer = tokenizer;
  return m;
}

std::unique_ptr<Vocabulary> open_import_vocabulary(const std::string& path) {
#ifdef RDPT_WITH_LLAMA
  return open_vocabulary(path);
#else
  throw UsageError("--tokenizer '" + path +
                   "': this rdpt was built without llama.cpp (-DRDPT_WITH_LLAMA=OFF), which reads the vocabulary that "
                   "token ids need");
#endif
}

int64_t import_responses(Store& store, const std::string& path, const ReaderOptions& reader_opts,
                         const SegmentOptions& segment_opts, uint64_t batch, Progress& progress, const LogSink& log) {
  RecordReader reader(path, reader_opts);
  progress.start("import " + path, reader.size().value_or(0), "bytes");
  const int64_t before = store.n_responses();
  Record rec;
  uint64_t n = 0, n_actions = 0, skipped_seg = 0;
  std::unordered_set<std::string> seen_ids;  // an id twice in one input is a mistake, not a re-import
  EmptyResponses empty;
  detail::in_batch(store, [&] {
    while (reader.next(rec)) {
      std::optional<StoredResponse> r = to_stored_response(std::move(rec), segment_opts, reader_opts.skip_bad, log);
      if (!r) {
        ++skipped_seg;
        continue;
      }
      if (!seen_ids.insert(r->id).second) throw DataError(duplicate_id_message(*r, reader_opts.fields.id == kLineIds));
      empty.note(*r);
      put_response_from_input(store, *r);
      n_actions += r->actions.size();
      if (++n % batch == 0) {
        store.commit();
        store.begin();
        progress.update(reader.bytes_read());
      }
    }
  });
  progress.finish();
  empty.report(path, log);
  const int64_t added = store.n_responses() - before;
  std::string msg = "read " + std::to_string(n) + " responses (" + std::to_string(n_actions) + " actions) from " +
                    path + ": " + std::to_string(added) + " new, " + std::to_string(int64_t(n) - added) +
                    " already in " + store.path();
  const auto& st = reader.stats();
  if (st.n_skipped()) msg += "; " + st.skipped_summary();
  if (skipped_seg) msg += "; " + std::to_string(skipped_seg) + " skipped: segmentation failed";
  if (log) log(LogLevel::Info, msg);
  return int64_t(n);
}

PairScore imported_pair_score(std::span<const Action> actions, const ImportedTokens& t, uint64_t* n_cut_actions,
                              uint32_t rank_clip) {
  PairScore s;
  try {
    if (t.has_ranks) {
      std::vector<TokenLogprob> clipped = t.tokens;
      for (auto& k : clipped) k.rank = std::min(k.rank, std::max(rank_clip, 1u));
      s.actions = align_tokens(actions, clipped);
      s.has_ranks = true;
    } else {
      s.actions = align_tokens(actions, t.tokens);
    }
  } catch (const DataError& e) {
    throw LogprobLineError{"alignment failed", e.what()};
  }
  s.n_tokens = uint32_t(t.tokens.size());
  s.n_tokens_total = s.n_tokens;
  if (t.truncated) {
    // As rdpt score --truncate: the action the truncation cut (or may have cut) and those
    // after it stay unscored; n_tokens counts the tokens of the actions kept.
    const size_t cut = drop_cut_actions(actions, s.actions, t.covered_end);
    if (n_cut_actions) *n_cut_actions += cut;
    s.n_tokens = 0;
    for (const auto& a : s.actions) s.n_tokens += a.n_tokens;
  }
  if (t.n_tokens_total) s.n_tokens_total = std::max(s.n_tokens, *t.n_tokens_total);
  s.status = t.truncated ? ScoreStatus::Truncated : ScoreStatus::Ok;
  return s;
}

std::string LogprobImportStats::summary(const std::string& path) const {
  std::string msg = "imported " + std::to_string(n_pairs) + " scored responses (" + std::to_string(n_tokens) +
                    " tokens) from " + path;
  if (n_prompt_tokens) msg += "; " + std::to_string(n_prompt_tokens) + " prompt tokens dropped";
  if (n_empty_tokens) msg += "; " + std::to_string(n_empty_tokens) + " empty tokens dropped";
  if (n_truncated)
    msg += "; " + std::to_string(n_truncated) + " truncated (" + std::to_string(n_cut_actions) +
           " actions cut by or past the truncation left unscored)";
  if (n_chars_unit) msg += "; offsets in characters for " + std::to_string(n_chars_unit);
  if (n_ranked) msg += "; ranks for " + std::to_string(n_ranked);
  uint64_t n_skipped = 0;
  std::string reasons;
  for (const auto& [k, v] : skipped) {
    n_skipped += v;
    reasons += (reasons.empty() ? " " : ", ") + std::to_string(v) + " " + k;
  }
  if (n_skipped) msg += "; " + std::to_string(n_skipped) + " lines skipped:" + reasons;
  return msg;
}

LogprobImportStats import_logprobs(Store& store, const std::string& path, ModelSlot& slot, OffsetUnit unit,
                                   bool skip_bad, uint64_t batch, Progress& progress, const LogSink& log,
                                   const TokenIdOptions& ids, const LogprobFieldNames& fields, uint32_t rank_clip) {
  if (rank_clip < 1 || rank_clip > kMaxRankClip)
    throw UsageError("rank clip must be in 1.." + std::to_string(kMaxRankClip) + ", got " + std::to_string(rank_clip));
  const std::string& name = slot.info.name;
  // The stored clip, unless the model is being replaced (its scores and clip go with its first pair).
  const std::optional<uint32_t> stored_clip =
      slot.replace && !slot.stored() ? std::nullopt : rank_clip_of(store, name);
  bool clip_recorded = false;
  io::JsonRows rows(path);  // JSON Lines, or Parquet rows as JSON objects
  LogprobImportStats stats;
  std::string line;
  progress.start("import " + path, 0, "lines");
  detail::in_batch(store, [&] {
    while (rows.next(line)) {
      ++stats.n_lines;
      std::string id;
      try {
        const LogprobLine l(line, fields);
        id = l.id();
        auto rid = store.find_response(id);
        if (!rid) {
          throw LogprobLineError{"record not in the store",
                                 "not in " + store.path() + " (import its dataset with --data first)"};
        }
        const StoredResponse r = *store.get_response(*rid);
        const ImportedTokens t = l.tokens(r.response, unit, ids);
        if (t.has_ranks && stored_clip && *stored_clip != rank_clip)  // not a line's fault: stop
          throw UsageError(rows.file() + ":" + std::to_string(rows.number()) + ": record '" + id + "': model '" + name +
                           "' has ranks in the store clipped at " + std::to_string(*stored_clip) +
                           "; import with --rank-clip " + std::to_string(*stored_clip) + " (or under another name)");
        store.put_scores(slot, *rid, imported_pair_score(r.actions, t, &stats.n_cut_actions, rank_clip));
        if (t.has_ranks && !clip_recorded) {  // in the batch's transaction, after the pair (which may replace the model)
          store.set_meta(rank_clip_key(name), std::to_string(rank_clip));
          clip_recorded = true;
        }
        ++stats.n_pairs;
        stats.n_ranked += t.has_ranks;
        stats.n_tokens += t.tokens.size();
        stats.n_prompt_tokens += t.n_prompt;
        stats.n_empty_tokens += t.n_empty;
        stats.n_truncated += t.truncated;
        stats.n_chars_unit += t.unit_used == OffsetUnit::Chars;
      } catch (const LogprobLineError& e) {
        // Every line error names file, line and (once known) the record.
        const std::string msg = rows.file() + ":" + std::to_string(rows.number()) + ": " +
                                (id.empty() ? "" : "record '" + id + "': ") + e.what();
        if (!skip_bad) throw DataError(msg);
        ++stats.skipped[e.reason];
        if (log) log(LogLevel::Warn, "skipped: " + msg);
      }
      if (stats.n_lines % batch == 0) {
        store.commit();
        store.begin();
        progress.update(stats.n_lines);
      }
    }
  });
  progress.finish();
  if (log) log(LogLevel::Info, stats.summary(path));
  return stats;
}

}  // namespace rdpt
