// The prompt a model sees for a question: one formatter for every backend (the llama.cpp
// scorer and generator, the HTTP scorer and generator), so that `rdpt score` and `rdpt sample`
// build the same prompt from the same options. Pure text, no model code.
//
// A prompt comes from one of: a raw format string with {question} and {system} placeholders
// (--prompt-format); a llama.cpp built-in template name (--template chatml); or, by default, the
// model's own Jinja chat template (the GGUF's tokenizer.chat_template, or --chat-template-file),
// rendered by the backend with llama.cpp's Jinja runtime as Hugging Face's apply_chat_template
// renders it (docs/score.md, "Prompts").
//
//   rdpt::PromptFormat f = rdpt::PromptFormat::from_cli("S: {system}\\nQ: {question}\\nA: ");
//   f.apply("2+2?", "Be brief.")  // "S: Be brief.\nQ: 2+2?\nA: "
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include <cstdint>

namespace rdpt {

// Decodes the escapes of a format typed on the command line: "\n" newline, "\t" tab, "\\" one
// backslash. Any other backslash, and a trailing one, stays as it is.
std::string decode_prompt_escapes(std::string_view arg);

class PromptFormat {
 public:
  // A raw format, taken literally (no escapes decoded). "" is a valid format: the empty prompt.
  PromptFormat(std::string format) : format_(std::move(format)) {}
  PromptFormat(const char* format) : format_(format) {}
  // A format as given to --prompt-format: escapes decoded (decode_prompt_escapes).
  static PromptFormat from_cli(std::string_view arg) { return PromptFormat(decode_prompt_escapes(arg)); }

  // The prompt: one pass over the format, each "{question}" and "{system}" replaced by the text.
  // The substituted texts are never scanned again: a system text holding "{question}" stays as
  // it is. Any other brace is literal.
  std::string apply(std::string_view question, std::string_view system) const;

  // How a store records the prompt (ModelInfo::chat_template): "format:" + the format.
  std::string describe() const { return "format:" + format_; }
  const std::string& text() const { return format_; }

  bool operator==(const PromptFormat&) const = default;

 private:
  std::string format_;
};

// The default date a Jinja template's strftime_now() sees (--template-date): fixed, so that a
// rerun renders the same prompt (gpt-oss prints "Current date: ..."). Llama 3.1's template
// defaults its own date_string to the same day ("26 Jul 2024").
inline constexpr const char* kDefaultTemplateDate = "2024-07-26";

// How a Jinja chat template is rendered, beyond the template itself (the --chat-template-*
// options of `rdpt score` and `rdpt sample`).
struct JinjaOptions {
  std::string text;            // template text replacing the model's own (--chat-template-file); "" = own
  std::string origin;          // where `text` came from, for errors: "file 'qwq.jinja'"
  std::string kwargs = "{}";   // extra template variables, a JSON object (--chat-template-kwargs)
  std::string date;            // YYYY-MM-DD that strftime_now() returns; "" = kDefaultTemplateDate
};

// Checks a --template-date value (YYYY-MM-DD, a real day); UsageError naming `what` else.
void check_template_date(const std::string& date, const std::string& what);
// Checks that `kwargs` is a JSON object; UsageError naming `what` else.
void check_template_kwargs(const std::string& kwargs, const std::string& what);

// One model's chat template, ready to render.
struct ChatTemplate {
  enum class Kind { None, Builtin, Jinja };
  Kind kind = Kind::None;
  std::string text;            // Builtin: llama.cpp's name ("chatml"); Jinja: the template source
  std::string origin;          // "tokenizer.chat_template of 'T.gguf'", "file 'F.jinja'", "--template"
  std::string kwargs = "{}";   // Jinja: extra variables (a JSON object)
  std::string date = kDefaultTemplateDate;  // Jinja: the day strftime_now() returns
  std::string bos, eos;        // Jinja: bos_token / eos_token, the vocabulary's texts
  // How a store records it (ModelInfo::chat_template): the name; or "jinja date=D kwargs=K\n" +
  // the source, so that another date, other kwargs or another template is another prompt.
  std::string describe() const;
};

// Renders a chat template for a question and a system text (none when empty) with the assistant
// turn opened; throws UsageError when it cannot (naming the template's origin and line). The
// llama.cpp backend supplies it.
using ChatTemplateRenderer =
    std::function<std::string(const ChatTemplate& tmpl, std::string_view question, std::string_view system)>;

// How many leading bytes of `response` the prompt already ends with: a generation prompt that
// opens the thought (QwQ's and R1's end in "<think>\n") followed by a response that starts with
// the same tag. The prompt ends with a thinking tag ("<think>", "<|begin_of_thought|>") and only
// whitespace after it; the response starts with that tag: the overlap is the tag and the
// longest common prefix of the two whitespace runs. Those bytes are counted once, as prompt;
// the scorer sees the rest of the response, and an action holding them (beyond its leading
// whitespace) is unscored under that model (docs/score.md, "Prompts"). 0 when there is no such overlap.
size_t prompt_overlap(std::string_view prompt, std::string_view response);

// A response as one model sees it after its generation prompt, with the map back to the
// canonical text (docs/score.md, "Thinking formats"): pieces of the rendering that are copied
// from the canonical text, and bytes the rendering adds (harmony's channel headers) or leaves
// out (a "<think>" the prompt already holds, the thinking tags harmony replaces).
struct RenderedResponse {
  struct Piece {
    uint32_t at = 0, from = 0, size = 0;  // text[at, at + size) == canonical[from, from + size)
  };
  std::string text;           // what the model scores
  std::vector<Piece> pieces;  // in order of `at` (and of `from`)
  // The canonical offset of rendered byte `off`; nullopt when the rendering added that byte.
  std::optional<uint32_t> canonical(uint32_t off) const;
  // Whether canonical[begin, end) holds a byte other than whitespace that no piece copies (such
  // a span, e.g. the "<think>" action, is not scored under this model).
  bool drops_text(std::string_view canonical, uint32_t begin, uint32_t end) const;
};

// The prompt ends as gpt-oss's harmony format opens the assistant turn ("<|start|>assistant").
bool is_harmony_prompt(std::string_view prompt);

// The canonical response as the model with this prompt sees it: under a harmony prompt the
// thought ("<think>R</think>C") goes to the analysis channel and the answer to the final one:
//   "<|channel|>analysis<|message|>R<|end|><|start|>assistant<|channel|>final<|message|>C"
// The thought ends at the first "</think>" (or Sky-T1's "<|end_of_thought|>") and starts after
// the matching opening tag when the response opens with one (after whitespace), else at byte 0
// ("R</think>C", as R1's output reads when its prompt opened the thought). No closing tag: an
// opened thought is all analysis, a response without tags all final; a response that already
// starts with "<|channel|>" (harmony as gpt-oss wrote it) is left as it is. Otherwise (not harmony)
// the response itself, less the bytes prompt_overlap() finds.
RenderedResponse render_response(std::string_view prompt, std::string_view canonical);

// "prompt:" + 16 hex digits of a 64-bit FNV-1a hash of a prompt description (ModelInfo::
// chat_template): how `rdpt sample` marks its completions and stores tell templates apart.
std::string prompt_fingerprint(std::string_view description);

// The prompt of one model, chosen once for every backend: the raw format when one was given;
// else the chat template (a built-in name given, else the model's Jinja template), rendered by
// `render`.
class Prompter {
 public:
  Prompter() = default;
  // `model`: how errors name the model ("model 'T.gguf'").
  Prompter(std::optional<PromptFormat> format, ChatTemplate chat_template, ChatTemplateRenderer render,
           std::string model);
  // The prompt text; UsageError when there is neither a format nor a chat template.
  std::string operator()(std::string_view question, std::string_view system) const;
  // What a store records as the model's prompt (ModelInfo::chat_template): "format:...", the
  // built-in name, or ChatTemplate::describe() ("" when there is none).
  std::string describe() const { return format_ ? format_->describe() : template_.describe(); }
  const ChatTemplate& chat_template() const { return template_; }
  // Whether the prompt is tokenized with the vocabulary's own special tokens (BOS): yes for a raw
  // format and a built-in template; no for a Jinja template, whose rendering holds the BOS it
  // wants, as Hugging Face's apply_chat_template(tokenize=True) and vLLM's chat path tokenize it.
  bool tokenize_with_special() const { return format_ || template_.kind != ChatTemplate::Kind::Jinja; }
  bool has_format() const { return format_.has_value(); }

 private:
  std::optional<PromptFormat> format_;
  ChatTemplate template_;
  ChatTemplateRenderer render_;
  std::string model_;
};

}  // namespace rdpt
