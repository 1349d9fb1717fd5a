// A small expression parser and evaluator for answer equivalence: + - * / ^, implicit
// multiplication, \frac, \sqrt, \binom, functions, |x|, floor/ceil, factorial, pi, e.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "core/grade_internal.h"

namespace rdpt::grade_detail {
namespace {

const std::set<std::string, std::less<>> kFunctions = {
    "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
    "ln", "log", "exp", "sqrt", "abs", "floor", "ceil"};

// Commands that make a string something other than a plain expression.
const std::set<std::string, std::less<>> kStructural = {
    "begin", "end", "cup", "cap", "pm", "mp", "in", "notin", "to", "ldots", "cdots", "dots", "text",
    "quad", "qquad", "setminus", "subset", "subseteq", "approx", "equiv", "mid", "rightarrow",
    "Rightarrow", "implies", "iff", "forall", "exists", "wedge", "vee", "land", "lor", "lor",
    "emptyset", "varnothing", "boxed", "fbox", "angle", "triangle", "parallel", "perp", "overline",
    "rfloor", "rceil", "right", "left", "le", "ge", "leq", "geq", "neq", "ne", "lt", "gt"};

ExprPtr make(Expr::Kind k) {
  auto e = std::make_unique<Expr>();
  e->kind = k;
  return e;
}
ExprPtr make_num(double v) {
  auto e = make(Expr::Kind::Num);
  e->num = v;
  return e;
}
ExprPtr make_bin(Expr::Kind k, ExprPtr a, ExprPtr b) {
  auto e = make(k);
  e->args.push_back(std::move(a));
  e->args.push_back(std::move(b));
  return e;
}
ExprPtr make_func(std::string name, ExprPtr a) {
  auto e = make(Expr::Kind::Func);
  e->name = std::move(name);
  e->args.push_back(std::move(a));
  return e;
}

class Parser {
 public:
  Parser(std::string_view s, int max_depth) : s_(s), max_depth_(max_depth) {}

  ExprPtr parse_all() {
    auto e = sum();
    skip();
    if (!e || i_ != s_.size()) return nullptr;
    return e;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
  int depth_ = 0;
  int max_depth_;

  struct DepthGuard {
    Parser& p;
    bool ok;
    explicit DepthGuard(Parser& pp) : p(pp), ok(++pp.depth_ <= pp.max_depth_) {}
    ~DepthGuard() { --p.depth_; }
  };

  void skip() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n')) ++i_;
  }
  bool eat(char c) {
    skip();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool eat_str(std::string_view t) {
    skip();
    if (s_.substr(i_, t.size()) == t) {
      // a command must not continue with letters (\le vs \left)
      if (t[0] == '\\' && i_ + t.size() < s_.size() && std::isalpha(uint8_t(s_[i_ + t.size()]))) return false;
      i_ += t.size();
      return true;
    }
    return false;
  }
  char peek() {
    skip();
    return i_ < s_.size() ? s_[i_] : '\0';
  }
  std::string peek_command() {
    skip();
    if (i_ >= s_.size() || s_[i_] != '\\') return {};
    size_t j = i_ + 1;
    while (j < s_.size() && std::isalpha(uint8_t(s_[j]))) ++j;
    return std::string(s_.substr(i_ + 1, j - i_ - 1));
  }

  ExprPtr sum() {
    DepthGuard g(*this);
    if (!g.ok) return nullptr;
    auto a = product();
    if (!a) return nullptr;
    for (;;) {
      if (eat('+')) {
        auto b = product();
        if (!b) return nullptr;
        a = make_bin(Expr::Kind::Add, std::move(a), std::move(b));
      } else if (eat('-')) {
        auto b = product();
        if (!b) return nullptr;
        a = make_bin(Expr::Kind::Sub, std::move(a), std::move(b));
      } else {
        return a;
      }
    }
  }

  bool starts_factor() {
    char c = peek();
    if (std::isdigit(uint8_t(c)) || std::isalpha(uint8_t(c)) || c == '(' || c == '{' || c == '.') return true;
    if (c == '\\') {
      std::string cmd = peek_command();
      if (cmd.empty() || kStructural.count(cmd) || cmd == "cdot" || cmd == "times") return false;
      return true;
    }
    return false;
  }

  // A factor that continues a function's argument written without brackets: a number, a letter
  // that does not start a function name, or a command that is neither a function nor an operator.
  bool starts_bare_argument_factor() {
    char c = peek();
    if (std::isdigit(uint8_t(c)) || c == '.') return true;
    if (std::isalpha(uint8_t(c))) {
      size_t j = i_;
      while (j < s_.size() && std::isalpha(uint8_t(s_[j]))) ++j;
      std::string_view word = s_.substr(i_, j - i_);
      for (size_t n = std::min<size_t>(word.size(), 6); n >= 2; --n)
        if (kFunctions.count(word.substr(0, n))) return false;
      return true;
    }
    if (c == '\\') {
      std::string cmd = peek_command();
      return !cmd.empty() && !kStructural.count(cmd) && !kFunctions.count(cmd) && cmd != "cdot" &&
             cmd != "times" && cmd != "div" && cmd != "lfloor" && cmd != "lceil";
    }
    return false;
  }

  ExprPtr product() {
    auto a = unary();
    if (!a) return nullptr;
    for (;;) {
      if (eat('*') || eat_str("\\cdot") || eat_str("\\times")) {
        auto b = unary();
        if (!b) return nullptr;
        a = make_bin(Expr::Kind::Mul, std::move(a), std::move(b));
      } else if (eat('/') || eat_str("\\div")) {
        auto b = unary();
        if (!b) return nullptr;
        a = make_bin(Expr::Kind::Div, std::move(a), std::move(b));
      } else if (starts_factor()) {
        auto b = power();
        if (!b) return nullptr;
        a = make_bin(Expr::Kind::Mul, std::move(a), std::move(b));
      } else {
        return a;
      }
    }
  }

  ExprPtr unary() {
    DepthGuard g(*this);
    if (!g.ok) return nullptr;
    if (eat('-')) {
      auto a = unary();
      if (!a) return nullptr;
      auto e = make(Expr::Kind::Neg);
      e->args.push_back(std::move(a));
      return e;
    }
    if (eat('+')) return unary();
    return power();
  }

  ExprPtr power() {
    DepthGuard g(*this);
    if (!g.ok) return nullptr;
    auto base = postfix();
    if (!base) return nullptr;
    if (eat('^')) {
      auto ex = exponent();
      if (!ex) return nullptr;
      // a subscript after the power belongs to the variable: x^2_1 = (x_1)^2
      if (peek() == '_' && base->kind == Expr::Kind::Var && base->name.find('_') == std::string::npos) {
        ++i_;
        std::string sub = subscript();
        if (sub.empty()) return nullptr;
        base->name += "_" + sub;
      }
      base = make_bin(Expr::Kind::Pow, std::move(base), std::move(ex));
      while (eat('!')) {  // (x^2)! is rare; keep factorial binding to the power
        auto f = make(Expr::Kind::Fact);
        f->args.push_back(std::move(base));
        base = std::move(f);
      }
    }
    return base;
  }

  ExprPtr exponent() {
    char c = peek();
    if (c == '{') {
      ++i_;
      auto e = sum();
      if (!e || !eat('}')) return nullptr;
      return e;
    }
    if (c == '-' || c == '+') return unary();
    return power();
  }

  ExprPtr postfix() {
    auto a = primary();
    if (!a) return nullptr;
    while (eat('!')) {
      auto f = make(Expr::Kind::Fact);
      f->args.push_back(std::move(a));
      a = std::move(f);
    }
    return a;
  }

  ExprPtr number() {
    size_t j = i_;
    while (j < s_.size() && std::isdigit(uint8_t(s_[j]))) ++j;
    if (j < s_.size() && s_[j] == '.') {
      ++j;
      while (j < s_.size() && std::isdigit(uint8_t(s_[j]))) ++j;
    }
    // scientific notation "3e5", "1.5e3", "2e-3", "6.02E23": digits right after e and its sign, and
    // no letter or digit after them ("2e" and "2e^2" keep Euler's e; "2e - 3" with spaces too)
    if (j < s_.size() && (s_[j] == 'e' || s_[j] == 'E') && j > i_ && std::isdigit(uint8_t(s_[j - 1]))) {
      size_t k = j + 1;
      if (k < s_.size() && (s_[k] == '-' || s_[k] == '+')) ++k;
      size_t d = k;
      while (k < s_.size() && std::isdigit(uint8_t(s_[k]))) ++k;
      if (k > d && (k == s_.size() || !(std::isalnum(uint8_t(s_[k])) || s_[k] == '.' || s_[k] == '^' || s_[k] == '_')))
        j = k;
    }
    std::string t(s_.substr(i_, j - i_));
    if (t == ".") return nullptr;
    const double v = std::strtod(t.c_str(), nullptr);
    if (!std::isfinite(v)) return nullptr;  // 1e400 is a number, not infinity
    i_ = j;
    return make_num(v);
  }

  // One argument of \frac, \sqrt, \binom: {expr}, a single digit, a letter or a command.
  ExprPtr arg() {
    char c = peek();
    if (c == '{') {
      ++i_;
      auto e = sum();
      if (!e || !eat('}')) return nullptr;
      return e;
    }
    if (std::isdigit(uint8_t(c))) {
      ++i_;
      return make_num(c - '0');
    }
    if (std::isalpha(uint8_t(c))) {
      ++i_;
      auto v = make(Expr::Kind::Var);
      v->name = std::string(1, c);
      return v;
    }
    if (c == '\\') return primary();
    return nullptr;
  }

  std::string subscript() {
    // after '_': {text} or one character
    if (i_ >= s_.size()) return {};
    if (s_[i_] == '{') {
      size_t end = match_brace(s_, i_);
      if (end == std::string_view::npos) return {};
      std::string t = remove_spaces(s_.substr(i_ + 1, end - i_ - 2));
      i_ = end;
      return t;
    }
    return std::string(1, s_[i_++]);
  }

  ExprPtr apply_function(const std::string& name) {
    // optional ^power (\sin^2 x) and _base (\log_2 x)
    ExprPtr pw, base;
    for (int k = 0; k < 2; ++k) {
      if (peek() == '^') {
        ++i_;
        pw = exponent();
        if (!pw) return nullptr;
      } else if (peek() == '_') {
        ++i_;
        skip();
        base = arg();
        if (!base) return nullptr;
      }
    }
    if (base && name != "log") return nullptr;  // a base means something only for \log_b
    ExprPtr a;
    char c = peek();
    if (c == '(' || c == '{' || c == '[') {
      a = primary();
    } else {
      // without brackets the argument is a product of factors up to the next function, operator
      // or bracket, as LaTeX is read: \sin 2x = sin(2x), \cos 2\theta, \sin x \cos x = sin(x)cos(x)
      a = power();
      while (a && starts_bare_argument_factor()) {
        auto b = power();
        if (!b) return nullptr;
        a = make_bin(Expr::Kind::Mul, std::move(a), std::move(b));
      }
    }
    if (!a) return nullptr;
    // log_b x = ln x / ln b (not log10 x / ln b: that mis-valued every \log_b, though consistently,
    // so \log_2 9 == 2\log_2 3 held while \log_2 8 == 3 did not)
    ExprPtr r = make_func(base && name == "log" ? "ln" : name, std::move(a));
    if (base) r = make_bin(Expr::Kind::Div, std::move(r), make_func("ln", std::move(base)));
    if (pw) r = make_bin(Expr::Kind::Pow, std::move(r), std::move(pw));
    return r;
  }

  ExprPtr group(char close) {
    auto e = sum();
    if (!e || !eat(close)) return nullptr;
    return e;
  }

  ExprPtr primary() {
    DepthGuard g(*this);
    if (!g.ok) return nullptr;
    char c = peek();
    if (c == '\0') return nullptr;
    if (std::isdigit(uint8_t(c)) || c == '.') return number();
    if (c == '(') {
      ++i_;
      return group(')');
    }
    if (c == '[') {
      ++i_;
      return group(']');
    }
    if (c == '{') {
      ++i_;
      return group('}');
    }
    if (c == '|') {
      ++i_;
      auto e = group('|');
      return e ? make_func("abs", std::move(e)) : nullptr;
    }
    if (std::isalpha(uint8_t(c))) {
      size_t j = i_;
      while (j < s_.size() && std::isalpha(uint8_t(s_[j]))) ++j;
      std::string word(s_.substr(i_, j - i_));
      for (size_t n = std::min<size_t>(word.size(), 6); n >= 2; --n) {  // function names prefix
        std::string w = word.substr(0, n);
        if (kFunctions.count(w) && (n == word.size() || w != "ln")) {
          i_ += n;
          return apply_function(w);
        }
        if (w == "pi" && n == word.size()) {
          i_ += 2;
          return make_num(M_PI);
        }
      }
      ++i_;
      auto v = make(Expr::Kind::Var);
      v->name = std::string(1, c);
      if (i_ < s_.size() && s_[i_] == '_') {
        ++i_;
        std::string sub = subscript();
        if (sub.empty()) return nullptr;
        v->name += "_" + sub;
      }
      return v;
    }
    if (c == '\\') {
      std::string cmd = peek_command();
      if (cmd.empty()) return nullptr;
      if (kStructural.count(cmd)) return nullptr;
      i_ += cmd.size() + 1;
      if (cmd == "frac") {
        auto a = arg();
        if (!a) return nullptr;
        auto b = arg();
        if (!b) return nullptr;
        return make_bin(Expr::Kind::Div, std::move(a), std::move(b));
      }
      if (cmd == "binom") {
        auto a = arg();
        if (!a) return nullptr;
        auto b = arg();
        if (!b) return nullptr;
        return make_binom(std::move(a), std::move(b));
      }
      if (cmd == "sqrt") {
        ExprPtr n;
        if (peek() == '[') {
          ++i_;
          n = group(']');
          if (!n) return nullptr;
        }
        auto a = peek() == '(' ? primary() : arg();  // \sqrt(x+1), as the Unicode root gives it
        if (!a) return nullptr;
        if (n) return make_bin(Expr::Kind::Pow, std::move(a), make_bin(Expr::Kind::Div, make_num(1), std::move(n)));
        return make_func("sqrt", std::move(a));
      }
      if (cmd == "pi") return make_num(M_PI);
      if (cmd == "infty" || cmd == "infinity") return make_num(INFINITY);
      if (cmd == "lfloor" || cmd == "lceil") {
        auto e = sum();
        if (!e || !eat_str(cmd == "lfloor" ? "\\rfloor" : "\\rceil")) return nullptr;
        return make_func(cmd == "lfloor" ? "floor" : "ceil", std::move(e));
      }
      if (kFunctions.count(cmd)) return apply_function(cmd);
      // any other command (greek letters, \mho, ...) is a variable
      auto v = make(Expr::Kind::Var);
      v->name = "\\" + cmd;
      if (i_ < s_.size() && s_[i_] == '_') {
        ++i_;
        std::string sub = subscript();
        if (sub.empty()) return nullptr;
        v->name += "_" + sub;
      }
      return v;
    }
    return nullptr;
  }

  static ExprPtr make_binom(ExprPtr a, ExprPtr b) {
    auto e = make(Expr::Kind::Func);
    e->name = "binom";
    e->args.push_back(std::move(a));
    e->args.push_back(std::move(b));
    return e;
  }
};

double factorial(double x) {
  if (x < 0 || x > 170) return NAN;
  return std::tgamma(x + 1);
}

}  // namespace

ExprPtr parse_expr(std::string_view s, int max_depth) {
  if (s.empty() || s.size() > 4000) return nullptr;
  Parser p(s, max_depth);
  return p.parse_all();
}

double eval_expr(const Expr& e, const std::map<std::string, double>& vars) {
  using K = Expr::Kind;
  switch (e.kind) {
    case K::Num:
      return e.num;
    case K::Var: {
      auto it = vars.find(e.name);
      if (it != vars.end()) return it->second;
      if (e.name == "e") return M_E;
      return NAN;
    }
    case K::Neg:
      return -eval_expr(*e.args[0], vars);
    case K::Add:
      return eval_expr(*e.args[0], vars) + eval_expr(*e.args[1], vars);
    case K::Sub:
      return eval_expr(*e.args[0], vars) - eval_expr(*e.args[1], vars);
    case K::Mul:
      return eval_expr(*e.args[0], vars) * eval_expr(*e.args[1], vars);
    case K::Div: {
      double d = eval_expr(*e.args[1], vars);
      return d == 0 ? NAN : eval_expr(*e.args[0], vars) / d;
    }
    case K::Pow:
      return std::pow(eval_expr(*e.args[0], vars), eval_expr(*e.args[1], vars));
    case K::Fact:
      return factorial(eval_expr(*e.args[0], vars));
    case K::Func: {
      double x = eval_expr(*e.args[0], vars);
      const std::string& f = e.name;
      if (f == "binom") {
        double k = eval_expr(*e.args[1], vars);
        return factorial(x) / (factorial(k) * factorial(x - k));
      }
      if (f == "sin") return std::sin(x);
      if (f == "cos") return std::cos(x);
      if (f == "tan") return std::tan(x);
      if (f == "cot") return 1 / std::tan(x);
      if (f == "sec") return 1 / std::cos(x);
      if (f == "csc") return 1 / std::sin(x);
      if (f == "arcsin") return std::asin(x);
      if (f == "arccos") return std::acos(x);
      if (f == "arctan") return std::atan(x);
      if (f == "sinh") return std::sinh(x);
      if (f == "cosh") return std::cosh(x);
      if (f == "tanh") return std::tanh(x);
      if (f == "ln") return std::log(x);
      if (f == "log") return std::log10(x);
      if (f == "exp") return std::exp(x);
      if (f == "sqrt") return std::sqrt(x);
      if (f == "abs") return std::fabs(x);
      if (f == "floor") return std::floor(x);
      if (f == "ceil") return std::ceil(x);
      return NAN;
    }
  }
  return NAN;
}

void collect_vars(const Expr& e, std::vector<std::string>& out) {
  if (e.kind == Expr::Kind::Var) {
    if (std::find(out.begin(), out.end(), e.name) == out.end()) out.push_back(e.name);
    return;
  }
  for (const auto& a : e.args) collect_vars(*a, out);
}

}  // namespace rdpt::grade_detail
