// Sampling from a server.
// OpenAI completions (vLLM): {"model", "prompt", "n", "temperature", "top_p", "max_tokens",
//   "seed", "stop", "logprobs": 0} -> choices[i] {text, logprobs {tokens, token_logprobs},
//   finish_reason "stop"|"length", stop_reason (null at EOS)} (vLLM completion/protocol.py).
//   vLLM's returned log-probs are the model's raw ones by default (--logprobs-mode raw_logprobs),
//   i.e. before temperature and top-p, as docs/method.md wants.
// SGLang /generate: {"text", "sampling_params": {"temperature", "top_p", "max_new_tokens",
//   "stop", "sampling_seed"}, "return_logprob": true, "return_text_in_logprobs": true}
//   -> {"text", "meta_info": {"output_token_logprobs": [[lp, id, text]], "finish_reason": {"type"}}}
//   (python/sglang/srt/managers/io_struct.py; sampling_params.py), one request per sample.
#include <nlohmann/json.hpp>

#include "backends/http/http_internal.h"
#include "rdpt/error.h"

namespace rdpt {

using namespace http_detail;
using nlohmann::json;

namespace {

Generation failed(const std::string& err) {
  Generation g;
  g.error = err;
  return g;
}

// Fills g.tokens from per-token strings of the generated text.
void place_tokens(Generation& g, const std::string& prefix, const std::string& generated,
                  const std::vector<std::string>& strs, const std::vector<std::optional<double>>& lps) {
  std::vector<uint32_t> off = match_token_strings(generated, strs, 0);
  for (size_t k = 0; k < strs.size(); ++k) {
    if (off[k] >= generated.size()) continue;  // zero-width (EOS rendered as "")
    if (!lps[k]) throw DataError("generated token " + std::to_string(k) + " has no log-prob");
    g.tokens.push_back({uint32_t(prefix.size() + off[k]), *lps[k]});
  }
}

class HttpGenerator final : public Generator, private HttpModelBase {
 public:
  explicit HttpGenerator(const HttpOptions& o) : HttpModelBase(o, "generator") {}

  ModelInfo describe() const override {
    ModelFacts f = model_facts();
    try {  // how the prompt is made (rdpt sample's prompt_fingerprint); an unusable one fails in format_prompt
      f.chat_template = http_prompter(opt_, tok_.get()).describe();
    } catch (const Error&) {
    }
    return describe_model(f);
  }

  std::string format_prompt(std::string_view question, std::string_view system) const override {
    return http_prompter(opt_, tok_.get())(question, system);
  }

  std::vector<Generation> generate(const std::string& prompt, const GenerateOptions& o) override {
    if (o.n == 0) throw UsageError("n must be > 0");
    if (o.temperature < 0) throw UsageError("temperature must be >= 0, got " + std::to_string(o.temperature));
    if (o.top_p <= 0 || o.top_p > 1) throw UsageError("top_p must be in (0, 1], got " + std::to_string(o.top_p));
    std::vector<Generation> out(o.n);
    std::vector<HttpRequest> reqs;
    const std::string text = prompt + o.prefix;
    if (opt_.api == HttpApi::OpenAI) {
      json j = {{"prompt", text},        {"n", o.n},       {"temperature", o.temperature}, {"top_p", o.top_p},
                {"max_tokens", o.max_tokens}, {"logprobs", 0}, {"stop", o.stop}};
      if (o.seed) j["seed"] = o.seed;
      if (!opt_.served_model.empty()) j["model"] = opt_.served_model;
      reqs.push_back({"/completions", j.dump(-1, ' ', false, json::error_handler_t::replace)});
    } else {
      for (uint32_t k = 0; k < o.n; ++k) {
        json sp = {{"temperature", o.temperature}, {"top_p", o.top_p}, {"max_new_tokens", o.max_tokens}, {"stop", o.stop}};
        if (o.seed) sp["sampling_seed"] = o.seed + k;
        json j = {{"text", text}, {"sampling_params", sp}, {"return_logprob", true}, {"return_text_in_logprobs", true}};
        reqs.push_back({"/generate", j.dump(-1, ' ', false, json::error_handler_t::replace)});
      }
    }
    auto judge = [&](size_t r, const HttpAttempt& at) -> Judgement {
      try {
        json j = json::parse(at.body);
        if (opt_.api == HttpApi::OpenAI) {
          const json& ch = j.at("choices");
          if (!ch.is_array() || ch.size() != o.n)
            return {Verdict::Retry, "answer has " + std::to_string(ch.size()) + " choices for n=" + std::to_string(o.n)};
          for (const json& c : ch) {
            const size_t k = c.value("index", size_t(0));
            if (k >= o.n) return {Verdict::Retry, "choice index " + std::to_string(k) + " out of range"};
            Generation g;
            const std::string gen = c.at("text").get<std::string>();
            g.response = o.prefix + gen;
            const json& lo = c.at("logprobs");
            std::vector<std::string> strs;
            std::vector<std::optional<double>> lps;
            for (size_t t = 0; t < lo.at("tokens").size(); ++t) {
              strs.push_back(lo["tokens"][t].get<std::string>());
              const json& v = lo.at("token_logprobs").at(t);
              lps.push_back(v.is_number() ? std::optional<double>(v.get<double>()) : std::nullopt);
            }
            place_tokens(g, o.prefix, gen, strs, lps);
            const std::string fr = c.value("finish_reason", "");
            const bool eos = fr == "stop" && (!c.contains("stop_reason") || c["stop_reason"].is_null());
            g.finish_reason = fr == "length" ? "length" : eos ? "eos" : "stop";
            out[k] = std::move(g);
          }
        } else {
          Generation g;
          const std::string gen = j.at("text").get<std::string>();
          g.response = o.prefix + gen;
          const json& ol = j.at("meta_info").at("output_token_logprobs");
          std::vector<std::string> strs;
          std::vector<std::optional<double>> lps;
          for (const json& e : ol) {
            strs.push_back(e.at(2).is_string() ? e[2].get<std::string>() : "");
            lps.push_back(e.at(0).is_number() ? std::optional<double>(e[0].get<double>()) : std::nullopt);
          }
          place_tokens(g, o.prefix, gen, strs, lps);
          const json& fr = j["meta_info"].value("finish_reason", json());
          const std::string type = fr.is_object() ? fr.value("type", "") : "";
          g.finish_reason = type == "length" ? "length" : (fr.is_object() && fr.contains("matched") && fr["matched"].is_string()) ? "stop" : "eos";
          out[r] = std::move(g);
        }
      } catch (const std::exception& e) {
        return {Verdict::Retry, std::string("unusable answer: ") + e.what()};
      }
      return {Verdict::Ok, ""};
    };
    auto done = [&](size_t r, const std::string& err) {
      if (err.empty()) return;
      if (opt_.api == HttpApi::OpenAI)
        for (auto& g : out) g = failed(err);
      else
        out[r] = failed(err);
    };
    client_->run(reqs, judge, done);
    return out;
  }

};

}  // namespace

std::unique_ptr<Generator> make_http_generator(const HttpOptions& options) {
  return std::make_unique<HttpGenerator>(options);
}

}  // namespace rdpt
