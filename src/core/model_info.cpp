// describe_model (include/rdpt/model_info.h): the one ModelInfo builder of every backend.
#include "rdpt/model_info.h"

#include <algorithm>
#include <filesystem>

namespace rdpt {

ModelInfo describe_model(const ModelFacts& f) {
  ModelInfo m;
  m.backend = f.backend;
  if (f.endpoints.empty()) {
    std::error_code ec;
    auto abs = std::filesystem::absolute(f.path, ec);
    m.location = ec ? f.path : abs.string();
    m.fingerprint = f.file_fingerprint;
  } else {
    std::vector<std::string> eps = f.endpoints;
    std::sort(eps.begin(), eps.end());
    for (const auto& e : eps) m.location += (m.location.empty() ? "" : ",") + e;
    if (!f.served_model.empty()) m.location += "#" + f.served_model;
    m.fingerprint = "http:" + m.location + "|tokenizer:" +
                    (f.file_fingerprint.empty() ? std::string("server-text") : f.file_fingerprint);
  }
  m.tokenizer = f.tokenizer;
  m.chat_template = f.chat_template;
  m.info_json = f.info_json;
  return m;
}

}  // namespace rdpt
