// Statement execution and expression evaluation.
#include "alloy/llm/jinja/render.h"

#include "alloy/llm/jinja/template.h"

namespace alloy::llm::jinja {

const Value* Frame::lookup(const std::string& name) const {
  for (const Frame* f = this; f; f = f->parent.get()) {
    auto it = f->vars.find(name);
    if (it != f->vars.end()) return &it->second;
  }
  return nullptr;
}

std::string Renderer::render() {
  std::string out;
  auto top = std::make_shared<Frame>();
  top->parent = globals_;
  exec(program_.body, top, out);
  return out;
}

Renderer::Flow Renderer::exec(const Body& body, const std::shared_ptr<Frame>& frame, std::string& out) {
  for (const auto& s : body) {
    Flow f = exec_stmt(*s, frame, out);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

static void unpack(const std::vector<std::string>& targets, const Value& v, Frame& frame) {
  if (targets.size() == 1) {
    frame.vars[targets[0]] = v;
    return;
  }
  List items = v.iterate();
  if (items.size() != targets.size())
    throw eval_error(items.size() > targets.size()
                         ? "too many values to unpack (expected " + std::to_string(targets.size()) + ")"
                         : "not enough values to unpack (expected " + std::to_string(targets.size()) +
                               ", got " + std::to_string(items.size()) + ")");
  for (size_t i = 0; i < targets.size(); ++i) frame.vars[targets[i]] = items[i];
}

Renderer::Flow Renderer::exec_stmt(const Stmt& s, const std::shared_ptr<Frame>& frame, std::string& out) {
  try {
    switch (s.kind) {
      case StmtKind::Data: out += s.text; return Flow::Normal;
      case StmtKind::Output: out += eval(*s.expr, frame).str(); return Flow::Normal;
      case StmtKind::If:
        for (const auto& [test, body] : s.branches)
          if (eval(*test, frame).truthy()) return exec(body, frame, out);
        return exec(s.else_body, frame, out);
      case StmtKind::For: return exec_for(s, frame, out);
      case StmtKind::Set: {
        Value v = eval(*s.expr, frame);
        if (!s.attr.empty()) {
          const Value* ns = frame->lookup(s.targets[0]);
          if (!ns || !ns->is_namespace())
            throw eval_error("cannot assign attribute on non-namespace object");
          ns->mutable_dict().set(s.attr, v);
        } else {
          unpack(s.targets, v, *frame);
        }
        return Flow::Normal;
      }
      case StmtKind::SetBlock: {
        std::string captured;
        exec(s.body, frame, captured);
        frame->vars[s.targets[0]] = Value(captured);
        return Flow::Normal;
      }
      case StmtKind::Macro: frame->vars[s.targets[0]] = make_macro(s, frame); return Flow::Normal;
      case StmtKind::Break: return Flow::Break;
      case StmtKind::Continue: return Flow::Continue;
    }
  } catch (const eval_error& e) {
    throw template_error(s.line, e.what());
  }
  return Flow::Normal;
}

Renderer::Flow Renderer::exec_for(const Stmt& s, const std::shared_ptr<Frame>& frame, std::string& out) {
  Value iterable = eval(*s.expr, frame);
  if (iterable.kind() == Kind::Dict && iterable.is_namespace())
    throw eval_error("'Namespace' object is not iterable");
  List items = iterable.iterate();
  if (s.filter) {
    // The loop filter runs before the loop, so loop.length and loop.last count kept items.
    List kept;
    for (const auto& item : items) {
      auto f = std::make_shared<Frame>();
      f->parent = frame;
      unpack(s.targets, item, *f);
      if (eval(*s.filter, f).truthy()) kept.push_back(item);
    }
    items = std::move(kept);
  }
  if (items.empty()) return exec(s.else_body, frame, out);
  const int64_t n = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < n; ++i) {
    auto f = std::make_shared<Frame>();
    f->parent = frame;
    unpack(s.targets, items[i], *f);
    Dict loop;
    loop.set("index", Value(i + 1));
    loop.set("index0", Value(i));
    loop.set("revindex", Value(n - i));
    loop.set("revindex0", Value(n - i - 1));
    loop.set("first", Value(i == 0));
    loop.set("last", Value(i == n - 1));
    loop.set("length", Value(n));
    loop.set("depth", Value(1));
    loop.set("depth0", Value(0));
    if (i > 0) loop.set("previtem", items[i - 1]);
    if (i + 1 < n) loop.set("nextitem", items[i + 1]);
    loop.set("cycle", Value::function("cycle", [i](const CallArgs& a) -> Value {
      if (a.positional.empty()) throw eval_error("no items for cycling given");
      return a.positional[static_cast<size_t>(i) % a.positional.size()];
    }));
    f->vars["loop"] = Value::dict(std::move(loop));
    Flow fl = exec(s.body, f, out);
    if (fl == Flow::Break) break;
  }
  return Flow::Normal;
}

Value Renderer::make_macro(const Stmt& s, const std::shared_ptr<Frame>& frame) {
  const Stmt* m = &s;
  std::weak_ptr<Frame> closure = frame;  // weak: the macro lives in this frame
  return Value::function(s.targets[0], [this, m, closure](const CallArgs& args) -> Value {
    const std::string& name = m->targets[0];
    size_t nparams = m->targets.size() - 1;
    if (args.positional.size() > nparams)
      throw eval_error("macro '" + name + "' takes not more than " + std::to_string(nparams) + " argument(s)");
    for (const auto& kv : args.keyword) {
      bool known = false;
      for (size_t p = 0; p < nparams; ++p) known = known || m->targets[p + 1] == kv.first;
      if (!known) throw eval_error("macro '" + name + "' takes no keyword argument '" + kv.first + "'");
    }
    if (++depth_ > 200) {
      --depth_;
      throw eval_error("maximum macro recursion depth exceeded");
    }
    auto f = std::make_shared<Frame>();
    f->parent = closure.lock();
    for (size_t p = 0; p < nparams; ++p) {
      const std::string& pname = m->targets[p + 1];
      const Value* v = args.get(p, pname.c_str());
      if (v) f->vars[pname] = *v;
      else if (m->defaults[p]) f->vars[pname] = eval(*m->defaults[p], f);
      else f->vars[pname] = Value::undefined("parameter '" + pname + "' was not provided");
    }
    std::string out;
    try {
      exec(m->body, f, out);
    } catch (...) {
      --depth_;
      throw;
    }
    --depth_;
    return Value(out);
  });
}

CallArgs Renderer::eval_args(const Expr& e, const std::shared_ptr<Frame>& frame, size_t first) {
  CallArgs a;
  for (size_t i = first; i < e.children.size(); ++i) a.positional.push_back(eval(*e.children[i], frame));
  for (const auto& kv : e.kwargs) a.keyword.emplace_back(kv.first, eval(*kv.second, frame));
  return a;
}

static bool compare(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return value_equal(a, b);
  if (op == "!=") return !value_equal(a, b);
  if (op == "<") return value_less(a, b);
  if (op == "<=") return value_less(a, b) || value_equal(a, b);
  if (op == ">") return value_less(b, a);
  if (op == ">=") return value_less(b, a) || value_equal(a, b);
  if (op == "in") return value_contains(b, a);
  return !value_contains(b, a);  // notin
}

Value Renderer::eval(const Expr& e, const std::shared_ptr<Frame>& frame) {
  switch (e.kind) {
    case ExprKind::Const: return e.constant;
    case ExprKind::Name: {
      const Value* v = frame->lookup(e.name);
      return v ? *v : Value::undefined("'" + e.name + "' is undefined");
    }
    case ExprKind::List:
    case ExprKind::Tuple: {
      List items;
      for (const auto& c : e.children) items.push_back(eval(*c, frame));
      return Value::list(std::move(items), e.kind == ExprKind::Tuple);
    }
    case ExprKind::Dict: {
      Dict d;
      for (size_t i = 0; i + 1 < e.children.size(); i += 2) {
        Value k = eval(*e.children[i], frame);
        if (!k.is_string()) throw eval_error("dict literal keys other than strings are not supported");
        d.set(k.as_string(), eval(*e.children[i + 1], frame));
      }
      return Value::dict(std::move(d));
    }
    case ExprKind::GetAttr: return get_attribute(eval(*e.children[0], frame), e.name);
    case ExprKind::GetItem: {
      Value obj = eval(*e.children[0], frame);
      const Expr& key = *e.children[1];
      if (key.kind == ExprKind::Slice) {
        Value parts[3] = {Value::none(), Value::none(), Value::none()};
        for (int i = 0; i < 3; ++i)
          if (key.children[i]) parts[i] = eval(*key.children[i], frame);
        return value_slice(obj, parts[0], parts[1], parts[2]);
      }
      return get_item(obj, eval(key, frame));
    }
    case ExprKind::Slice: throw eval_error("a slice outside of a subscript");
    case ExprKind::Call: {
      Value fn = eval(*e.children[0], frame);
      if (fn.is_undefined()) fn.fail_undefined();
      if (fn.kind() != Kind::Function) throw eval_error("'" + fn.type_name() + "' object is not callable");
      CallArgs a = eval_args(e, frame, 1);
      return fn.as_function()(a);
    }
    case ExprKind::Filter: {
      Value v = eval(*e.children[0], frame);
      return apply_filter(e.name, v, eval_args(e, frame, 1));
    }
    case ExprKind::Test: {
      Value v = eval(*e.children[0], frame);
      return Value(apply_test(e.name, v, eval_args(e, frame, 1)));
    }
    case ExprKind::Not: return Value(!eval(*e.children[0], frame).truthy());
    case ExprKind::Negate: return value_negate(eval(*e.children[0], frame));
    case ExprKind::Plus: {
      Value v = eval(*e.children[0], frame);
      if (v.is_undefined()) v.fail_undefined();
      if (!v.is_number()) throw eval_error("bad operand type for unary +: '" + v.type_name() + "'");
      return v.kind() == Kind::Bool ? Value(v.as_int()) : v;
    }
    case ExprKind::Binary: {
      Value a = eval(*e.children[0], frame);
      Value b = eval(*e.children[1], frame);
      if (e.name == "~") return Value(a.str() + b.str());
      if (e.name == "+") return value_add(a, b);
      return value_arith(e.name, a, b);
    }
    case ExprKind::And: {
      Value a = eval(*e.children[0], frame);
      return a.truthy() ? eval(*e.children[1], frame) : a;
    }
    case ExprKind::Or: {
      Value a = eval(*e.children[0], frame);
      return a.truthy() ? a : eval(*e.children[1], frame);
    }
    case ExprKind::Compare: {
      Value left = eval(*e.children[0], frame);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.children[i + 1], frame);
        if (!compare(e.ops[i], left, right)) return Value(false);
        left = std::move(right);
      }
      return Value(true);
    }
    case ExprKind::CondExpr: {
      if (eval(*e.children[0], frame).truthy()) return eval(*e.children[1], frame);
      if (e.children[2]) return eval(*e.children[2], frame);
      return Value::undefined("the inline if-expression on line " + std::to_string(e.line) +
                              " evaluated to false and no else section was defined.");
    }
  }
  return Value();
}

}  // namespace alloy::llm::jinja
