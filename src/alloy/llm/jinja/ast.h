// The syntax tree of a parsed template: expressions and statements as tagged nodes.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "alloy/llm/jinja/value.h"

namespace alloy::llm::jinja {

enum class ExprKind {
  Const,     // constant
  Name,      // name
  List,      // children
  Tuple,     // children
  Dict,      // children: key0, value0, key1, value1, ...
  GetAttr,   // children[0].name
  GetItem,   // children[0][children[1]]
  Slice,     // inside GetItem: children start, stop, step (each may be null)
  Call,      // children[0](children[1:], kwargs)
  Filter,    // children[0] | name(children[1:], kwargs)
  Test,      // children[0] is name(children[1:], kwargs)
  Not,       // not children[0]
  Negate,    // -children[0]
  Plus,      // +children[0]
  Binary,    // children[0] op children[1]: + - * / // % ** ~
  And,       // children[0] and children[1]
  Or,        // children[0] or children[1]
  Compare,   // children[0] ops[0] children[1] ops[1] children[2] ...
  CondExpr,  // children[1] if children[0] else children[2] (children[2] may be null)
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind;
  int line = 0;
  Value constant;
  std::string name;  // Name, GetAttr, Filter, Test, Binary operator
  std::vector<ExprPtr> children;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;  // Compare: ==, !=, <, <=, >, >=, in, notin
};

enum class StmtKind { Data, Output, If, For, Set, SetBlock, Macro, Break, Continue };

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
  StmtKind kind;
  int line = 0;
  std::string text;                 // Data
  ExprPtr expr;                     // Output, For iterable, Set value
  ExprPtr filter;                   // For `if` filter
  std::vector<std::string> targets; // For / Set names; Macro: name then parameters
  std::string attr;                 // Set ns.attr
  std::vector<ExprPtr> defaults;    // Macro parameter defaults (null: none), one per parameter
  std::vector<std::pair<ExprPtr, Body>> branches;  // If / elif
  Body body, else_body;             // For, SetBlock, Macro, If's else
};

struct Program {
  Body body;
};

}  // namespace alloy::llm::jinja
