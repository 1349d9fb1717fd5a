// rdpt's chat-template rendering (llama.cpp's Jinja runtime) against an independent renderer:
// Python's jinja2 configured as Hugging Face's apply_chat_template (tests/templates/hf_render.py),
// on the real templates in llama.cpp's models/templates/ and shipped benchmark questions, with and
// without a system prompt, non-ASCII included. Byte for byte; then the same tokens.
#include <gtest/gtest.h>
#include <llama.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/llama/llama_internal.h"
#include "rdpt/error.h"
#include "rdpt/record.h"

namespace fs = std::filesystem;

namespace rdpt {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string template_path(const std::string& name) {
  return std::string(RDPT_LLAMA_SOURCE_DIR) + "/models/templates/" + name + ".jinja";
}

struct HfRequest {
  std::string tmpl, question, system, bos, eos, kwargs, date;
};

// Hugging Face's renderings, by tests/templates/hf_render.py under Debian's python3
// (python3-jinja2), all requests in one run.
std::vector<std::string> hf_render(const std::vector<HfRequest>& reqs) {
  nlohmann::json all = nlohmann::json::array();
  for (const auto& r : reqs) {
    nlohmann::json msgs = nlohmann::json::array();
    if (!r.system.empty()) msgs.push_back({{"role", "system"}, {"content", r.system}});
    msgs.push_back({{"role", "user"}, {"content", r.question}});
    all.push_back({{"template", r.tmpl}, {"messages", msgs}, {"bos_token", r.bos},
                   {"eos_token", r.eos}, {"kwargs", nlohmann::json::parse(r.kwargs)}, {"date", r.date}});
  }
  const fs::path dir = fs::temp_directory_path() / ("rdpt-hf-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string in = (dir / "requests.json").string();
  std::ofstream(in, std::ios::binary) << all.dump();
  const std::string script = std::string(RDPT_SOURCE_DIR) + "/tests/templates/hf_render.py";
  std::string cmd = "/usr/bin/python3 '" + script + "' '" + in + "'";
  FILE* p = ::popen(cmd.c_str(), "r");
  EXPECT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; p && (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int rc = p ? ::pclose(p) : -1;
  EXPECT_EQ(rc, 0) << "hf_render.py failed for the requests in " << in;
  if (rc != 0) return {};
  fs::remove_all(dir);
  return nlohmann::json::parse(out).get<std::vector<std::string>>();
}

ChatTemplate jinja_template(const std::string& name, const std::string& bos, const std::string& eos,
                            const std::string& kwargs, const std::string& date) {
  ChatTemplate t;
  t.kind = ChatTemplate::Kind::Jinja;
  t.text = read_file(template_path(name));
  t.origin = "file '" + name + ".jinja'";
  t.bos = bos;
  t.eos = eos;
  t.kwargs = kwargs;
  t.date = date;
  return t;
}

std::vector<std::string> shipped_questions() {
  ReaderOptions ro;
  ro.require_response = false;
  std::vector<std::string> qs;
  for (const char* f : {"/benchmarks/aime25.jsonl.zst", "/benchmarks/math500.jsonl.zst"}) {
    RecordReader r(std::string(RDPT_TEST_DATA) + f, ro);
    Record rec;
    for (int i = 0; i < 2 && r.next(rec); ++i) qs.push_back(rec.question);
  }
  // Non-ASCII, quotes, braces and Jinja-looking text must pass through untouched.
  qs.push_back("Résous : combien vaut ∑_{k=1}^{n} k² ? 答えは「{{ x }}」と書け — \"quoted\" {% raw %}");
  return qs;
}

struct Case {
  std::string tmpl, bos, eos, kwargs;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"Qwen-QwQ-32B", "", "<|im_end|>", R"({"enable_thinking": true})"},
      {"Qwen-QwQ-32B", "", "<|im_end|>", R"({})"},
      {"Qwen-Qwen3-0.6B", "", "<|im_end|>", R"({"enable_thinking": true})"},
      {"Qwen-Qwen3-0.6B", "", "<|im_end|>", R"({"enable_thinking": false})"},
      {"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", R"({})"},
      {"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>",
       R"({"enable_thinking": true})"},
      {"openai-gpt-oss-120b", "<|startoftext|>", "<|return|>", R"({"reasoning_effort": "medium"})"},
      {"openai-gpt-oss-120b", "<|startoftext|>", "<|return|>", R"({"reasoning_effort": "high"})"},
      {"meta-llama-Llama-3.1-8B-Instruct", "<|begin_of_text|>", "<|eot_id|>", R"({})"},
  };
  return c;
}

TEST(ChatTemplateJinja, RealTemplatesRenderAsHuggingFaceRendersThem) {
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "needs Debian's python3 with python3-jinja2";
  const auto questions = shipped_questions();
  ASSERT_GE(questions.size(), 5u);
  const std::string system = "You are a careful mathematician. Réponds brièvement — 简洁。";
  std::vector<HfRequest> reqs;
  std::vector<std::string> ours;
  for (const auto& c : cases()) {
    ASSERT_TRUE(fs::exists(template_path(c.tmpl))) << template_path(c.tmpl);
    for (const std::string date : {"2024-07-26", "2025-03-14"}) {
      const ChatTemplate t = jinja_template(c.tmpl, c.bos, c.eos, c.kwargs, date);
      for (const auto& q : questions) {
        for (const std::string& sys : {std::string(), system}) {
          ours.push_back(llama_detail::apply_chat_template(t, q, sys));
          reqs.push_back({t.text, q, sys, c.bos, c.eos, c.kwargs, date});
        }
      }
    }
  }
  const std::vector<std::string> theirs = hf_render(reqs);
  ASSERT_EQ(theirs.size(), ours.size());
  int compared = 0;
  for (size_t i = 0; i < ours.size(); ++i, ++compared) {
    const HfRequest& r = reqs[i];
    ASSERT_EQ(ours[i], theirs[i]) << "kwargs " << r.kwargs << " date " << r.date << " system '" << r.system
                                  << "' question '" << r.question.substr(0, 60) << "' template:\n"
                                  << r.tmpl.substr(0, 200);
  }
  EXPECT_EQ(compared, int(cases().size() * 2 * questions.size() * 2));
}

TEST(ChatTemplateJinja, GenerationPromptsOfThePapersModels) {
  // What the issue measured, kept as plain facts about the renderings.
  const std::string q = "What is 1+1?";
  auto render = [&](const std::string& name, const std::string& kwargs, const std::string& bos = "") {
    return llama_detail::apply_chat_template(jinja_template(name, bos, "", kwargs, "2025-03-14"), q, "");
  };
  EXPECT_TRUE(render("Qwen-QwQ-32B", R"({"enable_thinking": true})").ends_with("<|im_start|>assistant\n<think>\n"));
  // llama.cpp's copies of the QwQ and R1-Distill templates close the thought at once unless
  // enable_thinking is passed (the Hugging Face originals have no such switch).
  EXPECT_TRUE(render("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", R"({"enable_thinking": true})", "<｜begin▁of▁sentence｜>")
                  .ends_with("<｜Assistant｜><think>\n"));
  EXPECT_TRUE(render("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "{}", "<｜begin▁of▁sentence｜>")
                  .ends_with("<｜Assistant｜><think>\n</think>"));
  EXPECT_TRUE(render("Qwen-Qwen3-0.6B", "{}").ends_with("<|im_start|>assistant\n"));
  const std::string oss = render("openai-gpt-oss-120b", R"({"reasoning_effort": "high"})");
  EXPECT_NE(oss.find("Current date: 2025-03-14"), std::string::npos) << oss;  // the pinned day, not today
  EXPECT_NE(oss.find("Reasoning: high"), std::string::npos) << oss;
  EXPECT_TRUE(oss.ends_with("<|start|>assistant")) << oss;
}

TEST(ChatTemplateJinja, FailuresNameTheTemplateAndItsLine) {
  auto fails_with = [](const std::string& text, const std::string& expect) {
    ChatTemplate t;
    t.kind = ChatTemplate::Kind::Jinja;
    t.text = text;
    t.origin = "file 'bad.jinja'";
    try {
      llama_detail::apply_chat_template(t, "q", "");
      ADD_FAILURE() << "rendered: " << text;
    } catch (const UsageError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("chat template (file 'bad.jinja') failed to render"), std::string::npos) << what;
      EXPECT_NE(what.find(expect), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << "one line: " << what;
    }
  };
  // raise_exception on line 3 (a template refusing its input)
  fails_with("{{ bos_token }}\n{% for m in messages %}\n{{ raise_exception('only assistant turns') }}{% endfor %}",
             "line 3");
  fails_with("{{ bos_token }}\n{% for m in messages %}\n{{ raise_exception('only assistant turns') }}{% endfor %}",
             "only assistant turns");
  // a syntax error on line 2
  fails_with("hello\n{% if messages %}{{ x }\n{% endif %}", "line 2");
  // several newlines in the window llama.cpp shows around the spot: still the right line
  fails_with("a\nb\nc\nd\n{{ x }", "line 5");
  // a built-in name that llama.cpp lacks is refused, never guessed
  ChatTemplate b;
  b.kind = ChatTemplate::Kind::Builtin;
  b.text = "no-such-template";
  EXPECT_THROW(llama_detail::apply_chat_template(b, "q", ""), UsageError);
}

// The tokens rdpt scores equal the independent rendering tokenized by the same vocabulary
// without added special tokens (Hugging Face's apply_chat_template(tokenize=True), vLLM's chat
// path): Llama 3.1's template writes BOS itself, so the prompt holds exactly one.
TEST(ChatTemplateJinja, PromptTokensAreTheIndependentRenderingsTokens) {
  llama_model_params mp = llama_model_default_params();
  mp.vocab_only = true;
  for (const std::string& vocab_name : {std::string("llama-bpe"), std::string("qwen2")}) {
    const std::string vp = std::string(RDPT_LLAMA_SOURCE_DIR) + "/models/ggml-vocab-" + vocab_name + ".gguf";
    llama_model* m = llama_model_load_from_file(vp.c_str(), mp);
    ASSERT_NE(m, nullptr) << vp;
    const llama_vocab* v = llama_model_get_vocab(m);
    const std::string name = vocab_name == "qwen2" ? "Qwen-QwQ-32B" : "meta-llama-Llama-3.1-8B-Instruct";
    JinjaOptions jo;
    jo.text = read_file(template_path(name));
    jo.origin = "file '" + name + ".jinja'";
    const ChatTemplate t = llama_detail::model_chat_template(m, vp, "", jo);
    ASSERT_EQ(t.kind, ChatTemplate::Kind::Jinja);
    const Prompter p(std::nullopt, t, llama_detail::apply_chat_template, "model 'x'");
    EXPECT_FALSE(p.tokenize_with_special());
    const std::string q = "Résous : 2+2 ?";
    const std::string ours = p(q, "Be brief.");
    const std::vector<std::string> theirs = hf_render({{t.text, q, "Be brief.", t.bos, t.eos, "{}", t.date}});
    ASSERT_EQ(theirs.size(), 1u);
    ASSERT_EQ(ours, theirs[0]);
    const auto ids = llama_detail::tokenize_with_offsets(v, ours, p.tokenize_with_special()).ids;
    const auto want = llama_detail::tokenize_with_offsets(v, theirs[0], /*add_special=*/false).ids;
    EXPECT_EQ(ids, want) << name;
    if (vocab_name == "llama-bpe") {
      ASSERT_FALSE(ids.empty());
      EXPECT_EQ(ids[0], llama_vocab_bos(v));
      EXPECT_EQ(std::count(ids.begin(), ids.end(), llama_vocab_bos(v)), 1);
    }
    llama_model_free(m);
  }
  ChatTemplate d;
  d.kind = ChatTemplate::Kind::Jinja;
  d.text = "x";
  EXPECT_EQ(d.describe(), "jinja date=2024-07-26 kwargs={}\nx");
}

}  // namespace
}  // namespace rdpt
