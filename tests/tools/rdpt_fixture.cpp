// rdpt_fixture: writes a tiny (or real-shaped) GGUF model with random weights and a real
// tokenizer copied from a vocab-only GGUF (llama.cpp's models/ggml-vocab-*.gguf).
//
//   rdpt_fixture --vocab ggml-vocab-qwen2.gguf --out teacher.gguf --seed 1 --scale 0.5
//
// Weights are N(0, scale^2) from a seed (norms are 1); the same options give the same file
// byte for byte. Small scales (0.02) give near-uniform next-token distributions, large ones
// (0.5) peaked ones, so peaked models of different seeds disagree like a teacher and a student.
// Tensor data is generated and written in pieces, so real shapes (7B) need little memory.
#include <ggml.h>
#include <gguf.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/rng.h"

namespace {

struct Options {
  std::string vocab, out, arch, chat_template;
  int n_layer = 2, n_embd = 64, n_head = 4, n_head_kv = 2, n_ff = 128, n_ctx = 8192;
  int64_t n_vocab = 0;  // 0 = the vocabulary's size; larger pads with unused tokens
  uint64_t seed = 1;
  double scale = 0.02;
  double output_scale = 0;  // 0 = scale
  std::string type = "f32";
  int threads = 0;
};

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "rdpt_fixture: error: %s\n", msg.c_str());
  std::exit(1);
}

void usage() {
  std::puts(
      "usage: rdpt_fixture --vocab VOCAB.gguf --out MODEL.gguf [options]\n"
      "  --arch qwen2|llama   architecture (default qwen2 for a qwen2 vocabulary, else llama)\n"
      "  --layers N           blocks (default 2)\n"
      "  --hidden N           embedding size (default 64)\n"
      "  --heads N            attention heads (default 4)\n"
      "  --kv-heads N         KV heads (default 2)\n"
      "  --ffn N              feed-forward size (default 128)\n"
      "  --ctx N              training context written to the model (default 8192)\n"
      "  --vocab-size N       pad the vocabulary with unused tokens to N (default: as is)\n"
      "  --seed N             random seed (default 1)\n"
      "  --scale X            weight standard deviation (default 0.02; 0.5 gives peaked models)\n"
      "  --output-scale X     standard deviation of output.weight only (default: --scale); a large\n"
      "                       output scale over small block weights gives peaked, numerically tame models\n"
      "  --type f32|f16|bf16  weight type (default f32; norms stay f32)\n"
      "  --chat-template T    set tokenizer.chat_template (default: the vocabulary's, if any)\n"
      "  --threads N          generator threads (default: hardware threads)");
}

// splitmix64: a seedable, fast, reproducible generator.
// Fills out[0..n) with N(0, scale^2) (Box-Muller); deterministic per (seed, tensor, chunk).
void fill_normal(float* out, int64_t n, uint64_t seed, double scale) {
  rdpt::detail::SplitMix64 r{seed};
  for (int64_t i = 0; i < n; i += 2) {
    double u1 = r.uniform_open(), u2 = r.uniform_open();
    double rad = std::sqrt(-2.0 * std::log(u1)) * scale;
    out[i] = float(rad * std::cos(2 * M_PI * u2));
    if (i + 1 < n) out[i + 1] = float(rad * std::sin(2 * M_PI * u2));
  }
}

struct TensorSpec {
  std::string name;
  int64_t ne0, ne1;  // ne1 == 1 for vectors
  bool is_norm;      // filled with 1, kept f32
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) die("option " + a + " needs a value");
      return argv[++i];
    };
    auto num = [&]() -> long long {
      std::string v = val();
      char* end = nullptr;
      long long x = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end) die("option " + a + ": not an integer: '" + v + "'");
      return x;
    };
    if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else if (a == "--vocab") o.vocab = val();
    else if (a == "--out") o.out = val();
    else if (a == "--arch") o.arch = val();
    else if (a == "--layers") o.n_layer = int(num());
    else if (a == "--hidden") o.n_embd = int(num());
    else if (a == "--heads") o.n_head = int(num());
    else if (a == "--kv-heads") o.n_head_kv = int(num());
    else if (a == "--ffn") o.n_ff = int(num());
    else if (a == "--ctx") o.n_ctx = int(num());
    else if (a == "--vocab-size") o.n_vocab = num();
    else if (a == "--seed") o.seed = uint64_t(num());
    else if (a == "--scale") o.scale = std::atof(val().c_str());
    else if (a == "--output-scale") o.output_scale = std::atof(val().c_str());
    else if (a == "--type") o.type = val();
    else if (a == "--chat-template") o.chat_template = val();
    else if (a == "--threads") o.threads = int(num());
    else die("unknown option '" + a + "' (see --help)");
  }
  if (o.vocab.empty() || o.out.empty()) die("--vocab and --out are required (see --help)");
  if (o.n_layer < 1 || o.n_embd < 8 || o.n_head < 1 || o.n_head_kv < 1 || o.n_ff < 1 || o.n_ctx < 16)
    die("sizes must be positive (hidden >= 8, ctx >= 16)");
  if (o.n_embd % o.n_head || o.n_head % o.n_head_kv) die("hidden must divide by heads, heads by kv-heads");
  if (!(o.scale > 0)) die("--scale must be > 0");
  if (o.output_scale == 0) o.output_scale = o.scale;
  if (!(o.output_scale > 0)) die("--output-scale must be > 0");
  ggml_type wtype = o.type == "f32" ? GGML_TYPE_F32 : o.type == "f16" ? GGML_TYPE_F16 : o.type == "bf16" ? GGML_TYPE_BF16 : GGML_TYPE_COUNT;
  if (wtype == GGML_TYPE_COUNT) die("--type must be f32, f16 or bf16, got '" + o.type + "'");

  gguf_init_params ip{/*no_alloc=*/true, /*ctx=*/nullptr};
  gguf_context* src = gguf_init_from_file(o.vocab.c_str(), ip);
  if (!src) die("cannot read vocabulary GGUF '" + o.vocab + "'");
  int64_t k_tokens = gguf_find_key(src, "tokenizer.ggml.tokens");
  if (k_tokens < 0) die("'" + o.vocab + "' has no tokenizer.ggml.tokens");
  const int64_t n_vocab_src = int64_t(gguf_get_arr_n(src, k_tokens));
  int64_t k_pre = gguf_find_key(src, "tokenizer.ggml.pre");
  std::string pre = k_pre >= 0 ? gguf_get_val_str(src, k_pre) : "";
  if (o.arch.empty()) o.arch = pre.rfind("qwen2", 0) == 0 ? "qwen2" : "llama";
  if (o.arch != "qwen2" && o.arch != "llama") die("--arch must be qwen2 or llama, got '" + o.arch + "'");
  if (o.n_vocab == 0) o.n_vocab = n_vocab_src;
  if (o.n_vocab < n_vocab_src) die("--vocab-size must be >= the vocabulary's " + std::to_string(n_vocab_src));

  gguf_context* g = gguf_init_empty();
  // Copy the tokenizer keys only (general.* and hyperparameters of the source are not ours).
  for (int64_t k = 0; k < gguf_get_n_kv(src); ++k) {
    std::string key = gguf_get_key(src, k);
    if (key.rfind("tokenizer.", 0) != 0) continue;
    gguf_type t = gguf_get_kv_type(src, k);
    switch (t) {
      case GGUF_TYPE_STRING: gguf_set_val_str(g, key.c_str(), gguf_get_val_str(src, k)); break;
      case GGUF_TYPE_UINT32: gguf_set_val_u32(g, key.c_str(), gguf_get_val_u32(src, k)); break;
      case GGUF_TYPE_INT32: gguf_set_val_i32(g, key.c_str(), gguf_get_val_i32(src, k)); break;
      case GGUF_TYPE_BOOL: gguf_set_val_bool(g, key.c_str(), gguf_get_val_bool(src, k)); break;
      case GGUF_TYPE_FLOAT32: gguf_set_val_f32(g, key.c_str(), gguf_get_val_f32(src, k)); break;
      case GGUF_TYPE_UINT64: gguf_set_val_u64(g, key.c_str(), gguf_get_val_u64(src, k)); break;
      case GGUF_TYPE_ARRAY: {
        gguf_type at = gguf_get_arr_type(src, k);
        size_t n = gguf_get_arr_n(src, k);
        if (at == GGUF_TYPE_STRING) {
          std::vector<std::string> pad;
          std::vector<const char*> ptrs;
          for (size_t i = 0; i < n; ++i) ptrs.push_back(gguf_get_arr_str(src, k, i));
          if (key == "tokenizer.ggml.tokens")
            for (int64_t i = n_vocab_src; i < o.n_vocab; ++i) pad.push_back("[PAD" + std::to_string(i) + "]");
          for (auto& s : pad) ptrs.push_back(s.c_str());
          gguf_set_arr_str(g, key.c_str(), ptrs.data(), ptrs.size());
        } else {
          size_t esz = at == GGUF_TYPE_INT32 || at == GGUF_TYPE_FLOAT32 || at == GGUF_TYPE_UINT32 ? 4 : 0;
          if (!esz) break;  // other array types are not used by tokenizers
          std::vector<uint8_t> data(n * esz);
          std::memcpy(data.data(), gguf_get_arr_data(src, k), data.size());
          if (key == "tokenizer.ggml.token_type" && size_t(o.n_vocab) > n) {
            std::vector<int32_t> unused(o.n_vocab - n, 5 /* LLAMA_TOKEN_TYPE_UNUSED */);
            data.insert(data.end(), (uint8_t*)unused.data(), (uint8_t*)(unused.data() + unused.size()));
            n = o.n_vocab;
          } else if (key == "tokenizer.ggml.scores" && size_t(o.n_vocab) > n) {
            std::vector<float> z(o.n_vocab - n, -1e9f);
            data.insert(data.end(), (uint8_t*)z.data(), (uint8_t*)(z.data() + z.size()));
            n = o.n_vocab;
          }
          gguf_set_arr_data(g, key.c_str(), at, data.data(), n);
        }
        break;
      }
      default: break;
    }
  }
  if (!o.chat_template.empty()) gguf_set_val_str(g, "tokenizer.chat_template", o.chat_template.c_str());
  gguf_free(src);

  const std::string A = o.arch;
  const int64_t n_embd_gqa = int64_t(o.n_embd) / o.n_head * o.n_head_kv;
  gguf_set_val_str(g, "general.architecture", A.c_str());
  gguf_set_val_str(g, "general.name", ("rdpt-fixture-" + A + "-seed" + std::to_string(o.seed)).c_str());
  gguf_set_val_u32(g, "general.file_type", wtype == GGML_TYPE_F32 ? 0 : wtype == GGML_TYPE_F16 ? 1 : 32);
  gguf_set_val_u32(g, (A + ".context_length").c_str(), o.n_ctx);
  gguf_set_val_u32(g, (A + ".embedding_length").c_str(), o.n_embd);
  gguf_set_val_u32(g, (A + ".block_count").c_str(), o.n_layer);
  gguf_set_val_u32(g, (A + ".feed_forward_length").c_str(), o.n_ff);
  gguf_set_val_u32(g, (A + ".attention.head_count").c_str(), o.n_head);
  gguf_set_val_u32(g, (A + ".attention.head_count_kv").c_str(), o.n_head_kv);
  gguf_set_val_f32(g, (A + ".attention.layer_norm_rms_epsilon").c_str(), 1e-6f);
  gguf_set_val_f32(g, (A + ".rope.freq_base").c_str(), A == "qwen2" ? 1000000.0f : 10000.0f);
  if (A == "llama") gguf_set_val_u32(g, "llama.vocab_size", uint32_t(o.n_vocab));

  std::vector<TensorSpec> specs;
  specs.push_back({"token_embd.weight", o.n_embd, o.n_vocab, false});
  for (int l = 0; l < o.n_layer; ++l) {
    std::string b = "blk." + std::to_string(l) + ".";
    specs.push_back({b + "attn_norm.weight", o.n_embd, 1, true});
    specs.push_back({b + "attn_q.weight", o.n_embd, o.n_embd, false});
    specs.push_back({b + "attn_k.weight", o.n_embd, n_embd_gqa, false});
    specs.push_back({b + "attn_v.weight", o.n_embd, n_embd_gqa, false});
    if (A == "qwen2") {
      specs.push_back({b + "attn_q.bias", o.n_embd, 1, false});
      specs.push_back({b + "attn_k.bias", n_embd_gqa, 1, false});
      specs.push_back({b + "attn_v.bias", n_embd_gqa, 1, false});
    }
    specs.push_back({b + "attn_output.weight", o.n_embd, o.n_embd, false});
    specs.push_back({b + "ffn_norm.weight", o.n_embd, 1, true});
    specs.push_back({b + "ffn_gate.weight", o.n_embd, o.n_ff, false});
    specs.push_back({b + "ffn_up.weight", o.n_embd, o.n_ff, false});
    specs.push_back({b + "ffn_down.weight", o.n_ff, o.n_embd, false});
  }
  specs.push_back({"output_norm.weight", o.n_embd, 1, true});
  specs.push_back({"output.weight", o.n_embd, o.n_vocab, false});

  ggml_init_params cp{ggml_tensor_overhead() * (specs.size() + 4), nullptr, /*no_alloc=*/true};
  ggml_context* ctx = ggml_init(cp);
  std::vector<ggml_type> types;
  for (auto& s : specs) {
    ggml_type t = (s.is_norm || s.ne1 == 1) ? GGML_TYPE_F32 : wtype;
    ggml_tensor* t_ = s.ne1 == 1 ? ggml_new_tensor_1d(ctx, t, s.ne0) : ggml_new_tensor_2d(ctx, t, s.ne0, s.ne1);
    ggml_set_name(t_, s.name.c_str());
    gguf_add_tensor(g, t_);
    types.push_back(t);
  }

  FILE* f = std::fopen(o.out.c_str(), "wb");
  if (!f) die("cannot write '" + o.out + "': " + std::strerror(errno));
  std::vector<uint8_t> meta(gguf_get_meta_size(g));
  gguf_get_meta_data(g, meta.data());
  std::fwrite(meta.data(), 1, meta.size(), f);
  const size_t align = gguf_get_alignment(g);
  size_t written = 0;  // bytes of tensor data written so far
  int n_threads = o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());

  for (size_t ti = 0; ti < specs.size(); ++ti) {
    const auto& s = specs[ti];
    size_t off = gguf_get_tensor_offset(g, int64_t(ti));
    if (off > written) {  // alignment padding
      std::vector<uint8_t> zeros(off - written, 0);
      std::fwrite(zeros.data(), 1, zeros.size(), f);
      written = off;
    }
    const int64_t rows_per_chunk = std::max<int64_t>(1, (int64_t(1) << 22) / s.ne0);  // ~4M values
    const size_t esz = ggml_type_size(types[ti]);
    for (int64_t r0 = 0; r0 < s.ne1; r0 += rows_per_chunk * n_threads) {
      int64_t r1 = std::min(s.ne1, r0 + rows_per_chunk * n_threads);
      std::vector<uint8_t> buf((r1 - r0) * s.ne0 * esz);
      std::vector<std::thread> pool;
      for (int t = 0; t < n_threads; ++t) {
        int64_t a = r0 + t * rows_per_chunk, b = std::min(r1, a + rows_per_chunk);
        if (a >= b) break;
        pool.emplace_back([&, a, b] {
          int64_t n = (b - a) * s.ne0;
          std::vector<float> vals(n);
          if (s.is_norm) std::fill(vals.begin(), vals.end(), 1.0f);
          else fill_normal(vals.data(), n, o.seed * 1000003ull + ti * 7919ull + uint64_t(a / rows_per_chunk) * 104729ull,
                           s.name == "output.weight" ? o.output_scale : o.scale);
          uint8_t* dst = buf.data() + (a - r0) * s.ne0 * esz;
          if (types[ti] == GGML_TYPE_F32) std::memcpy(dst, vals.data(), n * 4);
          else if (types[ti] == GGML_TYPE_F16) ggml_fp32_to_fp16_row(vals.data(), (ggml_fp16_t*)dst, n);
          else ggml_fp32_to_bf16_row_ref(vals.data(), (ggml_bf16_t*)dst, n);
        });
      }
      for (auto& th : pool) th.join();
      if (std::fwrite(buf.data(), 1, buf.size(), f) != buf.size()) die("write failed: '" + o.out + "'");
      written += buf.size();
    }
  }
  size_t total = GGML_PAD(written, align);
  if (total > written) {
    std::vector<uint8_t> zeros(total - written, 0);
    std::fwrite(zeros.data(), 1, zeros.size(), f);
  }
  if (std::fclose(f) != 0) die("write failed: '" + o.out + "'");
  ggml_free(ctx);
  gguf_free(g);
  std::fprintf(stderr, "rdpt_fixture: wrote %s (%s, %d layers, hidden %d, vocab %lld, %s, seed %llu, scale %g, output scale %g)\n",
               o.out.c_str(), A.c_str(), o.n_layer, o.n_embd, (long long)o.n_vocab, o.type.c_str(),
               (unsigned long long)o.seed, o.scale, o.output_scale);
  return 0;
}
