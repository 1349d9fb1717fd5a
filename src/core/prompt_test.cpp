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
  auto render = [](const std::string& tmpl, std::string_view q, std::string_view s) {
    return "<" + tmpl + ">" + std::string(s) + "|" + std::string(q);
  };
  Prompter with_format(PromptFormat("Q: {question}"), "chatml", render, "model 'm.gguf'");
  EXPECT_EQ(with_format("x", "s"), "Q: x");
  EXPECT_EQ(with_format.describe(), "format:Q: {question}");
  Prompter empty_format(PromptFormat(""), "chatml", render, "model 'm.gguf'");
  EXPECT_EQ(empty_format("x", "s"), "");  // an explicit empty format is not "no format"
  EXPECT_EQ(empty_format.describe(), "format:");
  Prompter with_template(std::nullopt, "chatml", render, "model 'm.gguf'");
  EXPECT_EQ(with_template("x", "s"), "<chatml>s|x");
  EXPECT_EQ(with_template.describe(), "chatml");
  Prompter neither(std::nullopt, "", render, "model 'm.gguf'");
  EXPECT_EQ(neither.describe(), "");
  try {
    neither("x", "");
    ADD_FAILURE() << "no format and no template must throw";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("model 'm.gguf' has no chat template"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rdpt
