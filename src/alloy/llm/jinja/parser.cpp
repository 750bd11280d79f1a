// Recursive-descent parser for the supported Jinja statements and the full expression grammar.
#include "alloy/llm/jinja/parser.h"

#include <algorithm>

#include "alloy/llm/jinja/lexer.h"
#include "alloy/llm/jinja/template.h"

namespace alloy::llm::jinja {

namespace {

const char* token_name(TokenType t) {
  switch (t) {
    case TokenType::Data: return "template data";
    case TokenType::VarBegin: return "'{{'";
    case TokenType::VarEnd: return "'}}'";
    case TokenType::BlockBegin: return "'{%'";
    case TokenType::BlockEnd: return "'%}'";
    case TokenType::Name: return "name";
    case TokenType::String: return "string";
    case TokenType::Int: return "integer";
    case TokenType::Float: return "float";
    case TokenType::Op: return "operator";
    case TokenType::End: return "end of template";
  }
  return "token";
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  std::unique_ptr<Program> run() {
    auto prog = std::make_unique<Program>();
    prog->body = subparse({});
    return prog;
  }

 private:
  const Token& cur() const { return t_[p_]; }
  const Token& peek() const { return t_[std::min(p_ + 1, t_.size() - 1)]; }
  bool is_op(const char* op) const { return cur().type == TokenType::Op && cur().text == op; }
  bool is_name(const char* n) const { return cur().type == TokenType::Name && cur().text == n; }
  const Token& next() { return t_[p_ < t_.size() - 1 ? p_++ : p_]; }

  [[noreturn]] void fail(const std::string& msg) const { throw template_error(cur().line, msg); }
  std::string describe() const {
    const Token& k = cur();
    if (k.type == TokenType::Name || k.type == TokenType::Op) return "'" + k.text + "'";
    return token_name(k.type);
  }
  void expect_op(const char* op) {
    if (!is_op(op)) fail(std::string("expected '") + op + "', got " + describe());
    next();
  }
  std::string expect_name() {
    if (cur().type != TokenType::Name) fail("expected a name, got " + describe());
    return next().text;
  }
  void expect_block_end() {
    if (cur().type != TokenType::BlockEnd) fail("expected '%}', got " + describe());
    next();
  }
  void expect_end_tag(const char* name) {
    if (!is_name(name)) fail(std::string("expected '") + name + "', got " + describe());
    next();
  }

  ExprPtr make(ExprKind k, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = line;
    return e;
  }

  // ---------- statements ----------
  Body subparse(const std::vector<std::string>& end_tags) {
    Body body;
    while (true) {
      const Token& k = cur();
      if (k.type == TokenType::End) {
        if (!end_tags.empty()) {
          auto it = std::find_if(end_tags.begin(), end_tags.end(), [](const std::string& t) { return t.rfind("end", 0) == 0; });
          fail("unexpected end of template, expected '" + (it != end_tags.end() ? *it : end_tags.back()) + "'");
        }
        return body;
      }
      if (k.type == TokenType::Data) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::Data;
        s->line = k.line;
        s->text = k.text;
        body.push_back(std::move(s));
        next();
      } else if (k.type == TokenType::VarBegin) {
        next();
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::Output;
        s->line = cur().line;
        s->expr = parse_tuple(true, {}, false);
        if (cur().type != TokenType::VarEnd) fail("expected '}}', got " + describe());
        next();
        body.push_back(std::move(s));
      } else if (k.type == TokenType::BlockBegin) {
        next();
        if (cur().type == TokenType::Name &&
            std::find(end_tags.begin(), end_tags.end(), cur().text) != end_tags.end())
          return body;
        body.push_back(parse_statement());
      } else {
        fail("unexpected " + describe());
      }
    }
  }

  StmtPtr parse_statement() {
    if (cur().type != TokenType::Name) fail("expected a tag name, got " + describe());
    const std::string& tag = cur().text;
    if (tag == "if") return parse_if();
    if (tag == "for") return parse_for();
    if (tag == "set") return parse_set();
    if (tag == "macro") return parse_macro();
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) fail("'" + tag + "' outside of a loop");
      auto s = std::make_unique<Stmt>();
      s->kind = tag == "break" ? StmtKind::Break : StmtKind::Continue;
      s->line = cur().line;
      next();
      expect_block_end();
      return s;
    }
    static const char* known_unsupported[] = {"call", "filter", "raw", "include", "extends", "block",
                                              "import", "from", "with", "autoescape", "do", "generation"};
    for (const char* u : known_unsupported)
      if (tag == u) fail("the '" + tag + "' tag is not supported");
    fail("unknown or misplaced tag '" + tag + "'");
  }

  StmtPtr parse_if() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::If;
    s->line = cur().line;
    next();
    while (true) {
      ExprPtr test = parse_tuple(false, {}, false);
      expect_block_end();
      Body body = subparse({"elif", "else", "endif"});
      s->branches.emplace_back(std::move(test), std::move(body));
      if (is_name("elif")) {
        next();
        continue;
      }
      if (is_name("else")) {
        next();
        expect_block_end();
        s->else_body = subparse({"endif"});
      }
      expect_end_tag("endif");
      expect_block_end();
      return s;
    }
  }

  std::vector<std::string> parse_targets(const char* stop_name) {
    std::vector<std::string> names;
    bool paren = is_op("(");
    if (paren) next();
    while (true) {
      names.push_back(expect_name());
      if (!is_op(",")) break;
      next();
      if ((paren && is_op(")")) || (stop_name && is_name(stop_name))) break;
    }
    if (paren) expect_op(")");
    return names;
  }

  StmtPtr parse_for() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::For;
    s->line = cur().line;
    next();
    s->targets = parse_targets("in");
    expect_end_tag("in");
    s->expr = parse_tuple(false, {"recursive"}, false);
    if (is_name("if")) {
      next();
      s->filter = parse_expression(true);
    }
    if (is_name("recursive")) fail("recursive for loops are not supported");
    expect_block_end();
    ++loop_depth_;
    s->body = subparse({"endfor", "else"});
    --loop_depth_;
    if (is_name("else")) {
      next();
      expect_block_end();
      s->else_body = subparse({"endfor"});
    }
    expect_end_tag("endfor");
    expect_block_end();
    return s;
  }

  StmtPtr parse_set() {
    auto s = std::make_unique<Stmt>();
    s->line = cur().line;
    next();
    s->targets.push_back(expect_name());
    if (is_op(".")) {
      next();
      s->attr = expect_name();
    } else if (is_op(",")) {
      next();
      auto more = parse_targets(nullptr);
      s->targets.insert(s->targets.end(), more.begin(), more.end());
    }
    if (is_op("=")) {
      next();
      s->kind = StmtKind::Set;
      s->expr = parse_tuple(true, {}, false);
      expect_block_end();
      return s;
    }
    if (is_op("|")) fail("filtered block 'set' is not supported");
    if (s->targets.size() != 1 || !s->attr.empty()) fail("a block 'set' needs a single plain name");
    expect_block_end();
    s->kind = StmtKind::SetBlock;
    s->body = subparse({"endset"});
    expect_end_tag("endset");
    expect_block_end();
    return s;
  }

  StmtPtr parse_macro() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::Macro;
    s->line = cur().line;
    next();
    s->targets.push_back(expect_name());
    expect_op("(");
    while (!is_op(")")) {
      if (s->targets.size() > 1) expect_op(",");
      if (is_op(")")) break;
      s->targets.push_back(expect_name());
      if (is_op("=")) {
        next();
        s->defaults.push_back(parse_expression(true));
      } else {
        if (!s->defaults.empty() && s->defaults.back())
          fail("non-default argument follows default argument");
        s->defaults.push_back(nullptr);
      }
    }
    next();
    expect_block_end();
    int saved = loop_depth_;
    loop_depth_ = 0;
    s->body = subparse({"endmacro"});
    loop_depth_ = saved;
    expect_end_tag("endmacro");
    if (cur().type == TokenType::Name) next();
    expect_block_end();
    return s;
  }

  // ---------- expressions ----------
  bool is_tuple_end(const std::vector<std::string>& extra) const {
    const Token& k = cur();
    if (k.type == TokenType::VarEnd || k.type == TokenType::BlockEnd || k.type == TokenType::End) return true;
    if (k.type == TokenType::Op && k.text == ")") return true;
    if (k.type == TokenType::Name)
      return std::find(extra.begin(), extra.end(), k.text) != extra.end();
    return false;
  }

  ExprPtr parse_tuple(bool with_condexpr, const std::vector<std::string>& extra, bool explicit_parens) {
    int line = cur().line;
    std::vector<ExprPtr> args;
    bool is_tuple = false;
    while (true) {
      if (!args.empty()) expect_op(",");
      if (is_tuple_end(extra)) break;
      args.push_back(parse_expression(with_condexpr));
      if (is_op(",")) is_tuple = true;
      else break;
    }
    if (!is_tuple) {
      if (!args.empty()) return std::move(args[0]);
      if (!explicit_parens) fail("expected an expression, got " + describe());
    }
    auto t = make(ExprKind::Tuple, line);
    t->children = std::move(args);
    return t;
  }

  ExprPtr parse_expression(bool with_condexpr) {
    if (!with_condexpr) return parse_or();
    ExprPtr e = parse_or();
    while (is_name("if")) {
      int line = cur().line;
      next();
      auto c = make(ExprKind::CondExpr, line);
      c->children.push_back(parse_or());
      c->children.push_back(std::move(e));
      if (is_name("else")) {
        next();
        c->children.push_back(parse_expression(true));
      } else {
        c->children.push_back(nullptr);
      }
      e = std::move(c);
    }
    return e;
  }

  ExprPtr binary(ExprKind k, ExprPtr a, ExprPtr b, int line, std::string op = "") {
    auto e = make(k, line);
    e->name = std::move(op);
    e->children.push_back(std::move(a));
    e->children.push_back(std::move(b));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (is_name("or")) {
      int line = next().line;
      e = binary(ExprKind::Or, std::move(e), parse_and(), line);
    }
    return e;
  }

  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (is_name("and")) {
      int line = next().line;
      e = binary(ExprKind::And, std::move(e), parse_not(), line);
    }
    return e;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      auto e = make(ExprKind::Not, next().line);
      e->children.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    int line = cur().line;
    ExprPtr first = parse_math1();
    ExprPtr cmp;
    while (true) {
      std::string op;
      if (cur().type == TokenType::Op &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" ||
           cur().text == ">" || cur().text == ">=")) {
        op = next().text;
      } else if (is_name("in")) {
        next();
        op = "in";
      } else if (is_name("not") && peek().type == TokenType::Name && peek().text == "in") {
        next();
        next();
        op = "notin";
      } else {
        break;
      }
      if (!cmp) {
        cmp = make(ExprKind::Compare, line);
        cmp->children.push_back(std::move(first));
      }
      cmp->ops.push_back(op);
      cmp->children.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }

  ExprPtr parse_math1() {
    ExprPtr e = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& k = next();
      e = binary(ExprKind::Binary, std::move(e), parse_concat(), k.line, k.text);
    }
    return e;
  }

  ExprPtr parse_concat() {
    ExprPtr e = parse_math2();
    while (is_op("~")) {
      int line = next().line;
      e = binary(ExprKind::Binary, std::move(e), parse_math2(), line, "~");
    }
    return e;
  }

  ExprPtr parse_math2() {
    ExprPtr e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& k = next();
      e = binary(ExprKind::Binary, std::move(e), parse_pow(), k.line, k.text);
    }
    return e;
  }

  ExprPtr parse_pow() {
    ExprPtr e = parse_unary(true);
    while (is_op("**")) {
      int line = next().line;
      e = binary(ExprKind::Binary, std::move(e), parse_unary(true), line, "**");
    }
    return e;
  }

  ExprPtr parse_unary(bool with_filter) {
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      const Token& k = next();
      node = make(k.text == "-" ? ExprKind::Negate : ExprKind::Plus, k.line);
      node->children.push_back(parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& k = cur();
    int line = k.line;
    if (k.type == TokenType::Name) {
      next();
      auto e = make(ExprKind::Const, line);
      if (k.text == "true" || k.text == "True") e->constant = Value(true);
      else if (k.text == "false" || k.text == "False") e->constant = Value(false);
      else if (k.text == "none" || k.text == "None") e->constant = Value::none();
      else {
        e->kind = ExprKind::Name;
        e->name = k.text;
      }
      return e;
    }
    if (k.type == TokenType::String) {
      std::string s;
      while (cur().type == TokenType::String) s += next().text;
      auto e = make(ExprKind::Const, line);
      e->constant = Value(s);
      return e;
    }
    if (k.type == TokenType::Int || k.type == TokenType::Float) {
      next();
      auto e = make(ExprKind::Const, line);
      try {
        e->constant = k.type == TokenType::Int ? Value(static_cast<int64_t>(std::stoll(k.text))) : Value(std::stod(k.text));
      } catch (const std::out_of_range&) {
        throw template_error(line, "number literal " + k.text + " is out of range");
      }
      return e;
    }
    if (is_op("(")) {
      next();
      ExprPtr e = parse_tuple(true, {}, true);
      expect_op(")");
      return e;
    }
    if (is_op("[")) {
      next();
      auto e = make(ExprKind::List, line);
      while (!is_op("]")) {
        if (!e->children.empty()) expect_op(",");
        if (is_op("]")) break;
        e->children.push_back(parse_expression(true));
      }
      next();
      return e;
    }
    if (is_op("{")) {
      next();
      auto e = make(ExprKind::Dict, line);
      while (!is_op("}")) {
        if (!e->children.empty()) expect_op(",");
        if (is_op("}")) break;
        e->children.push_back(parse_expression(true));
        expect_op(":");
        e->children.push_back(parse_expression(true));
      }
      next();
      return e;
    }
    fail("unexpected " + describe());
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".") || is_op("[")) node = parse_subscript(std::move(node));
      else if (is_op("(")) node = parse_call(std::move(node));
      else return node;
    }
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) node = parse_filter(std::move(node));
      else if (is_name("is")) node = parse_test(std::move(node));
      else if (is_op("(")) node = parse_call(std::move(node));
      else return node;
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    const Token& k = next();
    if (k.text == ".") {
      if (cur().type == TokenType::Name) {
        auto e = make(ExprKind::GetAttr, k.line);
        e->name = next().text;
        e->children.push_back(std::move(node));
        return e;
      }
      if (cur().type == TokenType::Int) {
        auto e = make(ExprKind::GetItem, k.line);
        auto idx = make(ExprKind::Const, k.line);
        idx->constant = Value(static_cast<int64_t>(std::stoll(next().text)));
        e->children.push_back(std::move(node));
        e->children.push_back(std::move(idx));
        return e;
      }
      fail("expected a name or number after '.', got " + describe());
    }
    std::vector<ExprPtr> args;
    while (!is_op("]")) {
      if (!args.empty()) expect_op(",");
      args.push_back(parse_subscribed());
    }
    next();
    auto e = make(ExprKind::GetItem, k.line);
    e->children.push_back(std::move(node));
    if (args.size() == 1) {
      e->children.push_back(std::move(args[0]));
    } else {
      auto t = make(ExprKind::Tuple, k.line);
      t->children = std::move(args);
      e->children.push_back(std::move(t));
    }
    return e;
  }

  ExprPtr parse_subscribed() {
    int line = cur().line;
    std::vector<ExprPtr> parts;
    if (is_op(":")) {
      next();
      parts.push_back(nullptr);
    } else {
      ExprPtr e = parse_expression(true);
      if (!is_op(":")) return e;
      next();
      parts.push_back(std::move(e));
    }
    if (is_op(":") || is_op("]") || is_op(",")) parts.push_back(nullptr);
    else parts.push_back(parse_expression(true));
    if (is_op(":")) {
      next();
      if (is_op("]") || is_op(",")) parts.push_back(nullptr);
      else parts.push_back(parse_expression(true));
    } else {
      parts.push_back(nullptr);
    }
    auto s = make(ExprKind::Slice, line);
    s->children = std::move(parts);
    return s;
  }

  void parse_call_args(Expr& e) {
    expect_op("(");
    bool require_comma = false;
    while (!is_op(")")) {
      if (require_comma) {
        expect_op(",");
        if (is_op(")")) break;
      }
      if (is_op("*") || is_op("**")) fail("*args and **kwargs in calls are not supported");
      if (cur().type == TokenType::Name && peek().type == TokenType::Op && peek().text == "=") {
        std::string key = next().text;
        next();
        e.kwargs.emplace_back(key, parse_expression(true));
      } else {
        if (!e.kwargs.empty()) fail("positional argument follows keyword argument");
        e.children.push_back(parse_expression(true));
      }
      require_comma = true;
    }
    next();
  }

  ExprPtr parse_call(ExprPtr node) {
    auto e = make(ExprKind::Call, cur().line);
    e->children.push_back(std::move(node));
    parse_call_args(*e);
    return e;
  }

  ExprPtr parse_filter(ExprPtr node) {
    while (is_op("|")) {
      next();
      auto e = make(ExprKind::Filter, cur().line);
      e->name = expect_name();
      while (is_op(".")) {
        next();
        e->name += "." + expect_name();
      }
      e->children.push_back(std::move(node));
      if (is_op("(")) parse_call_args(*e);
      node = std::move(e);
    }
    return node;
  }

  ExprPtr parse_test(ExprPtr node) {
    int line = next().line;  // `is`
    bool negated = false;
    if (is_name("not")) {
      next();
      negated = true;
    }
    auto e = make(ExprKind::Test, line);
    e->name = expect_name();
    while (is_op(".")) {
      next();
      e->name += "." + expect_name();
    }
    e->children.push_back(std::move(node));
    const Token& k = cur();
    if (is_op("(")) {
      parse_call_args(*e);
    } else if ((k.type == TokenType::Name || k.type == TokenType::String || k.type == TokenType::Int ||
                k.type == TokenType::Float || is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) fail("you cannot chain multiple tests with 'is'");
      e->children.push_back(parse_postfix(parse_primary()));
    }
    if (!negated) return e;
    auto n = make(ExprKind::Not, line);
    n->children.push_back(std::move(e));
    return n;
  }

  std::vector<Token> t_;
  size_t p_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

std::unique_ptr<Program> parse_template(const std::string& source) { return Parser(tokenize(source)).run(); }

}  // namespace alloy::llm::jinja
