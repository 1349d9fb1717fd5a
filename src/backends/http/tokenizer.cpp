// The served model's tokenizer, a vocab-only GGUF opened by the llama backend (rdpt/vocab.h:
// its offset-exact tokenization), and prompt formatting (raw format, llama.cpp chat template).
#include "backends/http/http_internal.h"
#include "rdpt/error.h"

namespace rdpt::http_detail {

std::unique_ptr<LocalTokenizer> open_tokenizer(const std::string& path) {
#ifdef RDPT_WITH_LLAMA
  return open_vocabulary(path);
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
  return Prompter(std::nullopt, std::move(t), render_chat_template, model);
#else
  (void)tok;
  throw UsageError("chat templates need llama.cpp, which this build lacks: give --prompt-format");
#endif
}

}  // namespace rdpt::http_detail
