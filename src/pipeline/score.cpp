// score_responses() and make_scorer(): the scoring loop that `rdpt score` (and library users)
// run; include/rdpt/pipeline.h says what they do.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>

#include "rdpt/align.h"
#include "rdpt/error.h"
#include "rdpt/pipeline.h"

namespace rdpt {

namespace {

double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// The canonical byte of a cut the scorer reports in the rendering: the first copied byte at or
// after it.
uint32_t canonical_cut(const RenderedResponse& rr, uint32_t cut, uint32_t size) {
  for (const auto& p : rr.pieces)
    if (p.at + p.size > cut) return p.from + (cut > p.at ? cut - p.at : 0);
  return size;
}

// A stored prompt description on one line: a Jinja template as its first line ("jinja date=...
// kwargs=...") with the template's size and hash; anything else with its newlines escaped.
std::string prompt_summary(const std::string& d) {
  if (d.empty()) return "none";
  const size_t nl = d.find('\n');
  if (d.starts_with("jinja ") && nl != std::string::npos) {
    std::string out = "'";
    out.append(d, 0, std::min<size_t>(nl, 160));
    out += "' + a template of " + std::to_string(d.size() - nl - 1) + " bytes, ";
    out += prompt_fingerprint(std::string_view(d).substr(nl + 1));
    return out;
  }
  std::string out;  // a format or an older store's template: newlines shown as \n
  for (char c : d.substr(0, 120)) out += c == '\n' ? std::string("\\n") : c == '\r' ? std::string("\\r") : std::string(1, c);
  return "'" + out + (d.size() > 120 ? "...'" : "'");
}

// One pair's result as the store keeps it.
PairScore pair_score(const StoredResponse& in, const RenderedResponse& rr, const ScoreResult& r, bool ranks) {
  PairScore ps;
  ps.n_tokens_total = r.n_tokens_total;
  if (!r.ok()) {
    ps.status = ScoreStatus::Failed;
    ps.error = r.error;
    return ps;
  }
  ps.status = r.truncated ? ScoreStatus::Truncated : ScoreStatus::Ok;
  // Tokens map back to the canonical text; those of bytes the rendering added (harmony's channel
  // headers) belong to no action.
  std::vector<TokenLogprob> toks;
  toks.reserve(r.tokens.size());
  for (const auto& t : r.tokens)
    if (auto at = rr.canonical(t.offset)) toks.push_back({*at, t.logprob, t.rank});
  ps.actions = align_tokens(in.actions, toks);
  ps.has_ranks = ranks;
  // An action whose text this model never scored (a "<think>" its prompt already holds, the tags
  // harmony replaces) is unscored, beyond its leading whitespace.
  for (size_t a = 0; a < in.actions.size() && a < ps.actions.size(); ++a)
    if (rr.drops_text(in.response, in.actions[a].begin, in.actions[a].end)) ps.actions[a] = ActionScore{};
  return ps;
}

}  // namespace

ScoreRunStats score_responses(Store& store, Scorer& scorer, const std::string& name,
                              const std::vector<StoredResponse>& responses, const ScoreRunOptions& options,
                              Progress& progress) {
  ScoreRunStats st;
  ModelInfo minfo = scorer.describe();
  minfo.name = name;
  if (auto old = store.model(name); old && !options.replace) {
    if (old->fingerprint == minfo.fingerprint && old->chat_template != minfo.chat_template)
      throw UsageError("model '" + name + "' is in the store with another prompt (stored: " +
                       prompt_summary(old->chat_template) + "; now: " + prompt_summary(minfo.chat_template) +
                       "): its scores would mix prompts; use --replace to rescore or another name");
  }
  // Checked now, written with the model's first scored pair: a run refused before it (no chat
  // template, an unknown --template) leaves no model row behind.
  ModelSlot slot;
  try {
    slot = store.prepare_model(minfo, options.replace);
  } catch (const UsageError& e) {
    throw UsageError("model '" + name + "' (" + minfo.location + "): " + e.what());
  }
  // Responses of one group together, so that they share the prompt's KV cache.
  std::map<std::string, size_t> group_order;
  for (const auto& in : responses) group_order.try_emplace(in.group, group_order.size());
  std::vector<size_t> order(responses.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return group_order[responses[a].group] < group_order[responses[b].group];
  });
  std::set<int64_t> todo_set;
  for (int64_t rid : store.unscored(slot)) todo_set.insert(rid);
  const uint32_t rank_clip = scorer.capabilities().rank_clip;
  // Ranks: pairs scored without them are scored again (a failure then keeps the stored pair), and
  // all of a model's ranks share a clip, recorded with its first ranked pair.
  std::set<int64_t> rerank;
  bool clip_recorded = false;
  if (rank_clip) {
    const bool replacing = slot.replace && !slot.stored();  // the old model's scores (and clip) go
    const auto stored_clip = rank_clip_of(store, name);
    if (stored_clip && *stored_clip != rank_clip && !replacing)
      throw UsageError("model '" + name + "' has ranks in the store clipped at " + std::to_string(*stored_clip) +
                       "; score it with --rank-clip " + std::to_string(*stored_clip) + " (or under another name)");
    clip_recorded = stored_clip && !replacing;
    if (slot.stored()) {
      const int64_t mids[] = {slot.mid};
      store.scan_scores(mids, ScanResponses::None, [&](int64_t rid, const StoredResponse*, std::span<const PairBlobs> p) {
        if (p[0].status != ScoreStatus::Failed && !p[0].has_ranks() && p[0].n_actions() > 0 && !todo_set.count(rid)) {
          todo_set.insert(rid);
          rerank.insert(rid);
        }
        return true;
      });
    }
  }
  std::vector<size_t> todo;
  for (size_t i : order)
    if (todo_set.count(responses[i].rid)) todo.push_back(i);
  st.n_skipped = responses.size() - todo.size();
  progress.start("score " + name, todo.size(), "responses");

  const double t0 = now_s();
  uint64_t n_done = 0;
  struct ChunkProgress : Progress {
    Progress* outer = nullptr;
    uint64_t base_done = 0, base_tok = 0;
    void update(uint64_t done, uint64_t extra) override { outer->update(base_done + done, base_tok + extra); }
  } cp;
  cp.outer = &progress;
  const uint32_t chunk = std::max<uint32_t>(1, options.chunk);
  for (size_t c0 = 0; c0 < todo.size(); c0 += chunk) {
    const size_t c1 = std::min(todo.size(), c0 + chunk);
    std::vector<ScoreItem> items;
    // Each response as this model sees it (its thinking format), mapped back to the canonical text.
    std::vector<RenderedResponse> rendered;
    for (size_t k = c0; k < c1; ++k) {
      const StoredResponse& in = responses[todo[k]];
      std::string prompt;
      try {
        prompt = scorer.format_prompt(in.question, in.system);
      } catch (const UsageError& e) {  // a template refusing this record: stop, naming it
        throw UsageError("model '" + name + "', record " + in.id + ": " + e.what());
      }
      rendered.push_back(render_response(prompt, in.response));
      items.push_back({std::move(prompt), rendered.back().text, in.group});
    }
    cp.base_done = n_done;
    cp.base_tok = st.n_tokens;
    // Each pair is written as soon as its result is final (the scorer's hook), so that a run
    // stopped mid-chunk (Ctrl-C, a kill, a pre-empted job) loses only the responses in flight.
    std::vector<char> written(c1 - c0, 0);
    auto write = [&](size_t i, const ScoreResult& r) {
      if (i >= written.size() || written[i]) return;
      written[i] = 1;
      const StoredResponse& in = responses[todo[c0 + i]];
      const RenderedResponse& rr = rendered[i];
      PairScore ps = pair_score(in, rr, r, rank_clip != 0);
      if (!r.ok()) {
        ++st.n_failed;
        if (st.first_error.empty()) st.first_error = "record " + in.id + ": " + r.error;
        if (rerank.count(in.rid)) {  // scored again for ranks: the stored scores stay
          st.n_kept += 1;
          ++n_done;
          return;
        }
      } else {
        // The action the context cut was scored from its first tokens only: it and the actions
        // after it stay unscored; n_tokens counts the tokens of the actions kept.
        if (r.truncated)
          st.n_cut_actions +=
              drop_cut_actions(in.actions, ps.actions, canonical_cut(rr, r.cut_offset, uint32_t(in.response.size())));
        for (const auto& a : ps.actions) ps.n_tokens += a.n_tokens;
        st.n_truncated += r.truncated;
        st.n_tokens += r.tokens.size();
        ++st.n_scored;
      }
      if (ps.has_ranks && !clip_recorded) {
        // The clip with the first ranked pair, in one transaction (a replaced model's row, written
        // with that pair, drops the old clip first).
        store.begin();
        try {
          store.put_scores(slot, in.rid, ps);
          store.set_meta(rank_clip_key(name), std::to_string(rank_clip));
          store.commit();
        } catch (...) {
          store.rollback();
          throw;
        }
        clip_recorded = true;
      } else {
        store.put_scores(slot, in.rid, ps);
      }
      ++n_done;
    };
    const auto results = scorer.score(items, cp, write);
    for (size_t i = 0; i < results.size(); ++i) write(i, results[i]);  // any the hook did not see
    progress.update(n_done, st.n_tokens);
  }
  progress.finish();
  st.seconds = now_s() - t0;
  return st;
}

std::string rank_clip_key(const std::string& model) { return "rank_clip:" + model; }

std::optional<uint32_t> rank_clip_of(Store& store, const std::string& model) {
  const auto v = store.meta(rank_clip_key(model));
  if (!v) return std::nullopt;
  uint32_t c = 0;
  const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), c);
  if (ec != std::errc() || end != v->data() + v->size() || c == 0)
    throw StoreError(store.path() + ": meta '" + rank_clip_key(model) + "' is '" + *v + "', not a rank clip >= 1");
  return c;
}

std::string no_llama_backend(const std::string& path) {
  return "'" + path +
         "': this rdpt was built without the llama.cpp backend (-DRDPT_WITH_LLAMA=OFF), so it cannot load GGUF "
         "models; build with it (scripts/setup.sh) or give a server model (NAME=http://host:port/v1)";
}

void check_model_location(const std::string& name, const std::string& location) {
  if (!is_http_spec(location) && !std::filesystem::is_regular_file(location))
    throw Error("model " + name + ": file not found: '" + location + "'");
}

std::unique_ptr<Scorer> make_scorer(const ScorerSpec& spec) {
  const std::string what = spec.name.empty() ? spec.location : spec.name;
  check_model_location(what, spec.location);
  if (!is_http_spec(spec.location)) {
#ifdef RDPT_WITH_LLAMA
    return make_llama_scorer(spec.location, spec.llama);
#else
    throw UsageError("--model " + what + ": " + no_llama_backend(spec.location));
#endif
  }
  HttpOptions ho = parse_http_spec(spec.location);
  ho.tokenizer = spec.tokenizer;
  ho.api_key_env = spec.api_key_env;
  ho.concurrency = spec.concurrency;
  ho.prompt_format = spec.llama.prompt_format;
  ho.template_name = spec.llama.template_name;
  ho.jinja = spec.llama.jinja;
  ho.log = spec.http_log;
  ho.rank_clip = spec.llama.rank_clip;
  return make_http_scorer(ho);
}

}  // namespace rdpt
