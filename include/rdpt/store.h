// The score store: one SQLite file (WAL mode) holding responses, their actions, models and,
// per (model, response) pair, each action's token count and log-prob sum.
//
// Durability: every pair is written in one transaction (put_scores), so a run killed at any
// instant leaves each pair either wholly present or absent; resuming skips pairs that are
// present with status Ok. Readers (Python, the sqlite3 shell) see a consistent snapshot.
//
// Schema version 2 (docs/store.md has the full description and Python examples):
//   PRAGMA application_id = 0x52445054 ('RDPT'), PRAGMA user_version = 2 (= kStoreSchemaVersion)
//   meta(key TEXT PRIMARY KEY, value TEXT)            -- schema_version, application, created_by, created_at
//   responses(rid INTEGER PRIMARY KEY, id TEXT UNIQUE, group_id, question, response, system,
//             answer (NULL = none), correct (NULL/0/1), source_file, source_line, n_actions,
//             spans BLOB, special BLOB)
//   models(mid INTEGER PRIMARY KEY, name TEXT UNIQUE, backend, location, fingerprint,
//          tokenizer, template, info TEXT (JSON), created_at)
//   scores(mid, rid, status (0 Ok, 1 Failed, 2 Truncated), n_tokens, n_tokens_total,
//          token_counts BLOB, logprob_sums BLOB, error, updated_at, rank_sums BLOB (NULL = no
//          ranks), PRIMARY KEY(mid, rid))
// BLOBs are little-endian arrays, one element per action: spans = u32 (begin, end) pairs,
// special = u8, token_counts = u32, logprob_sums = f64, rank_sums = u64 (sums of clipped token
// ranks, written by rdpt score --ranks; the clip is meta "rank_clip:<model name>"). A Failed pair
// may have empty BLOBs.
// Version 1 (no rank_sums column) is upgraded in place when opened for writing (ALTER TABLE
// ADD COLUMN: existing pairs have no ranks); opened read-only it is read as is, without ranks.
// Timestamps are UTC text "YYYY-MM-DDTHH:MM:SSZ".
//
// Example:
//   auto st = rdpt::Store::open("scores.db", rdpt::OpenMode::Create);
//   int64_t rid = st->put_response(resp);              // resp.actions from rdpt::segment
//   int64_t mid = st->put_model({.name = "teacher", .fingerprint = "sha256:..."});
//   st->put_scores(mid, rid, {.n_tokens = n, .n_tokens_total = n, .actions = align_tokens(...)});
//   rdpt::ModelSlot slot = st->prepare_model({.name = "student", .fingerprint = "sha256:..."});
//   st->put_scores(slot, rid, pair);                   // writes the model row with its first pair
//   int64_t mids[] = {mid};
//   st->for_each_scored(mids, [](const rdpt::StoredResponse& r, auto scores) { ...; return true; });
// A Store object is not thread-safe: use one per thread (several processes may open one file).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rdpt/align.h"
#include "rdpt/model_info.h"
#include "rdpt/segment.h"

namespace rdpt {

inline constexpr int kStoreSchemaVersion = 2;
inline constexpr int32_t kStoreApplicationId = 0x52445054;  // "RDPT", in PRAGMA application_id

struct StoredResponse {
  int64_t rid = 0;                    // store row id (assigned by put_response)
  std::string id;                     // record id, unique in the store
  std::string group;                  // question group
  std::string question;
  std::string response;
  std::string system;
  std::optional<std::string> answer;
  std::optional<bool> correct;        // label given in the input or set by grading
  std::string source_file;
  uint64_t source_line = 0;
  std::vector<Action> actions;        // segmentation of `response`
};

// A model prepared for lazy registration (Store::prepare_model).
struct ModelSlot {
  ModelInfo info;        // what put_model will write
  bool replace = false;  // the row replaces a stored model of the same name and another fingerprint
                         // (or the same fingerprint with another prompt template)
  int64_t mid = 0;       // the store's row for this model (same name and fingerprint), 0 until it has one
  bool stored() const { return mid != 0; }
};

enum class ScoreStatus { Ok = 0, Failed = 1, Truncated = 2 };

struct PairScore {
  ScoreStatus status = ScoreStatus::Ok;
  uint32_t n_tokens = 0;        // response tokens scored
  uint32_t n_tokens_total = 0;  // response tokens in all (> n_tokens when truncated)
  std::vector<ActionScore> actions;  // one per action of the response (empty when Failed)
  bool has_ranks = false;       // actions[].rank_sum was computed (rdpt score --ranks)
  std::string error;            // why it failed (Failed), else empty
};

// One pair's stored scores undecoded, as views into SQLite's row memory (Store::scan_scores;
// valid only during its callback): token_counts holds a little-endian u32 per action and
// logprob_sums a little-endian f64 (both empty for a Failed pair without scores).
namespace detail {
// Little-endian loads from unaligned bytes (the store's BLOB layout): one load on little-endian hosts.
inline uint32_t load_le_u32(const char* p) {
  uint32_t v = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&v, p, 4);
  } else {
    for (int i = 0; i < 4; ++i) v |= uint32_t(uint8_t(p[i])) << (8 * i);
  }
  return v;
}
inline uint64_t load_le_u64(const char* p) {
  uint64_t v = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&v, p, 8);
  } else {
    for (int i = 0; i < 8; ++i) v |= uint64_t(uint8_t(p[i])) << (8 * i);
  }
  return v;
}
inline double load_le_f64(const char* p) { return std::bit_cast<double>(load_le_u64(p)); }
}  // namespace detail

struct PairBlobs {
  bool present = false;  // the store holds the pair
  ScoreStatus status = ScoreStatus::Ok;
  uint32_t tokens_scored = 0, tokens_total = 0;  // PairScore::n_tokens, n_tokens_total
  std::string_view token_counts, logprob_sums;
  std::string_view rank_sums;                     // empty: no ranks
  std::string_view error;                         // why it failed (Failed)
  size_t n_actions() const { return token_counts.size() / 4; }
  uint32_t n_tokens(size_t k) const { return detail::load_le_u32(token_counts.data() + 4 * k); }
  double logprob_sum(size_t k) const { return detail::load_le_f64(logprob_sums.data() + 8 * k); }
  bool has_ranks() const { return !rank_sums.empty(); }
  uint64_t rank_sum(size_t k) const { return detail::load_le_u64(rank_sums.data() + 8 * k); }
};

// What Store::scan_scores reads besides the scores.
enum class ScanResponses {
  Full,  // every response, in rid order, with all its fields (as for_each_scored)
  None,  // the scores table only: r is null and only rids with a pair under at least one of
         // mids are visited (a response without any pair is not; a pair without a response,
         // which only another tool can write, is skipped as in the full scan)
};

enum class OpenMode { ReadOnly, ReadWrite, Create /* create if absent, else read-write */ };

class Store {
 public:
  // Throws StoreError naming the path when the file is not SQLite, has another schema
  // version, or cannot be opened in the requested mode.
  static std::unique_ptr<Store> open(const std::string& path, OpenMode mode);
  virtual ~Store() = default;

  virtual const std::string& path() const = 0;

  // Responses. put_response inserts or, if the id exists with identical text, returns the
  // existing rid; an existing id with a different response text is a DataError. The stored
  // row's other fields are kept; a different segmentation replaces the stored one while no
  // score refers to it, and is a DataError once one does.
  virtual int64_t put_response(const StoredResponse& r) = 0;
  virtual std::optional<int64_t> find_response(const std::string& id) = 0;
  virtual std::optional<StoredResponse> get_response(int64_t rid) = 0;
  virtual int64_t n_responses() = 0;
  // Actions of all responses (read from the BLOB sizes: no response row is decoded).
  virtual int64_t n_actions_total() = 0;
  // Streams responses in rid order; return false from fn to stop.
  virtual void for_each_response(const std::function<bool(const StoredResponse&)>& fn) = 0;
  virtual void set_correct(int64_t rid, std::optional<bool> correct) = 0;

  // Models. put_model returns the mid of `m.name`; if the name exists with another
  // fingerprint it throws UsageError unless replace is true (then that model's scores, and its
  // meta "rank_clip:NAME", are deleted and its row updated).
  virtual int64_t put_model(const ModelInfo& m, bool replace = false) = 0;
  // Lazy registration, for writers that may fail before their first pair (a refused prompt, a
  // bad input line): prepare_model checks m against the stored model of that name up front,
  // throwing what put_model would throw, and writes nothing; put_scores(slot, ...) then writes
  // the model row (put_model) in the same transaction as the slot's first pair. A run that
  // stores no pair leaves no model row, and a replacing run (replace) that stores none leaves
  // the old model and its scores as they were.
  virtual ModelSlot prepare_model(const ModelInfo& m, bool replace = false) = 0;
  virtual std::optional<ModelInfo> model(const std::string& name) = 0;
  virtual std::vector<ModelInfo> models() = 0;

  // Scores. put_scores replaces the pair atomically.
  virtual void put_scores(int64_t mid, int64_t rid, const PairScore& s) = 0;
  // The same for a prepared model: its row is written with its first pair (slot.mid set then).
  virtual void put_scores(ModelSlot& slot, int64_t rid, const PairScore& s) = 0;
  virtual std::optional<PairScore> get_scores(int64_t mid, int64_t rid) = 0;
  virtual std::optional<ScoreStatus> score_status(int64_t mid, int64_t rid) = 0;
  // rids of responses that have no Ok (or Truncated) score under mid, in rid order.
  virtual std::vector<int64_t> unscored(int64_t mid) = 0;
  // The same for a prepared model: every response while the store does not hold it yet.
  virtual std::vector<int64_t> unscored(const ModelSlot& slot) = 0;
  // Streams responses in rid order with the scores of each requested model (nullopt where
  // absent); return false to stop. Memory is bounded by one response at a time.
  virtual void for_each_scored(
      std::span<const int64_t> mids,
      const std::function<bool(const StoredResponse&, std::span<const std::optional<PairScore>>)>& fn) = 0;

  // The scan behind for_each_scored and the pipeline's stream, without decoding the BLOBs into
  // PairScore (no allocation per pair). Returns the number of responses in the scan's snapshot
  // (for a full scan that fn stopped early: the number visited).
  // A pair with an unknown status, or BLOBs whose sizes disagree with each other or with the
  // response's actions, is a StoreError naming it.
  virtual int64_t scan_scores(
      std::span<const int64_t> mids, ScanResponses what,
      const std::function<bool(int64_t rid, const StoredResponse* r, std::span<const PairBlobs>)>& fn) = 0;

  // Groups writes into one transaction (faster bulk import); nesting is not supported.
  virtual void begin() = 0;
  virtual void commit() = 0;
  // Drops the open batch's writes (no-op without one). Never throws (it is called while another
  // error propagates).
  virtual void rollback() = 0;

  // Free-form key/value metadata (e.g. the last trace's thresholds).
  virtual void set_meta(const std::string& key, const std::string& value) = 0;
  virtual std::optional<std::string> meta(const std::string& key) = 0;
};

}  // namespace rdpt
