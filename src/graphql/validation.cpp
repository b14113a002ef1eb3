#include "graphql/validation.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "graphql/coercion.hpp"

namespace gh::graphql {
namespace {

namespace json = boost::json;

const char* k_code = "GRAPHQL_VALIDATION_FAILED";

std::string quoted(const std::string& s) {
  return "\"" + s + "\"";
}

/// A use of a variable: where, and which type the position expects.
struct VariableUsage {
  std::string name;
  Location loc;
  TypeRefPtr expected;  ///< null when the position is unknown (an invalid document)
  bool position_has_default = false;
};

/// What one definition's walk found.
struct DefinitionFacts {
  std::vector<VariableUsage> usages;
  std::vector<std::string> spreads;
};

/// One field as collected for OverlappingFieldsCanBeMerged.
struct CollectedField {
  const NamedType* parent = nullptr;
  const Field* field = nullptr;
  const FieldDef* def = nullptr;
};
/// Fields by response key, in first-seen order, with an index so that collecting stays linear.
struct FieldMap {
  std::vector<std::pair<std::string, std::vector<CollectedField>>> entries;
  std::unordered_map<std::string_view, std::size_t> index;  ///< views into the document

  std::vector<CollectedField>& slot(const std::string& key) {
    auto [it, inserted] = index.emplace(std::string_view(key), entries.size());
    if (inserted) entries.emplace_back(key, std::vector<CollectedField>{});
    return entries[it->second].second;
  }
  const std::vector<CollectedField>* find(const std::string& key) const {
    auto it = index.find(std::string_view(key));
    return it == index.end() ? nullptr : &entries[it->second].second;
  }
  std::size_t size() const { return entries.size(); }
};

class Validator {
 public:
  Validator(const Schema& schema, const Document& doc) : m_schema(schema), m_doc(doc) {}

  std::vector<GraphQLError> run() {
    index_fragments();
    check_operations();
    for (const auto& def : m_doc.definitions) {
      if (const auto* op = std::get_if<OperationDefinition>(&def.node)) {
        DefinitionFacts facts;
        m_facts = &facts;
        m_variables = &op->variables;
        check_variable_definitions(*op);
        // A missing root type is an execution error (as graphql-js has it), not a validation one.
        const auto* root = m_schema.root(op->operation);
        check_directives(op->directives, op->operation == OperationType::query      ? "QUERY"
                                         : op->operation == OperationType::mutation ? "MUTATION"
                                                                                    : "SUBSCRIPTION");
        selection_set(*op->selections, root);
        m_op_facts.emplace_back(op, std::move(facts));
        m_variables = nullptr;
      } else if (const auto* frag = std::get_if<FragmentDefinition>(&def.node)) {
        DefinitionFacts facts;
        m_facts = &facts;
        check_directives(frag->directives, "FRAGMENT_DEFINITION");
        const auto* t = m_schema.type(frag->type_condition);
        if (t == nullptr) {
          error("Unknown type " + quoted(frag->type_condition) + ".", {frag->loc});
        } else if (!t->is_composite()) {
          error("Fragment " + quoted(frag->name) + " cannot condition on non composite type " +
                    quoted(frag->type_condition) + ".",
                {frag->loc});
          t = nullptr;
        }
        selection_set(*frag->selections, t);
        m_fragment_facts[frag->name] = std::move(facts);
      }
    }
    check_fragment_cycles();
    check_unused_fragments();
    check_operation_variables();
    return std::move(m_errors);
  }

 private:
  // At most k_max_errors are reported: a hostile document cannot make the response huge.
  static constexpr std::size_t k_max_errors = 100;
  void error(std::string message, std::vector<Location> locs) {
    if (m_errors.size() > k_max_errors) return;
    if (m_errors.size() == k_max_errors) {
      m_errors.push_back(
          GraphQLError{"Too many validation errors, error limit reached. Validation aborted.", {}, {}, k_code});
      return;
    }
    m_errors.push_back(GraphQLError{std::move(message), std::move(locs), {}, k_code});
  }

  void index_fragments() {
    for (const auto& def : m_doc.definitions) {
      if (const auto* frag = std::get_if<FragmentDefinition>(&def.node)) {
        if (m_fragments.contains(frag->name)) {
          error("There can be only one fragment named " + quoted(frag->name) + ".",
                {m_fragments[frag->name]->loc, frag->loc});
          continue;
        }
        m_fragments[frag->name] = frag;
      }
    }
  }

  void check_operations() {
    std::size_t count = 0;
    std::map<std::string, Location> names;
    for (const auto& def : m_doc.definitions) {
      const auto* op = std::get_if<OperationDefinition>(&def.node);
      if (op == nullptr) continue;
      ++count;
      if (op->name.empty()) continue;
      auto [it, inserted] = names.emplace(op->name, op->loc);
      if (!inserted) error("There can be only one operation named " + quoted(op->name) + ".", {it->second, op->loc});
    }
    for (const auto& def : m_doc.definitions) {
      const auto* op = std::get_if<OperationDefinition>(&def.node);
      if (op == nullptr) continue;
      if (op->name.empty() && count > 1) {
        error("This anonymous operation must be the only defined operation.", {op->loc});
      }
      if (op->operation == OperationType::subscription) {
        // SingleFieldSubscriptions: one root field, not an introspection field.
        std::set<std::string> keys;
        const auto* root = m_schema.root(OperationType::subscription);
        if (root != nullptr) {
          FieldMap fields;
          std::set<std::string> visited;
          collect_fields(*op->selections, root, fields, visited);
          if (fields.size() > 1) {
            error(op->name.empty() ? "Anonymous Subscription must select only one top level field."
                                   : "Subscription " + quoted(op->name) + " must select only one top level field.",
                  {op->loc});
          }
          for (const auto& [key, list] : fields.entries) {
            if (!list.empty() && list[0].field->name.rfind("__", 0) == 0) {
              error("Subscription must not select an introspection top level field.", {list[0].field->loc});
            }
          }
        }
      }
    }
  }

  void check_variable_definitions(const OperationDefinition& op) {
    std::map<std::string, Location> seen;
    for (const auto& var : op.variables) {
      auto [it, inserted] = seen.emplace(var.name, var.loc);
      if (!inserted)
        error("There can be only one variable named " + quoted("$" + var.name) + ".", {it->second, var.loc});
      const auto* t = m_schema.named(*var.type);
      if (t == nullptr) {
        const TypeRef* n = var.type.get();
        while (n->kind != TypeRef::Kind::named) n = n->of.get();
        error("Unknown type " + quoted(n->name) + ".", {var.type->loc});
        continue;
      }
      if (!t->is_input()) {
        error("Variable " + quoted("$" + var.name) + " cannot be non-input type " + quoted(to_string(*var.type)) + ".",
              {var.type->loc});
        continue;
      }
      if (var.default_value) {
        if (auto e = check_literal(m_schema, *var.default_value, *var.type)) error(*e, {var.default_value->loc});
      }
      check_directives(var.directives, "VARIABLE_DEFINITION");
    }
  }

  // Walks a selection set under a parent type (null when unknown: errors were reported already).
  void selection_set(const SelectionSet& set, const NamedType* parent) {
    if (parent != nullptr) check_overlaps(set, parent);
    for (const auto& sel : set) {
      if (const auto* field = std::get_if<Field>(&sel.node)) {
        visit_field(*field, parent);
      } else if (const auto* spread = std::get_if<FragmentSpread>(&sel.node)) {
        check_directives(spread->directives, "FRAGMENT_SPREAD");
        m_facts->spreads.push_back(spread->name);
        auto it = m_fragments.find(spread->name);
        if (it == m_fragments.end()) {
          error("Unknown fragment " + quoted(spread->name) + ".", {spread->loc});
          continue;
        }
        const auto* frag_type = m_schema.type(it->second->type_condition);
        if (parent != nullptr && frag_type != nullptr && frag_type->is_composite() &&
            !m_schema.types_overlap(*frag_type, *parent)) {
          error("Fragment " + quoted(spread->name) + " cannot be spread here as objects of type " +
                    quoted(parent->name) + " can never be of type " + quoted(frag_type->name) + ".",
                {spread->loc});
        }
      } else {
        const auto& inline_fragment = std::get<InlineFragment>(sel.node);
        check_directives(inline_fragment.directives, "INLINE_FRAGMENT");
        const NamedType* t = parent;
        if (!inline_fragment.type_condition.empty()) {
          t = m_schema.type(inline_fragment.type_condition);
          if (t == nullptr) {
            error("Unknown type " + quoted(inline_fragment.type_condition) + ".", {inline_fragment.loc});
          } else if (!t->is_composite()) {
            error("Fragment cannot condition on non composite type " + quoted(t->name) + ".", {inline_fragment.loc});
            t = nullptr;
          } else if (parent != nullptr && !m_schema.types_overlap(*t, *parent)) {
            error("Fragment cannot be spread here as objects of type " + quoted(parent->name) +
                      " can never be of type " + quoted(t->name) + ".",
                  {inline_fragment.loc});
          }
        }
        selection_set(*inline_fragment.selections, t);
      }
    }
  }

  void visit_field(const Field& field, const NamedType* parent) {
    check_directives(field.directives, "FIELD");
    const FieldDef* def = parent != nullptr ? m_schema.field_of(*parent, field.name) : nullptr;
    if (parent != nullptr && def == nullptr) {
      error("Cannot query field " + quoted(field.name) + " on type " + quoted(parent->name) + ".", {field.loc});
    }
    check_arguments(
        field.arguments, def ? &def->args : nullptr, field.loc,
        [&](const std::string& arg) {
          return "Unknown argument " + quoted(arg) + " on field " + quoted(parent->name + "." + field.name) + ".";
        },
        [&](const InputValue& arg) {
          return "Field " + quoted(field.name) + " argument " + quoted(arg.name) + " of type " +
                 quoted(to_string(*arg.type)) + " is required, but it was not provided.";
        });
    const NamedType* type = def ? m_schema.named(*def->type) : nullptr;
    if (type != nullptr) {
      if (type->is_leaf() && field.selections) {
        error("Field " + quoted(field.name) + " must not have a selection since type " + quoted(to_string(*def->type)) +
                  " has no subfields.",
              {field.loc});
      } else if (!type->is_leaf() && !field.selections) {
        error("Field " + quoted(field.name) + " of type " + quoted(to_string(*def->type)) +
                  " must have a selection of subfields. Did you mean \"" + field.name + " { ... }\"?",
              {field.loc});
      }
    }
    if (field.selections) selection_set(*field.selections, type != nullptr && type->is_composite() ? type : nullptr);
  }

  // KnownArgumentNames, UniqueArgumentNames, ProvidedRequiredArguments, ValuesOfCorrectType, and
  // the variable usages the arguments make.
  template <class Unknown, class Missing>
  void check_arguments(const std::vector<Argument>& args, const std::vector<InputValue>* defs, Location owner,
                       Unknown unknown_message, Missing missing_message) {
    std::map<std::string, Location> seen;
    for (const auto& arg : args) {
      auto [it, inserted] = seen.emplace(arg.name, arg.loc);
      if (!inserted) error("There can be only one argument named " + quoted(arg.name) + ".", {it->second, arg.loc});
      const InputValue* def = nullptr;
      if (defs != nullptr) {
        for (const auto& d : *defs) {
          if (d.name == arg.name) def = &d;
        }
        if (def == nullptr) error(unknown_message(arg.name), {arg.loc});
      }
      check_value(*arg.value, def ? def->type : nullptr, def != nullptr && def->default_value != nullptr);
    }
    if (defs == nullptr) return;
    for (const auto& d : *defs) {
      if (d.type->kind != TypeRef::Kind::non_null || d.default_value) continue;
      if (!seen.contains(d.name)) error(missing_message(d), {owner});
    }
  }

  // ValuesOfCorrectType on a literal, UniqueInputFieldNames, and variable usages inside it.
  void check_value(const Value& value, const TypeRefPtr& expected, bool has_default) {
    record_variables(value, expected, has_default);
    check_unique_input_fields(value);
    if (expected == nullptr) return;
    if (auto e = check_literal(m_schema, value, *expected)) error(*e, {value.loc});
  }

  void check_unique_input_fields(const Value& value) {
    if (value.kind == Value::Kind::object) {
      std::map<std::string, Location> seen;
      for (const auto& [name, v] : value.fields) {
        auto [it, inserted] = seen.emplace(name, v->loc);
        if (!inserted) error("There can be only one input field named " + quoted(name) + ".", {it->second, v->loc});
        check_unique_input_fields(*v);
      }
    } else if (value.kind == Value::Kind::list) {
      for (const auto& v : value.list) check_unique_input_fields(*v);
    }
  }

  void record_variables(const Value& value, const TypeRefPtr& expected, bool has_default) {
    if (value.kind == Value::Kind::variable) {
      m_facts->usages.push_back(VariableUsage{value.text, value.loc, expected, has_default});
    } else if (value.kind == Value::Kind::list) {
      TypeRefPtr item;
      if (expected) {
        const TypeRef* t = expected.get();
        if (t->kind == TypeRef::Kind::non_null) t = t->of.get();
        if (t->kind == TypeRef::Kind::list) item = t->of;
      }
      for (const auto& v : value.list) record_variables(*v, item, false);
    } else if (value.kind == Value::Kind::object) {
      const NamedType* t = expected ? m_schema.named(*expected) : nullptr;
      for (const auto& [name, v] : value.fields) {
        const InputValue* f = t != nullptr && t->kind == TypeKind::input_object ? t->input_field(name) : nullptr;
        record_variables(*v, f ? f->type : nullptr, f != nullptr && f->default_value != nullptr);
      }
    }
  }

  void check_directives(const std::vector<Directive>& directives, const char* location) {
    std::map<std::string, Location> seen;
    for (const auto& d : directives) {
      const auto* def = m_schema.directive(d.name);
      if (def == nullptr) {
        error("Unknown directive " + quoted("@" + d.name) + ".", {d.loc});
        check_arguments(
            d.arguments, nullptr, d.loc, [](const std::string&) { return std::string(); },
            [](const InputValue&) { return std::string(); });
        continue;
      }
      if (std::find(def->locations.begin(), def->locations.end(), location) == def->locations.end()) {
        error("Directive " + quoted("@" + d.name) + " may not be used on " + location + ".", {d.loc});
      }
      if (!def->repeatable) {
        auto [it, inserted] = seen.emplace(d.name, d.loc);
        if (!inserted) {
          error("The directive " + quoted("@" + d.name) + " can only be used once at this location.",
                {it->second, d.loc});
        }
      }
      check_arguments(
          d.arguments, &def->args, d.loc,
          [&](const std::string& arg) {
            return "Unknown argument " + quoted(arg) + " on directive " + quoted("@" + d.name) + ".";
          },
          [&](const InputValue& arg) {
            return "Directive " + quoted("@" + d.name) + " argument " + quoted(arg.name) + " of type " +
                   quoted(to_string(*arg.type)) + " is required, but it was not provided.";
          });
    }
  }

  void check_fragment_cycles() {
    // Depth-first search over spreads; a back edge is a cycle, reported once per fragment.
    std::set<std::string> done;
    std::vector<std::string> stack;
    std::set<std::string> on_stack;
    std::function<void(const std::string&)> visit = [&](const std::string& name) {
      if (done.contains(name)) return;
      stack.push_back(name);
      on_stack.insert(name);
      auto it = m_fragment_facts.find(name);
      if (it != m_fragment_facts.end()) {
        for (const auto& spread : it->second.spreads) {
          if (on_stack.contains(spread)) {
            auto start = std::find(stack.begin(), stack.end(), spread);
            std::string via;
            for (auto s = start + 1; s != stack.end(); ++s) via += (via.empty() ? "" : ", ") + quoted(*s);
            const auto frag = m_fragments.find(spread);
            error("Cannot spread fragment " + quoted(spread) + " within itself" + (via.empty() ? "" : " via " + via) +
                      ".",
                  {frag != m_fragments.end() ? frag->second->loc : Location{}});
            m_has_cycles = true;
            continue;
          }
          if (m_fragments.contains(spread)) visit(spread);
        }
      }
      on_stack.erase(name);
      stack.pop_back();
      done.insert(name);
    };
    for (const auto& [name, frag] : m_fragments) visit(name);
  }

  // Fragments reachable from a definition's spreads.
  std::set<std::string> reachable_fragments(const DefinitionFacts& facts) {
    std::set<std::string> out;
    std::vector<std::string> todo(facts.spreads.begin(), facts.spreads.end());
    while (!todo.empty()) {
      auto name = std::move(todo.back());
      todo.pop_back();
      if (!m_fragments.contains(name) || !out.insert(name).second) continue;
      const auto& more = m_fragment_facts[name].spreads;
      todo.insert(todo.end(), more.begin(), more.end());
    }
    return out;
  }

  void check_unused_fragments() {
    std::set<std::string> used;
    for (const auto& [op, facts] : m_op_facts) {
      auto r = reachable_fragments(facts);
      used.insert(r.begin(), r.end());
    }
    for (const auto& def : m_doc.definitions) {
      const auto* frag = std::get_if<FragmentDefinition>(&def.node);
      if (frag != nullptr && !used.contains(frag->name)) {
        error("Fragment " + quoted(frag->name) + " is never used.", {frag->loc});
      }
    }
  }

  void check_operation_variables() {
    for (const auto& [op, facts] : m_op_facts) {
      std::vector<const VariableUsage*> usages;
      for (const auto& u : facts.usages) usages.push_back(&u);
      for (const auto& name : reachable_fragments(facts)) {
        for (const auto& u : m_fragment_facts[name].usages) usages.push_back(&u);
      }
      std::set<std::string> used;
      std::set<std::string> reported;
      for (const auto* u : usages) {
        used.insert(u->name);
        const VariableDefinition* def = nullptr;
        for (const auto& v : op->variables) {
          if (v.name == u->name) def = &v;
        }
        if (def == nullptr) {
          if (reported.insert(u->name).second || true) {
            error(op->name.empty()
                      ? "Variable " + quoted("$" + u->name) + " is not defined."
                      : "Variable " + quoted("$" + u->name) + " is not defined by operation " + quoted(op->name) + ".",
                  {u->loc, op->loc});
          }
          continue;
        }
        if (u->expected == nullptr || m_schema.named(*def->type) == nullptr) continue;
        // VariablesInAllowedPosition: a nullable variable may fill a non-null position only when
        // either side has a default.
        const TypeRef* var_type = def->type.get();
        const TypeRef* location = u->expected.get();
        TypeRef stripped;
        if (location->kind == TypeRef::Kind::non_null && var_type->kind != TypeRef::Kind::non_null) {
          const bool has_default =
              (def->default_value && def->default_value->kind != Value::Kind::null) || u->position_has_default;
          if (!has_default) {
            error("Variable " + quoted("$" + u->name) + " of type " + quoted(to_string(*var_type)) +
                      " used in position expecting type " + quoted(to_string(*location)) + ".",
                  {def->loc, u->loc});
            continue;
          }
          location = location->of.get();
        }
        if (!type_fits(*var_type, *location)) {
          error("Variable " + quoted("$" + u->name) + " of type " + quoted(to_string(*var_type)) +
                    " used in position expecting type " + quoted(to_string(*location)) + ".",
                {def->loc, u->loc});
        }
      }
      for (const auto& v : op->variables) {
        if (!used.contains(v.name)) {
          error(op->name.empty()
                    ? "Variable " + quoted("$" + v.name) + " is never used."
                    : "Variable " + quoted("$" + v.name) + " is never used in operation " + quoted(op->name) + ".",
                {v.loc});
        }
      }
    }
  }

  // Input type compatibility: the variable's type is a subtype of the location's.
  static bool type_fits(const TypeRef& var, const TypeRef& loc) {
    if (loc.kind == TypeRef::Kind::non_null) {
      return var.kind == TypeRef::Kind::non_null && type_fits(*var.of, *loc.of);
    }
    if (var.kind == TypeRef::Kind::non_null) return type_fits(*var.of, loc);
    if (loc.kind == TypeRef::Kind::list) return var.kind == TypeRef::Kind::list && type_fits(*var.of, *loc.of);
    if (var.kind == TypeRef::Kind::list) return false;
    return var.name == loc.name;
  }

  // OverlappingFieldsCanBeMerged.

  void collect_fields(const SelectionSet& set, const NamedType* parent, FieldMap& out, std::set<std::string>& visited) {
    for (const auto& sel : set) {
      if (const auto* field = std::get_if<Field>(&sel.node)) {
        const FieldDef* def = parent != nullptr ? m_schema.field_of(*parent, field->name) : nullptr;
        out.slot(field->response_key()).push_back(CollectedField{parent, field, def});
      } else if (const auto* spread = std::get_if<FragmentSpread>(&sel.node)) {
        auto it = m_fragments.find(spread->name);
        if (it == m_fragments.end() || !visited.insert(spread->name).second) continue;
        collect_fields(*it->second->selections, m_schema.type(it->second->type_condition), out, visited);
      } else {
        const auto& inline_fragment = std::get<InlineFragment>(sel.node);
        const NamedType* t =
            inline_fragment.type_condition.empty() ? parent : m_schema.type(inline_fragment.type_condition);
        collect_fields(*inline_fragment.selections, t, out, visited);
      }
    }
  }

  static bool same_arguments(const Field& a, const Field& b) {
    if (a.arguments.size() != b.arguments.size()) return false;
    for (const auto& arg : a.arguments) {
      auto it =
          std::find_if(b.arguments.begin(), b.arguments.end(), [&](const Argument& o) { return o.name == arg.name; });
      if (it == b.arguments.end() || print_value(*arg.value) != print_value(*it->value)) return false;
    }
    return true;
  }

  bool types_conflict(const TypeRef& a, const TypeRef& b) const {
    if (a.kind == TypeRef::Kind::list || b.kind == TypeRef::Kind::list) {
      return a.kind != b.kind || types_conflict(*a.of, *b.of);
    }
    if (a.kind == TypeRef::Kind::non_null || b.kind == TypeRef::Kind::non_null) {
      return a.kind != b.kind || types_conflict(*a.of, *b.of);
    }
    const auto* ta = m_schema.type(a.name);
    const auto* tb = m_schema.type(b.name);
    if (ta == nullptr || tb == nullptr) return false;
    if (ta->is_leaf() || tb->is_leaf()) return ta != tb;
    return false;
  }

  // Whether two same-keyed fields conflict; `exclusive` when their parents can never be the same object.
  std::optional<std::string> fields_conflict(const CollectedField& a, const CollectedField& b, bool parents_exclusive,
                                             int depth) {
    const bool exclusive =
        parents_exclusive || (a.parent != nullptr && b.parent != nullptr && a.parent != b.parent &&
                              a.parent->kind == TypeKind::object && b.parent->kind == TypeKind::object);
    if (!exclusive) {
      if (a.field->name != b.field->name) {
        return quoted(a.field->name) + " and " + quoted(b.field->name) + " are different fields";
      }
      if (!same_arguments(*a.field, *b.field)) return "they have differing arguments";
    }
    if (a.def != nullptr && b.def != nullptr && types_conflict(*a.def->type, *b.def->type)) {
      return "they return conflicting types " + quoted(to_string(*a.def->type)) + " and " +
             quoted(to_string(*b.def->type));
    }
    if (a.field->selections && b.field->selections && depth < 32) {
      FieldMap merged;
      std::set<std::string> visited;
      collect_fields(*a.field->selections, a.def ? m_schema.named(*a.def->type) : nullptr, merged, visited);
      const auto first_count = merged.size();
      (void)first_count;
      FieldMap other;
      std::set<std::string> visited_other;
      collect_fields(*b.field->selections, b.def ? m_schema.named(*b.def->type) : nullptr, other, visited_other);
      for (const auto& [key, list_a] : merged.entries) {
        const auto* list_b = other.find(key);
        if (list_b == nullptr) continue;
        for (const auto& fa : list_a) {
          for (const auto& fb : *list_b) {
            if (auto sub = fields_conflict(fa, fb, exclusive, depth + 1)) {
              return "subfields " + quoted(key) + " conflict because " + *sub;
            }
          }
        }
      }
    }
    return std::nullopt;
  }

  void check_overlaps(const SelectionSet& set, const NamedType* parent) {
    FieldMap fields;
    std::set<std::string> visited;
    collect_fields(set, parent, fields, visited);
    for (const auto& [key, list] : fields.entries) {
      if (list.size() < 2) continue;
      // Identical leaf selections (same parent, name and arguments) are compared once, so that
      // `{ a a a ... }` costs linear time; the remaining representatives are compared pairwise,
      // up to a bound past which each is only compared with the first.
      std::vector<const CollectedField*> reps;
      std::set<std::tuple<const NamedType*, std::string, std::string>> seen;
      for (const auto& f : list) {
        if (!f.field->selections) {
          std::string args;
          for (const auto& a : f.field->arguments) args += a.name + ":" + print_value(*a.value) + ",";
          if (!seen.emplace(f.parent, f.field->name, std::move(args)).second) continue;
        }
        reps.push_back(&f);
      }
      constexpr std::size_t k_max_pairs = 2000;
      std::size_t pairs = 0;
      bool reported = false;
      for (std::size_t i = 0; i < reps.size() && !reported; ++i) {
        for (std::size_t j = i + 1; j < reps.size() && !reported; ++j) {
          if (i > 0 && ++pairs > k_max_pairs) break;
          if (reps[i]->field == reps[j]->field) continue;
          if (auto why = fields_conflict(*reps[i], *reps[j], false, 0)) {
            error("Fields " + quoted(key) + " conflict because " + *why +
                      ". Use different aliases on the fields to fetch both if this was intentional.",
                  {reps[i]->field->loc, reps[j]->field->loc});
            reported = true;
          }
        }
      }
    }
  }

  const Schema& m_schema;
  const Document& m_doc;
  std::map<std::string, const FragmentDefinition*> m_fragments;
  std::map<std::string, DefinitionFacts> m_fragment_facts;
  std::vector<std::pair<const OperationDefinition*, DefinitionFacts>> m_op_facts;
  DefinitionFacts* m_facts = nullptr;
  const std::vector<VariableDefinition>* m_variables = nullptr;
  bool m_has_cycles = false;
  std::vector<GraphQLError> m_errors;
};

// Cost analysis with fragments expanded and memoized per (fragment, type).
class Measurer {
 public:
  Measurer(const Schema& schema, const Document& doc, const json::object& variables, const QueryLimits& limits)
      : m_schema(schema), m_variables(variables), m_limits(limits) {
    for (const auto& def : doc.definitions) {
      if (const auto* frag = std::get_if<FragmentDefinition>(&def.node)) m_fragments[frag->name] = frag;
    }
  }

  QueryCost selection_set(const SelectionSet& set, const NamedType* parent, int guard) {
    QueryCost cost;
    if (guard > 256) return cost;
    for (const auto& sel : set) {
      QueryCost part;
      if (const auto* field = std::get_if<Field>(&sel.node)) {
        part.complexity = 1;
        part.aliases = field->alias.empty() ? 0 : 1;
        part.depth = 1;
        if (field->selections) {
          const FieldDef* def = parent != nullptr ? m_schema.field_of(*parent, field->name) : nullptr;
          const NamedType* type = def ? m_schema.named(*def->type) : nullptr;
          auto inner = selection_set(*field->selections, type, guard + 1);
          // Introspection is bounded by the schema's size: its lists do not multiply.
          const bool introspection = field->name.rfind("__", 0) == 0 || parent->name.rfind("__", 0) == 0;
          const auto n = def && !introspection ? multiplier(*field, *def) : 1;
          part.complexity = saturating_add(1, saturating_mul(inner.complexity, n));
          part.aliases = saturating_add(part.aliases, saturating_mul(inner.aliases, 1));
          part.depth = inner.depth + 1;
        }
      } else if (const auto* spread = std::get_if<FragmentSpread>(&sel.node)) {
        auto it = m_fragments.find(spread->name);
        if (it == m_fragments.end()) continue;
        auto memo = m_memo.find(spread->name);
        if (memo != m_memo.end()) {
          part = memo->second;
        } else {
          if (!m_active.insert(spread->name).second) continue;  // a cycle; validation reports it
          part = selection_set(*it->second->selections, m_schema.type(it->second->type_condition), guard + 1);
          m_active.erase(spread->name);
          m_memo[spread->name] = part;
        }
      } else {
        const auto& inline_fragment = std::get<InlineFragment>(sel.node);
        const NamedType* t =
            inline_fragment.type_condition.empty() ? parent : m_schema.type(inline_fragment.type_condition);
        part = selection_set(*inline_fragment.selections, t, guard + 1);
      }
      cost.complexity = saturating_add(cost.complexity, part.complexity);
      cost.aliases = static_cast<std::size_t>(saturating_add(cost.aliases, part.aliases));
      cost.depth = std::max(cost.depth, part.depth);
    }
    return cost;
  }

 private:
  static std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
  }
  static std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
    if (a == 0 || b == 0) return 0;
    return a > UINT64_MAX / b ? UINT64_MAX : a * b;
  }

  // The size a list field's arguments ask for: an int `first`, `last` or `limit` among the
  // arguments, or else within an input-object argument (`page: {first: 100}`); nullopt if none.
  static std::optional<std::uint64_t> requested_size(const json::object& args) {
    const json::value* found = nullptr;
    for (const char* name : {"first", "last", "limit"}) {
      if (found == nullptr) found = args.if_contains(name);
    }
    if (found == nullptr) {
      for (const auto& [name, value] : args) {
        if (value.is_object()) {
          if (auto nested = requested_size(value.get_object())) return nested;
        }
      }
      return std::nullopt;
    }
    if (!found->is_int64()) return std::nullopt;
    return found->get_int64() > 0 ? static_cast<std::uint64_t>(found->get_int64()) : 0;
  }

  // The expected length of a list field: the size its arguments ask for once coerced (so that
  // variables and the schema's defaults count as the resolver will see them), else
  // `default_list_size`.
  std::uint64_t multiplier(const Field& field, const FieldDef& def) const {
    const TypeRef* t = def.type.get();
    if (t->kind == TypeRef::Kind::non_null) t = t->of.get();
    if (t->kind != TypeRef::Kind::list) return 1;
    auto args = coerce_argument_values(m_schema, def.args, field.arguments, m_variables);
    if (const auto* coerced = std::get_if<json::object>(&args)) {
      if (auto n = requested_size(*coerced)) return *n;
    }
    return m_limits.default_list_size;
  }

  const Schema& m_schema;
  const json::object& m_variables;
  const QueryLimits& m_limits;
  std::map<std::string, const FragmentDefinition*> m_fragments;
  std::map<std::string, QueryCost> m_memo;
  std::set<std::string> m_active;
};

}  // namespace

std::vector<GraphQLError> validate(const Schema& schema, const Document& document) {
  return Validator(schema, document).run();
}

QueryCost measure(const Schema& schema, const Document& document, const OperationDefinition& operation,
                  const json::object& variables, const QueryLimits& limits) {
  Measurer m(schema, document, variables, limits);
  return m.selection_set(*operation.selections, schema.root(operation.operation), 0);
}

std::vector<GraphQLError> check_limits(const Schema& schema, const Document& document,
                                       const OperationDefinition& operation, const json::object& variables,
                                       const QueryLimits& limits) {
  std::vector<GraphQLError> errors;
  const auto cost = measure(schema, document, operation, variables, limits);
  if (cost.depth > limits.max_depth) {
    errors.push_back(GraphQLError{"Query depth " + std::to_string(cost.depth) + " exceeds the maximum depth of " +
                                      std::to_string(limits.max_depth) + ".",
                                  {operation.loc},
                                  {},
                                  "QUERY_TOO_DEEP"});
  }
  if (cost.aliases > limits.max_aliases) {
    errors.push_back(GraphQLError{"Query uses " + std::to_string(cost.aliases) + " aliases; at most " +
                                      std::to_string(limits.max_aliases) + " are allowed.",
                                  {operation.loc},
                                  {},
                                  "TOO_MANY_ALIASES"});
  }
  if (cost.complexity > limits.max_complexity) {
    errors.push_back(GraphQLError{"Query complexity " + std::to_string(cost.complexity) + " exceeds the maximum of " +
                                      std::to_string(limits.max_complexity) + ".",
                                  {operation.loc},
                                  {},
                                  "QUERY_TOO_COMPLEX"});
  }
  return errors;
}

}  // namespace gh::graphql
