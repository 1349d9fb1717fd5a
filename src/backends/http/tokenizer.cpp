// The served model's tokenizer, from a vocab-only GGUF loaded through llama.cpp
// (llama_model_params.vocab_only), with the llama backend's offset-exact tokenization, and
// prompt formatting (raw format, llama.cpp chat template).
#include <filesystem>

#include "backends/http/http_internal.h"
#include "rdpt/error.h"

#ifdef RDPT_WITH_LLAMA
#include <llama.h>

#include "backends/llama/llama_internal.h"
#endif

namespace rdpt::http_detail {

namespace {

#ifdef RDPT_WITH_LLAMA
class LlamaVocab final : public LocalTokenizer {
 public:
  explicit LlamaVocab(const std::string& path) : path_(path) {
    if (!std::filesystem::is_regular_file(path)) throw Error("tokenizer file not found: '" + path + "'");
    llama_model_params mp = llama_model_default_params();
    mp.vocab_only = true;
    model_ = llama_detail::load_model(path, mp, nullptr);  // llama.cpp's lines stay silent
    vocab_ = llama_model_get_vocab(model_);
  }
  ~LlamaVocab() override { llama_model_free(model_); }

  Tokenized tokenize(std::string_view text, bool add_special) const override {
    auto t = llama_detail::tokenize_with_offsets(vocab_, text, add_special);
    return {std::move(t.ids), std::move(t.offsets)};
  }
  std::string description() const override {
    return llama_detail::tokenizer_description(model_);
  }
  std::string fingerprint() const override {
    if (fp_.empty()) fp_ = gguf_fingerprint(path_);
    return fp_;
  }
  std::string chat_template() const override {
    const char* t = llama_model_chat_template(model_, nullptr);
    return t ? t : "";
  }

 private:
  std::string path_;
  llama_model* model_ = nullptr;
  const llama_vocab* vocab_ = nullptr;
  mutable std::string fp_;
};
#endif

}  // namespace

std::unique_ptr<LocalTokenizer> open_tokenizer(const std::string& path) {
#ifdef RDPT_WITH_LLAMA
  return std::make_unique<LlamaVocab>(path);
#else
  throw UsageError("tokenizer '" + path + "': this build has no llama.cpp; score in text mode (no --tokenizer)");
#endif
}

std::string apply_chat_template(const std::string& tmpl, std::string_view question, std::string_view system) {
#ifdef RDPT_WITH_LLAMA
  std::string sys(system), q(question);
  std::vector<llama_chat_message> msgs;
  if (!sys.empty()) msgs.push_back({"system", sys.c_str()});
  msgs.push_back({"user", q.c_str()});
  std::vector<char> buf(2 * (sys.size() + q.size()) + 1024);
  int32_t n = llama_chat_apply_template(tmpl.c_str(), msgs.data(), msgs.size(), true, buf.data(), int32_t(buf.size()));
  if (n > int32_t(buf.size())) {
    buf.resize(size_t(n) + 1);
    n = llama_chat_apply_template(tmpl.c_str(), msgs.data(), msgs.size(), true, buf.data(), int32_t(buf.size()));
  }
  if (n < 0)
    throw UsageError("chat template not supported by llama.cpp ('" + tmpl.substr(0, 60) +
                     "'): give a template name (--template chatml, llama3, ...) or --prompt-format");
  return std::string(buf.data(), size_t(n));
#else
  throw UsageError("chat templates need llama.cpp, which this build lacks: give --prompt-format");
#endif
}

std::string http_format_prompt(const HttpOptions& o, const LocalTokenizer* tok, std::string_view question,
                               std::string_view system) {
  if (o.prompt_format) return o.prompt_format->apply(question, system);
  std::string tmpl = o.template_name;
  if (tmpl.empty() && tok) tmpl = tok->chat_template();
  if (tmpl.empty())
    throw UsageError("no prompt format for the server model: give --prompt-format, --template, or a tokenizer "
                     "GGUF with tokenizer.chat_template");
  return apply_chat_template(tmpl, question, system);
}

}  // namespace rdpt::http_detail
