// rdpt sample: N completions per question as JSON lines, from one local generator or several
// server workers.
#include <future>
#include <nlohmann/json.hpp>

#include "rdpt/error.h"
#include "rdpt/operations.h"
#include "rdpt/prompt.h"

namespace rdpt {
namespace {

struct Question {
  Record rec;
  std::string prefix;
};

Question prepare(Record&& rec, const SampleRunOptions& o) {
  Question q;
  q.rec = std::move(rec);
  if (q.rec.system.empty()) q.rec.system = o.system_prompt;
  if (!o.prefix_field.empty()) {
    auto j = nlohmann::json::parse(q.rec.raw, nullptr, false);
    auto it = j.is_object() ? j.find(o.prefix_field) : j.end();
    if (it != j.end() && !it->is_null()) {
      if (!it->is_string())
        throw DataError(q.rec.file + ":" + std::to_string(q.rec.line) + ": record '" + q.rec.id + "': field '" +
                        o.prefix_field + "' is not a string");
      q.prefix = it->get<std::string>();
    }
  }
  return q;
}

}  // namespace

SampleRunStats sample_records(RecordReader& reader, std::span<const std::unique_ptr<Generator>> gens,
                              const SampleRunOptions& o, std::ostream& os, Progress& progress) {
  const std::string& name = o.name;
  if (gens.empty()) throw UsageError("sample " + name + ": no generator (at least one is needed)");
  progress.start("sample " + name, 0, "questions");
  SampleRunStats st;

  // The prompt's fingerprint (a hash of how the prompt is made: template, kwargs, date, or the raw
  // format), written with every completion: `rdpt score` of the same model with the same options
  // records the same template, so samples and their scoring share one prompt.
  const std::string prompt_fp = prompt_fingerprint(gens[0]->describe().chat_template);
  auto emit = [&](const Question& q, const std::vector<Generation>& outs) {
    for (size_t k = 0; k < outs.size(); ++k) {
      const Generation& s = outs[k];
      if (!s.ok()) {
        ++st.n_failed;
        if (st.first_error.empty())
          st.first_error = "question '" + q.rec.id + "' sample " + std::to_string(k) + ": " + s.error;
        continue;
      }
      nlohmann::json j;
      j["id"] = q.rec.id + ":" + name + ":" + std::to_string(k);
      j["question_id"] = q.rec.group;
      j["question"] = q.rec.question;
      if (!q.rec.system.empty()) j["system"] = q.rec.system;
      if (q.rec.answer) j["answer"] = *q.rec.answer;
      j["response"] = s.response;
      j["model"] = name;
      j["sample_index"] = k;
      j["finish_reason"] = s.finish_reason;
      j["prompt_fingerprint"] = prompt_fp;
      if (!q.prefix.empty()) j["prefix_bytes"] = q.prefix.size();
      auto& offs = j["offsets"] = nlohmann::json::array();
      auto& lps = j["logprobs"] = nlohmann::json::array();
      for (const auto& t : s.tokens) {
        offs.push_back(t.offset);
        lps.push_back(t.logprob);
      }
      os << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
      ++st.n_samples;
      st.n_tokens += s.tokens.size();
    }
    progress.update(++st.n_questions, st.n_tokens);
  };

  auto run_one = [&](Generator& gen, const Question& q) {
    GenerateOptions go = o.generate;
    go.prefix = q.prefix;
    return gen.generate(gen.format_prompt(q.rec.question, q.rec.system), go);
  };

  Record rec;
  // The next question of this run's shard.
  auto next = [&] {
    while (reader.next(rec))
      if (shard_of(rec.group, o.shard.count) == o.shard.index) return true;
    return false;
  };
  if (gens.size() == 1) {
    while (next()) {
      Question q = prepare(std::move(rec), o);
      emit(q, run_one(*gens[0], q));
    }
  } else {
    // Batches of gens.size() questions in parallel, written in input order.
    bool more = true;
    while (more) {
      std::vector<Question> batch;
      while (batch.size() < gens.size() && (more = next())) batch.push_back(prepare(std::move(rec), o));
      std::vector<std::future<std::vector<Generation>>> futs;
      for (size_t w = 0; w < batch.size(); ++w)
        futs.push_back(std::async(std::launch::async, [&, w] { return run_one(*gens[w], batch[w]); }));
      for (size_t w = 0; w < batch.size(); ++w) emit(batch[w], futs[w].get());
    }
  }
  progress.finish();
  return st;
}

std::string sample_prompt_preview(RecordReader& reader, const Generator& gen, const SampleRunOptions& o,
                                  const std::string& location) {
  Record rec;
  if (!reader.next(rec)) throw DataError("no records in the input");
  const Question q = prepare(std::move(rec), o);
  std::string s = "=== " + o.name + " (" + location + "), record " + q.rec.id + " ===\n" +
                  gen.format_prompt(q.rec.question, q.rec.system) + "\n=== end of prompt";
  if (!q.prefix.empty()) s += "; the forced prefix follows ===\n" + q.prefix + "\n=== end of prefix";
  s += "; the completion follows ===\n";
  return s;
}

}  // namespace rdpt
