#include "graphql/parser.hpp"

#include <string>

#include "graphql/lexer.hpp"

namespace gh::graphql {
namespace {

// Recursive descent over the lexer with one token of lookahead. Every parse_* returns false after
// recording the first error; callers unwind without further work.
class Parser {
 public:
  Parser(std::string_view source, const ParseLimits& limits) : m_lexer(source), m_limits(limits) {}

  bool start() { return advance(); }

  bool document(Document& doc, DocumentKind kind) {
    if (at(TokenKind::end)) return fail_here("Unexpected <EOF>.");
    while (!at(TokenKind::end)) {
      Definition def;
      if (!definition(def, kind)) return false;
      doc.definitions.push_back(std::move(def));
    }
    return true;
  }

  bool single_value(ValuePtr& out) {
    if (!value(out, false)) return false;
    if (!at(TokenKind::end)) return unexpected();
    return true;
  }

  const GraphQLError& error() const { return m_error; }

 private:
  // Token handling.

  bool advance() {
    if (++m_tokens > m_limits.max_tokens) {
      return fail_at(m_tok.loc, "Document contains more than " + std::to_string(m_limits.max_tokens) + " tokens.",
                     "DOCUMENT_TOO_LARGE");
    }
    auto t = m_lexer.next();
    if (!t) {
      m_error = m_lexer.error();
      return false;
    }
    m_tok = std::move(*t);
    return true;
  }
  bool at(TokenKind kind) const { return m_tok.kind == kind; }
  bool at_keyword(std::string_view word) const { return m_tok.kind == TokenKind::name && m_tok.value == word; }

  bool fail_at(Location loc, std::string message, std::string code = "GRAPHQL_PARSE_FAILED") {
    if (m_failed) return false;
    m_failed = true;
    m_error = GraphQLError{std::move(message), {loc}, {}, std::move(code)};
    if (m_error.code == "GRAPHQL_PARSE_FAILED") m_error.message = "Syntax Error: " + m_error.message;
    return false;
  }
  bool fail_here(std::string message) { return fail_at(m_tok.loc, std::move(message)); }

  std::string token_text() const {
    switch (m_tok.kind) {
      case TokenKind::name:
        return "Name \"" + m_tok.value + "\"";
      case TokenKind::int_value:
        return "Int \"" + m_tok.value + "\"";
      case TokenKind::float_value:
        return "Float \"" + m_tok.value + "\"";
      case TokenKind::string_value:
        return "String";
      case TokenKind::block_string:
        return "BlockString";
      default:
        return describe(m_tok.kind);
    }
  }
  bool unexpected() { return fail_here("Unexpected " + token_text() + "."); }

  bool expect(TokenKind kind) {
    if (!at(kind)) return fail_here(std::string("Expected ") + describe(kind) + ", found " + token_text() + ".");
    return advance();
  }
  bool skip(TokenKind kind, bool& skipped) {
    skipped = at(kind);
    return skipped ? advance() : true;
  }
  bool expect_keyword(std::string_view word) {
    if (!at_keyword(word)) return fail_here("Expected \"" + std::string(word) + "\", found " + token_text() + ".");
    return advance();
  }
  bool name(std::string& out) {
    if (!at(TokenKind::name)) return fail_here("Expected Name, found " + token_text() + ".");
    out = m_tok.value;
    return advance();
  }

  struct DepthGuard {
    Parser& p;
    bool ok;
    explicit DepthGuard(Parser& parser) : p(parser), ok(++parser.m_depth <= parser.m_limits.max_depth) {
      if (!ok) {
        p.fail_at(p.m_tok.loc,
                  "Document nesting exceeds the maximum depth of " + std::to_string(p.m_limits.max_depth) + ".",
                  "DOCUMENT_TOO_DEEP");
      }
    }
    ~DepthGuard() { --p.m_depth; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
  };

  // Definitions.

  bool definition(Definition& def, DocumentKind kind) {
    const bool executable_allowed = kind != DocumentKind::type_system;
    const bool sdl_allowed = kind != DocumentKind::executable;
    if (at(TokenKind::brace_l)) {
      if (!executable_allowed) return unexpected();
      OperationDefinition op;
      op.loc = m_tok.loc;
      op.selections = std::make_shared<SelectionSet>();
      if (!selection_set(*op.selections)) return false;
      def.node = std::move(op);
      return true;
    }
    // Descriptions precede type system definitions only.
    std::string description;
    bool has_description = false;
    if (at(TokenKind::string_value) || at(TokenKind::block_string)) {
      if (!sdl_allowed) return unexpected();
      description = m_tok.value;
      has_description = true;
      if (!advance()) return false;
    }
    if (!at(TokenKind::name)) return unexpected();
    const auto& word = m_tok.value;
    if (!has_description && (word == "query" || word == "mutation" || word == "subscription")) {
      if (!executable_allowed) return unexpected();
      OperationDefinition op;
      if (!operation(op)) return false;
      def.node = std::move(op);
      return true;
    }
    if (!has_description && word == "fragment") {
      if (!executable_allowed) return unexpected();
      FragmentDefinition frag;
      if (!fragment_definition(frag)) return false;
      def.node = std::move(frag);
      return true;
    }
    const bool extension = word == "extend";
    if (extension && has_description) return unexpected();
    if (word == "schema" || word == "scalar" || word == "type" || word == "interface" || word == "union" ||
        word == "enum" || word == "input" || word == "directive" || extension) {
      if (!sdl_allowed) return unexpected();
      return type_system_definition(def, std::move(description));
    }
    return unexpected();
  }

  bool operation(OperationDefinition& op) {
    op.loc = m_tok.loc;
    op.operation = m_tok.value == "query"      ? OperationType::query
                   : m_tok.value == "mutation" ? OperationType::mutation
                                               : OperationType::subscription;
    if (!advance()) return false;
    if (at(TokenKind::name) && !name(op.name)) return false;
    if (at(TokenKind::paren_l)) {
      if (!advance()) return false;
      if (at(TokenKind::paren_r)) return unexpected();
      while (!at(TokenKind::paren_r)) {
        VariableDefinition var;
        if (!variable_definition(var)) return false;
        op.variables.push_back(std::move(var));
      }
      if (!advance()) return false;
    }
    if (!directives(op.directives, false)) return false;
    op.selections = std::make_shared<SelectionSet>();
    return selection_set(*op.selections);
  }

  bool variable_definition(VariableDefinition& var) {
    var.loc = m_tok.loc;
    if (!expect(TokenKind::dollar) || !name(var.name) || !expect(TokenKind::colon) || !type_ref(var.type)) return false;
    bool has_default = false;
    if (!skip(TokenKind::equals, has_default)) return false;
    if (has_default) {
      ValuePtr v;
      if (!value(v, true)) return false;
      var.default_value = std::move(v);
    }
    return directives(var.directives, true);
  }

  bool fragment_definition(FragmentDefinition& frag) {
    frag.loc = m_tok.loc;
    if (!advance()) return false;
    if (at_keyword("on")) return unexpected();
    if (!name(frag.name) || !expect_keyword("on") || !name(frag.type_condition)) return false;
    if (!directives(frag.directives, false)) return false;
    frag.selections = std::make_shared<SelectionSet>();
    return selection_set(*frag.selections);
  }

  bool selection_set(SelectionSet& set) {
    DepthGuard guard(*this);
    if (!guard.ok) return false;
    if (!expect(TokenKind::brace_l)) return false;
    if (at(TokenKind::brace_r)) return unexpected();
    while (!at(TokenKind::brace_r)) {
      Selection sel;
      if (!selection(sel)) return false;
      set.push_back(std::move(sel));
    }
    return advance();
  }

  bool selection(Selection& sel) {
    if (at(TokenKind::spread)) {
      const auto loc = m_tok.loc;
      if (!advance()) return false;
      if (at(TokenKind::name) && m_tok.value != "on") {
        FragmentSpread spread;
        spread.loc = loc;
        if (!name(spread.name) || !directives(spread.directives, false)) return false;
        sel.node = std::move(spread);
        return true;
      }
      InlineFragment inline_fragment;
      inline_fragment.loc = loc;
      if (at_keyword("on")) {
        if (!advance() || !name(inline_fragment.type_condition)) return false;
      }
      if (!directives(inline_fragment.directives, false)) return false;
      inline_fragment.selections = std::make_shared<SelectionSet>();
      if (!selection_set(*inline_fragment.selections)) return false;
      sel.node = std::move(inline_fragment);
      return true;
    }
    Field field;
    field.loc = m_tok.loc;
    if (!name(field.name)) return false;
    bool aliased = false;
    if (!skip(TokenKind::colon, aliased)) return false;
    if (aliased) {
      field.alias = std::move(field.name);
      if (!name(field.name)) return false;
    }
    if (!arguments(field.arguments, false) || !directives(field.directives, false)) return false;
    if (at(TokenKind::brace_l)) {
      field.selections = std::make_shared<SelectionSet>();
      if (!selection_set(*field.selections)) return false;
    }
    sel.node = std::move(field);
    return true;
  }

  bool arguments(std::vector<Argument>& args, bool is_const) {
    if (!at(TokenKind::paren_l)) return true;
    if (!advance()) return false;
    if (at(TokenKind::paren_r)) return unexpected();
    while (!at(TokenKind::paren_r)) {
      Argument arg;
      arg.loc = m_tok.loc;
      if (!name(arg.name) || !expect(TokenKind::colon) || !value(arg.value, is_const)) return false;
      args.push_back(std::move(arg));
    }
    return advance();
  }

  bool directives(std::vector<Directive>& out, bool is_const) {
    while (at(TokenKind::at)) {
      Directive d;
      d.loc = m_tok.loc;
      if (!advance() || !name(d.name) || !arguments(d.arguments, is_const)) return false;
      out.push_back(std::move(d));
    }
    return true;
  }

  bool value(ValuePtr& out, bool is_const) {
    DepthGuard guard(*this);
    if (!guard.ok) return false;
    auto v = std::make_shared<Value>();
    v->loc = m_tok.loc;
    switch (m_tok.kind) {
      case TokenKind::bracket_l: {
        v->kind = Value::Kind::list;
        if (!advance()) return false;
        while (!at(TokenKind::bracket_r)) {
          ValuePtr item;
          if (!value(item, is_const)) return false;
          v->list.push_back(std::move(item));
        }
        if (!advance()) return false;
        break;
      }
      case TokenKind::brace_l: {
        v->kind = Value::Kind::object;
        if (!advance()) return false;
        while (!at(TokenKind::brace_r)) {
          std::string field_name;
          ValuePtr item;
          if (!name(field_name) || !expect(TokenKind::colon) || !value(item, is_const)) return false;
          v->fields.emplace_back(std::move(field_name), std::move(item));
        }
        if (!advance()) return false;
        break;
      }
      case TokenKind::int_value:
        v->kind = Value::Kind::int_value;
        v->text = m_tok.value;
        if (!advance()) return false;
        break;
      case TokenKind::float_value:
        v->kind = Value::Kind::float_value;
        v->text = m_tok.value;
        if (!advance()) return false;
        break;
      case TokenKind::string_value:
      case TokenKind::block_string:
        v->kind = Value::Kind::string_value;
        v->text = m_tok.value;
        if (!advance()) return false;
        break;
      case TokenKind::name:
        if (m_tok.value == "true" || m_tok.value == "false") {
          v->kind = Value::Kind::boolean;
          v->boolean = m_tok.value == "true";
        } else if (m_tok.value == "null") {
          v->kind = Value::Kind::null;
        } else {
          v->kind = Value::Kind::enum_value;
          v->text = m_tok.value;
        }
        if (!advance()) return false;
        break;
      case TokenKind::dollar:
        if (is_const) {
          if (!advance()) return false;
          if (at(TokenKind::name))
            return fail_at(v->loc, "Unexpected variable \"$" + m_tok.value + "\" in constant value.");
          return unexpected();
        }
        v->kind = Value::Kind::variable;
        if (!advance() || !name(v->text)) return false;
        break;
      default:
        return unexpected();
    }
    out = std::move(v);
    return true;
  }

  bool type_ref(TypeRefPtr& out) {
    DepthGuard guard(*this);
    if (!guard.ok) return false;
    auto t = std::make_shared<TypeRef>();
    t->loc = m_tok.loc;
    if (at(TokenKind::bracket_l)) {
      if (!advance()) return false;
      t->kind = TypeRef::Kind::list;
      if (!type_ref(t->of) || !expect(TokenKind::bracket_r)) return false;
    } else {
      t->kind = TypeRef::Kind::named;
      if (!name(t->name)) return false;
    }
    if (at(TokenKind::bang)) {
      auto wrapped = std::make_shared<TypeRef>();
      wrapped->loc = t->loc;
      wrapped->kind = TypeRef::Kind::non_null;
      wrapped->of = std::move(t);
      t = std::move(wrapped);
      if (!advance()) return false;
    }
    out = std::move(t);
    return true;
  }

  // Type system definitions.

  bool optional_description(std::string& out) {
    if (at(TokenKind::string_value) || at(TokenKind::block_string)) {
      out = m_tok.value;
      return advance();
    }
    return true;
  }

  bool input_value_definitions(std::vector<InputValueDefinition>& out, TokenKind open, TokenKind close) {
    if (!at(open)) return true;
    if (!advance()) return false;
    if (at(close)) return unexpected();
    while (!at(close)) {
      InputValueDefinition def;
      if (!optional_description(def.description)) return false;
      def.loc = m_tok.loc;
      if (!name(def.name) || !expect(TokenKind::colon) || !type_ref(def.type)) return false;
      bool has_default = false;
      if (!skip(TokenKind::equals, has_default)) return false;
      if (has_default && !value(def.default_value, true)) return false;
      if (!directives(def.directives, true)) return false;
      out.push_back(std::move(def));
    }
    return advance();
  }

  bool type_system_definition(Definition& def, std::string description) {
    const auto loc = m_tok.loc;
    bool extension = false;
    if (at_keyword("extend")) {
      extension = true;
      if (!advance()) return false;
    }
    if (at_keyword("schema")) {
      SchemaDefinition schema;
      schema.loc = loc;
      schema.description = std::move(description);
      if (!advance() || !directives(schema.directives, true) || !expect(TokenKind::brace_l)) return false;
      while (!at(TokenKind::brace_r)) {
        std::string op;
        std::string type;
        const auto op_loc = m_tok.loc;
        if (!name(op)) return false;
        if (op != "query" && op != "mutation" && op != "subscription") {
          return fail_at(op_loc, "Unexpected Name \"" + op + "\".");
        }
        if (!expect(TokenKind::colon) || !name(type)) return false;
        const auto kind = op == "query"      ? OperationType::query
                          : op == "mutation" ? OperationType::mutation
                                             : OperationType::subscription;
        schema.roots.emplace_back(kind, std::move(type));
      }
      if (!advance()) return false;
      def.node = std::move(schema);
      return true;
    }
    if (at_keyword("directive")) {
      if (extension) return unexpected();
      DirectiveDefinition d;
      d.loc = loc;
      d.description = std::move(description);
      if (!advance() || !expect(TokenKind::at) || !name(d.name)) return false;
      if (!input_value_definitions(d.arguments, TokenKind::paren_l, TokenKind::paren_r)) return false;
      if (at_keyword("repeatable")) {
        d.repeatable = true;
        if (!advance()) return false;
      }
      if (!expect_keyword("on")) return false;
      bool pipe = false;
      if (!skip(TokenKind::pipe, pipe)) return false;
      do {
        std::string location;
        if (!name(location)) return false;
        d.locations.push_back(std::move(location));
        if (!skip(TokenKind::pipe, pipe)) return false;
      } while (pipe);
      def.node = std::move(d);
      return true;
    }
    TypeDefinition t;
    t.loc = loc;
    t.extension = extension;
    t.description = std::move(description);
    const std::string word = at(TokenKind::name) ? m_tok.value : std::string();
    if (word == "scalar") {
      t.kind = TypeDefinition::Kind::scalar;
    } else if (word == "type") {
      t.kind = TypeDefinition::Kind::object;
    } else if (word == "interface") {
      t.kind = TypeDefinition::Kind::interface_type;
    } else if (word == "union") {
      t.kind = TypeDefinition::Kind::union_type;
    } else if (word == "enum") {
      t.kind = TypeDefinition::Kind::enum_type;
    } else if (word == "input") {
      t.kind = TypeDefinition::Kind::input_object;
    } else {
      return unexpected();
    }
    if (!advance() || !name(t.name)) return false;
    if ((t.kind == TypeDefinition::Kind::object || t.kind == TypeDefinition::Kind::interface_type) &&
        at_keyword("implements")) {
      if (!advance()) return false;
      bool amp = false;
      if (!skip(TokenKind::amp, amp)) return false;
      do {
        std::string iface;
        if (!name(iface)) return false;
        t.interfaces.push_back(std::move(iface));
        if (!skip(TokenKind::amp, amp)) return false;
      } while (amp);
    }
    if (!directives(t.directives, true)) return false;
    switch (t.kind) {
      case TypeDefinition::Kind::scalar:
        break;
      case TypeDefinition::Kind::object:
      case TypeDefinition::Kind::interface_type:
        if (at(TokenKind::brace_l)) {
          if (!advance()) return false;
          if (at(TokenKind::brace_r)) return unexpected();
          while (!at(TokenKind::brace_r)) {
            FieldDefinition f;
            if (!optional_description(f.description)) return false;
            f.loc = m_tok.loc;
            if (!name(f.name) || !input_value_definitions(f.arguments, TokenKind::paren_l, TokenKind::paren_r) ||
                !expect(TokenKind::colon) || !type_ref(f.type) || !directives(f.directives, true)) {
              return false;
            }
            t.fields.push_back(std::move(f));
          }
          if (!advance()) return false;
        }
        break;
      case TypeDefinition::Kind::union_type:
        if (at(TokenKind::equals)) {
          if (!advance()) return false;
          bool pipe = false;
          if (!skip(TokenKind::pipe, pipe)) return false;
          do {
            std::string member;
            if (!name(member)) return false;
            t.members.push_back(std::move(member));
            if (!skip(TokenKind::pipe, pipe)) return false;
          } while (pipe);
        }
        break;
      case TypeDefinition::Kind::enum_type:
        if (at(TokenKind::brace_l)) {
          if (!advance()) return false;
          if (at(TokenKind::brace_r)) return unexpected();
          while (!at(TokenKind::brace_r)) {
            EnumValueDefinition v;
            if (!optional_description(v.description)) return false;
            v.loc = m_tok.loc;
            if (at_keyword("true") || at_keyword("false") || at_keyword("null")) {
              return fail_here("Name \"" + m_tok.value + "\" is reserved and cannot be used for an enum value.");
            }
            if (!name(v.name) || !directives(v.directives, true)) return false;
            t.values.push_back(std::move(v));
          }
          if (!advance()) return false;
        }
        break;
      case TypeDefinition::Kind::input_object:
        if (!input_value_definitions(t.input_fields, TokenKind::brace_l, TokenKind::brace_r)) return false;
        break;
    }
    def.node = std::move(t);
    return true;
  }

  Lexer m_lexer;
  const ParseLimits& m_limits;
  Token m_tok;
  std::size_t m_tokens = 0;
  std::size_t m_depth = 0;
  bool m_failed = false;
  GraphQLError m_error;
};

}  // namespace

ParseResult parse(std::string_view source, const ParseLimits& limits, DocumentKind kind) {
  ParseResult result;
  if (source.size() > limits.max_bytes) {
    result.error = GraphQLError{"Document of " + std::to_string(source.size()) + " bytes exceeds the limit of " +
                                    std::to_string(limits.max_bytes) + " bytes.",
                                {},
                                {},
                                "DOCUMENT_TOO_LARGE"};
    return result;
  }
  Parser parser(source, limits);
  Document doc;
  if (!parser.start() || !parser.document(doc, kind)) {
    result.error = parser.error();
    return result;
  }
  result.document = std::move(doc);
  return result;
}

std::optional<ValuePtr> parse_value(std::string_view source) {
  ParseLimits limits;
  Parser parser(source, limits);
  ValuePtr v;
  if (!parser.start() || !parser.single_value(v)) return std::nullopt;
  return v;
}

}  // namespace gh::graphql
