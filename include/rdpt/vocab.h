// A model's vocabulary alone, loaded from a (vocab-only) GGUF by the llama.cpp backend: its
// offset-exact tokenization, description, fingerprint and chat template. The one door other
// backends use into the llama backend (the HTTP backend tokenizes locally with it and renders
// chat templates through it), so that they need none of its internals.
//   auto v = rdpt::open_vocabulary("ggml-vocab-qwen2.gguf");
//   auto t = v->tokenize("Hello world", false);  // t.ids, t.offsets (byte where each token starts)
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rdpt/prompt.h"

namespace rdpt {

struct TokenizedText {
  std::vector<int32_t> ids;
  std::vector<uint32_t> offsets;  // byte offset of each token's first byte in the text
};

class Vocabulary {
 public:
  virtual ~Vocabulary() = default;
  // The llama backend's tokenization with byte offsets (special tokens parsed; BOS/EOS added
  // only with add_special). DataError when the pieces do not reproduce the text.
  virtual TokenizedText tokenize(std::string_view text, bool add_special) const = 0;
  // The byte offset in `text` of each of `ids` (token ids from elsewhere: a log-prob file, a
  // server), by the rule tokenize() uses, so that ids read the same as rdpt's own tokenization.
  // DataError naming the first token that does not fit, an id outside the vocabulary, or (without
  // allow_prefix, which accepts tokens that end early: a truncated scoring) text left over.
  virtual std::vector<uint32_t> place_ids(std::span<const int32_t> ids, std::string_view text,
                                          bool allow_prefix) const = 0;
  virtual std::string description() const = 0;  // "bpe:qwen2:151936", as the llama backend records it
  virtual std::string fingerprint() const = 0;  // of the GGUF file (rdpt::gguf_fingerprint)
  // The chat template to render prompts with: the built-in `template_name` when given, else
  // jinja.text, else the GGUF's own (Kind::None when there is none).
  virtual ChatTemplate chat_template(const std::string& template_name, const JinjaOptions& jinja) const = 0;
};

// Loads the vocabulary of the GGUF at `path` (llama.cpp's log lines stay silent). Error when the
// file is missing, BackendError when llama.cpp cannot load it.
std::unique_ptr<Vocabulary> open_vocabulary(const std::string& path);

// Renders a chat template through llama.cpp (Jinja, or a built-in name): a ChatTemplateRenderer
// for rdpt::Prompter. UsageError naming the template's origin when it fails.
std::string render_chat_template(const ChatTemplate& tmpl, std::string_view question, std::string_view system);

}  // namespace rdpt
