// rdpt score --show-prompt: what a model sees of the first record, as text.
#include <algorithm>
#include <sstream>

#include "rdpt/operations.h"
#include "rdpt/prompt.h"

namespace rdpt {

void prompt_preview(const Scorer& sc, const std::string& name, const std::string& location,
                    const StoredResponse& r, std::ostream& os) {
  const std::string prompt = sc.format_prompt(r.question, r.system);
  const std::string& resp = r.response;
  const bool harmony = is_harmony_prompt(prompt);
  const RenderedResponse rr = render_response(prompt, resp);
  const size_t ov = harmony ? 0 : resp.size() - rr.text.size();  // the bytes the prompt already holds
  os << "=== " << name << " (" << location << "), record " << r.id << " ===\n"
     << prompt << "\n=== end of prompt; the response follows ===\n" << std::flush;
  // The first tokens on each side of the boundary, as the model sees them.
  auto show_tokens = [&](const char* what, std::vector<std::pair<int32_t, std::string>> toks, bool tail) {
    if (toks.empty()) return;
    const size_t n = std::min<size_t>(toks.size(), 12), from = tail ? toks.size() - n : 0;
    os << "=== " << what << " (" << toks.size() << " tokens):";
    for (size_t i = from; i < from + n; ++i) {
      std::string piece;
      for (char c : toks[i].second) piece += c == '\n' ? std::string("\\n") : std::string(1, c);
      os << " " << toks[i].first << ":'" << piece << "'";
    }
    os << " ===\n";
  };
  show_tokens("last prompt tokens", sc.tokens_of(prompt, true), true);
  show_tokens("first response tokens", sc.tokens_of(rr.text, false), false);
  if (harmony && resp.starts_with("<|channel|>")) {
    os << "=== harmony (gpt-oss): the response is already in the harmony format (it starts with a channel "
          "header) and is scored as it is ===\n";
  } else if (harmony) {
    os << "=== harmony (gpt-oss): the response is rendered as\n" << rr.text.substr(0, 400)
       << "\n=== the thought in the analysis channel, the answer in the final one; the thinking tags "
          "and the channel headers belong to no action ===\n";
  } else {
    for (const char* end_tag : {"</think>", "<|end_of_thought|>"})
      if (size_t at = resp.find(end_tag); at != std::string::npos)
        os << "=== the thought ends at byte " << at << " of the response ('" << end_tag
           << "'); the answer follows it ===\n";
  }
  if (ov)
    os << "=== the prompt already ends with the response's first " << ov << " bytes ('" << resp.substr(0, ov)
       << "'): counted once, as prompt; the action holding them is unscored under this model ===\n";
}

std::string prompt_preview(const Scorer& sc, const std::string& name, const std::string& location,
                           const StoredResponse& r) {
  std::ostringstream os;
  prompt_preview(sc, name, location, r, os);
  return os.str();
}

}  // namespace rdpt
