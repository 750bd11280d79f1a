// Chat-template engine: every real template x conversation in ../shared/data/chat-templates/
// expected.json (rendered by Python's jinja2 as Hugging Face does) byte for byte, plus unit
// tests of the engine with hand-computed expectations.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../test_data.h"

#include "alloy/llm/jinja/template.h"

using alloy::llm::ChatTemplate;
using alloy::llm::template_error;
using ojson = nlohmann::ordered_json;

namespace {

using alloy::test::read_text;
std::string data_dir() { return alloy::test::test_data_dir(); }


// render_expected.py's strftime_now stand-in.
std::string fixed_strftime(const std::string& fmt) {
  return fmt.find("%d %b %Y") != std::string::npos ? "26 Jul 2024" : "2024-07-26";
}

std::string render(const std::string& src, ojson ctx = ojson::object()) {
  ChatTemplate t(src);
  t.set_strftime_now(fixed_strftime);
  return t.render(ctx);
}

std::string render_error(const std::string& src, ojson ctx = ojson::object()) {
  try {
    render(src, ctx);
  } catch (const template_error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(ChatTemplateGolden, AllTemplatesAndConversations) {
  std::string dir = data_dir() + "/chat-templates";
  std::ifstream probe(dir + "/expected.json");
  if (data_dir().empty() || !probe) GTEST_SKIP() << "shared test data not found at " << dir;
  ojson expected = ojson::parse(probe);
  int checked = 0;
  for (auto& [name, cases] : expected["expected"].items()) {
    ChatTemplate tpl(read_text(dir + "/" + name + ".jinja"));
    tpl.set_strftime_now(fixed_strftime);
    for (auto& c : cases) {
      ojson ctx = {{"messages", expected["conversations"][c["conversation"].get<std::string>()]},
                   {"add_generation_prompt", c["add_generation_prompt"]},
                   {"bos_token", c["bos_token"]},
                   {"eos_token", c["eos_token"]}};
      std::string label = name + " / " + c["conversation"].get<std::string>() +
                          (c["add_generation_prompt"].get<bool>() ? " / gen" : " / no-gen");
      if (c.contains("error")) {
        std::string want = c["error"].get<std::string>();
        want = want.substr(want.find(": ") + 2);  // drop Python's "TemplateError: "
        try {
          tpl.render(ctx);
          ADD_FAILURE() << label << ": expected the error '" << want << "'";
        } catch (const template_error& e) {
          EXPECT_EQ(e.reason(), want) << label;
        }
      } else {
        EXPECT_EQ(tpl.render(ctx), c["rendered"].get<std::string>()) << label;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 88);
}

TEST(ChatTemplateEngine, WhitespaceControl) {
  EXPECT_EQ(render("a  {{- 'b' -}}  c"), "abc");
  EXPECT_EQ(render("a  {%- if true -%}  b  {%- endif -%}  c"), "abc");
  // trim_blocks eats one newline after a block tag; lstrip_blocks the indentation before it.
  EXPECT_EQ(render("x\n  {% if true %}\n  y\n  {% endif %}\nz"), "x\n  y\nz");
  // Neither applies to {{ }}.
  EXPECT_EQ(render("  {{ 'v' }}\nw"), "  v\nw");
  EXPECT_EQ(render("a\n  {# c #}\nb"), "a\nb");
  EXPECT_EQ(render("  {%+ if true %}k{% endif %}"), "  k");
  EXPECT_EQ(render("{% if true +%}\nk{% endif %}"), "\nk");
  // One trailing newline of the source is dropped (keep_trailing_newline=False).
  EXPECT_EQ(render("end\n"), "end");
  EXPECT_EQ(render("end\n\n"), "end\n");
}

TEST(ChatTemplateEngine, Loops) {
  EXPECT_EQ(render("{% for x in [1,2,3] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}"
                   "{{ 'F' if loop.first }}{{ 'L' if loop.last }}{{ loop.length }};{% endfor %}"),
            "103F3;2123;321L3;");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }},{% endfor %}", {{"d", {{"b", 1}, {"a", 2}}}}),
            "b=1,a=2,");
  EXPECT_EQ(render("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for x in range(10) if x is odd %}{{ x }}{% if loop.last %}!{% endif %}{% endfor %}"),
            "13579!");
  EXPECT_EQ(render("{% for x in range(6) %}{% if x == 1 %}{% continue %}{% endif %}"
                   "{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}"),
            "023");
  EXPECT_EQ(render("{% for x in [3,1,2]|sort %}{{ x }}{% endfor %}"), "123");
  // A set inside a loop stays in the loop; a namespace carries state out.
  EXPECT_EQ(render("{% set x = 1 %}{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set x = x + 1 %}"
                   "{% set ns.n = ns.n + i %}{% endfor %}{{ x }} {{ ns.n }}"),
            "1 3");
}

TEST(ChatTemplateEngine, ExpressionsFollowPython) {
  EXPECT_EQ(render("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 1 + 2.0 }}"),
            "3 -4 2 3.5 1024 3.0");
  EXPECT_EQ(render("{{ 'ab' ~ 1 ~ none }} {{ 'x' * 3 }} {{ [1] + [2] }}"), "ab1None xxx [1, 2]");
  EXPECT_EQ(render("{{ 'abcdef'[::-2] }} {{ 'abcdef'[1:3] }} {{ [1,2,3][-1] }} {{ 'héllo'[1] }}"), "fdb bc 3 é");
  EXPECT_EQ(render("{{ 'b' in 'abc' }} {{ 3 not in [1,2] }} {{ 'k' in {'k': 1} }} {{ 1 < 2 < 3 }}"),
            "True True True True");
  EXPECT_EQ(render("{{ none }} {{ true }} {{ {'a': [1, 'x', none]} }} {{ (1,) }}"), "None True {'a': [1, 'x', None]} (1,)");
  EXPECT_EQ(render("{{ 'y' if 0 else 'n' }}{{ 'z' if false }}|{{ 0 or 'd' }}|{{ 1 and 'e' }}"), "n|d|e");
  EXPECT_EQ(render("{{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1e-5 }} {{ 100.0 }}"), "0.30000000000000004 1e+20 1e-05 100.0");
  EXPECT_EQ(render("{{ '  a b  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ 'a,b'.split(',') }}|{{ 'a b'.split() }}"),
            "a b|a|['a', 'b']|['a', 'b']");
  EXPECT_EQ(render("{{ 'abc'.startswith('a') }} {{ 'abc'.endswith(('x', 'c')) }} {{ 'ab'.find('b') }} "
                   "{{ 'hello world'.title() }} {{ 'aXa'.replace('a', 'b') }}"),
            "True True 1 Hello World bXb");
  EXPECT_EQ(render("{{ d.get('x', 5) }} {{ d.keys()|list }} {{ d.missing is defined }}", {{"d", {{"k", 1}}}}),
            "5 ['k'] False");
}

TEST(ChatTemplateEngine, Filters) {
  EXPECT_EQ(render("{{ 'abc'|length }} {{ '  x '|trim }} {{ 'ab'|upper }} {{ 'hello wORLD'|title }} "
                   "{{ 'aBC'|capitalize }}"),
            "3 x AB Hello World Abc");
  EXPECT_EQ(render("{{ [1,2]|join('-') }} {{ [3,4]|first }} {{ [3,4]|last }} {{ u|default('d') }} {{ ''|d('e', true) }}"),
            "1-2 3 4 d e");
  EXPECT_EQ(render("{{ m|selectattr('r', 'equalto', 'u')|map(attribute='c')|list }} {{ m|rejectattr('r', '==', 'u')|list|length }}",
                   {{"m", ojson::array({{{"r", "u"}, {"c", 1}}, {{"r", "a"}, {"c", 2}}})}}),
            "[1] 1");
  EXPECT_EQ(render("{{ {'a': 'é', 'b': [1, 2.5, none, true]}|tojson }}"), R"({"a": "é", "b": [1, 2.5, null, true]})");
  EXPECT_EQ(render("{{ {'a': [1]}|tojson(indent=2) }}"), "{\n  \"a\": [\n    1\n  ]\n}");
  EXPECT_EQ(render("{{ '<&>'|e }} {{ ('<'|safe) + '<' }} {{ 5|string + 'x' }} {{ '42.7'|int }} {{ '2.5'|float }}"),
            "&lt;&amp;&gt; <&lt; 5x 42 2.5");
  EXPECT_EQ(render("{{ 'a\nb'|indent(2) }}|{{ [1,2,1]|unique|list }}|{{ {'b': 1, 'a': 2}|dictsort }}"),
            "a\n  b|[1, 2]|[('a', 2), ('b', 1)]");
  EXPECT_EQ(render("{{ [1,2]|reverse|list }} {{ 2.5|round }} {{ 3.14159|round(2) }} {{ -3|abs }} {{ [1,2,3]|batch(2)|list }}"),
            "[2, 1] 2.0 3.14 3 [[1, 2], [3]]");
  EXPECT_EQ(render("{{ d|items|list }}", {{"d", {{"k", "v"}}}}), "[('k', 'v')]");
}

TEST(ChatTemplateEngine, Tests) {
  EXPECT_EQ(render("{{ x is defined }}{{ x is undefined }}{{ none is none }}{{ 's' is string }}{{ 1 is number }}"
                   "{{ {} is mapping }}{{ [] is iterable }}{{ 's' is sequence }}{{ true is boolean }}"
                   "{{ false is false }}{{ true is true }}{{ 2 is equalto 2 }}{{ 1 is not none }}"),
            "FalseTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrue");
}

TEST(ChatTemplateEngine, MacrosAndBlockSet) {
  EXPECT_EQ(render("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}"
                   "{{ greet('a') }} {{ greet('b', punct='?') }}"),
            "Hi a! Hi b?");
  EXPECT_EQ(render("{% set x %}in{{ 1 + 1 }}{% endset %}[{{ x }}]"), "[in2]");
}

TEST(ChatTemplateEngine, Errors) {
  EXPECT_EQ(render_error("{{ raise_exception('boom') }}"), "[chat_template] line 1: boom");
  EXPECT_EQ(render_error("a\n{{ nope() }}"), "[chat_template] line 2: 'nope' is undefined");
  EXPECT_EQ(render_error("{{ x.y }}"), "[chat_template] line 1: 'x' is undefined");
  EXPECT_EQ(render_error("{{ 'a' + 1 }}"), "[chat_template] line 1: can only concatenate str (not \"int\") to str");
  EXPECT_EQ(render_error("{% if %}"), "[chat_template] line 1: expected an expression, got '%}'");
  EXPECT_EQ(render_error("{% for x in y %}"), "[chat_template] line 1: unexpected end of template, expected 'endfor'");
  EXPECT_EQ(render_error("\n\n{% include 'x' %}"), "[chat_template] line 3: the 'include' tag is not supported");
  EXPECT_EQ(render_error("{{ 1|nosuch }}"), "[chat_template] line 1: No filter named 'nosuch'.");
  EXPECT_EQ(render_error("{% break %}"), "[chat_template] line 1: 'break' outside of a loop");
  EXPECT_EQ(render_error("{{ [1].append(2) }}"), "[chat_template] line 1: access to attribute 'append' of 'list' object is unsafe.");
  EXPECT_EQ(render_error("{{ 'x' "), "[chat_template] line 1: unexpected end of template, expected '}}'");
}
