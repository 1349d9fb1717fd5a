#include "rdpt/prompt.h"

#include <gtest/gtest.h>

#include "rdpt/error.h"

namespace rdpt {
namespace {

TEST(PromptFormat, SubstitutesInOnePassOverTheFormatOnly) {
  // A system text holding "{question}" is not a placeholder (it was before: the system text was
  // substituted first, then its "{question}" replaced by the question).
  PromptFormat f("S: {system} Q: {question}");
  EXPECT_EQ(f.apply("what is 2+2?", "answer {question} briefly"), "S: answer {question} briefly Q: what is 2+2?");
  // Nor is a question holding "{system}".
  EXPECT_EQ(f.apply("is {system} a word?", "sys"), "S: sys Q: is {system} a word?");
  // Placeholders repeat; other braces are literal.
  EXPECT_EQ(PromptFormat("{question}|{question}|{sys}|{|}").apply("q", "s"), "q|q|{sys}|{|}");
  EXPECT_EQ(PromptFormat("{{question}}").apply("q", "s"), "{q}");
  EXPECT_EQ(PromptFormat("no placeholders").apply("q", "s"), "no placeholders");
}

TEST(PromptFormat, EmptyFormatIsTheEmptyPrompt) {
  PromptFormat f("");
  EXPECT_EQ(f.apply("question", "system"), "");
  EXPECT_EQ(f.describe(), "format:");
  EXPECT_EQ(PromptFormat::from_cli("").apply("q", "s"), "");
}

TEST(PromptFormat, CommandLineEscapes) {
  EXPECT_EQ(decode_prompt_escapes("Q: {question}\\nA:\\t\\\\n"), "Q: {question}\nA:\t\\n");
  EXPECT_EQ(decode_prompt_escapes("a\\b\\"), "a\\b\\");  // unknown escape and trailing backslash kept
  EXPECT_EQ(PromptFormat::from_cli("Q: {question}\\nA: ").apply("2+2?", ""), "Q: 2+2?\nA: ");
  // A real newline passes through; a literal format is not decoded.
  EXPECT_EQ(PromptFormat::from_cli("Q:\n{question}").text(), "Q:\n{question}");
  EXPECT_EQ(PromptFormat("Q: {question}\\n").apply("x", ""), "Q: x\\n");
}

TEST(Prompter, FormatWinsElseTheChatTemplateElseAnErrorNamingTheModel) {
  auto render = [](const ChatTemplate& t, std::string_view q, std::string_view s) {
    return "<" + t.text + ">" + std::string(s) + "|" + std::string(q);
  };
  ChatTemplate chatml;
  chatml.kind = ChatTemplate::Kind::Builtin;
  chatml.text = "chatml";
  Prompter with_format(PromptFormat("Q: {question}"), chatml, render, "model 'm.gguf'");
  EXPECT_EQ(with_format("x", "s"), "Q: x");
  EXPECT_EQ(with_format.describe(), "format:Q: {question}");
  Prompter empty_format(PromptFormat(""), chatml, render, "model 'm.gguf'");
  EXPECT_EQ(empty_format("x", "s"), "");  // an explicit empty format is not "no format"
  EXPECT_EQ(empty_format.describe(), "format:");
  Prompter with_template(std::nullopt, chatml, render, "model 'm.gguf'");
  EXPECT_EQ(with_template("x", "s"), "<chatml>s|x");
  EXPECT_EQ(with_template.describe(), "chatml");
  Prompter neither(std::nullopt, ChatTemplate{}, render, "model 'm.gguf'");
  EXPECT_EQ(neither.describe(), "");
  try {
    neither("x", "");
    ADD_FAILURE() << "no format and no template must throw";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("model 'm.gguf' has no chat template"), std::string::npos) << e.what();
  }
}

TEST(ChatTemplate, DescribeRecordsTheDateTheKwargsAndTheSource) {
  ChatTemplate t;
  t.kind = ChatTemplate::Kind::Jinja;
  t.text = "{{ messages[0].content }}";
  t.kwargs = R"({ "enable_thinking" : true })";
  t.date = "2025-03-14";
  EXPECT_EQ(t.describe(), "jinja date=2025-03-14 kwargs={\"enable_thinking\":true}\n{{ messages[0].content }}");
  ChatTemplate other = t;
  other.date = "2025-03-15";
  EXPECT_NE(other.describe(), t.describe());  // another day is another prompt (gpt-oss prints it)
  other = t;
  other.kwargs = R"({"enable_thinking": false})";
  EXPECT_NE(other.describe(), t.describe());
}

TEST(PromptOverlap, ATagTheGenerationPromptAlreadyOpenedIsCountedOnce) {
  const std::string qwq = "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\n";
  EXPECT_EQ(prompt_overlap(qwq, "<think>\nOkay, so"), 8u);     // "<think>\n" as the prompt has it
  EXPECT_EQ(prompt_overlap(qwq, "<think>\n\nOkay"), 8u);      // the second newline is the model's
  EXPECT_EQ(prompt_overlap(qwq, "<think>Okay"), 7u);           // the tag; the prompt's newline stays
  EXPECT_EQ(prompt_overlap(qwq, "Okay, so <think>"), 0u);      // the response starts inside the thought
  EXPECT_EQ(prompt_overlap("<|im_start|>assistant\n", "<think>\nOkay"), 0u);  // Qwen3: the model writes it
  EXPECT_EQ(prompt_overlap("<think>\n</think>", "<think>\nx"), 0u);            // the thought is closed
  EXPECT_EQ(prompt_overlap("A: <|begin_of_thought|>\n\n", "<|begin_of_thought|>\n\nLet"), 22u);
  EXPECT_EQ(prompt_overlap("", "<think>"), 0u);
}

TEST(RenderResponse, HarmonyPutsTheThoughtInTheAnalysisChannelWithAnExactByteMap) {
  const std::string oss_prompt = "<|start|>user<|message|>q<|end|><|start|>assistant";
  const std::string canonical = "<think>\nOkay, two.\n</think>\n\nIt is 2.";
  const RenderedResponse r = render_response(oss_prompt, canonical);
  EXPECT_EQ(r.text,
            "<|channel|>analysis<|message|>\nOkay, two.\n<|end|><|start|>assistant<|channel|>final<|message|>\n\nIt is 2.");
  ASSERT_EQ(r.pieces.size(), 2u);
  // every copied byte maps back to the same byte of the canonical text
  for (const auto& p : r.pieces)
    for (uint32_t i = 0; i < p.size; ++i) EXPECT_EQ(r.text[p.at + i], canonical[*r.canonical(p.at + i)]);
  EXPECT_FALSE(r.canonical(0).has_value());  // "<|channel|>" was added
  EXPECT_EQ(*r.canonical(30), 7u);           // the thought's first byte
  EXPECT_TRUE(r.drops_text(canonical, 0, 7));    // "<think>"
  EXPECT_FALSE(r.drops_text(canonical, 7, 18));  // "\nOkay, two."
  EXPECT_TRUE(r.drops_text(canonical, 19, 27));  // "</think>"
  EXPECT_EQ(render_response(oss_prompt, "No thought.").text, "<|channel|>final<|message|>No thought.");
  EXPECT_EQ(render_response(oss_prompt, "<think>cut off").text, "<|channel|>analysis<|message|>cut off");
  // gpt-oss's own raw completion is scored as it is, every byte its own.
  const std::string raw = "<|channel|>analysis<|message|>Hm.<|end|><|start|>assistant<|channel|>final<|message|>2<|return|>";
  const RenderedResponse rr = render_response(oss_prompt, raw);
  EXPECT_EQ(rr.text, raw);
  ASSERT_EQ(rr.pieces.size(), 1u);
  EXPECT_EQ(rr.canonical(0), 0u);
  // R1's output after a prompt that opened the thought: "R</think>C" (no opening tag)
  EXPECT_EQ(render_response(oss_prompt, "Okay.</think>It is 2.").text,
            "<|channel|>analysis<|message|>Okay.<|end|><|start|>assistant<|channel|>final<|message|>It is 2.");
  // whitespace before the opening tag, and Sky-T1's markers
  const RenderedResponse ws = render_response(oss_prompt, "\n<think>x</think>y");
  EXPECT_EQ(ws.text, "<|channel|>analysis<|message|>x<|end|><|start|>assistant<|channel|>final<|message|>y");
  EXPECT_FALSE(ws.drops_text("\n<think>x</think>y", 0, 1));  // the newline is whitespace only
  EXPECT_EQ(render_response(oss_prompt, "<|begin_of_thought|>\nHm.<|end_of_thought|>\n\nSo 2.").text,
            "<|channel|>analysis<|message|>\nHm.<|end|><|start|>assistant<|channel|>final<|message|>\n\nSo 2.");
  // Not harmony: the response itself, less what the prompt already opened.
  const RenderedResponse q = render_response("<|im_start|>assistant\n<think>\n", canonical);
  EXPECT_EQ(q.text, canonical.substr(8));
  EXPECT_TRUE(q.drops_text(canonical, 0, 7));
  EXPECT_FALSE(q.drops_text(canonical, 7, 18));  // its leading newline is the prompt's, the rest is scored
  EXPECT_EQ(render_response("<|im_start|>assistant\n", canonical).text, canonical);
}

TEST(ChatTemplate, DatesAndKwargsAreChecked) {
  EXPECT_NO_THROW(check_template_date("2024-02-29", "--template-date"));
  for (const char* bad : {"2023-02-29", "2024-13-01", "2024-1-01", "24-01-01", "2024-01-32", "2024-01-01x", "", "1969-12-31"})
    EXPECT_THROW(check_template_date(bad, "--template-date"), UsageError) << bad;
  EXPECT_NO_THROW(check_template_kwargs(R"({"reasoning_effort": "high"})", "--chat-template-kwargs"));
  for (const char* bad : {"[1]", "true", "{", "enable_thinking=true"})
    EXPECT_THROW(check_template_kwargs(bad, "--chat-template-kwargs"), UsageError) << bad;
}

}  // namespace
}  // namespace rdpt
