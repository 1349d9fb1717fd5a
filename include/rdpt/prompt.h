// The prompt a model sees for a question: one formatter for every backend (the llama.cpp
// scorer and generator, the HTTP scorer and generator), so that `rdpt score` and `rdpt sample`
// build the same prompt from the same options. Pure text, no model code.
//
// Today a prompt comes from a raw format string with {question} and {system} placeholders; a
// chat template (llama.cpp's built-in ones) is applied by the backend when no format is given.
//
//   rdpt::PromptFormat f = rdpt::PromptFormat::from_cli("S: {system}\\nQ: {question}\\nA: ");
//   f.apply("2+2?", "Be brief.")  // "S: Be brief.\nQ: 2+2?\nA: "
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

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

// Renders a chat template (a llama.cpp built-in name or template text) for a question and a
// system text with the assistant turn opened; throws UsageError when it cannot. The llama.cpp
// backend supplies it (llama_chat_apply_template).
using ChatTemplateRenderer =
    std::function<std::string(const std::string& tmpl, std::string_view question, std::string_view system)>;

// The prompt of one model, chosen once for every backend: the raw format when one was given;
// else the chat template (the given template name, else the model's own), rendered by `render`.
class Prompter {
 public:
  Prompter() = default;
  // `chat_template`: the template name given (--template), else the model's tokenizer.chat_template,
  // else "". `model`: how errors name the model ("model 'T.gguf'").
  Prompter(std::optional<PromptFormat> format, std::string chat_template, ChatTemplateRenderer render,
           std::string model);
  // The prompt text; UsageError when there is neither a format nor a chat template.
  std::string operator()(std::string_view question, std::string_view system) const;
  // What a store records as the model's prompt (ModelInfo::chat_template): "format:..." or the
  // template ("" when there is none).
  std::string describe() const { return format_ ? format_->describe() : template_; }

 private:
  std::optional<PromptFormat> format_;
  std::string template_;
  ChatTemplateRenderer render_;
  std::string model_;
};

}  // namespace rdpt
