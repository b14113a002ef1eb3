#include "graphql/exec/executor.hpp"

#include <deque>
#include <exception>
#include <set>
#include <string_view>
#include <unordered_map>

#include "graphql/coercion.hpp"
#include "graphql/introspection.hpp"

namespace gh::graphql {

namespace json = boost::json;

Resolvers& Resolvers::batch(const std::string& type, const std::string& field, BatchResolver resolver) {
  m_fields[type + "." + field] = Entry{std::move(resolver), {}};
  return *this;
}

Resolvers& Resolvers::sync(const std::string& type, const std::string& field, SyncResolver resolver) {
  m_fields[type + "." + field] = Entry{{}, std::move(resolver)};
  return *this;
}

Resolvers& Resolvers::type_resolver(std::string abstract_type, TypeResolver resolver) {
  m_types[std::move(abstract_type)] = std::move(resolver);
  return *this;
}

const Resolvers::Entry* Resolvers::find(const NamedType& object_type, const std::string& field,
                                        const Schema& schema) const {
  auto it = m_fields.find(object_type.name + "." + field);
  if (it != m_fields.end()) return &it->second;
  // A resolver registered on an interface serves the object types implementing it.
  for (const auto& iface : object_type.interfaces) {
    if (schema.type(iface) == nullptr) continue;
    std::string key = iface;
    key.append(".").append(field);
    it = m_fields.find(key);
    if (it != m_fields.end()) return &it->second;
  }
  return nullptr;
}

const TypeResolver* Resolvers::find_type_resolver(const std::string& abstract_type) const {
  auto it = m_types.find(abstract_type);
  return it == m_types.end() ? nullptr : &it->second;
}

namespace {

using FieldList = std::vector<const Field*>;
using CollectedFields = std::vector<std::pair<std::string, FieldList>>;

/// One node of the response under construction.
struct Node {
  enum class Kind { null, leaf, list, object };
  Kind kind = Kind::null;
  const TypeRef* type = nullptr;  ///< the type at this position (non-null wrappers included)
  json::value leaf;
  std::vector<std::size_t> items;
  std::vector<std::pair<std::string, std::size_t>> fields;
};

/// One field to resolve for one parent.
struct FieldTask {
  const json::value* parent = nullptr;
  const NamedType* parent_type = nullptr;
  const FieldList* fields = nullptr;
  std::size_t node = 0;
  json::array path;
};

// The state of one execution: the response tree, the values it was built from and the errors.
class Run {
 public:
  Run(const Schema& schema, const Resolvers& resolvers, const PreparedRequest& request, const std::any& context)
      : m_schema(schema), m_resolvers(resolvers), m_request(request), m_context(context) {
    for (const auto& def : request.document->definitions) {
      if (const auto* frag = std::get_if<FragmentDefinition>(&def.node)) m_fragments[frag->name] = frag;
    }
  }

  Task<json::object> execute() {
    const auto& op = *m_request.operation;
    const NamedType* root = m_schema.root(op.operation);
    json::object response;
    if (root == nullptr) {
      std::vector<GraphQLError> errors(1);
      errors[0].message = std::string("Schema is not configured to execute ") + to_string(op.operation) + " operation.";
      errors[0].locations.push_back(op.loc);
      errors[0].code = "OPERATION_NOT_SUPPORTED";
      response = error_response(errors);
      response["data"] = nullptr;
      co_return response;
    }
    m_root_type = make_named(root->name);
    const std::size_t root_node = new_node(m_root_type.get());
    m_values.emplace_back(json::object{});
    std::vector<FieldTask> tasks;
    expand_object(root_node, &m_values.back(), *root, op.selections.get(), json::array{}, tasks);
    if (op.operation == OperationType::mutation) {
      // Mutation fields run one after the other, each with everything below it (spec 6.2.2).
      for (auto& task : tasks) {
        std::vector<FieldTask> one;
        one.push_back(std::move(task));
        co_await run_levels(std::move(one));
      }
    } else {
      co_await run_levels(std::move(tasks));
    }
    auto data = build(root_node);
    if (!m_errors.empty()) {
      json::array errors;
      for (const auto& e : m_errors) errors.push_back(to_json(e));
      response["errors"] = std::move(errors);
    }
    response["data"] = data ? std::move(*data) : json::value(nullptr);
    co_return response;
  }

 private:
  std::size_t new_node(const TypeRef* type) {
    m_nodes.emplace_back();
    m_nodes.back().type = type;
    return m_nodes.size() - 1;
  }

  // @skip and @include.
  bool excluded(const std::vector<Directive>& directives) const {
    for (const auto& d : directives) {
      if (d.name != "skip" && d.name != "include") continue;
      for (const auto& a : d.arguments) {
        if (a.name != "if") continue;
        bool value = false;
        if (a.value->kind == Value::Kind::boolean) {
          value = a.value->boolean;
        } else if (a.value->kind == Value::Kind::variable) {
          const auto* v = m_request.variables.if_contains(a.value->text);
          value = v != nullptr && v->is_bool() && v->get_bool();
        }
        if (d.name == "skip" && value) return true;
        if (d.name == "include" && !value) return true;
      }
    }
    return false;
  }

  bool applies(const std::string& condition, const NamedType& object_type) const {
    if (condition.empty() || condition == object_type.name) return true;
    const auto* t = m_schema.type(condition);
    return t != nullptr && m_schema.is_possible_type(*t, object_type);
  }

  // `index` maps response keys (views into the document) to their entry in `out`.
  void collect(const NamedType& object_type, const SelectionSet& set, CollectedFields& out,
               std::set<std::string>& visited, std::unordered_map<std::string_view, std::size_t>& index) const {
    for (const auto& sel : set) {
      if (const auto* field = std::get_if<Field>(&sel.node)) {
        if (excluded(field->directives)) continue;
        const auto& key = field->response_key();
        auto [it, inserted] = index.emplace(std::string_view(key), out.size());
        if (inserted) out.emplace_back(key, FieldList{});
        out[it->second].second.push_back(field);
      } else if (const auto* spread = std::get_if<FragmentSpread>(&sel.node)) {
        if (excluded(spread->directives) || !visited.insert(spread->name).second) continue;
        auto it = m_fragments.find(spread->name);
        if (it == m_fragments.end() || !applies(it->second->type_condition, object_type)) continue;
        collect(object_type, *it->second->selections, out, visited, index);
      } else {
        const auto& inline_fragment = std::get<InlineFragment>(sel.node);
        if (excluded(inline_fragment.directives) || !applies(inline_fragment.type_condition, object_type)) continue;
        collect(object_type, *inline_fragment.selections, out, visited, index);
      }
    }
  }

  // Makes `node` an object of `type`, with one pending field task per response key.
  void expand_object(std::size_t node, const json::value* value, const NamedType& type, const SelectionSet* single,
                     const json::array& path, std::vector<FieldTask>& next, const FieldList* merged = nullptr) {
    const CollectedFields* collected = nullptr;
    const auto memo_key = std::make_pair(&type, merged);
    auto memo = merged != nullptr ? m_collect_memo.find(memo_key) : m_collect_memo.end();
    if (memo != m_collect_memo.end()) {
      collected = memo->second;
    } else {
      CollectedFields fields;
      std::set<std::string> visited;
      std::unordered_map<std::string_view, std::size_t> index;
      if (single != nullptr) collect(type, *single, fields, visited, index);
      if (merged != nullptr) {
        for (const auto* f : *merged) {
          if (f->selections) collect(type, *f->selections, fields, visited, index);
        }
      }
      m_collected.push_back(std::move(fields));
      collected = &m_collected.back();
      if (merged != nullptr) m_collect_memo.emplace(memo_key, collected);
    }
    m_nodes[node].kind = Node::Kind::object;
    for (const auto& [key, list] : *collected) {
      const FieldDef* def = m_schema.field_of(type, list.front()->name);
      const std::size_t child = new_node(def != nullptr ? def->type.get() : nullptr);
      m_nodes[node].fields.emplace_back(key, child);
      FieldTask task;
      task.parent = value;
      task.parent_type = &type;
      task.fields = &list;
      task.node = child;
      task.path = path;
      task.path.push_back(json::value(key));
      next.push_back(std::move(task));
    }
  }

  void field_error(const FieldTask& task, std::string message, const json::array& path) {
    m_errors.push_back(GraphQLError{std::move(message), {task.fields->front()->loc}, path, {}});
  }

  // Completes a value at `node` (spec 6.4.3): leaves are serialized, lists walked, objects
  // expanded into field tasks for the next level.
  void complete(const FieldTask& task, std::size_t node, const TypeRef& type, const json::value& value,
                const json::array& path, std::vector<FieldTask>& next) {
    const auto& field_name = task.fields->front()->name;
    if (type.kind == TypeRef::Kind::non_null) {
      if (value.is_null()) {
        field_error(
            task, "Cannot return null for non-nullable field " + task.parent_type->name + "." + field_name + ".", path);
        return;
      }
      complete(task, node, *type.of, value, path, next);
      return;
    }
    if (value.is_null()) return;
    if (type.kind == TypeRef::Kind::list) {
      if (!value.is_array()) {
        field_error(
            task,
            "Expected Iterable, but did not find one for field \"" + task.parent_type->name + "." + field_name + "\".",
            path);
        return;
      }
      m_nodes[node].kind = Node::Kind::list;
      const auto& items = value.get_array();
      m_nodes[node].items.reserve(items.size());
      for (std::size_t i = 0; i < items.size(); ++i) {
        const std::size_t child = new_node(type.of.get());
        m_nodes[node].items.push_back(child);
        json::array item_path = path;
        item_path.push_back(json::value(static_cast<std::uint64_t>(i)));
        complete(task, child, *type.of, items[i], item_path, next);
      }
      return;
    }
    const NamedType* t = m_schema.type(type.name);
    if (t == nullptr) return;
    if (t->is_leaf()) {
      json::value out;
      if (auto e = serialize_leaf(*t, value, out)) {
        field_error(task, *e, path);
        return;
      }
      m_nodes[node].kind = Node::Kind::leaf;
      m_nodes[node].leaf = std::move(out);
      return;
    }
    const NamedType* object_type = t;
    if (t->is_abstract()) {
      std::string name;
      if (value.is_object()) {
        if (const auto* tn = value.get_object().if_contains("__typename"); tn != nullptr && tn->is_string()) {
          name = std::string(tn->get_string());
        }
      }
      if (name.empty()) {
        if (const auto* resolver = m_resolvers.find_type_resolver(t->name)) name = (*resolver)(value);
      }
      object_type = name.empty() ? nullptr : m_schema.type(name);
      if (object_type == nullptr || object_type->kind != TypeKind::object ||
          !m_schema.is_possible_type(*t, *object_type)) {
        field_error(task,
                    name.empty()
                        ? "Abstract type \"" + t->name + "\" must resolve to an Object type at runtime for field \"" +
                              task.parent_type->name + "." + field_name + "\"."
                        : "Runtime Object type \"" + name + "\" is not a possible type for \"" + t->name + "\".",
                    path);
        return;
      }
    }
    m_values.push_back(value);
    expand_object(node, &m_values.back(), *object_type, nullptr, path, next, task.fields);
  }

  Task<void> run_levels(std::vector<FieldTask> level) {
    while (!level.empty()) {
      std::vector<FieldTask> next;
      // One group per (parent type, selection): all the parents a resolver gets in one call.
      std::vector<std::vector<std::size_t>> groups;
      std::map<std::pair<const NamedType*, const Field*>, std::size_t> index;
      for (std::size_t i = 0; i < level.size(); ++i) {
        const auto key = std::make_pair(level[i].parent_type, level[i].fields->front());
        auto it = index.find(key);
        if (it == index.end()) {
          index.emplace(key, groups.size());
          groups.emplace_back();
          groups.back().push_back(i);
        } else {
          groups[it->second].push_back(i);
        }
      }
      for (const auto& group : groups) co_await resolve_group(level, group, next);
      level = std::move(next);
    }
  }

  std::vector<FieldResult> introspection(const ResolveInfo& info, const std::vector<const json::value*>& parents,
                                         bool& handled) const {
    std::vector<FieldResult> results;
    const auto& type_name = info.parent_type.name;
    const auto& field = info.field.name;
    handled = true;
    const auto* include = info.args.if_contains("includeDeprecated");
    const bool include_deprecated = include != nullptr && include->is_bool() && include->get_bool();
    for (const auto* parent : parents) {
      if (field == "__schema") {
        results.emplace_back(json::value(introspect_schema(m_schema)));
      } else if (field == "__type") {
        const auto* name = info.args.if_contains("name");
        results.emplace_back(name && name->is_string() ? introspect_type(m_schema, name->get_string()) : json::value());
      } else if (type_name == "__Type" && parent->is_object() &&
                 (field == "fields" || field == "interfaces" || field == "possibleTypes" || field == "enumValues" ||
                  field == "inputFields")) {
        results.emplace_back(introspect_type_field(m_schema, parent->get_object(), field, include_deprecated));
      } else if ((type_name == "__Field" || type_name == "__Directive") && field == "args" && parent->is_object()) {
        results.emplace_back(introspect_args(parent->get_object(), include_deprecated));
      } else {
        handled = false;
        return {};
      }
    }
    return results;
  }

  Task<void> resolve_group(const std::vector<FieldTask>& level, const std::vector<std::size_t>& group,
                           std::vector<FieldTask>& next) {
    const FieldTask& first = level[group.front()];
    const Field& node = *first.fields->front();
    const NamedType& parent_type = *first.parent_type;
    const FieldDef* def = m_schema.field_of(parent_type, node.name);
    if (def == nullptr) co_return;  // validation makes this unreachable
    if (node.name == "__typename") {
      const json::value name(parent_type.name);
      for (auto i : group) complete(level[i], level[i].node, *def->type, name, level[i].path, next);
      co_return;
    }
    auto coerced = coerce_argument_values(m_schema, def->args, node.arguments, m_request.variables);
    if (const auto* message = std::get_if<std::string>(&coerced)) {
      for (auto i : group) field_error(level[i], *message, level[i].path);
      co_return;
    }
    const auto& args = std::get<json::object>(coerced);
    const ResolveInfo info{m_schema, parent_type, *def, node, args, m_request.variables, m_context};
    std::vector<const json::value*> parents;
    parents.reserve(group.size());
    for (auto i : group) parents.push_back(level[i].parent);

    std::vector<FieldResult> results;
    bool handled = false;
    if (node.name.rfind("__", 0) == 0 || parent_type.name.rfind("__", 0) == 0) {
      results = introspection(info, parents, handled);
    }
    if (!handled) {
      const auto* entry = m_resolvers.find(parent_type, node.name, m_schema);
      if (entry != nullptr && entry->batch) {
        bool failed = false;
        try {
          results = co_await entry->batch(info, parents);
        } catch (const std::exception&) {
          failed = true;
        }
        if (failed) results.clear();
      } else if (entry != nullptr && entry->sync) {
        for (const auto* parent : parents) {
          try {
            results.push_back(entry->sync(info, *parent));
          } catch (const std::exception&) {
            results.emplace_back(
                internal_error("Internal error while resolving " + parent_type.name + "." + node.name + "."));
          }
        }
      } else {
        for (const auto* parent : parents) {
          const json::value* v = parent->is_object() ? parent->get_object().if_contains(node.name) : nullptr;
          results.emplace_back(v != nullptr ? *v : json::value(nullptr));
        }
      }
    }
    if (results.size() != group.size()) {
      for (auto i : group) {
        field_error(level[i], "Internal error while resolving " + parent_type.name + "." + node.name + ".",
                    level[i].path);
      }
      co_return;
    }
    for (std::size_t k = 0; k < group.size(); ++k) {
      const auto& task = level[group[k]];
      if (!results[k]) {
        field_error(task, results[k].error().message, task.path);
      } else {
        complete(task, task.node, *def->type, *results[k], task.path, next);
      }
    }
  }

  // The response JSON; nullopt when the node is null in a non-null position (the caller nulls
  // itself in turn: spec 6.4.4).
  std::optional<json::value> build(std::size_t index) const {
    const Node& n = m_nodes[index];
    json::value v;
    switch (n.kind) {
      case Node::Kind::null:
        v = nullptr;
        break;
      case Node::Kind::leaf:
        v = n.leaf;
        break;
      case Node::Kind::list: {
        json::array items;
        items.reserve(n.items.size());
        bool nulled = false;
        for (auto item : n.items) {
          auto c = build(item);
          if (!c) {
            nulled = true;
            break;
          }
          items.push_back(std::move(*c));
        }
        if (!nulled) v = std::move(items);
        break;
      }
      case Node::Kind::object: {
        json::object obj;
        obj.reserve(n.fields.size());
        bool nulled = false;
        for (const auto& [key, child] : n.fields) {
          auto c = build(child);
          if (!c) {
            nulled = true;
            break;
          }
          obj[key] = std::move(*c);
        }
        if (!nulled) v = std::move(obj);
        break;
      }
    }
    if (v.is_null() && n.type != nullptr && n.type->kind == TypeRef::Kind::non_null) return std::nullopt;
    return v;
  }

  const Schema& m_schema;
  const Resolvers& m_resolvers;
  const PreparedRequest& m_request;
  const std::any& m_context;
  std::map<std::string, const FragmentDefinition*> m_fragments;
  TypeRefPtr m_root_type;
  std::vector<Node> m_nodes;
  std::deque<json::value> m_values;
  std::deque<CollectedFields> m_collected;
  std::map<std::pair<const NamedType*, const FieldList*>, const CollectedFields*> m_collect_memo;
  std::vector<GraphQLError> m_errors;
};

}  // namespace

Executor::Executor(std::shared_ptr<const Schema> schema, Resolvers resolvers, RequestLimits limits)
    : m_schema(std::move(schema)), m_resolvers(std::move(resolvers)), m_limits(limits) {}

Task<json::object> Executor::execute(const RequestParams& params, std::any context) const {
  auto prepared = prepare(*m_schema, params, m_limits);
  if (!prepared.request) co_return error_response(prepared.errors);
  auto response = co_await execute_prepared(*prepared.request, std::move(context));
  co_return response;
}

Task<json::object> Executor::execute_prepared(const PreparedRequest& request, std::any context) const {
  Run run(*m_schema, m_resolvers, request, context);
  auto response = co_await run.execute();
  co_return response;
}

}  // namespace gh::graphql
