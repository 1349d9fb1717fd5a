// rdpt: reasoning distillation provenance tracing. `rdpt <command> --help` for each command.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"
#include "rdpt/version.h"

namespace {

struct Command {
  const char* name;
  const char* description;
  int (*run)(int, char**);
};

const Command kCommands[] = {
    {"segment", "cut responses into actions (sentences and special tokens), with byte spans", rdpt::cli::run_segment},
    {"score", "score every response under local GGUF models (llama.cpp) into a score store; resumable", rdpt::cli::run_score},
    {"sample", "sample N completions per question from a GGUF model or a vLLM/SGLang server, with token log-probs", rdpt::cli::run_sample},
    {"import", "load responses and per-token log-probs you already have into a score store", rdpt::cli::run_import},
    {"export", "write a score store as CSV, JSONL or Parquet: one row per action with its span, text and p per model", rdpt::cli::run_export},
    {"grade", "extract each response's final answer and grade it against the reference (correct / incorrect / no-answer)", rdpt::cli::run_grade},
    {"trace", "four-way provenance of a distilled model's actions: per-response counts, curves by position, summary", rdpt::cli::run_trace},
    {"beta", "choose beta (analysis or training procedure) with every candidate's histograms", rdpt::cli::run_beta},
    {"select", "teacher-guided data selection: keep per question the response(s) a strategy prefers", rdpt::cli::run_select},
    {"attribute", "which teacher? rank candidate teachers of one distilled model, bootstrap intervals", rdpt::cli::run_attribute},
    {"align", "histograms of pT - pD over named sets of responses (alignment of output distributions)", rdpt::cli::run_align},
    {"merge", "merge score stores (shards scored on several hosts with score --shard I/N) into one", rdpt::cli::run_merge},
    {"report", "write a self-contained offline HTML report of a score store (curves, beta, trace viewer)", rdpt::cli::run_report},
};

void usage(FILE* out) {
  std::fprintf(out,
               "rdpt %s - reasoning distillation provenance tracing\n\n"
               "usage: rdpt <command> [options]   (rdpt <command> --help for its options)\n\ncommands:\n",
               RDPT_VERSION);
  for (const auto& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.description);
  std::fprintf(out,
               "\nexit codes: 0 ok, 1 runtime error, 2 usage error, 3 finished with failed pairs (score) or "
               "completions (sample): rerun to retry. Docs: docs/ and README.md\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  std::string name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    usage(stdout);
    return 0;
  }
  if (name == "--version" || name == "version") {
    std::printf("rdpt %s\n", RDPT_VERSION);
    return 0;
  }
  for (const auto& c : kCommands) {
    if (name == c.name) {
      std::string prog = std::string("rdpt ") + c.name;
      std::vector<char*> args;
      args.push_back(prog.data());
      for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
      return rdpt::cli::guarded(c.name, [&] { return c.run(int(args.size()), args.data()); });
    }
  }
  std::fprintf(stderr, "rdpt: error: unknown command '%s' (see rdpt --help)\n", name.c_str());
  return 2;
}
