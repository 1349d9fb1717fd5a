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
  ChatTemplate chat_template(const std::string& template_name, const JinjaOptions& jinja) const override {
    return llama_detail::model_chat_template(model_, path_, template_name, jinja);
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

Prompter http_prompter(const HttpOptions& o, const LocalTokenizer* tok) {
  const std::string model = "the server model (no --template, and no tokenizer GGUF with a chat template)";
  if (o.prompt_format) return Prompter(o.prompt_format, {}, nullptr, model);
#ifdef RDPT_WITH_LLAMA
  ChatTemplate t;
  if (tok) {
    t = tok->chat_template(o.template_name, o.jinja);
  } else if (!o.template_name.empty()) {
    t.kind = ChatTemplate::Kind::Builtin;
    t.text = o.template_name;
    t.origin = "--template " + o.template_name;
  } else if (!o.jinja.text.empty()) {
    throw UsageError("chat template (" + o.jinja.origin +
                     ") for a server model needs the model's vocabulary for bos_token/eos_token and exact tokens: "
                     "give --tokenizer NAME=vocab.gguf");
  }
  return Prompter(std::nullopt, std::move(t), llama_detail::apply_chat_template, model);
#else
  (void)tok;
  throw UsageError("chat templates need llama.cpp, which this build lacks: give --prompt-format");
#endif
}

}  // namespace rdpt::http_detail
