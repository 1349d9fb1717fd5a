// The one renderer of chat templates, used by the scorer, the generator and the HTTP backend's
// tokenizer behind rdpt::Prompter (rdpt/prompt.h):
// - a Jinja template (the GGUF's tokenizer.chat_template, or --chat-template-file) runs on
//   llama.cpp's own Jinja runtime (common/jinja, what `llama-server --jinja` uses), with the
//   variables Hugging Face's apply_chat_template passes: messages, add_generation_prompt,
//   bos_token, eos_token, and the user's --chat-template-kwargs; strftime_now() reads a pinned
//   day (--template-date), never the clock;
// - a built-in name (--template chatml) goes to llama_chat_apply_template.
#include <llama.h>

#include <ctime>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/llama/llama_internal.h"
#include "rdpt/error.h"

#ifdef RDPT_WITH_JINJA
#include "jinja/lexer.h"
#include "jinja/parser.h"
#include "jinja/runtime.h"
#include "jinja/value.h"
#include "json.h"
#endif

namespace rdpt::llama_detail {

namespace {

std::string builtin_names() {
  std::vector<const char*> names(256);
  int32_t n = llama_chat_builtin_templates(names.data(), names.size());
  std::string out;
  for (int32_t i = 0; i < n && i < int32_t(names.size()); ++i) out += (i ? ", " : "") + std::string(names[i]);
  return out;
}

std::string apply_builtin(const std::string& name, std::string_view question, std::string_view system) {
  std::vector<const char*> names(256);
  const int32_t n = llama_chat_builtin_templates(names.data(), names.size());
  bool known = false;
  for (int32_t i = 0; i < n && i < int32_t(names.size()); ++i) known = known || name == names[i];
  if (!known)
    throw UsageError("--template '" + name.substr(0, 60) + "' is not one of llama.cpp's built-in templates (" +
                     builtin_names() + "); a Jinja template goes in a file: --chat-template-file F.jinja");
  const std::string sys(system), q(question);
  std::vector<llama_chat_message> msgs;
  if (!sys.empty()) msgs.push_back({"system", sys.c_str()});
  msgs.push_back({"user", q.c_str()});
  std::vector<char> buf(2 * (sys.size() + q.size()) + 1024);
  int32_t r = llama_chat_apply_template(name.c_str(), msgs.data(), msgs.size(), true, buf.data(), int32_t(buf.size()));
  if (r > int32_t(buf.size())) {
    buf.resize(size_t(r) + 1);
    r = llama_chat_apply_template(name.c_str(), msgs.data(), msgs.size(), true, buf.data(), int32_t(buf.size()));
  }
  if (r < 0) throw UsageError("llama.cpp could not apply its built-in template '" + name + "'");
  return std::string(buf.data(), size_t(r));
}

#ifdef RDPT_WITH_JINJA
// The line of the template an error of llama.cpp's Jinja engine points at. Runtime errors say
// "at line L, column C"; lexer and parser errors show the source around the spot ("...text...",
// newlines as U+21B5) and a caret under it, from which the line is found.
std::string error_line(const std::string& source, const std::string& what) {
  static const std::regex at_line(R"(at line (\d+), column (\d+))");
  std::smatch m;
  if (std::regex_search(what, m, at_line)) return "line " + m[1].str() + ", column " + m[2].str();
  const size_t a = what.find("\n...");
  if (a == std::string::npos) return "";
  const size_t b = what.find("...\n", a + 4);
  const size_t caret_line = b == std::string::npos ? b : b + 4;
  if (b == std::string::npos) return "";
  std::string snippet = what.substr(a + 4, b - (a + 4));
  for (size_t p; (p = snippet.find("\u21b5")) != std::string::npos;) snippet.replace(p, 3, "\n");
  const size_t caret = what.find('^', caret_line);
  const size_t at = source.find(snippet);
  if (at == std::string::npos || caret == std::string::npos) return "";
  // llama.cpp places the caret by source bytes from the snippet's start (a newline counts one,
  // though it is shown as the 3-byte U+21B5), after the 3 bytes of "..."
  const size_t pos = at + (caret - caret_line >= 3 ? caret - caret_line - 3 : 0);
  size_t line = 1, col = 1;
  for (size_t i = 0; i < pos && i < source.size(); ++i) source[i] == '\n' ? (++line, col = 1) : ++col;
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

std::string first_error_line(const std::string& what) {
  // llama.cpp's messages: "\n------------\nWhile executing ...\n<source>\n^\nError: MSG", or
  // "parser: MSG\n...": keep the message itself, on one line.
  std::string msg = what;
  if (size_t e = msg.rfind("\nError: "); e != std::string::npos) msg = msg.substr(e + 8);
  else if (size_t nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  for (char& c : msg)
    if (c == '\n') c = ' ';
  return msg;
}

// Local noon of the day: std::localtime (what strftime_now formats) gives that day in any zone.
std::time_t noon_of(const std::string& date) {
  std::tm tm{};
  tm.tm_year = std::stoi(date.substr(0, 4)) - 1900;
  tm.tm_mon = std::stoi(date.substr(5, 2)) - 1;
  tm.tm_mday = std::stoi(date.substr(8, 2));
  tm.tm_hour = 12;
  tm.tm_isdst = -1;
  return std::mktime(&tm);
}

std::string apply_jinja(const ChatTemplate& t, std::string_view question, std::string_view system) {
  const std::string where = "chat template (" + t.origin + ")";
  nlohmann::json messages = nlohmann::json::array();
  if (!system.empty()) messages.push_back({{"role", "system"}, {"content", std::string(system)}});
  messages.push_back({{"role", "user"}, {"content", std::string(question)}});
  nlohmann::json vars = {{"messages", messages},
                         {"tools", nullptr},      // as Hugging Face and vLLM pass them: defined, none
                         {"documents", nullptr},
                         {"add_generation_prompt", true},
                         {"bos_token", t.bos},
                         {"eos_token", t.eos}};
  const nlohmann::json kwargs = nlohmann::json::parse(t.kwargs);  // kept alive across the loop
  for (const auto& [k, v] : kwargs.items()) vars[k] = v;
  std::string out;
  try {
    jinja::lexer lexer;
    const jinja::lexer_result lexed = lexer.tokenize(t.text);
    const jinja::program prog = jinja::parse_from_tokens(lexed);
    jinja::context ctx(lexed.source);
    ctx.current_time = noon_of(t.date);
    jinja::global_from_json(ctx, common_json::parse(vars.dump()), /*mark_input=*/false);
    jinja::runtime runtime(ctx);
    const jinja::value results = runtime.execute(prog);
    out = jinja::runtime::gather_string_parts(results)->as_string().str();
  } catch (const std::exception& e) {
    const std::string line = error_line(t.text, e.what());
    throw UsageError(where + " failed to render" + (line.empty() ? "" : " at " + line) + ": " +
                     first_error_line(e.what()));
  }
  return out;
}
#endif

}  // namespace

std::string apply_chat_template(const ChatTemplate& t, std::string_view question, std::string_view system) {
  switch (t.kind) {
    case ChatTemplate::Kind::Builtin:
      return apply_builtin(t.text, question, system);
    case ChatTemplate::Kind::Jinja:
#ifdef RDPT_WITH_JINJA
      return apply_jinja(t, question, system);
#else
      throw UsageError("chat template (" + t.origin +
                       "): this build has no Jinja runtime (llama.cpp's common library; run scripts/setup.sh), "
                       "give a built-in name (--template chatml) or --prompt-format");
#endif
    case ChatTemplate::Kind::None:
      break;
  }
  throw UsageError("no chat template to apply");
}

ChatTemplate model_chat_template(const llama_model* model, const std::string& path, const std::string& template_name,
                                 const JinjaOptions& jinja) {
  ChatTemplate t;
  if (!template_name.empty()) {
    t.kind = ChatTemplate::Kind::Builtin;
    t.text = template_name;
    t.origin = "--template " + template_name;
    return t;
  }
  if (!jinja.text.empty()) {
    t.text = jinja.text;
    t.origin = jinja.origin.empty() ? "--chat-template-file" : jinja.origin;
  } else if (const char* own = llama_model_chat_template(model, nullptr); own && *own) {
    t.text = own;
    t.origin = "tokenizer.chat_template of '" + path + "'";
  } else {
    return t;  // Kind::None: Prompter's error says what to give
  }
  t.kind = ChatTemplate::Kind::Jinja;
  t.kwargs = jinja.kwargs.empty() ? "{}" : jinja.kwargs;
  t.date = jinja.date.empty() ? kDefaultTemplateDate : jinja.date;
  const llama_vocab* vocab = llama_model_get_vocab(model);
  auto text_of = [&](llama_token tok) -> std::string {
    if (tok == LLAMA_TOKEN_NULL) return "";
    const char* s = llama_vocab_get_text(vocab, tok);
    return s ? s : "";
  };
  t.bos = text_of(llama_vocab_bos(vocab));
  t.eos = text_of(llama_vocab_eos(vocab));
  return t;
}

}  // namespace rdpt::llama_detail
