// The one renderer of chat templates through llama.cpp (llama_chat_apply_template), used by the
// scorer, the generator and the HTTP backend's tokenizer behind rdpt::Prompter (rdpt/prompt.h).
#include <llama.h>

#include <string>
#include <vector>

#include "backends/llama/llama_internal.h"
#include "rdpt/error.h"

namespace rdpt::llama_detail {

std::string apply_chat_template(const std::string& tmpl, std::string_view question, std::string_view system) {
  const std::string sys(system), q(question);
  std::vector<llama_chat_message> msgs;
  if (!sys.empty()) msgs.push_back({"system", sys.c_str()});
  msgs.push_back({"user", q.c_str()});
  std::vector<char> buf(2 * (sys.size() + q.size()) + 1024);
  int32_t n = llama_chat_apply_template(tmpl.c_str(), msgs.data(), msgs.size(), true, buf.data(), int32_t(buf.size()));
  if (n > int32_t(buf.size())) {
    buf.resize(size_t(n) + 1);
    n = llama_chat_apply_template(tmpl.c_str(), msgs.data(), msgs.size(), true, buf.data(), int32_t(buf.size()));
  }
  if (n < 0)
    throw UsageError("chat template not supported by llama.cpp ('" + tmpl.substr(0, 60) +
                     "'): give a template name (--template chatml, llama3, ...) or --prompt-format");
  return std::string(buf.data(), size_t(n));
}

}  // namespace rdpt::llama_detail
