#include "rdpt/prompt.h"

#include <cstdio>

#include <nlohmann/json.hpp>

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

std::string ChatTemplate::describe() const {
  switch (kind) {
    case Kind::None: return "";
    case Kind::Builtin: return text;
    case Kind::Jinja: {
      std::string d = "jinja date=" + date + " kwargs=" + nlohmann::json::parse(kwargs).dump();
      return d + "\n" + text;
    }
  }
  return "";
}

void check_template_date(const std::string& date, const std::string& what) {
  int y = 0, m = 0, d = 0;
  char tail = 0;
  const bool shaped = date.size() == 10 && date[4] == '-' && date[7] == '-' &&
                      std::sscanf(date.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3;
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (!shaped || y < 1970 || m < 1 || m > 12 || d < 1 || d > kDays[m - 1] || (m == 2 && d == 29 && !leap))
    throw UsageError(what + ": expected a date YYYY-MM-DD (1970 or later), got '" + date + "'");
}

void check_template_kwargs(const std::string& kwargs, const std::string& what) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(kwargs);
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(what + ": not JSON (" + e.what() + "): '" + kwargs + "'");
  }
  if (!j.is_object()) throw UsageError(what + ": expected a JSON object such as '{\"enable_thinking\": true}', got '" + kwargs + "'");
}

size_t prompt_overlap(std::string_view prompt, std::string_view response) {
  auto is_ws = [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; };
  size_t ws = prompt.size();
  while (ws > 0 && is_ws(prompt[ws - 1])) --ws;
  const std::string_view body = prompt.substr(0, ws), tail = prompt.substr(ws);
  for (std::string_view tag : {std::string_view("<think>"), std::string_view("<|begin_of_thought|>")}) {
    if (!body.ends_with(tag) || !response.starts_with(tag)) continue;
    size_t k = tag.size(), i = 0;
    while (i < tail.size() && k < response.size() && response[k] == tail[i]) ++k, ++i;
    return k;
  }
  return 0;
}

Prompter::Prompter(std::optional<PromptFormat> format, ChatTemplate chat_template, ChatTemplateRenderer render,
                   std::string model)
    : format_(std::move(format)), template_(std::move(chat_template)), render_(std::move(render)), model_(std::move(model)) {}

std::string Prompter::operator()(std::string_view question, std::string_view system) const {
  if (format_) return format_->apply(question, system);
  if (template_.kind == ChatTemplate::Kind::None || !render_)
    throw UsageError(model_ + " has no chat template (tokenizer.chat_template): give one (--chat-template-file "
                     "F.jinja), a built-in name (--template chatml, llama3, ...) or a raw format (--prompt-format)");
  return render_(template_, question, system);
}

}  // namespace rdpt
