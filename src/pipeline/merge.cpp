// Scale-out: shards of a dataset (rdpt score --shard) and merging their stores (rdpt merge).
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>

#include "rdpt/error.h"
#include "rdpt/pipeline.h"

namespace rdpt {

Shard parse_shard(const std::string& text, const std::string& option) {
  const size_t slash = text.find('/');
  auto number = [&](std::string_view s, uint64_t& out) {
    if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return false;
    out = std::stoull(std::string(s));
    return true;
  };
  uint64_t i = 0, n = 0;
  if (slash == std::string::npos || !number(std::string_view(text).substr(0, slash), i) ||
      !number(std::string_view(text).substr(slash + 1), n) || n == 0 || i >= n)
    throw UsageError(option + ": expected I/N with 0 <= I < N (shards are numbered from 0, e.g. 0/4 .. 3/4), got '" +
                     text + "'");
  return {uint32_t(i), uint32_t(n)};
}

uint32_t shard_of(std::string_view group, uint32_t count) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64
  for (unsigned char c : group) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return uint32_t(h % count);
}

size_t keep_shard(std::vector<StoredResponse>& responses, const Shard& s) {
  const size_t before = responses.size();
  std::erase_if(responses, [&](const StoredResponse& r) { return shard_of(r.group, s.count) != s.index; });
  return before - responses.size();
}

namespace {

bool same_pair(const PairScore& a, const PairScore& b) {
  if (a.status != b.status || a.n_tokens != b.n_tokens || a.n_tokens_total != b.n_tokens_total ||
      a.error != b.error || a.actions.size() != b.actions.size())
    return false;
  for (size_t k = 0; k < a.actions.size(); ++k)  // bit for bit: the same scoring gives the same bytes
    if (a.actions[k].n_tokens != b.actions[k].n_tokens ||
        std::memcmp(&a.actions[k].logprob_sum, &b.actions[k].logprob_sum, sizeof(double)) != 0)
      return false;
  return true;
}

std::string pair_summary(const PairScore& p) {
  if (p.status == ScoreStatus::Failed) return "failed: " + p.error;
  double lp = 0;
  for (const auto& a : p.actions) lp += a.logprob_sum;
  return std::string(p.status == ScoreStatus::Truncated ? "truncated, " : "") + std::to_string(p.actions.size()) +
         " actions, " + std::to_string(p.n_tokens) + " tokens, log-prob sum " + std::to_string(lp);
}

// What differs between two descriptions of one model name ("" when they are the same model).
std::string model_difference(const ModelInfo& a, const ModelInfo& b) {
  if (a.fingerprint != b.fingerprint) return "fingerprint " + a.fingerprint + " vs " + b.fingerprint;
  if (a.tokenizer != b.tokenizer) return "tokenizer '" + a.tokenizer + "' vs '" + b.tokenizer + "'";
  if (a.chat_template != b.chat_template) return "another prompt (chat template or its settings)";
  return "";
}

}  // namespace

MergeStats merge_stores(Store& out, const std::vector<std::string>& inputs, Progress& progress, const LogSink& log) {
  namespace fs = std::filesystem;
  if (inputs.empty()) throw UsageError("merge: no input store");
  MergeStats st;
  std::vector<std::unique_ptr<Store>> in;
  for (const auto& p : inputs) {
    std::error_code ec;
    if (fs::equivalent(p, out.path(), ec))
      throw UsageError("merge: input '" + p + "' is the output store '" + out.path() + "'");
    in.push_back(Store::open(p, OpenMode::ReadOnly));
  }
  st.n_inputs = in.size();

  // Models: one description per name across the output and the inputs.
  struct Seen {
    ModelInfo info;
    std::string where;
  };
  std::map<std::string, Seen> models;
  for (const auto& m : out.models()) models.try_emplace(m.name, Seen{m, out.path()});
  for (size_t k = 0; k < in.size(); ++k)
    for (const auto& m : in[k]->models()) {
      auto [it, fresh] = models.try_emplace(m.name, Seen{m, inputs[k]});
      if (fresh) continue;
      if (std::string d = model_difference(it->second.info, m); !d.empty())
        throw DataError("merge: model '" + m.name + "' differs between '" + it->second.where + "' and '" + inputs[k] +
                        "' (" + d + "): only stores scored with the same model file and prompt merge");
    }

  // New responses in source order: file (by first appearance, inputs in the order given), line.
  struct Key {
    uint32_t file = 0;
    uint64_t line = 0;
    uint32_t input = 0;
    int64_t rid = 0;
  };
  std::vector<Key> keys;
  std::map<std::string, uint32_t> files;
  for (size_t k = 0; k < in.size(); ++k)
    in[k]->for_each_response([&](const StoredResponse& r) {
      const uint32_t f = files.try_emplace(r.source_file, uint32_t(files.size())).first->second;
      keys.push_back({f, r.source_line, uint32_t(k), r.rid});
      return true;
    });
  std::stable_sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
    return std::tie(a.file, a.line, a.input, a.rid) < std::tie(b.file, b.line, b.input, b.rid);
  });

  out.begin();
  try {
    // Per input: (its mid, the output's mid, name) of each of its models.
    struct Mid {
      int64_t in = 0, out = 0;
      std::string name;
    };
    std::vector<std::vector<Mid>> mids(in.size());
    for (size_t k = 0; k < in.size(); ++k)
      for (const auto& m : in[k]->models()) {
        int64_t mo = 0;
        if (auto have = out.model(m.name)) {
          mo = have->mid;
        } else {
          mo = out.put_model(m);
          ++st.n_models_added;
        }
        mids[k].push_back({m.mid, mo, m.name});
      }
    progress.start("merge", keys.size(), "responses");
    uint64_t done = 0;
    for (const Key& key : keys) {
      const std::string& from = inputs[key.input];
      Store& src = *in[key.input];
      const std::optional<StoredResponse> r = src.get_response(key.rid);
      if (!r) throw StoreError("merge: '" + from + "': response rid " + std::to_string(key.rid) + " vanished");
      const std::optional<int64_t> existing = out.find_response(r->id);
      int64_t rid = 0;
      try {
        rid = out.put_response(*r);
      } catch (const DataError& e) {
        throw DataError("merge: '" + from + "': record '" + r->id + "': " + e.what());
      }
      if (existing) {
        ++st.n_responses_present;
        const auto held = out.get_response(rid);
        if (held && r->correct && !held->correct) out.set_correct(rid, r->correct);
        else if (held && r->correct && held->correct && *r->correct != *held->correct)
          throw DataError("merge: '" + from + "': record '" + r->id + "' is graded " +
                          (*r->correct ? "correct" : "incorrect") + " there and " +
                          (*held->correct ? "correct" : "incorrect") + " in what is merged so far (regrade with rdpt grade)");
      } else {
        ++st.n_responses_added;
      }
      for (const Mid& m : mids[key.input]) {
        const std::optional<PairScore> s = src.get_scores(m.in, key.rid);
        if (!s) continue;
        const std::optional<PairScore> have = out.get_scores(m.out, rid);
        if (have) {
          if (same_pair(*have, *s)) {
            ++st.n_pairs_present;
            continue;
          }
          if (s->status == ScoreStatus::Failed) continue;  // a usable pair stays
          if (have->status != ScoreStatus::Failed)
            throw DataError("merge: '" + from + "': record '" + r->id + "', model '" + m.name +
                            "': the pair differs from the one already merged (" + pair_summary(*s) + " vs " +
                            pair_summary(*have) + "): the stores were not scored alike");
          ++st.n_pairs_replaced;
        } else {
          ++st.n_pairs_added;
        }
        out.put_scores(m.out, rid, *s);
      }
      progress.update(++done);
    }
    out.commit();
  } catch (...) {
    out.rollback();
    throw;
  }
  progress.finish();
  if (log)
    log(LogLevel::Info, "merged " + std::to_string(st.n_inputs) + " stores: " + std::to_string(st.n_responses_added) +
                            " responses added (" + std::to_string(st.n_responses_present) + " already there), " +
                            std::to_string(st.n_pairs_added) + " pairs added (" + std::to_string(st.n_pairs_present) +
                            " already there, " + std::to_string(st.n_pairs_replaced) + " failed ones replaced)");
  return st;
}

}  // namespace rdpt
