// The subcommand table: each subcommand is `int run_<name>(int argc, char** argv)` in its own
// file (<name>_cmd.cpp); argv[0] is "rdpt <name>". Add a line here and one in main.cpp.
#pragma once

namespace rdpt::cli {
int run_segment(int argc, char** argv);
int run_score(int argc, char** argv);
int run_grade(int argc, char** argv);
int run_import(int argc, char** argv);
int run_export(int argc, char** argv);
int run_trace(int argc, char** argv);
int run_beta(int argc, char** argv);
int run_select(int argc, char** argv);
int run_attribute(int argc, char** argv);
int run_align(int argc, char** argv);
int run_report(int argc, char** argv);
int run_sample(int argc, char** argv);
int run_merge(int argc, char** argv);
}  // namespace rdpt::cli
