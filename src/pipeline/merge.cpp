// Scale-out: shards of a dataset (rdpt score --shard) and merging their stores (rdpt merge).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

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

// The same scores, ranks aside.
bool same_scores(const PairScore& a, const PairScore& b) {
  if (a.status != b.status || a.n_tokens != b.n_tokens || a.n_tokens_total != b.n_tokens_total ||
      a.error != b.error || a.actions.size() != b.actions.size())
    return false;
  for (size_t k = 0; k < a.actions.size(); ++k)  // bit for bit: the same scoring gives the same bytes
    if (a.actions[k].n_tokens != b.actions[k].n_tokens ||
        std::memcmp(&a.actions[k].logprob_sum, &b.actions[k].logprob_sum, sizeof(double)) != 0)
      return false;
  return true;
}

// Two usable pairs of one response that differ only in the last digits of their log-prob sums:
// the same tokens per action, and each action's sum within 1e-4 of the larger magnitude (at least
// 1e-4 nats). llama.cpp's results depend on how responses were batched, so a resumed run (the
// rest of an interrupted question batched otherwise) and the run it resumed differ so (a review
// measured up to 6e-5 relative).
bool equal_up_to_rounding(const PairScore& a, const PairScore& b) {
  if (a.status == ScoreStatus::Failed || a.status != b.status || a.n_tokens != b.n_tokens ||
      a.n_tokens_total != b.n_tokens_total || a.actions.size() != b.actions.size() || a.has_ranks != b.has_ranks)
    return false;
  for (size_t k = 0; k < a.actions.size(); ++k) {
    const double x = a.actions[k].logprob_sum, y = b.actions[k].logprob_sum;
    if (a.actions[k].n_tokens != b.actions[k].n_tokens || a.actions[k].rank_sum != b.actions[k].rank_sum ||
        !(std::fabs(x - y) <= 1e-4 * std::max({1.0, std::fabs(x), std::fabs(y)})))
      return false;
  }
  return true;
}

bool same_pair(const PairScore& a, const PairScore& b) {
  if (!same_scores(a, b) || a.has_ranks != b.has_ranks) return false;
  for (size_t k = 0; a.has_ranks && k < a.actions.size(); ++k)
    if (a.actions[k].rank_sum != b.actions[k].rank_sum) return false;
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
  if (a.fingerprint != b.fingerprint)
    return "fingerprint " + a.fingerprint + " vs " + b.fingerprint +
           (a.backend == "http" || b.backend == "http"
                ? "; a server's fingerprint is its endpoint list and served name as given (localhost and 127.0.0.1 "
                  "differ): give every shard the same --model URLs"
                : "");
  if (a.tokenizer != b.tokenizer) return "tokenizer '" + a.tokenizer + "' vs '" + b.tokenizer + "'";
  if (a.chat_template != b.chat_template) return "another prompt (chat template or its settings)";
  return "";
}

// The scoring settings (ModelInfo::info_json: context size, llama.cpp build, ...) that differ,
// "key a vs b, ..." ("" when none do).
std::string settings_difference(const ModelInfo& a, const ModelInfo& b) {
  if (a.info_json == b.info_json) return "";
  const auto ja = nlohmann::json::parse(a.info_json, nullptr, false);
  const auto jb = nlohmann::json::parse(b.info_json, nullptr, false);
  if (!ja.is_object() || !jb.is_object()) return "info " + a.info_json.substr(0, 60) + " vs " + b.info_json.substr(0, 60);
  std::string out;
  std::set<std::string> keys;
  for (const auto& [k, v] : ja.items()) keys.insert(k);
  for (const auto& [k, v] : jb.items()) keys.insert(k);
  for (const auto& k : keys) {
    // a key one store does not record (written by an older rdpt) is no difference
    if (!ja.contains(k) || !jb.contains(k)) continue;
    const auto va = ja.at(k).dump(), vb = jb.at(k).dump();
    if (va != vb) out += (out.empty() ? "" : ", ") + k + " " + va + " vs " + vb;
  }
  return out;
}

}  // namespace

void record_shard(Store& store, const Shard& s, uint64_t n_dataset_responses, const LogSink& log) {
  const std::string spec = std::to_string(s.index) + "/" + std::to_string(s.count);
  if (const auto had = store.meta("shard"); had && !had->empty() && *had != spec && log)
    log(LogLevel::Warn, "store '" + store.path() + "' already holds shard " + *had + "; it now records shard " + spec +
                            " (one store per shard lets rdpt merge check that none is missing)");
  store.set_meta("shard", spec);
  store.set_meta("shard_dataset_responses", std::to_string(n_dataset_responses));
}

namespace {

// The shards each store holds: its own (meta "shard" = "I/N", rdpt score --shard) or those an
// earlier merge put into it (meta "shards_merged" = "N:i,j,..."). False when it records none.
bool shards_of(Store& st, std::map<uint32_t, std::set<uint32_t>>& seen) {
  if (const auto m = st.meta("shards_merged"); m && !m->empty()) {
    const size_t colon = m->find(':');
    if (colon == std::string::npos) return false;
    const std::string n = m->substr(0, colon), rest = m->substr(colon + 1);
    bool any = false;
    for (size_t p = 0; p <= rest.size();) {
      const size_t q = std::min(rest.find(',', p), rest.size());
      if (q > p) {
        try {
          const Shard sh = parse_shard(rest.substr(p, q - p) + "/" + n, "shards_merged");
          seen[sh.count].insert(sh.index);
          any = true;
        } catch (const Error&) {
        }
      }
      p = q + 1;
    }
    return any;
  }
  if (const auto spec = st.meta("shard"); spec && !spec->empty()) {
    try {
      const Shard sh = parse_shard(*spec, "shard");
      seen[sh.count].insert(sh.index);
      return true;
    } catch (const Error&) {
    }
  }
  return false;
}

// The shards recorded by the output and the inputs, after this merge: shards of two splits, or of
// datasets of different sizes, are warned; so is a shard still missing, when every store that
// brings responses records its shards (a store without a record, e.g. from an older rdpt, could
// hold any). The output then records the union (and no longer a single "shard" of its own).
void check_shards(Store& out, const std::vector<std::unique_ptr<Store>>& in, const std::vector<std::string>& inputs,
                  const LogSink& log) {
  std::map<uint32_t, std::set<uint32_t>> seen;                 // N -> indexes
  std::vector<std::pair<std::string, std::string>> sizes;      // responses of the dataset, the store saying so
  bool all_recorded = true;
  auto visit = [&](Store& st, const std::string& where) {
    const bool rec = shards_of(st, seen);
    if (!rec && st.n_responses() > 0) all_recorded = false;
    if (const auto total = st.meta("shard_dataset_responses"); rec && total && !total->empty()) {
      bool known = false;
      for (const auto& [t, w] : sizes) known = known || t == *total;
      if (!known) sizes.emplace_back(*total, where);
    }
  };
  visit(out, out.path());
  for (size_t k = 0; k < in.size(); ++k) visit(*in[k], inputs[k]);
  if (seen.empty()) return;
  if (seen.size() > 1 && log) {
    std::string splits;
    for (const auto& [n, ix] : seen) splits += (splits.empty() ? "" : ", ") + std::to_string(n);
    log(LogLevel::Warn, "the stores hold shards of different splits (into " + splits +
                            " shards): shards of two splits overlap and miss responses; use one --shard I/N for all");
  }
  if (sizes.size() > 1 && log) {
    std::string list;
    for (const auto& [n, where] : sizes) list += (list.empty() ? "" : ", ") + n + " in '" + where + "'";
    log(LogLevel::Warn, "the shards were cut from datasets of different sizes (responses: " + list +
                            "): other data, or other reader options, in some shard");
  }
  if (seen.size() != 1) return;
  const auto& [n, ix] = *seen.begin();
  std::string missing;
  uint32_t n_missing = 0;
  for (uint32_t i = 0; i < n; ++i)
    if (!ix.count(i) && ++n_missing <= 8) missing += (missing.empty() ? "" : ", ") + std::to_string(i);
  if (n_missing && all_recorded && log)
    log(LogLevel::Warn, "shard" + std::string(n_missing > 1 ? "s " : " ") + missing + (n_missing > 8 ? ", ..." : "") +
                            " of " + std::to_string(n) + " " + (n_missing > 1 ? "are" : "is") +
                            " not among the stores merged so far: the merged store lacks " +
                            (n_missing > 1 ? "their" : "its") + " responses (merge them too, now or later)");
  std::string list;
  for (uint32_t i : ix) {
    if (!list.empty()) list += ',';
    list += std::to_string(i);
  }
  out.set_meta("shards_merged", std::to_string(n) + ":" + list);
  if (out.meta("shard")) out.set_meta("shard", "");  // a merge holds the shards listed, not one
  if (!sizes.empty()) out.set_meta("shard_dataset_responses", sizes.front().first);
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
      if (std::string d = settings_difference(it->second.info, m); !d.empty() && log)
        log(LogLevel::Warn, "merge: model '" + m.name + "' was scored with other settings in '" + it->second.where +
                                "' and '" + inputs[k] + "' (" + d +
                                "): its pairs merge as they are; a context size that differs truncates long "
                                "responses differently");
    }

  // Rank clips: one per model name across the output and the inputs.
  std::map<std::string, std::pair<uint32_t, std::string>> clips;  // name -> (clip, where)
  auto note_clip = [&](Store& s, const std::string& where) {
    for (const auto& m : s.models()) {
      const auto c = rank_clip_of(s, m.name);
      if (!c) continue;
      auto [it, fresh] = clips.try_emplace(m.name, *c, where);
      if (!fresh && it->second.first != *c)
        throw DataError("merge: model '" + m.name + "' has token ranks clipped at " + std::to_string(it->second.first) +
                        " in '" + it->second.second + "' and at " + std::to_string(*c) + " in '" + where +
                        "': only ranks of one clip merge (rescore one with rdpt score --ranks --rank-clip)");
    }
  };
  note_clip(out, out.path());
  for (size_t k = 0; k < in.size(); ++k) note_clip(*in[k], inputs[k]);

  // New responses in source order: file (by first appearance, inputs in the order given), line.
  struct Key {
    uint32_t file = 0;
    uint64_t line = 0;
    uint32_t input = 0;
    int64_t rid = 0;
  };
  std::vector<Key> keys;
  std::map<std::string, uint32_t> files;           // file -> its number in order of first sight
  std::vector<std::vector<uint32_t>> file_seqs(in.size());  // per input: its files in rid order
  for (size_t k = 0; k < in.size(); ++k)
    in[k]->for_each_response([&](const StoredResponse& r) {
      const uint32_t f = files.try_emplace(r.source_file, uint32_t(files.size())).first->second;
      auto& seq = file_seqs[k];
      if (std::find(seq.begin(), seq.end(), f) == seq.end()) seq.push_back(f);
      keys.push_back({f, r.source_line, uint32_t(k), r.rid});
      return true;
    });
  // One file under two paths ("d.jsonl", "./d.jsonl", "/data/d.jsonl"): its records do not
  // interleave in line order, so the merged order differs from an unsharded run's; warned.
  if (log) {
    std::map<std::string, std::vector<std::string>> by_name;
    for (const auto& [f, i] : files) by_name[fs::path(f).filename().string()].push_back(f);
    // (train/0000.parquet and test/0000.parquet are two files: only paths that name one existing
    // file here are said to be one)
    bool said = false;
    for (const auto& [base, paths] : by_name)
      for (size_t i = 0; i < paths.size() && !said; ++i)
        for (size_t j = i + 1; j < paths.size() && !said; ++j) {
          std::error_code ec;
          if (!fs::equivalent(paths[i], paths[j], ec) || ec) continue;
          said = true;
          log(LogLevel::Warn, "the stores read one file under two paths ('" + paths[i] + "', '" + paths[j] +
                                  "'): taken for different files, their records are ordered file by file, not as "
                                  "one run read them; score every shard with the data under one path");
        }
  }
  // The files' order: each input stores its files in the order its run read them, so every input
  // says which file comes before which; together they give the run's order even when no input
  // holds every file (a shard without any response of the first file). Files no input orders
  // against each other go by name.
  {
    const size_t nf = files.size();
    std::vector<std::string> name(nf);
    for (const auto& [f, i] : files) name[i] = f;
    std::vector<std::set<uint32_t>> after(nf);
    std::vector<uint32_t> n_before(nf, 0);
    for (const auto& seq : file_seqs)
      for (size_t i = 1; i < seq.size(); ++i)
        if (after[seq[i - 1]].insert(seq[i]).second) ++n_before[seq[i]];
    std::vector<uint32_t> rank(nf);
    std::vector<bool> placed(nf, false);
    for (uint32_t r = 0; r < nf; ++r) {
      // The first file (by name) nothing unplaced must precede; on contradicting inputs (a cycle),
      // the first unplaced file by name.
      std::optional<uint32_t> pick, fallback;
      for (uint32_t f = 0; f < nf; ++f) {
        if (placed[f]) continue;
        if (!fallback || name[f] < name[*fallback]) fallback = f;
        if (n_before[f] == 0 && (!pick || name[f] < name[*pick])) pick = f;
      }
      const uint32_t f = pick ? *pick : *fallback;
      placed[f] = true;
      rank[f] = r;
      for (uint32_t g : after[f])
        if (n_before[g]) --n_before[g];
    }
    for (Key& key : keys) key.file = rank[key.file];
  }
  std::stable_sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
    return std::tie(a.file, a.line, a.input, a.rid) < std::tie(b.file, b.line, b.input, b.rid);
  });

  out.begin();
  try {
    check_shards(out, in, inputs, log);  // inside the transaction: its meta is written with the merge
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
    for (const auto& [name, c] : clips) out.set_meta(rank_clip_key(name), std::to_string(c.first));
    // For error messages: which store holds the pair (or grade) a conflicting one met.
    auto holder = [&](const std::string& id, const std::string& model, const PairScore& p) {
      for (size_t k = 0; k < in.size(); ++k) {
        const auto rid = in[k]->find_response(id);
        const auto mo = in[k]->model(model);
        if (!rid || !mo) continue;
        if (const auto s = in[k]->get_scores(mo->mid, *rid); s && same_pair(*s, p)) return inputs[k];
      }
      return out.path();
    };
    auto grade_holder = [&](const std::string& id, bool correct) {
      for (size_t k = 0; k < in.size(); ++k)
        if (const auto rid = in[k]->find_response(id))
          if (in[k]->get_response(*rid)->correct == std::optional<bool>(correct)) return inputs[k];
      return out.path();
    };
    progress.start("merge", keys.size(), "responses");
    uint64_t done = 0;
    std::set<std::pair<int64_t, int64_t>> met_failed;  // (output mid, rid) pairs a Failed one was met at
    for (const Key& key : keys) {
      const std::string& from = inputs[key.input];
      Store& src = *in[key.input];
      const std::optional<StoredResponse> r = src.get_response(key.rid);
      if (!r) throw StoreError("merge: '" + from + "': response rid " + std::to_string(key.rid) + " vanished");
      const std::optional<int64_t> existing = out.find_response(r->id);
      // An input's copy without any pair brings no scores: where its segmentation, question or
      // system prompt differs from the one already merged, the merged one stays (whichever order
      // the inputs come in).
      bool has_pairs = false;
      for (const Mid& m : mids[key.input]) has_pairs = has_pairs || src.score_status(m.in, key.rid).has_value();
      int64_t rid = 0;
      try {
        const std::optional<StoredResponse> held = existing && !has_pairs ? out.get_response(*existing) : std::nullopt;
        const bool differs =
            held && (held->actions != r->actions || held->question != r->question || held->system != r->system);
        rid = held && held->response == r->response && differs ? *existing : out.put_response(*r);
      } catch (const DataError& e) {  // the store's message names the record
        throw DataError("merge: '" + from + "': " + e.what());
      }
      if (existing) {
        ++st.n_responses_present;
        const auto held = out.get_response(rid);
        if (held && r->correct && !held->correct) out.set_correct(rid, r->correct);
        else if (held && r->correct && held->correct && *r->correct != *held->correct)
          throw DataError("merge: record '" + r->id + "' is graded " + (*r->correct ? "correct" : "incorrect") +
                          " in '" + from + "' and " + (*held->correct ? "correct" : "incorrect") + " in '" +
                          grade_holder(r->id, *held->correct) + "' (regrade with rdpt grade)");
      } else {
        ++st.n_responses_added;
      }
      for (const Mid& m : mids[key.input]) {
        const std::optional<PairScore> s = src.get_scores(m.in, key.rid);
        if (!s) continue;
        const std::optional<PairScore> have = out.get_scores(m.out, rid);
        if (s->status == ScoreStatus::Failed || (have && have->status == ScoreStatus::Failed))
          met_failed.insert({m.out, rid});
        if (have) {
          if (same_pair(*have, *s)) {
            ++st.n_pairs_present;
            continue;
          }
          if (equal_up_to_rounding(*have, *s)) {  // the pair held first stays
            ++st.n_pairs_rounding;
            continue;
          }
          if (same_scores(*have, *s) && have->has_ranks != s->has_ranks) {  // the ranked one stays
            if (have->has_ranks) {
              ++st.n_pairs_present;
              continue;
            }
            ++st.n_pairs_ranked;
            out.put_scores(m.out, rid, *s);
            continue;
          }
          if (s->status == ScoreStatus::Failed) {  // the pair held stays (a usable one, or the first failure)
            ++st.n_pairs_failed_ignored;
            continue;
          }
          if (have->status != ScoreStatus::Failed)
            throw DataError("merge: record '" + r->id + "', model '" + m.name + "': the pair in '" + from +
                            "' differs from the one in '" + holder(r->id, m.name, *have) + "' (" + pair_summary(*s) +
                            " vs " + pair_summary(*have) + "): the stores were not scored alike");
          ++st.n_pairs_replaced;
        } else {
          ++st.n_pairs_added;
        }
        out.put_scores(m.out, rid, *s);
      }
      progress.update(++done);
    }
    for (const auto& [mid, rid] : met_failed)
      if (out.score_status(mid, rid) == ScoreStatus::Failed) ++st.n_pairs_failed;
    out.commit();
  } catch (...) {
    out.rollback();
    throw;
  }
  progress.finish();
  if (log) {
    log(LogLevel::Info,
        "merged " + std::to_string(st.n_inputs) + (st.n_inputs == 1 ? " store: " : " stores: ") +
            std::to_string(st.n_responses_added) + " responses added (" + std::to_string(st.n_responses_present) +
            " already there), " + std::to_string(st.n_pairs_added) + " pairs added (" +
            std::to_string(st.n_pairs_present) + " already there, " + std::to_string(st.n_pairs_replaced) +
            " failed ones replaced" +
            (st.n_pairs_failed_ignored ? ", " + std::to_string(st.n_pairs_failed_ignored) + " failed ones not taken" : "") +
            (st.n_pairs_rounding ? ", " + std::to_string(st.n_pairs_rounding) +
                                       " equal up to rounding, the first kept (a resumed run's last digits)"
                                 : "") +
            (st.n_pairs_ranked ? ", " + std::to_string(st.n_pairs_ranked) + " given ranks" : "") + ")");
    if (st.n_pairs_failed)
      log(LogLevel::Warn, std::to_string(st.n_pairs_failed) + (st.n_pairs_failed == 1 ? " pair" : " pairs") +
                              " met in this merge " + (st.n_pairs_failed == 1 ? "is" : "are") +
                              " Failed in the merged store (errors while scoring, e.g. a "
                              "server's): rerun rdpt score on the merged store (or the shards, then merge again) to "
                              "retry them; until then they count as unscored");
  }
  return st;
}

}  // namespace rdpt
