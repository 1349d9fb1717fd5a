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

std::optional<uint32_t> RenderedResponse::canonical(uint32_t off) const {
  for (const Piece& p : pieces)
    if (off >= p.at && off < p.at + p.size) return p.from + (off - p.at);
  return std::nullopt;
}

bool RenderedResponse::drops_text(std::string_view canonical, uint32_t begin, uint32_t end) const {
  for (uint32_t i = begin; i < end && i < canonical.size(); ++i) {
    const char c = canonical[i];
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') continue;
    bool copied = false;
    for (const Piece& p : pieces) copied = copied || (i >= p.from && i < p.from + p.size);
    if (!copied) return true;
  }
  return false;
}

std::string prompt_fingerprint(std::string_view description) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : description) h = (h ^ c) * 1099511628211ull;
  char buf[32];
  std::snprintf(buf, sizeof buf, "prompt:%016llx", static_cast<unsigned long long>(h));
  return buf;
}

bool is_harmony_prompt(std::string_view prompt) { return prompt.ends_with("<|start|>assistant"); }

RenderedResponse render_response(std::string_view prompt, std::string_view canonical) {
  RenderedResponse r;
  auto copy = [&](size_t from, size_t size) {
    if (size == 0) return;
    r.pieces.push_back({uint32_t(r.text.size()), uint32_t(from), uint32_t(size)});
    r.text.append(canonical.substr(from, size));
  };
  if (!is_harmony_prompt(prompt)) {
    const size_t k = prompt_overlap(prompt, canonical);
    copy(k, canonical.size() - k);
    return r;
  }
  // A response already in the harmony format (a dataset of gpt-oss's raw completions, channel
  // headers kept) is what the model wrote after "<|start|>assistant": scored as it is.
  if (canonical.starts_with("<|channel|>")) {
    copy(0, canonical.size());
    return r;
  }
  // The thought: up to the first closing tag ("</think>", Sky-T1's "<|end_of_thought|>"), less
  // an opening tag at its start (after whitespace); a response that opens a thought and never
  // closes it is all thought; one with neither tag is all answer.
  struct Tags {
    std::string_view open, close;
  };
  static constexpr Tags kTags[] = {{"<think>", "</think>"}, {"<|begin_of_thought|>", "<|end_of_thought|>"}};
  size_t lead = 0;
  while (lead < canonical.size() && (canonical[lead] == ' ' || canonical[lead] == '\n' || canonical[lead] == '\t' ||
                                     canonical[lead] == '\r'))
    ++lead;
  const Tags* tags = nullptr;
  size_t close = std::string_view::npos;
  for (const Tags& t : kTags)
    if (size_t c = canonical.find(t.close); c != std::string_view::npos && c < close) close = c, tags = &t;
  bool opened = false;
  for (const Tags& t : kTags)
    if (canonical.substr(lead).starts_with(t.open) && (!tags || tags == &t)) opened = true, tags = &t;
  if (!tags) {
    r.text = "<|channel|>final<|message|>";
    copy(0, canonical.size());
    return r;
  }
  const size_t from = opened ? lead + tags->open.size() : 0;
  r.text = "<|channel|>analysis<|message|>";
  copy(from, (close == std::string_view::npos ? canonical.size() : close) - from);
  if (close == std::string_view::npos) return r;
  r.text += "<|end|><|start|>assistant<|channel|>final<|message|>";
  copy(close + tags->close.size(), canonical.size() - close - tags->close.size());
  return r;
}

Prompter::Prompter(std::optional<PromptFormat> format, ChatTemplate chat_template, ChatTemplateRenderer render,
                   std::string model)
    : format_(std::move(format)), template_(std::move(chat_template)), render_(std::move(render)), model_(std::move(model)) {}

std::string Prompter::operator()(std::string_view question, std::string_view system) const {
  if (format_) return format_->apply(question, system);
  if (template_.kind == ChatTemplate::Kind::None || !render_)
    throw UsageError(model_ + " has no chat template (tokenizer.chat_template): give one (--chat-template-file "
                     "F.jinja), a built-in name (--template chatml, llama3, ...) or a raw format (--prompt-format)");
  try {
    return render_(template_, question, system);
  } catch (const UsageError& e) {
    throw UsageError(model_ + ": " + e.what());  // which model's template failed
  }
}

}  // namespace rdpt
