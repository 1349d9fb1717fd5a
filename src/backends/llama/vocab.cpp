// rdpt::Vocabulary (include/rdpt/vocab.h): a vocab-only GGUF through llama.cpp, for backends
// that tokenize locally without running the model.
#include "rdpt/vocab.h"

#include <filesystem>

#include "backends/llama/llama_internal.h"
#include "rdpt/error.h"
#include "rdpt/scorer.h"

namespace rdpt {

namespace {

class LlamaVocabulary final : public Vocabulary {
 public:
  explicit LlamaVocabulary(const std::string& path) : path_(path) {
    if (!std::filesystem::is_regular_file(path)) throw Error("tokenizer file not found: '" + path + "'");
    llama_model_params mp = llama_model_default_params();
    mp.vocab_only = true;
    model_ = llama_detail::load_model(path, mp, nullptr);  // llama.cpp's lines stay silent
    vocab_ = llama_model_get_vocab(model_);
  }
  ~LlamaVocabulary() override { llama_model_free(model_); }

  TokenizedText tokenize(std::string_view text, bool add_special) const override {
    auto t = llama_detail::tokenize_with_offsets(vocab_, text, add_special);
    return {std::move(t.ids), std::move(t.offsets)};
  }
  std::vector<uint32_t> place_ids(std::span<const int32_t> ids, std::string_view text,
                                  bool allow_prefix) const override {
    return llama_detail::place_token_ids(vocab_, ids, text, /*add_special=*/false, allow_prefix);
  }
  std::string description() const override { return llama_detail::tokenizer_description(model_); }
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

}  // namespace

std::unique_ptr<Vocabulary> open_vocabulary(const std::string& path) {
  return std::make_unique<LlamaVocabulary>(path);
}

std::string render_chat_template(const ChatTemplate& tmpl, std::string_view question, std::string_view system) {
  return llama_detail::apply_chat_template(tmpl, question, system);
}

}  // namespace rdpt
