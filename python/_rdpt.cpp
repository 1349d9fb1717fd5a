// The Python module's native part (rdpt._rdpt): thin bindings of the pipeline layer
// (include/rdpt/pipeline.h) and the core. python/rdpt/__init__.py wraps them into DataFrames,
// progress bars and docstrings; every number comes from the same C++ as the CLI's.
//
// Threads: the GIL is released during scoring and store scans; a Store object serialises its own
// calls (rdpt::Store is not thread-safe). Errors: rdpt::Error subclasses become rdpt.Error,
// rdpt.UsageError (also a ValueError), rdpt.DataError, rdpt.BackendError, rdpt.StoreError, each
// with rdpt's one-line message.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <cmath>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "rdpt/error.h"
#include "rdpt/grade.h"
#include "rdpt/operations.h"
#include "rdpt/pipeline.h"
#include "rdpt/segment.h"
#include "rdpt/version.h"

namespace py = pybind11;
using namespace rdpt;

namespace {

// A vector handed to numpy without a copy (the capsule owns it).
template <class T>
py::array_t<T> to_numpy(std::vector<T>&& v) {
  auto* heap = new std::vector<T>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>({heap->size()}, {sizeof(T)}, heap->data(), owner);
}

// A column of known size, filled in place and handed to numpy without a copy. Grows by doubling if
// the store grew since it was sized. Plain pages: with transparent huge pages (MADV_HUGEPAGE) a
// fresh process took 7.9-13.4 s for a 60 M-action store against 5.0-6.8 s without (dev VM, three
// runs each; the difference is kernel time, 5.7-11.3 s against 3.5-5.3 s). Repeated calls in one
// process were faster with them (0.25 s against 0.39 s for 6 M actions), first calls erratic.
template <class T>
class Column {
 public:
  explicit Column(size_t cap = 0) { allocate(cap); }
  ~Column() { std::free(data_); }
  Column(const Column&) = delete;
  Column& operator=(const Column&) = delete;
  Column(Column&& o) noexcept : data_(o.data_), n_(o.n_), cap_(o.cap_) { o.data_ = nullptr, o.n_ = o.cap_ = 0; }
  Column& operator=(Column&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(n_, o.n_);
    std::swap(cap_, o.cap_);
    return *this;
  }
  void push_back(T v) {
    if (n_ == cap_) grow();
    data_[n_++] = v;
  }
  // n more elements, uninitialised, to be written through the pointer.
  T* extend(size_t n) {
    while (cap_ - n_ < n) grow();
    T* p = data_ + n_;
    n_ += n;
    return p;
  }
  size_t size() const { return n_; }
  // Hands the memory to numpy (freed with the array).
  py::array_t<T> release() {
    T* d = data_;
    const size_t n = n_;
    data_ = nullptr;
    n_ = cap_ = 0;
    if (!d && !(d = static_cast<T*>(std::malloc(sizeof(T))))) throw std::bad_alloc();
    py::capsule owner(d, [](void* p) { std::free(p); });
    return py::array_t<T>({n}, {sizeof(T)}, d, owner);
  }

 private:
  T* data_ = nullptr;
  size_t n_ = 0, cap_ = 0;
  void allocate(size_t cap) {
    if (cap == 0) return;
    data_ = static_cast<T*>(std::malloc(cap * sizeof(T)));
    if (!data_) throw std::bad_alloc();
    cap_ = cap;
  }
  void grow() {
    Column bigger(std::max<size_t>(16, cap_ * 2));
    if (n_) std::memcpy(bigger.data_, data_, n_ * sizeof(T));
    bigger.n_ = n_;
    std::swap(data_, bigger.data_);
    std::swap(n_, bigger.n_);
    std::swap(cap_, bigger.cap_);
  }
};

py::array to_numpy_bool(std::vector<uint8_t>&& v) {
  auto a = to_numpy(std::move(v));
  return a.attr("view")(py::dtype("bool"));
}

// Text from the store as str; bytes that are not UTF-8 (a store written by other tools) become
// lone surrogates (errors="surrogateescape") instead of failing the whole call.
py::str py_str(std::string_view s) {
  PyObject* o = PyUnicode_DecodeUTF8(s.data(), Py_ssize_t(s.size()), "surrogateescape");
  if (!o) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

py::list to_str_list(const std::vector<std::string>& v) {
  py::list out(v.size());
  for (size_t k = 0; k < v.size(); ++k) out[k] = py_str(v[k]);
  return out;
}

py::object json_to_py(const nlohmann::json& j) {
  // Leaked on purpose: a static py::object would be released after the interpreter finalised.
  static py::object* loads = new py::object(py::module_::import("json").attr("loads"));
  return (*loads)(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// Progress reported to a Python callable (on_start(what, total, unit), on_update(done, extra),
// on_finish()); Ctrl-C (a pending KeyboardInterrupt) stops the work at the next update.
class PyProgress : public Progress {
 public:
  explicit PyProgress(py::object cb) : cb_(std::move(cb)), owner_(std::this_thread::get_id()) {}
  void start(std::string_view what, uint64_t total, std::string_view unit) override {
    call("start", py::str(std::string(what)), total, py::str(std::string(unit)));
  }
  void update(uint64_t done, uint64_t extra) override { call("update", done, extra); }
  void finish() override { call("finish"); }

 private:
  template <class... A>
  void call(const char* what, A&&... args) {
    if (std::this_thread::get_id() != owner_) return;  // a worker thread: never touch Python
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (!cb_.is_none()) cb_(what, std::forward<A>(args)...);
  }
  py::object cb_;
  std::thread::id owner_;
};

// Locks `mu` with the GIL released while waiting: the holder may need the GIL (a progress
// callback) before it lets go, so waiting with the GIL held would deadlock.
std::unique_lock<std::mutex> hold(std::mutex& mu) {
  std::unique_lock<std::mutex> l(mu, std::defer_lock);
  if (!l.try_lock()) {
    py::gil_scoped_release nogil;
    l.lock();
  }
  return l;
}

// A model shared by Python objects; calls are serialised (a backend is not thread-safe).
struct PyScorer {
  std::unique_ptr<Scorer> sc;
  std::mutex mu;
};

// A store shared by Python objects; calls are serialised.
struct PyStore {
  std::unique_ptr<Store> st;
  std::mutex mu;
  std::string path;
};

OpenMode parse_mode(const std::string& m) {
  if (m == "r") return OpenMode::ReadOnly;
  if (m == "rw") return OpenMode::ReadWrite;
  if (m == "create" || m == "c") return OpenMode::Create;
  throw UsageError("Store: mode must be 'r', 'rw' or 'create', got '" + m + "'");
}

py::dict model_dict(const ModelInfo& m) {
  py::dict d;
  d["name"] = m.name;
  d["backend"] = m.backend;
  d["location"] = m.location;
  d["fingerprint"] = m.fingerprint;
  d["tokenizer"] = m.tokenizer;
  d["template"] = m.chat_template;
  d["info"] = json_to_py(nlohmann::json::parse(m.info_json, nullptr, false).is_discarded()
                             ? nlohmann::json(m.info_json)
                             : nlohmann::json::parse(m.info_json));
  return d;
}

std::vector<ModelInfo> models_named(Store& st, const std::optional<std::vector<std::string>>& names) {
  if (!names) return st.models();
  std::vector<ModelInfo> out;
  for (const auto& n : *names) out.push_back(require_model(st, n, "models"));
  return out;
}

// Store.actions(): columns of every action, built during one scan with the GIL released.
py::dict store_actions(PyStore& s, const std::optional<std::vector<std::string>>& names, bool text,
                       const std::optional<std::string>& teacher, const std::optional<std::string>& student,
                       const std::optional<std::string>& distilled, double alpha, std::optional<double> beta) {
  auto lock = hold(s.mu);
  Store& st = *s.st;
  std::vector<ModelInfo> models = models_named(st, names);
  // Typing roles (appended to the scan when not among the exported models).
  const bool typed = teacher.has_value() || student.has_value() || distilled.has_value();
  if (typed && (!teacher || !student))
    throw UsageError("actions: types need both teacher= and student= (and distilled= for four-way)");
  std::vector<int64_t> mids;
  for (const auto& m : models) mids.push_back(m.mid);
  int iT = -1, iS = -1, iD = -1;
  auto role_index = [&](const std::string& n, const char* opt) {
    const ModelInfo m = require_model(st, n, opt);
    for (size_t k = 0; k < mids.size(); ++k)
      if (mids[k] == m.mid) return int(k);
    mids.push_back(m.mid);
    return int(mids.size() - 1);
  };
  TypeScheme scheme = TypeScheme::ThreeWay;
  Thresholds th{alpha, beta.value_or(0.1)};
  std::optional<BetaResult> search;
  {
    py::gil_scoped_release nogil;
    if (typed) {
      iT = role_index(*teacher, "teacher");
      iS = role_index(*student, "student");
      if (distilled) {
        iD = role_index(*distilled, "distilled");
        scheme = TypeScheme::FourWay;
      }
      check_thresholds(th);
      if (!beta) {
        search = beta_search(st, {.procedure = iD >= 0 ? BetaProcedure::Analysis : BetaProcedure::Training,
                                  .alpha = alpha, .candidates = {}},
                             mids[iT], mids[iS], iD >= 0 ? mids[iD] : 0);
        th.beta = search->beta;
      }
    }
  }
  const size_t nm = models.size();
  Column<int32_t> resp, j;
  Column<uint32_t> begin, end;
  Column<uint8_t> special;
  Column<int8_t> type;
  std::vector<std::string> ids, texts;
  std::vector<int32_t> group_code;
  std::vector<std::string> groups;
  std::unordered_map<std::string, int32_t> group_index;
  std::vector<Column<int32_t>> ntok;
  std::vector<Column<double>> lp, p;
  std::vector<Column<int64_t>> rank;  // per model with ranks (empty column otherwise)
  const std::vector<bool> ranked = ranked_models(st, models);
  std::vector<std::optional<ActionType>> ty;
  const std::vector<double> none;
  {
    py::gil_scoped_release nogil;
    // Exact sizes up front: growing the columns would copy and fault in twice the memory.
    const size_t total = size_t(st.n_actions_total()), n_resp = size_t(st.n_responses());
    resp = Column<int32_t>(total);
    j = Column<int32_t>(total);
    begin = Column<uint32_t>(total);
    end = Column<uint32_t>(total);
    special = Column<uint8_t>(total);
    if (typed) type = Column<int8_t>(total);
    if (text) texts.reserve(total);
    ids.reserve(n_resp);
    group_code.reserve(n_resp);
    for (size_t k = 0; k < nm; ++k) {
      ntok.emplace_back(total);
      lp.emplace_back(total);
      p.emplace_back(total);
      rank.emplace_back(ranked[k] ? total : 0);
    }
    stream_scores(st, mids, [&](const StoredResponse& r, std::span<const PairView> v) {
      const int32_t ri = int32_t(ids.size());
      ids.push_back(r.id);
      auto [it, fresh] = group_index.try_emplace(r.group, int32_t(groups.size()));
      if (fresh) groups.push_back(r.group);
      group_code.push_back(it->second);
      const size_t n = r.actions.size();
      if (typed)
        type_actions(scheme, v[iT].p, v[iS].p, iD >= 0 ? std::span<const double>(v[iD].p) : none, th, &ty);
      // Column by column, a response at a time (loops the compiler vectorises).
      std::fill_n(resp.extend(n), n, ri);
      int32_t* jp = j.extend(n);
      uint32_t* bp = begin.extend(n);
      uint32_t* ep = end.extend(n);
      uint8_t* sp = special.extend(n);
      for (size_t a = 0; a < n; ++a) {
        jp[a] = int32_t(a + 1);
        bp[a] = r.actions[a].begin;
        ep[a] = r.actions[a].end;
        sp[a] = r.actions[a].special;
      }
      if (text)
        for (size_t a = 0; a < n; ++a) texts.emplace_back(action_text(r.response, r.actions[a]));
      if (typed) {
        int8_t* tp = type.extend(n);
        for (size_t a = 0; a < n; ++a) tp[a] = ty[a] ? int8_t(type_index(*ty[a])) : int8_t(-1);
      }
      for (size_t k = 0; k < nm; ++k) {
        const PairView& pv = v[k];
        int32_t* tk = ntok[k].extend(n);
        if (pv.usable) std::copy_n(pv.n_tokens.data(), n, tk);
        else std::fill_n(tk, n, -1);
        std::copy_n(pv.logprob.data(), n, lp[k].extend(n));
        std::copy_n(pv.p.data(), n, p[k].extend(n));
        if (ranked[k]) {
          int64_t* rp = rank[k].extend(n);
          if (pv.rank_sum.empty()) std::fill_n(rp, n, int64_t{-1});
          else std::copy_n(pv.rank_sum.data(), n, rp);
        }
      }
      return true;
    });
  }
  py::dict out;
  out["response"] = resp.release();
  out["ids"] = to_str_list(ids);
  out["group_code"] = to_numpy(std::move(group_code));
  out["groups"] = to_str_list(groups);
  out["j"] = j.release();
  out["begin"] = begin.release();
  out["end"] = end.release();
  out["special"] = special.release().attr("view")(py::dtype("bool"));
  if (text) out["text"] = to_str_list(texts);
  py::list mnames;
  for (size_t k = 0; k < nm; ++k) {
    mnames.append(models[k].name);
    out[py::str(models[k].name + "_n_tokens")] = ntok[k].release();
    out[py::str(models[k].name + "_logprob_sum")] = lp[k].release();
    out[py::str(models[k].name + "_p")] = p[k].release();
    if (ranked[k]) out[py::str(models[k].name + "_rank_sum")] = rank[k].release();
  }
  out["models"] = mnames;
  if (typed) {
    out["type"] = type.release();
    py::list tn;
    for (size_t t = 0; t < kNumActionTypes; ++t) tn.append(type_name(ActionType(t)));
    out["type_names"] = tn;
    out["alpha"] = th.alpha;
    out["beta"] = th.beta;
    out["beta_search"] = search ? json_to_py(beta_json(*search)) : py::none();
  }
  return out;
}

py::dict response_dict(const StoredResponse& r) {
  py::dict d;
  d["id"] = py_str(r.id);
  d["group"] = py_str(r.group);
  d["question"] = py_str(r.question);
  d["response"] = py_str(r.response);
  d["system"] = py_str(r.system);
  d["answer"] = r.answer ? py::object(py_str(*r.answer)) : py::none();
  d["correct"] = r.correct ? py::object(py::bool_(*r.correct)) : py::none();
  d["source_file"] = py_str(r.source_file);
  d["source_line"] = r.source_line;
  std::vector<uint32_t> b, e;
  std::vector<uint8_t> sp;
  for (const auto& a : r.actions) {
    b.push_back(a.begin);
    e.push_back(a.end);
    sp.push_back(a.special);
  }
  d["begin"] = to_numpy(std::move(b));
  d["end"] = to_numpy(std::move(e));
  d["special"] = to_numpy_bool(std::move(sp));
  return d;
}

}  // namespace

PYBIND11_MODULE(_rdpt, m) {
  m.doc() = "rdpt native bindings (use the rdpt package, which wraps them)";
  m.attr("__version__") = RDPT_VERSION;

  // The exception types live as long as the process (never released after finalisation).
  static PyObject* exc_error = PyErr_NewException("rdpt._rdpt.Error", PyExc_RuntimeError, nullptr);
  static PyObject* exc_usage = PyErr_NewException(
      "rdpt._rdpt.UsageError", py::make_tuple(py::handle(exc_error), py::handle(PyExc_ValueError)).release().ptr(),
      nullptr);
  static PyObject* exc_data = PyErr_NewException("rdpt._rdpt.DataError", exc_error, nullptr);
  static PyObject* exc_backend = PyErr_NewException("rdpt._rdpt.BackendError", exc_error, nullptr);
  static PyObject* exc_store = PyErr_NewException("rdpt._rdpt.StoreError", exc_error, nullptr);
  m.attr("Error") = py::handle(exc_error);
  m.attr("UsageError") = py::handle(exc_usage);
  m.attr("DataError") = py::handle(exc_data);
  m.attr("BackendError") = py::handle(exc_backend);
  m.attr("StoreError") = py::handle(exc_store);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const UsageError& e) {
      PyErr_SetString(exc_usage, e.what());
    } catch (const DataError& e) {
      PyErr_SetString(exc_data, e.what());
    } catch (const BackendError& e) {
      PyErr_SetString(exc_backend, e.what());
    } catch (const StoreError& e) {
      PyErr_SetString(exc_store, e.what());
    } catch (const Error& e) {
      PyErr_SetString(exc_error, e.what());
    }
  });

  m.def(
      "segment",
      [](const std::string& text, std::optional<std::vector<std::string>> special_tokens, bool angle_bar_markers) {
        SegmentOptions o;
        if (special_tokens) o.special_tokens = *special_tokens;
        o.angle_bar_markers = angle_bar_markers;
        std::vector<Action> acts = segment(text, o);
        py::list out;
        for (const auto& a : acts) {
          py::dict d;
          d["text"] = py::reinterpret_steal<py::object>(
              PyUnicode_DecodeUTF8(text.data() + a.begin, Py_ssize_t(a.size()), "strict"));
          d["begin"] = a.begin;
          d["end"] = a.end;
          d["special"] = a.special;
          out.append(d);
        }
        return out;
      },
      py::arg("text"), py::arg("special_tokens") = py::none(), py::arg("angle_bar_markers") = true);

  py::class_<PyStore, std::shared_ptr<PyStore>>(m, "Store")
      .def(py::init([](const std::string& path, const std::string& mode) {
             auto s = std::make_shared<PyStore>();
             s->st = Store::open(path, parse_mode(mode));
             s->path = path;
             return s;
           }),
           py::arg("path"), py::arg("mode") = "r")
      .def_property_readonly("path", [](PyStore& s) { return s.path; })
      .def("models",
           [](PyStore& s) {
             auto lock = hold(s.mu);
             py::list out;
             for (const auto& m : s.st->models()) out.append(model_dict(m));
             return out;
           })
      .def("n_responses",
           [](PyStore& s) {
             auto lock = hold(s.mu);
             return s.st->n_responses();
           })
      .def("responses",
           [](PyStore& s, bool text) {
             auto lock = hold(s.mu);
             std::vector<std::string> id, group, question, response, answer;
             std::vector<int8_t> correct, has_answer;
             std::vector<int32_t> n_actions;
             std::vector<std::string> source_file;
             std::vector<uint64_t> source_line;
             {
               py::gil_scoped_release nogil;
               s.st->for_each_response([&](const StoredResponse& r) {
                 id.push_back(r.id);
                 group.push_back(r.group);
                 if (text) {
                   question.push_back(r.question);
                   response.push_back(r.response);
                 }
                 answer.push_back(r.answer.value_or(""));
                 has_answer.push_back(r.answer.has_value());
                 correct.push_back(r.correct ? int8_t(*r.correct) : int8_t(-1));
                 n_actions.push_back(int32_t(r.actions.size()));
                 source_file.push_back(r.source_file);
                 source_line.push_back(r.source_line);
                 return true;
               });
             }
             py::dict d;
             d["id"] = to_str_list(id);
             d["group"] = to_str_list(group);
             if (text) {
               d["question"] = to_str_list(question);
               d["response"] = to_str_list(response);
             }
             d["answer"] = to_str_list(answer);
             d["has_answer"] = to_numpy(std::move(has_answer));
             d["correct"] = to_numpy(std::move(correct));
             d["n_actions"] = to_numpy(std::move(n_actions));
             d["source_file"] = to_str_list(source_file);
             d["source_line"] = to_numpy(std::move(source_line));
             return d;
           },
           py::arg("text") = false)
      .def("rids",
           [](PyStore& s) {
             auto lock = hold(s.mu);
             std::vector<int64_t> rids;
             py::gil_scoped_release nogil;
             s.st->for_each_response([&](const StoredResponse& r) {
               rids.push_back(r.rid);
               return true;
             });
             py::gil_scoped_acquire gil;
             return to_numpy(std::move(rids));
           })
      .def("response",
           [](PyStore& s, int64_t rid, const std::vector<std::string>& names) {
             auto lock = hold(s.mu);
             auto r = s.st->get_response(rid);
             if (!r) throw DataError("store '" + s.path + "': no response with rid " + std::to_string(rid));
             py::dict d = response_dict(*r);
             py::dict scores;
             for (const auto& n : names) {
               const ModelInfo mi = require_model(*s.st, n, "models");
               auto sc = s.st->get_scores(mi.mid, rid);
               const PairView v = view_pair(sc, *r, s.path, mi.mid);
               const size_t na = r->actions.size();
               std::vector<int32_t> nt(na, -1);
               if (v.usable)
                 for (size_t a = 0; a < na; ++a) nt[a] = int32_t(v.n_tokens[a]);
               std::vector<double> lpv = v.logprob, pv = v.p;
               py::dict md;
               md["status"] = !sc ? "absent"
                              : sc->status == ScoreStatus::Ok ? "ok"
                              : sc->status == ScoreStatus::Failed ? "failed"
                                                                  : "truncated";
               md["error"] = sc ? sc->error : std::string();
               md["n_tokens"] = to_numpy(std::move(nt));
               md["logprob_sum"] = to_numpy(std::move(lpv));
               md["p"] = to_numpy(std::move(pv));
               if (!v.rank_sum.empty()) {  // rdpt score --ranks: per action, the sum of clipped token ranks
                 std::vector<uint64_t> rs = v.rank_sum;
                 md["rank_sum"] = to_numpy(std::move(rs));
               }
               scores[py::str(n)] = md;
             }
             d["scores"] = scores;
             return d;
           },
           py::arg("rid"), py::arg("models") = std::vector<std::string>{})
      .def("actions", &store_actions, py::arg("models") = py::none(), py::arg("text") = true,
           py::arg("teacher") = py::none(), py::arg("student") = py::none(), py::arg("distilled") = py::none(),
           py::arg("alpha") = 0.1, py::arg("beta") = py::none());

  m.def(
      "trace",
      [](std::shared_ptr<PyStore> s, const std::string& teacher, const std::string& student,
         const std::string& distilled, bool distilled_optional, double alpha, std::optional<double> beta,
         std::vector<double> beta_candidates, uint32_t max_positions, uint64_t token_mark, const std::string& keywords,
         py::object progress) {
        auto lock = hold(s->mu);
        TraceOptions o;
        o.teacher = teacher;
        o.student = student;
        o.distilled = distilled;
        o.distilled_optional = distilled_optional;
        o.alpha = alpha;
        o.beta = beta;
        o.beta_candidates = std::move(beta_candidates);
        o.max_positions = max_positions;
        o.token_mark = token_mark;
        o.keywords = parse_keyword_list(keywords);
        PyProgress prog(progress);
        // Per-response table, as types.csv.
        std::vector<std::string> ids, groups;
        std::vector<int8_t> correct;
        std::vector<uint32_t> n_actions, n_scored;
        std::vector<std::vector<uint32_t>> counts(kNumActionTypes);
        std::vector<std::vector<double>> shares(kNumActionTypes);
        TraceHooks hooks;
        hooks.each = [&](const TypedResponse& t) {
          ids.push_back(t.response.id);
          groups.push_back(t.response.group);
          correct.push_back(t.response.correct ? int8_t(*t.response.correct) : int8_t(-1));
          n_actions.push_back(t.counts.n_actions);
          n_scored.push_back(t.counts.n_scored);
          for (size_t k = 0; k < kNumActionTypes; ++k) {
            counts[k].push_back(t.counts.n[k]);
            shares[k].push_back(t.counts.proportion(ActionType(k)));
          }
        };
        hooks.each_reads_pairs = false;
        std::optional<TraceResult> r;
        {
          py::gil_scoped_release nogil;
          r = trace(*s->st, o, prog, hooks);
        }
        py::dict out;
        nlohmann::json summary = trace_summary_json(*r, s->path, o.keywords);
        out["summary"] = json_to_py(summary);
        out["curves"] = json_to_py(curves_json(r->curves));
        py::dict resp;
        resp["id"] = to_str_list(ids);
        resp["group"] = to_str_list(groups);
        resp["correct"] = to_numpy(std::move(correct));
        resp["n_actions"] = to_numpy(std::move(n_actions));
        resp["n_scored"] = to_numpy(std::move(n_scored));
        py::list tnames;
        for (ActionType t : scheme_types(r->scheme)) {
          tnames.append(type_name(t));
          resp[py::str(std::string("n_") + type_name(t))] = to_numpy(std::move(counts[type_index(t)]));
        }
        for (ActionType t : scheme_types(r->scheme))
          resp[py::str(std::string("share_") + type_name(t))] = to_numpy(std::move(shares[type_index(t)]));
        out["responses"] = resp;
        out["types"] = tnames;
        return out;
      },
      py::arg("store"), py::arg("teacher"), py::arg("student"), py::arg("distilled"), py::arg("distilled_optional"),
      py::arg("alpha"), py::arg("beta"), py::arg("beta_candidates"), py::arg("max_positions"), py::arg("token_mark"),
      py::arg("keywords"), py::arg("progress"));

  m.def(
      "beta_search",
      [](std::shared_ptr<PyStore> s, const std::string& procedure, const std::string& teacher,
         const std::string& student, const std::string& distilled, double alpha, std::vector<double> candidates,
         py::object progress) {
        auto lock = hold(s->mu);
        BetaOptions o{.procedure = parse_procedure(procedure), .alpha = alpha, .candidates = std::move(candidates)};
        check_thresholds({alpha, 0});
        PyProgress prog(progress);
        BetaResult r;
        {
          py::gil_scoped_release nogil;
          const int64_t mT = require_model(*s->st, teacher, "teacher").mid;
          const int64_t mS = require_model(*s->st, student, "student").mid;
          const int64_t mD =
              o.procedure == BetaProcedure::Analysis ? require_model(*s->st, distilled, "distilled").mid : 0;
          r = beta_search(*s->st, o, mT, mS, mD, {}, &prog);
        }
        return json_to_py(beta_json(r));
      },
      py::arg("store"), py::arg("procedure"), py::arg("teacher"), py::arg("student"), py::arg("distilled"),
      py::arg("alpha"), py::arg("candidates"), py::arg("progress"));

  m.def(
      "attribute",
      [](std::shared_ptr<PyStore> s, std::vector<std::string> teachers, const std::string& student,
         const std::string& distilled, double alpha, std::optional<double> beta, uint32_t replicates, uint64_t seed,
         uint32_t first_positions, py::object progress) {
        auto lock = hold(s->mu);
        AttributeOptions o;
        o.teachers = std::move(teachers);
        o.student = student;
        o.distilled = distilled;
        o.alpha = alpha;
        o.beta = beta;
        o.replicates = replicates;
        o.seed = seed;
        o.first_positions = first_positions;
        PyProgress prog(progress);
        std::optional<AttributeResult> r;
        {
          py::gil_scoped_release nogil;
          r = attribute(*s->st, o, prog);
        }
        return json_to_py(attribute_json(*r, o, s->path));
      },
      py::arg("store"), py::arg("teachers"), py::arg("student"), py::arg("distilled"), py::arg("alpha"),
      py::arg("beta"), py::arg("replicates"), py::arg("seed"), py::arg("first_positions"), py::arg("progress"));

  m.def(
      "select",
      [](std::shared_ptr<PyStore> s, const std::string& strategy, uint32_t per_question, uint64_t budget,
         uint64_t seed, const std::string& teacher, const std::string& student, std::optional<double> beta,
         std::optional<std::vector<std::string>> ids, bool compare) {
        auto lock = hold(s->mu);
        SelectRunOptions o;
        o.teacher = teacher;
        o.student = student;
        o.select = {.strategy = parse_strategy(strategy), .per_question = per_question, .budget = budget, .seed = seed};
        o.beta = beta;
        std::vector<std::pair<std::string, std::string>> order;
        SelectRunResult r;
        {
          py::gil_scoped_release nogil;
          if (ids) {
            for (const auto& id : *ids) {
              auto rid = s->st->find_response(id);
              std::string group;
              if (rid)
                if (auto resp = s->st->get_response(*rid)) group = resp->group;
              order.emplace_back(id, group);
            }
          } else {
            s->st->for_each_response([&](const StoredResponse& r) {
              order.emplace_back(r.id, r.group);
              return true;
            });
          }
          r = select_responses(*s->st, o, order);
        }
        py::list chosen;
        for (uint64_t k : r.chosen) chosen.append(order[k].first);
        py::dict out;
        out["chosen"] = chosen;
        out["strategy"] = strategy_name(o.select.strategy);
        out["n_groups"] = r.summary.n_groups;
        out["n_candidates"] = r.summary.n_candidates;
        out["n_not_in_store"] = r.n_not_in_store;
        out["n_not_rankable"] = r.summary.n_ineligible;
        out["n_groups_unranked"] = r.summary.n_groups_unranked;
        out["n_chosen"] = r.summary.n_chosen;
        out["mean_teacher_share_before"] = r.summary.mean_teacher_share_before;
        out["mean_teacher_share_after"] = r.summary.mean_teacher_share_after;
        out["beta"] = r.typed ? py::object(py::float_(r.beta)) : py::none();
        out["beta_search"] = r.search ? json_to_py(beta_json(*r.search)) : py::none();
        if (compare) {
          out["comparison"] = json_to_py(comparison_json(compare_strategies(r, o, order)));
          // Every candidate's criteria, column-wise (pandas.DataFrame(result["candidates"])).
          py::list cid, cgroup, cord, nact, nsc, nte, share, stok, slp, rsr, corr;
          for (const auto& c : r.candidates) {
            if (!c) continue;
            cid.append(order[c->c.order].first);
            cgroup.append(order[c->c.order].second);
            cord.append(c->c.order);
            nact.append(c->c.n_actions);
            nsc.append(c->c.n_scored);
            nte.append(c->c.n_teacher);
            share.append(r.typed && c->c.n_scored ? py::object(py::float_(double(c->c.n_teacher) / c->c.n_scored))
                                                  : py::object(py::none()));
            stok.append(c->student_tokens ? py::object(py::int_(c->student_tokens)) : py::object(py::none()));
            slp.append(c->c.student_logprob_mean);
            rsr.append(c->c.rsr);
            corr.append(c->correct ? py::object(py::bool_(*c->correct)) : py::object(py::none()));
          }
          py::dict cand;
          cand["id"] = cid;
          cand["group"] = cgroup;
          cand["order"] = cord;  // the candidate's position in the candidates (ids, or store order)
          cand["n_actions"] = nact;
          cand["n_scored"] = nsc;
          cand["n_teacher"] = nte;
          cand["teacher_share"] = share;
          cand["student_tokens"] = stok;
          cand["student_logprob_mean"] = slp;
          cand["rsr"] = rsr;
          cand["correct"] = corr;
          out["candidates"] = cand;
        }
        return out;
      },
      py::arg("store"), py::arg("strategy"), py::arg("per_question"), py::arg("budget"), py::arg("seed"),
      py::arg("teacher"), py::arg("student"), py::arg("beta"), py::arg("ids"), py::arg("compare") = false);

  m.def(
      "grade",
      [](const std::string& response, const std::string& reference, bool extract_reference) {
        GradeOptions o;
        o.extract_reference = extract_reference;
        Grade g = grade_response(response, reference, o);
        py::dict d;
        d["verdict"] = std::string(verdict_name(g.verdict));
        d["correct"] = g.verdict == Verdict::Correct;
        d["extracted"] = g.extracted ? py::object(py::str(*g.extracted)) : py::none();
        d["method"] = g.method;
        return d;
      },
      py::arg("response"), py::arg("reference"), py::arg("extract_reference") = false);

  // Scoring: a model (GGUF path or server URL) and the resumable loop of rdpt score.
  py::class_<PyScorer, std::shared_ptr<PyScorer>>(m, "Scorer")
      .def(py::init([](const std::string& location, const std::string& name, py::dict opts) {
             ScorerSpec sp;
             sp.name = name;
             sp.location = location;
             for (auto [k, v] : opts) {
               const std::string key = py::str(k);
               if (v.is_none()) continue;
               if (key == "n_ctx") sp.llama.n_ctx = v.cast<uint32_t>();
               else if (key == "n_batch") sp.llama.n_batch = v.cast<uint32_t>();
               else if (key == "n_seq_max") sp.llama.n_seq_max = v.cast<uint32_t>();
               else if (key == "threads") sp.llama.n_threads = v.cast<int>();
               else if (key == "n_gpu_layers") sp.llama.n_gpu_layers = v.cast<int>();
               else if (key == "truncate") sp.llama.truncate = v.cast<bool>();
               else if (key == "kv_f32") sp.llama.kv_f32 = v.cast<bool>();
               else if (key == "template") sp.llama.template_name = v.cast<std::string>();
               else if (key == "prompt_format") sp.llama.prompt_format = PromptFormat::from_cli(v.cast<std::string>());
               else if (key == "chat_template_file") {
                 const std::string f = v.cast<std::string>();
                 std::ifstream in(f, std::ios::binary);
                 if (!in) throw Error("chat_template_file: cannot read '" + f + "'");
                 sp.llama.jinja.text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
                 sp.llama.jinja.origin = "file '" + f + "'";
               } else if (key == "chat_template_kwargs") {
                 sp.llama.jinja.kwargs = v.cast<std::string>();
                 check_template_kwargs(sp.llama.jinja.kwargs, "chat_template_kwargs");
               } else if (key == "template_date") {
                 sp.llama.jinja.date = v.cast<std::string>();
                 check_template_date(sp.llama.jinja.date, "template_date");
               }
               else if (key == "tokenizer") sp.tokenizer = v.cast<std::string>();
               else if (key == "api_key_env") sp.api_key_env = v.cast<std::string>();
               else if (key == "concurrency") sp.concurrency = v.cast<uint32_t>();
               else if (key == "rank_clip") {
                 const auto c = v.cast<int64_t>();
                 if (c < 0 || c > int64_t(kMaxRankClip))
                   throw UsageError("rank_clip: must be in 0.." + std::to_string(kMaxRankClip) + " (0: no ranks), got " +
                                    std::to_string(c));
                 sp.llama.rank_clip = uint32_t(c);
               }
               else throw UsageError("Scorer: unknown option '" + key + "'");
             }
             auto out = std::make_shared<PyScorer>();
             py::gil_scoped_release nogil;
             out->sc = make_scorer(sp);
             return out;
           }),
           py::arg("location"), py::arg("name") = "model", py::arg("options") = py::dict())
      .def(
          "format_prompt",
          [](PyScorer& p, const std::string& question, const std::string& system) {
            auto lock = hold(p.mu);
            return p.sc->format_prompt(question, system);
          },
          py::arg("question"), py::arg("system") = "")
      .def("describe",
           [](PyScorer& p) {
             auto lock = hold(p.mu);
             return model_dict(p.sc->describe());
           })
      .def("capabilities",
           [](PyScorer& p) {
             auto lock = hold(p.mu);
             const ScorerCapabilities c = p.sc->capabilities();
             py::dict d;
             d["n_ctx"] = c.n_ctx;
             d["n_ctx_train"] = c.n_ctx_train;
             d["n_vocab"] = c.n_vocab;
             d["n_seq_max"] = c.n_seq_max;
             d["gpu_offload"] = c.gpu_offload;
             d["kv_prefix_sharing"] = c.kv_prefix_sharing;
             d["device_reduction"] = c.device_reduction;
             d["rank_clip"] = c.rank_clip;
             return d;
           })
      .def(
          "score",
          [](PyScorer& p, const std::vector<std::pair<std::string, std::string>>& pairs, py::object progress) {
            auto lock = hold(p.mu);
            Scorer& sc = *p.sc;
            std::vector<ScoreItem> items;
            for (const auto& [p, r] : pairs) items.push_back({p, r, ""});
            PyProgress prog(progress);
            std::vector<ScoreResult> res;
            {
              py::gil_scoped_release nogil;
              res = sc.score(items, prog);
            }
            py::list out;
            for (auto& x : res) {
              std::vector<uint32_t> off, rk;
              std::vector<double> lp;
              for (const auto& t : x.tokens) {
                off.push_back(t.offset);
                lp.push_back(t.logprob);
                rk.push_back(t.rank);
              }
              py::dict d;
              d["offsets"] = to_numpy(std::move(off));
              d["logprobs"] = to_numpy(std::move(lp));
              if (sc.capabilities().rank_clip) d["ranks"] = to_numpy(std::move(rk));
              d["n_tokens_total"] = x.n_tokens_total;
              d["n_prompt_tokens"] = x.n_prompt_tokens;
              d["truncated"] = x.truncated;
              d["error"] = x.error.empty() ? py::object(py::none()) : py::object(py::str(x.error));
              out.append(d);
            }
            return out;
          },
          py::arg("pairs"), py::arg("progress") = py::none());

  m.def(
      "score",
      [](std::shared_ptr<PyStore> s, std::shared_ptr<PyScorer> sc, const std::string& name,
         const std::vector<std::string>& files, py::dict reader, uint32_t chunk, bool replace, py::object progress) {
        auto lock = hold(s->mu);
        auto scorer_lock = hold(sc->mu);
        ReaderOptions ro;
        std::optional<Shard> shard;
        for (auto [k, v] : reader) {
          const std::string key = py::str(k);
          if (v.is_none()) continue;
          if (key == "skip_bad") ro.skip_bad = v.cast<bool>();
          else if (key == "id_field") ro.fields.id = v.cast<std::string>();
          else if (key == "question_field") ro.fields.question = v.cast<std::string>();
          else if (key == "response_field") ro.fields.response = v.cast<std::string>();
          else if (key == "answer_field") ro.fields.answer = v.cast<std::string>();
          else if (key == "group_field") ro.fields.group = v.cast<std::string>();
          else if (key == "correct_field") ro.fields.correct = v.cast<std::string>();
          else if (key == "shard") shard = parse_shard(v.cast<std::string>(), "shard");
          else throw UsageError("score: unknown reader option '" + key + "'");
        }
        PyProgress prog(progress);
        ScoreRunStats st;
        std::vector<std::string> warnings;
        {
          py::gil_scoped_release nogil;
          std::vector<StoredResponse> rs = read_responses(
              files, ro, SegmentOptions{}, [&](LogLevel, std::string_view msg) { warnings.emplace_back(msg); });
          const size_t n_dataset = rs.size();
          if (shard) keep_shard(rs, *shard);
          put_responses(*s->st, rs);
          if (shard)
            record_shard(*s->st, *shard, n_dataset, [&](LogLevel, std::string_view msg) { warnings.emplace_back(msg); });
          st = score_responses(*s->st, *sc->sc, name, rs, {.chunk = chunk, .replace = replace}, prog);
        }
        py::dict d;
        d["n_scored"] = st.n_scored;
        d["n_failed"] = st.n_failed;
        d["n_skipped"] = st.n_skipped;
        d["n_truncated"] = st.n_truncated;
        d["n_cut_actions"] = st.n_cut_actions;
        d["n_tokens"] = st.n_tokens;
        d["seconds"] = st.seconds;
        d["first_error"] = st.first_error;
        d["warnings"] = warnings;
        return d;
      },
      py::arg("store"), py::arg("scorer"), py::arg("name"), py::arg("files"), py::arg("reader"), py::arg("chunk"),
      py::arg("replace"), py::arg("progress"));
  m.def(
      "merge",
      [](std::shared_ptr<PyStore> s, const std::vector<std::string>& inputs, py::object progress) {
        auto lock = hold(s->mu);
        PyProgress prog(progress);
        MergeStats st;
        std::vector<std::string> warnings;  // raised as Python warnings by rdpt.merge
        {
          py::gil_scoped_release nogil;
          st = merge_stores(*s->st, inputs, prog, [&](LogLevel l, std::string_view msg) {
            if (l == LogLevel::Warn) warnings.emplace_back(msg);
          });
        }
        py::dict d;
        d["n_inputs"] = st.n_inputs;
        d["n_models_added"] = st.n_models_added;
        d["n_responses_added"] = st.n_responses_added;
        d["n_responses_present"] = st.n_responses_present;
        d["n_pairs_added"] = st.n_pairs_added;
        d["n_pairs_present"] = st.n_pairs_present;
        d["n_pairs_replaced"] = st.n_pairs_replaced;
        d["n_pairs_rounding"] = st.n_pairs_rounding;
        d["n_pairs_failed_ignored"] = st.n_pairs_failed_ignored;
        d["n_pairs_failed"] = st.n_pairs_failed;
        d["warnings"] = warnings;
        d["n_pairs_ranked"] = st.n_pairs_ranked;
        return d;
      },
      py::arg("store"), py::arg("inputs"), py::arg("progress"));
}
