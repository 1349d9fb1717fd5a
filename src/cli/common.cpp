#include "cli/common.h"


#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "io/output_path.h"
#include "rdpt/error.h"

namespace rdpt::cli {

int guarded(const char* command, const std::function<int()>& fn) {
  try {
    return fn();
  } catch (const UsageError& e) {
    std::fprintf(stderr, "rdpt %s: error: %s\n", command, e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rdpt %s: error: %s\n", command, e.what());
    return 1;
  }
}

int parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp& e) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: error: %s (see --help)\n", app.get_name().c_str(), e.what());
    return 2;
  }
  return -1;
}

void add_reader_options(CLI::App& app, ReaderOptions& o) {
  static const std::map<std::string, Layout> kLayouts = {
      {"auto", Layout::Auto}, {"flat", Layout::Flat}, {"messages", Layout::Messages},
      {"conversations", Layout::Conversations}};
  app.add_option("--layout", o.layout, "record layout: auto|flat|messages|conversations (default auto)")
      ->transform(CLI::CheckedTransformer(kLayouts, CLI::ignore_case))
      ->group("Dataset");
  app.add_option("--id-field", o.fields.id, "field holding the record id (default id); @line: ids are <file name>:<line>, for data whose id-like fields repeat")->group("Dataset");
  app.add_option("--question-field", o.fields.question, "field holding the question (default question)")
      ->group("Dataset");
  app.add_option("--response-field", o.fields.response, "field holding the response (default response)")
      ->group("Dataset");
  app.add_option("--answer-field", o.fields.answer, "field holding the reference answer (default answer)")
      ->group("Dataset");
  app.add_option("--correct-field", o.fields.correct, "field holding a correctness label (default correct)")
      ->group("Dataset");
  app.add_option("--group-field", o.fields.group,
                 "field grouping responses to one question (default question_id; without it, identical "
                 "question text groups)")
      ->group("Dataset");
  app.add_flag("--no-field-fallbacks", [&o](int64_t) { o.fields.fallbacks = false; },
               "use only the named fields, not the usual alternatives (problem, generation, gt, ...)")
      ->group("Dataset");
  app.add_flag("--skip-bad", o.skip_bad,
               "skip malformed records (reported with counts by reason) instead of stopping at the first")
      ->group("Dataset");
}

void add_segment_options(CLI::App& app, SegmentOptions& o, std::vector<std::string>& extra, bool& no_default) {
  app.add_option("--special-token", extra,
                 "a literal special token that is an action of its own (repeatable; adds to <think>, </think>)")
      ->group("Segmentation");
  app.add_flag("--no-default-specials", no_default, "do not treat <think> and </think> as special")
      ->group("Segmentation");
  app.add_flag("--no-markers", [&o](int64_t) { o.angle_bar_markers = false; },
               "do not treat <|...|> markers as special tokens")
      ->group("Segmentation");
}

void finish_segment_options(SegmentOptions& o, const std::vector<std::string>& extra, bool no_default) {
  if (no_default) o.special_tokens.clear();
  for (const auto& s : extra) {
    if (s.empty()) throw UsageError("--special-token: empty token");
    o.special_tokens.push_back(s);
  }
}

std::optional<StoredResponse> stored_response(Record&& rec, const SegmentOptions& opts, bool skip_bad) {
  return to_stored_response(std::move(rec), opts, skip_bad, cli_log);
}

void cli_log(LogLevel level, std::string_view msg) {
  if (level == LogLevel::Warn || level == LogLevel::Error) warn(std::string(msg));
  else if (level == LogLevel::Info) info(std::string(msg));
}

struct Output::Impl {
  std::string path;
  io::OutputTarget target;
  std::ofstream file;
  bool is_stdout = false, closed = false;
};

Output::Output(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  // The process's own standard output is written through std::cout, not reopened: a new open of
  // /dev/stdout has its own offset, so a file the shell opened would be written over.
  if (path == "-" || path == "/dev/stdout" || path == "/dev/fd/1" || path == "/proc/self/fd/1") {
    impl_->is_stdout = true;
    return;
  }
  // a regular file is written as PATH.tmp and renamed at close(); a device or FIFO (--out
  // /dev/null) is written into, never replaced (io/output_path.h)
  impl_->target = io::output_target(path, ".tmp");
  impl_->file.open(impl_->target.write_path,
                   std::ios::binary | (impl_->target.direct ? std::ios::app : std::ios::trunc));
  if (!impl_->file) throw Error("cannot write '" + path + "': " + std::strerror(errno));
}

Output::~Output() {
  if (!impl_->is_stdout && !impl_->closed && !impl_->target.direct) {
    impl_->file.close();
    std::error_code ec;
    std::filesystem::remove(impl_->target.write_path, ec);
  }
}

std::ostream& Output::stream() { return impl_->is_stdout ? std::cout : impl_->file; }

void Output::close() {
  if (impl_->closed) return;
  impl_->closed = true;
  if (impl_->is_stdout) {
    std::cout.flush();
    if (!std::cout) throw Error("writing to stdout failed");
    return;
  }
  impl_->file.flush();
  if (!impl_->file) throw Error("writing '" + impl_->path + "' failed: " + std::strerror(errno));
  impl_->file.close();
  if (!impl_->target.direct) std::filesystem::rename(impl_->target.write_path, impl_->target.final_path);
}

std::string Output::keep_partial() {
  if (impl_->closed) return "'" + impl_->path + "'";
  impl_->closed = true;
  if (impl_->is_stdout) {
    std::cout.flush();
    return "standard output";
  }
  impl_->file.flush();
  const std::string incomplete = impl_->file ? "" : " (incomplete: writing failed)";
  impl_->file.close();
  if (impl_->target.direct) return "'" + impl_->path + "'" + incomplete;
  // Never over an existing file (an earlier run's .partial, or an input that happens to be named
  // so): the first free name of <path>.partial, <path>.partial.1, ...
  std::string partial = impl_->target.final_path + ".partial";
  std::error_code ec;
  for (int n = 1; std::filesystem::exists(std::filesystem::symlink_status(partial, ec)); ++n)
    partial = impl_->target.final_path + ".partial." + std::to_string(n);
  std::filesystem::rename(impl_->target.write_path, partial, ec);
  if (ec) return "'" + impl_->target.write_path + "' (it could not be renamed to '" + partial + "': " + ec.message() + ")";
  return "'" + partial + "'" + incomplete;
}

static double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

TtyProgress::TtyProgress(bool enabled) : enabled_(enabled && isatty(STDERR_FILENO)) {}

void TtyProgress::start(std::string_view what, uint64_t total, std::string_view unit) {
  what_ = what;
  unit_ = unit;
  total_ = total;
  done_ = extra_ = 0;
  t0_ = now_s();
  last_draw_ = 0;
  draw(false);
}

void TtyProgress::update(uint64_t done, uint64_t extra) {
  done_ = done;
  extra_ = extra;
  if (now_s() - last_draw_ >= 0.2) draw(false);
}

void TtyProgress::finish() {
  draw(true);
}

void TtyProgress::draw(bool final) {
  if (!enabled_) return;
  last_draw_ = now_s();
  double el = std::max(1e-9, last_draw_ - t0_);
  double rate = done_ / el;
  char eta[32] = "--";
  if (total_ > 0 && done_ > 0 && done_ <= total_) {
    double s = (total_ - done_) / rate;
    std::snprintf(eta, sizeof eta, "%dm%02ds", int(s) / 60, int(s) % 60);
  }
  std::string ex;
  if (extra_) ex = " | " + std::to_string(uint64_t(extra_ / el)) + " tok/s";
  std::fprintf(stderr, "\r\033[K%s: %llu/%llu %s (%.1f/s%s) ETA %s%s", what_.c_str(),
               (unsigned long long)done_, (unsigned long long)total_, unit_.c_str(), rate, ex.c_str(), eta,
               final ? "\n" : "");
  std::fflush(stderr);
}


void add_template_options(CLI::App& app, TemplateOptionValues& v) {
  app.add_option("--chat-template-file", v.files,
                 "[NAME=]F.jinja: render NAME's prompts (every model's without NAME=) with this Jinja template "
                 "instead of the GGUF's tokenizer.chat_template (repeatable)")
      ->group("Prompt");
  app.add_option("--chat-template-kwargs", v.kwargs,
                 "[NAME:]JSON: extra template variables, e.g. '{\"enable_thinking\": true, \"reasoning_effort\": "
                 "\"medium\"}', for NAME or (without NAME:) every model (repeatable)")
      ->group("Prompt");
  app.add_option("--template-date", v.date,
                 std::string("YYYY-MM-DD: the day a template's strftime_now() returns (gpt-oss prints it); default ") +
                     kDefaultTemplateDate + ", fixed so that reruns render the same prompt")
      ->group("Prompt");
}

JinjaOptions jinja_options_for(const TemplateOptionValues& v, const std::string& name,
                               const std::vector<std::string>& names) {
  // The model a value names with "NAME<sep>" (the longest model name that prefixes it; names may
  // hold ':' or '='), or "" for none.
  auto named = [&](const std::string& value, char sep) {
    std::string best;
    for (const auto& n : names)
      if (value.size() > n.size() && value.compare(0, n.size(), n) == 0 && value[n.size()] == sep &&
          n.size() > best.size())
        best = n;
    return best;
  };
  JinjaOptions j;
  bool file_named = false, kwargs_named = false, file_all = false, kwargs_all = false;
  for (const auto& f : v.files) {
    const std::string target = named(f, '=');
    const std::string path = target.empty() ? f : f.substr(target.size() + 1);
    if (!target.empty() && target != name) continue;
    if (target.empty() ? file_all : file_named)
      throw UsageError("--chat-template-file: two templates for model '" + name + "'");
    (target.empty() ? file_all : file_named) = true;
    if (file_all && file_named && target.empty()) continue;  // a named one wins over one for all
    std::ifstream in(path, std::ios::binary);
    if (!in)
      throw UsageError("--chat-template-file: cannot read '" + path + "' (give F.jinja for every model, or NAME=F.jinja "
                       "with NAME one of the models)");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.empty()) throw UsageError("--chat-template-file: '" + path + "' is empty");
    j.text = std::move(text);
    j.origin = "file '" + path + "'";
  }
  for (const auto& k : v.kwargs) {
    const size_t lead = k.find_first_not_of(" \t\r\n");
    const bool all = lead != std::string::npos && k[lead] == '{';
    const std::string target = all ? "" : named(k, ':');
    if (!all && target.empty()) {
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
      throw UsageError("--chat-template-kwargs '" + k + "': expected a JSON object, or NAME:JSON with NAME one of the "
                       "models (" + known + ")");
    }
    const std::string json = all ? k : k.substr(target.size() + 1);
    if (!target.empty() && target != name) continue;
    check_template_kwargs(json, "--chat-template-kwargs");
    if (target.empty() ? kwargs_all : kwargs_named)
      throw UsageError("--chat-template-kwargs: two values for model '" + name + "'");
    (target.empty() ? kwargs_all : kwargs_named) = true;
    if (kwargs_all && kwargs_named && target.empty()) continue;
    j.kwargs = json;
  }
  if (!v.date.empty()) check_template_date(v.date, "--template-date");
  j.date = v.date;
  return j;
}

std::optional<PromptFormat> check_prompt_options(const std::string& template_name, bool format_given,
                                                 const std::string& prompt_format, const TemplateOptionValues& v) {
  if (!template_name.empty() && format_given) throw UsageError("--template and --prompt-format exclude each other");
  std::optional<PromptFormat> format;
  if (format_given) format = PromptFormat::from_cli(prompt_format);
  if ((!template_name.empty() || format) && (!v.files.empty() || !v.kwargs.empty() || !v.date.empty()))
    throw UsageError("--chat-template-file/--chat-template-kwargs/--template-date apply to Jinja templates; they "
                     "exclude --template and --prompt-format");
  return format;
}

CLI::Option* add_model_role(CLI::App& app, const std::string& role, std::string& name) {
  return app.add_option("--" + role, name, role + " model name (default " + role + ")");
}

void add_same_model_flag(CLI::App& app, bool& allow) {
  app.add_flag("--allow-same-model", allow,
               "allow one model in two roles, e.g. --teacher and --student naming the same model (default: refused)");
}

void check_distinct_roles(const std::vector<std::pair<std::string, std::string>>& roles, bool allow) {
  if (allow) return;
  for (size_t i = 0; i < roles.size(); ++i)
    for (size_t j = i + 1; j < roles.size(); ++j)
      if (!roles[i].second.empty() && roles[i].second == roles[j].second)
        throw UsageError(roles[i].first + " and " + roles[j].first + " both name model '" + roles[i].second +
                         "': one model in two roles (give --allow-same-model if that is meant)");
}

void warn_same_models(Store& store, const std::vector<std::pair<std::string, std::string>>& roles, bool allow) {
  if (allow) return;
  std::vector<std::optional<ModelInfo>> m;
  for (const auto& r : roles) m.push_back(r.second.empty() ? std::nullopt : store.model(r.second));
  for (size_t i = 0; i < roles.size(); ++i)
    for (size_t j = i + 1; j < roles.size(); ++j)
      // Only GGUF files: their fingerprint hashes every byte. A server's names its endpoint (one
      // port serves other models over time) and an import's is what the user gave.
      if (m[i] && m[j] && m[i]->name != m[j]->name && m[i]->backend == "llama" && m[j]->backend == "llama" &&
          !m[i]->fingerprint.empty() &&
          m[i]->fingerprint == m[j]->fingerprint && m[i]->chat_template == m[j]->chat_template)
        warn(roles[i].first + " '" + m[i]->name + "' and " + roles[j].first + " '" + m[j]->name +
             "' are the same model (fingerprint " + m[i]->fingerprint +
             ", same prompt): their probabilities are equal, so no action can be Teacher or Student between them "
             "(give --allow-same-model if that is meant)");
}

void info(const std::string& msg) { std::fprintf(stderr, "rdpt: %s\n", msg.c_str()); }
void warn(const std::string& msg) { std::fprintf(stderr, "rdpt: warning: %s\n", msg.c_str()); }

void write_json_file(const std::string& path, const nlohmann::json& j, int indent) {
  Output o(path);
  o.stream() << j.dump(indent) << '\n';
  o.close();
}

}  // namespace rdpt::cli
