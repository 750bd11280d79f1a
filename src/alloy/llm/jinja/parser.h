// Parser: tokens to the syntax tree, following jinja2/parser.py's grammar and precedence
// (filters bind tighter than arithmetic; `is` tests and calls chain after filters).
#pragma once

#include <memory>
#include <string>

#include "alloy/llm/jinja/ast.h"

namespace alloy::llm::jinja {

// Throws template_error naming the line for syntax errors and unsupported tags.
std::unique_ptr<Program> parse_template(const std::string& source);

}  // namespace alloy::llm::jinja
