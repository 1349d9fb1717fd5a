// describe_model: the one ModelInfo builder of every backend.
#include "rdpt/model_info.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace rdpt {
namespace {

TEST(DescribeModel, FileModel) {
  ModelInfo m = describe_model({.backend = "llama",
                                .path = "models/t.gguf",
                                .file_fingerprint = "gguf:abc",
                                .tokenizer = "bpe:qwen2:151936",
                                .chat_template = "chatml",
                                .info_json = R"({"n_ctx":4096})"});
  EXPECT_EQ(m.backend, "llama");
  EXPECT_EQ(m.location, (std::filesystem::current_path() / "models/t.gguf").string());  // absolute
  EXPECT_EQ(m.fingerprint, "gguf:abc");
  EXPECT_EQ(m.tokenizer, "bpe:qwen2:151936");
  EXPECT_EQ(m.chat_template, "chatml");
  EXPECT_EQ(m.info_json, R"({"n_ctx":4096})");
  EXPECT_TRUE(m.name.empty());  // the caller names the role
}

TEST(DescribeModel, ServerModel) {
  ModelFacts f{.backend = "http-openai",
               .endpoints = {"http://b:8000/v1", "http://a:8000/v1"},
               .served_model = "qwen",
               .tokenizer = "server"};
  ModelInfo m = describe_model(f);
  EXPECT_EQ(m.location, "http://a:8000/v1,http://b:8000/v1#qwen");  // sorted
  EXPECT_EQ(m.fingerprint, "http:http://a:8000/v1,http://b:8000/v1#qwen|tokenizer:server-text");
  EXPECT_EQ(m.info_json, "{}");
  f.file_fingerprint = "gguf:v";  // ids tokenized locally: another model than text mode
  f.served_model.clear();
  EXPECT_EQ(describe_model(f).fingerprint, "http:http://a:8000/v1,http://b:8000/v1|tokenizer:gguf:v");
}

}  // namespace
}  // namespace rdpt
