// What a store records about a model (one row of its `models` table), and the one function that
// builds it for every backend's describe(). Its own header so that the backend interfaces
// (rdpt/scorer.h, rdpt/generator.h) need not include the store's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rdpt {

struct ModelInfo {
  int64_t mid = 0;          // store row id (assigned by put_model)
  std::string name;         // role or user name: "teacher", "student", "distilled", ...
  std::string backend;      // "llama", "http", "import"
  std::string location;     // file path or endpoint URL
  std::string fingerprint;  // identity of weights+tokenizer (hash) or endpoint+model+tokenizer
  std::string tokenizer;    // tokenizer description
  std::string chat_template;// template name or text used for prompts
  std::string info_json = "{}";  // anything else, as a JSON object
};

// What a backend knows of its model. describe_model() turns it into a ModelInfo, so that both
// backends, scorers and generators alike, record a model the same way: a scorer and a generator
// of one model get one location and one fingerprint.
struct ModelFacts {  // {} on every member: callers name only what they know (designated initialisers)
  std::string backend{};                 // "llama", "http-openai", "http-sglang"
  std::string path{};                    // a model file (recorded as its absolute path), or
  std::vector<std::string> endpoints{};  // a server's URLs (recorded sorted: their order is no part of the model)
  std::string served_model{};            // server models: the served name ("" = the server's only model)
  std::string file_fingerprint{};        // the model file's, or a server model's tokenizer file's ("" = none)
  std::string tokenizer{};               // tokenizer description
  std::string chat_template{};           // Prompter::describe() or the server's rendering
  std::string info_json = "{}";
};

// location: the absolute path, or "URL1,URL2[#served]"; fingerprint: the file's, or for a server
// "http:" + location + "|tokenizer:" + (the tokenizer file's fingerprint or "server-text": ids
// tokenized locally and text tokenized by the server can differ, so they are other models).
ModelInfo describe_model(const ModelFacts& facts);

}  // namespace rdpt
