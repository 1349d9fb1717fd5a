#include "rdpt/prompt.h"

#include "rdpt/error.h"

namespace rdpt {

std::string decode_prompt_escapes(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      const char c = s[i + 1];
      if (c == 'n' || c == 't' || c == '\\') {
        out += c == 'n' ? '\n' : c == 't' ? '\t' : '\\';
        ++i;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string PromptFormat::apply(std::string_view question, std::string_view system) const {
  static constexpr std::string_view kQuestion = "{question}", kSystem = "{system}";
  const std::string_view f = format_;
  std::string out;
  out.reserve(f.size() + question.size() + system.size());
  size_t i = 0;
  while (i < f.size()) {
    const size_t b = f.find('{', i);
    if (b == std::string_view::npos) {
      out.append(f.substr(i));
      break;
    }
    out.append(f.substr(i, b - i));
    const std::string_view rest = f.substr(b);
    if (rest.starts_with(kQuestion)) {
      out.append(question);
      i = b + kQuestion.size();
    } else if (rest.starts_with(kSystem)) {
      out.append(system);
      i = b + kSystem.size();
    } else {
      out += '{';
      i = b + 1;
    }
  }
  return out;
}

Prompter::Prompter(std::optional<PromptFormat> format, std::string chat_template, ChatTemplateRenderer render,
                   std::string model)
    : format_(std::move(format)), template_(std::move(chat_template)), render_(std::move(render)), model_(std::move(model)) {}

std::string Prompter::operator()(std::string_view question, std::string_view system) const {
  if (format_) return format_->apply(question, system);
  if (template_.empty() || !render_)
    throw UsageError(model_ + " has no chat template (tokenizer.chat_template): give a template name (--template "
                     "chatml, llama3, ...) or a raw format (--prompt-format)");
  return render_(template_, question, system);
}

}  // namespace rdpt
