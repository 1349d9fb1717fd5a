// Target log-probs reduced inside llama.cpp's graph, on the device that holds the output layer.
//
// llama.cpp's backend-sampling interface (llama.h, experimental) hands a sampler each output
// row's logits as a tensor of the graph being built. Every sequence the scorer decodes gets a
// sampler chain holding one TargetLogprob sampler; all of them share one State. The first call
// of a graph build that sees output row 0 builds, once, on the whole logits matrix X [V, R]:
//
//   p  = softmax(X)             per row, f32 (max-subtracted by ggml)
//   a  = argmax(X)              per row
//   lp = X[t] - X[a] + log p[a] = X[t] - logsumexp(X)   (p[a] >= 1/V, so log p[a] is exact)
//
// with t the targets (an I32 input set before each decode) and hands lp [R] back as row 0's
// "sampled logits"; the other rows hand back nothing. With ranks it also counts, per row, the
// logits strictly greater than the target's,
//
//   c  = sum_rows(step(X - X[t]))   (step(0) = 0: ties do not count; exact in f32 below 2^24)
//
// and hands back lp ++ c [2R] (then 2R <= V). On ggml's CPU backend the count is one custom op
// (one pass over each row, rows split over the threads) instead of three full-size ops, which
// cost 2.6-2.9x the whole scoring time there (docs/score.md). llama.cpp then copies R floats to the
// host instead of R x V logits (2.5 GB per 4096 tokens of a 152k vocabulary), and no raw
// logits at all, since every sequence with outputs has a backend sampler.
//
// Preconditions the scorer keeps: one ubatch per llama_decode (n_ubatch == n_batch, so
// backend_set_input's targets are the decode's), a unified KV cache (llama.cpp then keeps
// the batch's output order), and R <= V, 2R <= V with ranks (row 0's slot in llama.cpp's buffer holds V floats).
#include <ggml-backend.h>
#include <ggml.h>

#include <algorithm>
#include <memory>

#include "backends/llama/llama_internal.h"
#include "rdpt/error.h"

namespace rdpt::llama_detail {

struct DeviceLogprob::State {
  std::vector<int32_t> targets;   // for the next decode's output rows, in batch order
  int32_t n_vocab = 0;
  bool ranks = false;             // also count the logits above each target's
  RankOps rank_ops = RankOps::Auto;
  ggml_tensor* inp = nullptr;     // targets input of the most recently built graph
  ggml_tensor* result = nullptr;  // its log-probs [R]
  bool supported = true;          // every op runs on the output device
  bool on_cpu = false;            // the output device is the CPU
  std::string unsupported;        // the first op that does not
};

namespace {

struct SamplerCtx {
  std::shared_ptr<DeviceLogprob::State> state;
};

DeviceLogprob::State& state_of(llama_sampler* s) { return *static_cast<SamplerCtx*>(s->ctx)->state; }

// GGML_OP_CUSTOM on the CPU: dst[r] = entries of row r of src[0] (V x R) above src[1][r].
void count_above_op(ggml_tensor* dst, int ith, int nth, void*) {
  const ggml_tensor* x = dst->src[0];
  const ggml_tensor* t = dst->src[1];
  const int64_t V = x->ne[0], R = x->ne[1];
  const int64_t per = (R + nth - 1) / nth, a = ith * per, b = std::min<int64_t>(R, a + per);
  for (int64_t r = a; r < b; ++r) {
    const float* row = reinterpret_cast<const float*>(static_cast<const char*>(x->data) + r * x->nb[1]);
    const float tv = *reinterpret_cast<const float*>(static_cast<const char*>(t->data) + r * t->nb[0]);
    *reinterpret_cast<float*>(static_cast<char*>(dst->data) + r * dst->nb[0]) = float(count_greater(row, V, tv));
  }
}

// The reduction over logits X (contiguous, V x R); returns lp [R] (ranks: lp ++ c [2R]) and sets
// *inp to the I32 [1, R] targets input. fused_count: the count as one CPU custom op.
ggml_tensor* build_reduction(ggml_context* ctx, ggml_tensor* x, ggml_tensor** inp, bool ranks, bool fused_count) {
  const int64_t V = x->ne[0], R = ggml_nelements(x) / V;
  if (!ggml_is_contiguous(x)) x = ggml_cont(ctx, x);
  ggml_tensor* x2 = ggml_reshape_2d(ctx, x, V, R);
  ggml_tensor* t = ggml_new_tensor_2d(ctx, GGML_TYPE_I32, 1, R);
  ggml_set_name(t, "rdpt_targets");
  ggml_set_input(t);
  *inp = t;
  ggml_tensor* p = ggml_soft_max(ctx, x2);
  ggml_tensor* a = ggml_reshape_2d(ctx, ggml_argmax(ctx, x2), 1, R);
  ggml_tensor* x3 = ggml_reshape_3d(ctx, x2, 1, V, R);  // one "row" per logit: batched get_rows picks X[t_r, r]
  ggml_tensor* p3 = ggml_reshape_3d(ctx, p, 1, V, R);
  ggml_tensor* xt = ggml_get_rows(ctx, x3, t);
  ggml_tensor* xa = ggml_get_rows(ctx, x3, a);
  ggml_tensor* pa = ggml_get_rows(ctx, p3, a);
  ggml_tensor* lp = ggml_add(ctx, ggml_sub(ctx, xt, xa), ggml_log(ctx, pa));
  lp = ggml_reshape_1d(ctx, lp, R);
  ggml_set_name(lp, "rdpt_target_logprob");
  if (!ranks) return lp;
  ggml_tensor* c = nullptr;
  if (fused_count) {
    ggml_tensor* args[] = {x2, ggml_reshape_1d(ctx, xt, R)};
    c = ggml_custom_4d(ctx, GGML_TYPE_F32, R, 1, 1, 1, args, 2, count_above_op, GGML_N_TASKS_MAX, nullptr);
  } else {
    // X - X[t] broadcast over each row, 1 where > 0, summed per row.
    ggml_tensor* above = ggml_step_inplace(ctx, ggml_sub(ctx, x2, ggml_reshape_2d(ctx, xt, 1, R)));
    c = ggml_reshape_1d(ctx, ggml_sum_rows(ctx, above), R);
  }
  ggml_tensor* out = ggml_concat(ctx, lp, c, 0);
  ggml_set_name(out, "rdpt_target_logprob_rank");
  return out;
}

const char* iface_name(const llama_sampler*) { return "rdpt-target-logprob"; }

void iface_apply(llama_sampler*, llama_token_data_array*) {}  // host sampling: never used

void iface_free(llama_sampler* s) { delete static_cast<SamplerCtx*>(s->ctx); }

bool iface_backend_init(llama_sampler* s, ggml_backend_buffer_type_t buft, uint32_t) {
  auto& st = state_of(s);
  ggml_backend_dev_t dev = ggml_backend_buft_get_device(buft);
  st.on_cpu = !dev || ggml_backend_dev_type(dev) == GGML_BACKEND_DEVICE_TYPE_CPU;
  if (!dev) return st.supported;  // the CPU backend runs every op
  // The same ops on a small probe graph, checked against the device.
  ggml_init_params ip = {64 * ggml_tensor_overhead() + ggml_graph_overhead(), nullptr, true};
  ggml_context* ctx = ggml_init(ip);
  if (!ctx) return st.supported = false;
  ggml_cgraph* gf = ggml_new_graph(ctx);
  ggml_tensor* inp = nullptr;
  ggml_build_forward_expand(gf, build_reduction(ctx, ggml_new_tensor_2d(ctx, GGML_TYPE_F32, st.n_vocab, 2), &inp,
                                                st.ranks, /*fused_count=*/false));
  for (int i = 0; i < ggml_graph_n_nodes(gf) && st.supported; ++i) {
    ggml_tensor* op = ggml_graph_node(gf, i);
    if (!ggml_backend_dev_supports_op(dev, op)) {
      st.supported = false;
      st.unsupported = std::string(ggml_op_desc(op)) + " on " + ggml_backend_dev_name(dev);
    }
  }
  ggml_free(ctx);
  return st.supported;
}

void iface_backend_apply(llama_sampler* s, ggml_context* ctx, ggml_cgraph*, llama_sampler_data* data) {
  auto& st = state_of(s);
  ggml_tensor* row = data->logits;
  // A row view into llama.cpp's logits; in its probe graph, a plain 1-D tensor.
  if (row->view_src && row->view_offs != 0) {
    data->logits = nullptr;  // rows other than 0: their log-probs travel with row 0's
    return;
  }
  if (!st.result) {
    ggml_tensor* x = row->view_src ? row->view_src : row;
    // llama.cpp pads the logits with a dummy row for its own samplers; reduce the real rows.
    if (x->op == GGML_OP_PAD && x->src[0] && x->src[0]->ne[0] == x->ne[0]) x = x->src[0];
    st.result = build_reduction(ctx, x, &st.inp, st.ranks,
                                st.on_cpu && st.rank_ops != DeviceLogprob::RankOps::Generic);
  }
  data->logits = st.result;
}

void iface_backend_set_input(llama_sampler* s) {
  auto& st = state_of(s);
  // No reduction in this graph, or one built but not allocated (row 0 belongs to a sequence
  // without this sampler): results() then reports the missing rows.
  if (!st.inp || !st.inp->buffer) return;
  const int64_t R = ggml_nelements(st.inp);
  std::vector<int32_t> t(size_t(R), 0);
  for (size_t i = 0; i < t.size() && i < st.targets.size(); ++i)
    t[i] = st.targets[i] >= 0 && st.targets[i] < st.n_vocab ? st.targets[i] : 0;
  ggml_backend_tensor_set(st.inp, t.data(), 0, t.size() * sizeof(int32_t));
}

void iface_backend_reset(llama_sampler* s) {
  auto& st = state_of(s);
  st.inp = nullptr;
  st.result = nullptr;
}

llama_sampler_i g_iface = {
    /*.name              =*/iface_name,
    /*.accept            =*/nullptr,
    /*.apply             =*/iface_apply,
    /*.reset             =*/nullptr,
    /*.clone             =*/nullptr,
    /*.free              =*/iface_free,
    /*.backend_init      =*/iface_backend_init,
    /*.backend_accept    =*/nullptr,
    /*.backend_apply     =*/iface_backend_apply,
    /*.backend_set_input =*/iface_backend_set_input,
    /*.backend_reset     =*/iface_backend_reset,
    /*.copy_state        =*/nullptr,
};

}  // namespace

DeviceLogprob::DeviceLogprob(int32_t n_vocab, const std::vector<int32_t>& seq_ids, bool ranks, RankOps rank_ops)
    : state_(std::make_shared<State>()) {
  state_->n_vocab = n_vocab;
  state_->ranks = ranks;
  state_->rank_ops = rank_ops;
  for (int32_t s : seq_ids) {
    llama_sampler* chain = llama_sampler_chain_init(llama_sampler_chain_default_params());
    llama_sampler_chain_add(chain, llama_sampler_init(&g_iface, new SamplerCtx{state_}));
    chains_.push_back(chain);
    configs_.push_back({s, chain});
  }
}

DeviceLogprob::~DeviceLogprob() {
  for (llama_sampler* c : chains_) llama_sampler_free(c);
}

bool DeviceLogprob::supported() const { return state_->supported; }
bool DeviceLogprob::on_cpu() const { return state_->on_cpu; }
const std::string& DeviceLogprob::unsupported_op() const { return state_->unsupported; }

void DeviceLogprob::detach(llama_context* ctx) {
  for (const auto& c : configs_) llama_set_sampler(ctx, c.seq_id, nullptr);
}

void DeviceLogprob::set_targets(std::vector<int32_t> targets) { state_->targets = std::move(targets); }

const float* DeviceLogprob::results(llama_context* ctx, int32_t first_output, size_t n) const {
  const float* r = llama_get_sampled_logits_ith(ctx, first_output);
  const uint32_t got = llama_get_sampled_logits_count_ith(ctx, first_output);
  // With ranks the counts follow the graph's R log-probs: R must be n for them to line up.
  const size_t want = state_->ranks ? 2 * n : n;
  if (!r || (state_->ranks ? got != want : got < want))
    throw BackendError("llama.cpp returned " + std::to_string(r ? got : 0) + " device-reduced values for " +
                       std::to_string(n) + " output rows (batch row " + std::to_string(first_output) +
                       "); rerun with --reduce host and report this");
  return r;
}

}  // namespace rdpt::llama_detail
