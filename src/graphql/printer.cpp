#include "graphql/printer.hpp"

#include "graphql/schema.hpp"

namespace gh::graphql {
namespace {

void print_arguments(std::string& out, const std::vector<Argument>& args) {
  if (args.empty()) return;
  out += '(';
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (i > 0) out += ", ";
    out += args[i].name + ": " + print_value(*args[i].value);
  }
  out += ')';
}

void print_directives(std::string& out, const std::vector<Directive>& directives) {
  for (const auto& d : directives) {
    out += " @" + d.name;
    print_arguments(out, d.arguments);
  }
}

void print_selections(std::string& out, const SelectionSet& set, int indent) {
  out += "{\n";
  const std::string pad(static_cast<std::size_t>(indent + 1) * 2, ' ');
  for (const auto& sel : set) {
    out += pad;
    if (const auto* field = std::get_if<Field>(&sel.node)) {
      if (!field->alias.empty()) out += field->alias + ": ";
      out += field->name;
      print_arguments(out, field->arguments);
      print_directives(out, field->directives);
      if (field->selections) {
        out += ' ';
        print_selections(out, *field->selections, indent + 1);
      }
    } else if (const auto* spread = std::get_if<FragmentSpread>(&sel.node)) {
      out += "..." + spread->name;
      print_directives(out, spread->directives);
    } else {
      const auto& inline_fragment = std::get<InlineFragment>(sel.node);
      out += "...";
      if (!inline_fragment.type_condition.empty()) out += " on " + inline_fragment.type_condition;
      print_directives(out, inline_fragment.directives);
      out += ' ';
      print_selections(out, *inline_fragment.selections, indent + 1);
    }
    out += '\n';
  }
  out += std::string(static_cast<std::size_t>(indent) * 2, ' ') + "}";
}

}  // namespace

std::string print(const Document& document) {
  std::string out;
  for (const auto& def : document.definitions) {
    if (const auto* op = std::get_if<OperationDefinition>(&def.node)) {
      if (!out.empty()) out += "\n";
      const bool shorthand =
          op->operation == OperationType::query && op->name.empty() && op->variables.empty() && op->directives.empty();
      if (!shorthand) {
        out += to_string(op->operation);
        if (!op->name.empty()) out += " " + op->name;
        if (!op->variables.empty()) {
          out += '(';
          for (std::size_t i = 0; i < op->variables.size(); ++i) {
            const auto& v = op->variables[i];
            if (i > 0) out += ", ";
            out += "$" + v.name + ": " + to_string(*v.type);
            if (v.default_value) out += " = " + print_value(*v.default_value);
            print_directives(out, v.directives);
          }
          out += ')';
        }
        print_directives(out, op->directives);
        out += ' ';
      }
      print_selections(out, *op->selections, 0);
      out += '\n';
    } else if (const auto* frag = std::get_if<FragmentDefinition>(&def.node)) {
      if (!out.empty()) out += "\n";
      out += "fragment " + frag->name + " on " + frag->type_condition;
      print_directives(out, frag->directives);
      out += ' ';
      print_selections(out, *frag->selections, 0);
      out += '\n';
    }
  }
  return out;
}

}  // namespace gh::graphql
