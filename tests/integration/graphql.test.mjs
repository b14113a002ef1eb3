// The GraphQL engine through the real binary, held against graphql-js (the reference
// implementation): the sample API of --test-hooks is built in graphql-js from the SDL and data the
// server publishes, with the same resolvers, and a few hundred generated queries must give the
// same data and errors at the same paths. Also: introspection rebuilt by buildClientSchema, and
// GraphQL over HTTP (GET, status codes, limits).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildSchema, graphql, getIntrospectionQuery, buildClientSchema, printSchema, lexicographicSortSchema,
  defaultFieldResolver,
} from 'graphql';
import { startServer, freshDatabase } from './lib/harness.mjs';

// The sample resolvers of src/graphql/exec/sample_api.cpp, in graphql-js.
function sampleResolvers(data) {
  const tokens = new Map(data.tokens.map((t) => [t.id, t]));
  const pairs = new Map(data.pairs.map((p) => [p.id, p]));
  const fail = (message) => { throw new Error(message); };
  const price = (p) => (p.broken ? fail(`oracle unavailable for ${p.id}`) : Number(p.reserve1) / Number(p.reserve0));
  const take = (list, first, keep = () => true) => {
    const out = [];
    for (const item of list) {
      if (out.length >= first) break;
      if (keep(item)) out.push(item);
    }
    return out;
  };
  const intOr = (v, fallback) => (Number.isInteger(v) ? v : fallback);
  return {
    'Query.token': (_, a) => tokens.get(a.id) ?? null,
    'Query.tokens': (_, a) => take(data.tokens, intOr(a.first, 10), (t) => a.chain == null || t.chain === a.chain),
    'Query.pair': (_, a) => pairs.get(a.id) ?? null,
    'Query.pairs': (_, a) => {
      let list = data.pairs.filter((p) => {
        const f = a.filter;
        if (f == null) return true;
        const t0 = tokens.get(p.token0_id);
        const t1 = tokens.get(p.token1_id);
        if (f.minReserve != null && Number(p.reserve0) < f.minReserve) return false;
        if (f.symbols != null && !f.symbols.includes(t0.symbol) && !f.symbols.includes(t1.symbol)) return false;
        if (f.chain != null && t0.chain !== f.chain) return false;
        return true;
      });
      if (a.order === 'DESC') list = list.reverse();
      const first = intOr(a.page?.first, 10);
      const skip = intOr(a.page?.skip, 0);
      if (first < 0 || skip < 0) fail('page bounds must not be negative');
      return take(list.slice(skip), first);
    },
    'Query.node': (_, a) => tokens.get(a.id) ?? pairs.get(a.id) ?? null,
    'Query.search': (_, a) => [
      ...data.tokens.filter((t) => t.symbol.includes(a.text)),
      ...data.pairs.filter((p) => tokens.get(p.token0_id).symbol.includes(a.text) || tokens.get(p.token1_id).symbol.includes(a.text)),
    ],
    'Query.echo': (_, a) => a,
    'Query.failing': () => fail('failing on purpose'),
    'Query.failingNonNull': () => fail('failing on purpose'),
    'Query.nullableList': () => [1, null, 3],
    'Query.nonNullItems': () => [1, null, 3],
    'Query.deep': () => ({ n: 1 }),
    'Level.next': (l) => (l.n < 4 ? { n: l.n + 1 } : null),
    'Level.fail': (l) => fail(`level ${l.n} fails`),
    'Level.failNonNull': () => fail('non-null level field fails'),
    'Token.pairs': (t, a) => take(data.pairs, intOr(a.first, 10), (p) => p.token0_id === t.id || p.token1_id === t.id),
    'Pair.token0': (p) => tokens.get(p.token0_id) ?? null,
    'Pair.token1': (p) => tokens.get(p.token1_id) ?? null,
    'Pair.volume': (p, a) => {
      const days = intOr(a.days, 1);
      if (days <= 0) fail('days must be positive');
      return p.volumeBase * days;
    },
    'Pair.swaps': (p, a) => {
      const swaps = p.swaps.map((s) => ({ ...s, pair_id: p.id }));
      swaps.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
      if (a.order === 'DESC') swaps.reverse();
      return take(swaps, intOr(a.first, 3));
    },
    'Pair.price': price,
    'Pair.strictPrice': price,
    'Swap.pair': (s) => pairs.get(s.pair_id) ?? null,
    'Mutation.quote': (_, a) => {
      const p = pairs.get(a.pairId) ?? fail(`unknown pair ${a.pairId}`);
      return { pair: p, amountOut: (a.amountIn * Number(p.reserve1)) / (Number(p.reserve0) + a.amountIn) };
    },
  };
}

// The generated queries: [query, variables?, operationName?].
function generateCases() {
  const cases = [];
  const add = (query, variables, operationName) => cases.push({ query, variables, operationName });

  const tokenSelections = ['id', 'symbol', 'name', 'decimals', 'chain', 'priceUsd', 'legacyId', '__typename',
    'pairs { id }', 'pairs(first: 1) { id fee }', 'pairs(first: 0) { id }', 'id symbol pairs(first: 2) { token0 { symbol } token1 { symbol } }'];
  for (let i = 1; i <= 8; i++) {
    for (const sel of tokenSelections) add(`{ token(id: "T${i}") { ${sel} } }`);
  }
  const pairSelections = ['id', 'reserve0 reserve1', 'fee', 'volume', 'volume(days: 7)', 'volume(days: 0)', 'price',
    'token0 { symbol }', 'token1 { id decimals chain }', 'swaps { id amountIn }',
    'swaps(first: 10, order: ASC) { id sender pair { id } }', '__typename id', 'token0 { pairs { id token1 { symbol } } }'];
  for (let i = 1; i <= 9; i++) {
    for (const sel of pairSelections) add(`{ pair(id: "P${i}") { ${sel} } }`);
  }
  const pairArgs = ['', '(order: DESC)', '(filter: {minReserve: 1000})', '(filter: {symbols: ["WETH"]})',
    '(filter: {chain: ETHEREUM})', '(filter: {symbols: ["DOG", "ARB"], minReserve: 0})', '(page: {first: 2, skip: 1})',
    '(page: {first: -1})', '(page: {skip: 6}, order: DESC)', '(filter: {chain: BASE}, page: {first: 1})',
    '(filter: {symbols: "USDC"})', '(filter: {minReserve: 1e3})', '(filter: {})', '(page: null, order: null)'];
  for (const args of pairArgs) {
    add(`{ pairs${args} { id } }`);
    add(`{ pairs${args} { id token0 { symbol } price } }`);
  }
  for (const chain of ['', 'ETHEREUM', 'BASE', 'ARBITRUM', 'POLYGON']) {
    for (const first of ['', 'first: 2', 'first: 0']) {
      const args = [chain && `chain: ${chain}`, first].filter(Boolean).join(', ');
      add(`{ tokens${args ? `(${args})` : ''} { id symbol chain } }`);
    }
  }
  for (const text of ['W', 'DOG', 'ETH', 'zzz', '']) {
    add(`{ search(text: "${text}") { __typename } }`);
    add(`{ search(text: "${text}") { ... on Token { symbol decimals } ... on Pair { id token0 { symbol } } } }`);
    add(`{ search(text: "${text}") { ... on Node { id } ... on Asset { symbol } } }`);
  }
  for (const id of ['T1', 'P3', 'X', 'T5']) {
    add(`{ node(id: "${id}") { id __typename } }`);
    add(`{ node(id: "${id}") { ... on Token { symbol } ... on Pair { fee token1 { id } } } }`);
  }

  // Aliases.
  add('{ a: token(id: "T1") { s: symbol } b: token(id: "T2") { symbol } }');
  add('{ t: token(id: "T1") { x: id y: id z: symbol } }');
  add('{ p: pair(id: "P1") { v1: volume(days: 1) v7: volume(days: 7) v0: volume(days: 0) } }');
  add('{ first: pairs(page: {first: 1}) { id } last: pairs(order: DESC, page: {first: 1}) { id } }');
  add('{ __typename t: __typename }');
  add('{ a: echo(int: 1) { int } b: echo(int: 2) { int } }');
  add('{ x: failing y: failing z: nullableList }');
  add('{ id: token(id: "T3") { symbol: id id: symbol } }');

  // Arguments and input coercion through literals.
  const echoArgs = ['int: 42', 'int: -2147483648', 'float: 1', 'float: 2.5e3', 'string: "héllo \\u00e9 \\n"',
    'string: """  block\n  string  """', 'boolean: false', 'id: 7', 'id: "x7"', 'chain: BASE', 'list: 3', 'list: [1, null, 3]',
    'list: null', 'nested: [["a"], ["b", "c"]]', 'nested: "x"', 'filter: {symbols: ["A"], chain: ETHEREUM}', 'filter: {}',
    'int: null', 'int: 2147483648', 'int: 1.5', 'float: "1"', 'string: 1', 'boolean: 1', 'id: 1.5', 'chain: "BASE"',
    'chain: NOWHERE', 'list: ["x"]', 'nested: [[null]]', 'filter: {nope: 1}', 'filter: {minReserve: "x"}', 'unknown: 1'];
  for (const a of echoArgs) {
    add(`{ echo(${a}) { int float string boolean id chain list nested filter { minReserve symbols chain } } }`);
  }

  // Variables.
  const varCases = [
    ['query Q($id: ID!) { token(id: $id) { symbol } }', { id: 'T2' }],
    ['query Q($id: ID!) { token(id: $id) { symbol } }', { id: 4 }],
    ['query Q($id: ID!) { token(id: $id) { symbol } }', {}],
    ['query Q($id: ID!) { token(id: $id) { symbol } }', { id: null }],
    ['query Q($id: ID!) { token(id: $id) { symbol } }', { id: true }],
    ['query Q($id: ID = "T3") { token(id: $id) { symbol } }', {}],
    ['query Q($id: ID = "T3") { token(id: $id) { symbol } }', { id: 'T1' }],
    ['query Q($id: ID = "T3") { token(id: $id) { symbol } }', { id: null }],
    ['query Q($n: Int) { pairs(page: {first: $n}) { id } }', { n: 2 }],
    ['query Q($n: Int) { pairs(page: {first: $n}) { id } }', {}],
    ['query Q($n: Int) { pairs(page: {first: $n}) { id } }', { n: 'two' }],
    ['query Q($n: Int) { pairs(page: {first: $n}) { id } }', { n: 2.5 }],
    ['query Q($n: Int) { pairs(page: {first: $n}) { id } }', { n: 3000000000 }],
    ['query Q($f: PairFilter) { pairs(filter: $f) { id } }', { f: { symbols: ['USDC'] } }],
    ['query Q($f: PairFilter) { pairs(filter: $f) { id } }', { f: { symbols: 'USDC' } }],
    ['query Q($f: PairFilter) { pairs(filter: $f) { id } }', { f: { chain: 'BASE', minReserve: 10 } }],
    ['query Q($f: PairFilter) { pairs(filter: $f) { id } }', { f: { chain: 'MOON' } }],
    ['query Q($f: PairFilter) { pairs(filter: $f) { id } }', { f: { nope: 1 } }],
    ['query Q($f: PairFilter) { pairs(filter: $f) { id } }', { f: 'x' }],
    ['query Q($s: [String!]) { pairs(filter: {symbols: $s}) { id } }', { s: ['DAI'] }],
    ['query Q($s: [String!]) { pairs(filter: {symbols: $s}) { id } }', { s: [null] }],
    ['query Q($s: [String!]) { pairs(filter: {symbols: $s}) { id } }', {}],
    ['query Q($s: String!) { pairs(filter: {symbols: [$s, "DOG"]}) { id } }', { s: 'ARB' }],
    ['query Q($o: SortOrder) { pairs(order: $o) { id } }', { o: 'DESC' }],
    ['query Q($o: SortOrder) { pairs(order: $o) { id } }', { o: 'desc' }],
    ['query Q($c: Chain!) { tokens(chain: $c) { id } }', { c: 'ETHEREUM' }],
    ['query Q($l: [Int]) { echo(list: $l) { list } }', { l: 5 }],
    ['query Q($l: [Int]) { echo(list: $l) { list } }', { l: [1, null] }],
    ['query Q($l: [[String!]]) { echo(nested: $l) { nested } }', { l: 'a' }],
    ['query Q($l: [[String!]]) { echo(nested: $l) { nested } }', { l: [['a', 'b'], 'c'] }],
    ['query Q($f: Float) { echo(float: $f) { float } }', { f: 3 }],
    ['query Q($b: Boolean!) { echo(boolean: $b) { boolean } }', { b: 'true' }],
    ['query Q($x: Int) { echo(int: $x) { int } }', { x: null }],
    ['query Q($d: Int! = 3) { pair(id: "P1") { volume(days: $d) } }', {}],
    ['query Q($d: Int) { pair(id: "P1") { volume(days: $d) } }', {}],
    ['query Q($d: Int) { pair(id: "P1") { volume(days: $d) } }', { d: null }],
    ['query Q($id: ID!) { token(id: $id) { symbol } }', { id: 'T1', extra: 1 }],
    // Integral numbers of any size are IDs (this one is beyond int64: JSON has one number type).
    ['query Q($id: ID) { echo(id: $id) { id } }', { id: 12345678901234567000 }],
    ['query Q($id: ID) { echo(id: $id) { id } }', { id: -42 }],
  ];
  for (const [q, v] of varCases) add(q, v);

  // Fragments.
  add('{ pair(id: "P1") { ...P } } fragment P on Pair { id fee }');
  add('{ pair(id: "P1") { ...P token0 { ...T } } } fragment P on Pair { id token1 { ...T } } fragment T on Token { symbol }');
  add('{ node(id: "T1") { ...N ...A } } fragment N on Node { id } fragment A on Asset { symbol decimals }');
  add('{ search(text: "D") { ...S } } fragment S on SearchResult { __typename ... on Token { id } ... on Pair { id } }');
  add('{ pairs { ...on Pair { id } ... { fee } } }');
  add('{ token(id: "T2") { ...T ...T } } fragment T on Token { symbol }');
  add('{ pair(id: "P1") { ...A } } fragment A on Pair { ...B } fragment B on Pair { id }');
  add('{ pair(id: "P1") { ...A } } fragment A on Pair { ...B } fragment B on Pair { ...A }');
  add('{ pair(id: "P1") { ...Missing } }');
  add('{ pair(id: "P1") { id } } fragment Unused on Pair { id }');
  add('{ pair(id: "P1") { ...T } } fragment T on Token { id }');
  add('{ pair(id: "P1") { ... on Token { id } } }');
  add('{ pair(id: "P1") { ...X } } fragment X on Nope { id }');
  add('{ pair(id: "P1") { ...S } } fragment S on String { id }');
  add('{ node(id: "P2") { ... on SearchResult { __typename } } }');
  add('{ pair(id: "P1") { ...F } } fragment F on Pair { id } fragment F on Pair { fee }');

  // Directives.
  for (const [dir, vars] of [['@include(if: true)', undefined], ['@include(if: false)', undefined], ['@skip(if: true)', undefined],
    ['@skip(if: false)', undefined], ['@include(if: $b)', { b: true }], ['@include(if: $b)', { b: false }],
    ['@skip(if: $b)', { b: true }], ['@skip(if: $b) @include(if: true)', { b: false }]]) {
    const decl = vars ? '($b: Boolean!)' : '';
    add(`query Q${decl} { pair(id: "P1") { id fee ${dir} } }`, vars);
    add(`query Q${decl} { pair(id: "P1") { id ... on Pair ${dir} { fee } } }`, vars);
    add(`query Q${decl} { pair(id: "P1") { id ...F ${dir} } } fragment F on Pair { fee }`, vars);
  }
  add('{ pair(id: "P1") { id @unknown } }');
  add('{ pair(id: "P1") { id @include } }');
  add('{ pair(id: "P1") { id @include(if: "yes") } }');
  add('query @skip(if: true) { __typename }');
  add('{ pair(id: "P1") { id @skip(if: true) @skip(if: false) } }');
  add('query Q($b: Boolean) { pair(id: "P1") { id @include(if: $b) } }', { b: true });

  // Field errors and null propagation.
  add('{ failing }');
  add('{ failing token(id: "T1") { symbol } }');
  add('{ failingNonNull }');
  add('{ nullableList }');
  add('{ nonNullItems }');
  add('{ deep { n fail } }');
  add('{ deep { n next { n next { n fail next { n next { n } } } } } }');
  add('{ deep { n next { n failNonNull } } }');
  add('{ deep { n next { next { next { failNonNull } } } } token(id: "T1") { id } }');
  add('{ pairs { id price } }');
  add('{ pairs { id strictPrice } }');
  add('{ pair(id: "P5") { id strictPrice } }');
  add('{ pair(id: "P6") { id price strictPrice } token(id: "T1") { symbol } }');
  add('{ token(id: "T1") { pairs { id price } } }');
  add('{ pairs(page: {first: -1}) { id } token(id: "T2") { id } }');
  add('{ search(text: "ARB") { ... on Pair { strictPrice } } }');
  add('{ p: pair(id: "P1") { swaps { pair { strictPrice } } } q: pair(id: "P1") { swaps { pair { price } } } }');

  // Mutations.
  add('mutation { quote(pairId: "P1", amountIn: 2) { amountOut pair { id } } }');
  add('mutation { a: quote(pairId: "P1", amountIn: 1) { amountOut } b: quote(pairId: "P2", amountIn: 10.5) { amountOut } }');
  add('mutation { quote(pairId: "P9", amountIn: 2) { amountOut } }');
  add('mutation M($p: ID!, $a: Float!) { quote(pairId: $p, amountIn: $a) { amountOut pair { token0 { symbol } } } }', { p: 'P3', a: 0.5 });
  add('mutation { quote(pairId: "P1") { amountOut } }');
  add('mutation { quote(pairId: "P1", amountIn: 2) }');

  // Operation selection.
  add('query A { __typename } query B { token(id: "T1") { id } }', undefined, 'B');
  add('query A { __typename } query B { token(id: "T1") { id } }', undefined, 'C');
  add('query A { __typename } query B { token(id: "T1") { id } }');
  add('query A { __typename } mutation B { quote(pairId: "P1", amountIn: 1) { amountOut } }', undefined, 'B');

  // Introspection of single types (lists of all types are compared sorted in their own test).
  for (const name of ['Query', 'Mutation', 'Token', 'Pair', 'Swap', 'Node', 'Asset', 'SearchResult', 'Chain', 'SortOrder',
    'PairFilter', 'Page', 'Echo', 'Level', 'BigDecimal', 'Nope']) {
    add(`{ __type(name: "${name}") { kind name description specifiedByURL
        fields(includeDeprecated: true) { name description isDeprecated deprecationReason
          args { name description defaultValue type { kind name ofType { kind name ofType { kind name } } } }
          type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }
        interfaces { name } possibleTypes { name }
        enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
        inputFields { name defaultValue type { kind name ofType { kind name } } } } }`);
  }
  add('{ __type(name: "Pair") { fields { name } } }');
  add('{ __type(name: "Chain") { enumValues { name } } }');
  add('{ __schema { queryType { name } mutationType { name } subscriptionType { name } description } }');
  // The introspection types themselves (their descriptions are ours; graphql-js 16.15 adds
  // post-2021 fields such as __Type.isOneOf, so only stable parts are compared).
  for (const name of ['__Field', '__InputValue', '__EnumValue', '__TypeKind']) {
    add(`{ __type(name: "${name}") { kind name fields { name args { name } type { name kind } } enumValues { name } } }`);
  }
  add('{ pair(id: "P1") { __typename token0 { __typename } } }');

  // Merging and abstract types across fragments; variables reached through fragments.
  add('{ pair(id: "P1") { ...A ...B } } fragment A on Pair { x: token0 { id } } fragment B on Pair { x: token1 { symbol } }');
  add('{ pair(id: "P1") { token0 { id } ... on Pair { token0 { name id symbol } } } }');
  add('{ pair(id: "P1") { ...F id } } fragment F on Pair { fee id }');
  add('{ node(id: "T1") { ... on Asset { ... on Pair { id } } } }');
  add('{ node(id: "T1") { ... on Node { ... on Asset { symbol } } } }');
  add('{ node(id: "T1") { ... on Token { x: symbol } ... on Pair { x: fee } } }');
  add('{ search(text: "W") { ... on Node { id } ... on Asset { id: symbol } } }');
  add('{ search(text: "W") { ... on Token { x: pairs(first: 1) { id } } ... on Pair { x: swaps(first: 1) { id } } } }');
  add('query Q($n: Int, $m: Int) { token(id: "T1") { pairs(first: $n) { id } pairs(first: $m) { fee } } }', { n: 1, m: 1 });
  add('query A($x: Int) { ...F } query B { ...F } fragment F on Query { echo(int: $x) { int } }', { x: 1 }, 'A');
  add('query A($x: Int) { ...F } fragment F on Query { echo(int: $x) { int } } fragment G on Query { echo(int: $y) { int } }', { x: 1 });
  add('query A($b: Boolean!) { ...F @include(if: $b) } fragment F on Query { __typename }', { b: true });
  add('query Q($b: Boolean!) { pair(id: "P1") { id @skip(if: $b) id } }', { b: true });
  add('query Q($f: PairFilter = {symbols: ["DAI"]}) { pairs(filter: $f) { id } }', { f: {} });
  add('query Q($x: Int! = 3) { pair(id: "P1") { volume(days: $x) } }', { x: null });
  add('query Q($x: String!) { echo(nested: [[$x]]) { nested } }', { x: 'a' });
  add('query Q($x: [String]) { echo(nested: [$x]) { nested } }', { x: ['a'] });
  add('{ echo(string: "\\u0000\\u001f\\t\\"\\\\\\/ \\u{1F600}\\uD83D\\uDE00") { string } }');
  add('{ echo(id: 12345678901234567890) { id } }');
  // Line terminators other than \n, for the positions of syntax errors.
  add('{\r\n  pair(id: "P1") {\r\n    id\r\n  }\r\n  ?\r\n}');
  add('{\r  a\r  ?\r}');
  add('\ufeff{ __typename, , , }');

  // Invalid documents: syntax.
  for (const q of ['', '{', '{ pair(id: "P1") { id }', 'query Q($x) { __typename }', '{ token(id: "T1" { id } }',
    '{ echo(int: 01) { int } }', '{ echo(string: "open) { string } }', 'fragment on on Pair { id }', '{ ... }', '{ a: }',
    'query Q($x: Int = $y) { __typename }', '{ echo(float: 1.) { float } }', '{ echo(string: "\\x") { string } }',
    'type Query { a: Int }', '{ __typename } }', '{ echo(int: 1 int: 2 { int } }', '{ echo(float: .5) { float } }',
    '{ token(id: \'T1\') { id } }', 'query { token(id: "T1") { id } ', '{ pair(id: "P1") { ... on { id } } }']) {
    add(q);
  }
  // Invalid documents: validation.
  for (const q of ['{ nope }', '{ pair(id: "P1") { nope } }', '{ pair { id } }', '{ pair(id: "P1") }',
    '{ pair(id: "P1") { id { x } } }', '{ pair(id: "P1", id: "P2") { id } }', '{ pair(id: "P1", x: 1) { id } }',
    '{ pairs(order: UP) { id } }', '{ pairs(page: {first: "1"}) { id } }', '{ tokens(chain: null) { id } }',
    'query Q($x: Int) { __typename }', '{ token(id: $x) { id } }', 'query Q($x: Pair) { __typename }',
    'query Q($x: String) { token(id: $x) { id } }', 'query Q($x: ID) { token(id: $x) { id } }',
    'query Q($x: [String]) { pairs(filter: {symbols: $x}) { id } }', 'query Q($x: Int, $x: Int) { echo(int: $x) { int } }',
    '{ a: token(id: "T1") { id } a: pair(id: "P1") { id } }', '{ pair(id: "P1") { v: volume(days: 1) v: volume(days: 2) } }',
    '{ search(text: "W") { ... on Token { x: decimals } ... on Pair { x: reserve0 } } }',
    'query A { __typename } query A { __typename }', '{ __typename } query B { __typename }',
    'subscription { __typename }', '{ pair(id: "P1") { __schema { types { name } } } }',
    '{ echo(filter: {symbols: ["a"], symbols: ["b"]}) { int } }', 'query Q($x: Nope) { __typename }',
    '{ pairs(filter: {minReserve: null, chain: BASE}) { id } }', 'query Q($x: Boolean = 1) { __typename @include(if: $x) }']) {
    add(q);
  }
  return cases;
}

function normalize(value) {
  return JSON.parse(JSON.stringify(value));
}

// Whether some proper prefix of an error path is null in the data (the error sits in a subtree
// that a non-null failure already nulled: graphql-js stops such siblings early, we finish them).
function underNull(data, path) {
  let node = data;
  for (let i = 0; i < path.length; i++) {
    if (node === null || node === undefined) return true;
    node = node[path[i]];
  }
  return false;
}

function compare(c, expected, actual) {
  const problems = [];
  if (('data' in expected) !== ('data' in actual)) problems.push(`data presence: graphql-js ${'data' in expected}, ours ${'data' in actual}`);
  else if ('data' in expected) {
    try {
      assert.deepStrictEqual(actual.data, expected.data);
    } catch {
      problems.push(`data: graphql-js ${JSON.stringify(expected.data)}, ours ${JSON.stringify(actual.data)}`);
    }
  }
  const ePaths = (expected.errors ?? []).map((e) => JSON.stringify(e.path ?? null));
  const aPaths = (actual.errors ?? []).map((e) => JSON.stringify(e.path ?? null));
  if ((ePaths.length > 0) !== (aPaths.length > 0)) {
    problems.push(`errors: graphql-js ${JSON.stringify(expected.errors)}, ours ${JSON.stringify(actual.errors)}`);
  }
  for (const p of ePaths) {
    if (p !== 'null' && !aPaths.includes(p)) problems.push(`missing error at ${p}`);
  }
  for (const p of aPaths) {
    if (p !== 'null' && !ePaths.includes(p) && !underNull(actual.data, JSON.parse(p))) problems.push(`extra error at ${p}`);
  }
  // Syntax errors must point at the same place.
  const eFirst = expected.errors?.[0];
  if (eFirst?.message?.startsWith('Syntax Error') && !('data' in expected)) {
    const aFirst = actual.errors?.[0];
    if (JSON.stringify(aFirst?.locations) !== JSON.stringify(eFirst.locations)) {
      problems.push(`syntax error location: graphql-js ${JSON.stringify(eFirst.locations)}, ours ${JSON.stringify(aFirst?.locations)}`);
    }
  }
  return problems.length ? `${JSON.stringify(c)}\n    ${problems.join('\n    ')}` : null;
}

describe('graphql engine', () => {
  let server, db, sample, schema, resolvers;
  const post = async (body, headers = {}) => {
    const r = await fetch(`${server.url}/v1/_test/graphql`, {
      method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers },
    });
    return { status: r.status, body: await r.json() };
  };
  const reference = async ({ query, variables, operationName }) => normalize(await graphql({
    schema,
    source: query,
    variableValues: variables,
    operationName,
    rootValue: {},
    fieldResolver: (source, args, ctx, info) => {
      const r = resolvers[`${info.parentType.name}.${info.fieldName}`];
      return r ? r(source, args) : defaultFieldResolver(source, args, ctx, info);
    },
    typeResolver: (value) => value.__typename,
  }));

  before(async () => {
    db = freshDatabase('sqlite');
    server = await startServer([...db.flags, '--test-hooks', '--rate-limit', '100000', '--rate-burst', '100000']);
    sample = await (await fetch(`${server.url}/v1/_test/graphql/sample`)).json();
    schema = buildSchema(sample.sdl);
    resolvers = sampleResolvers(sample.data);
  });
  after(async () => {
    const exit = await server.stop();
    assert.equal(exit.code, 0);
    db.drop();
  });

  test('a few hundred generated queries answer as graphql-js does', async () => {
    const cases = generateCases();
    assert.ok(cases.length >= 300, `only ${cases.length} cases`);
    const failures = [];
    let withErrors = 0;
    let withData = 0;
    for (const c of cases) {
      const expected = await reference(c);
      const actual = await post(c);
      assert.equal(actual.status, 200, JSON.stringify(c));
      if (expected.errors) withErrors++;
      if (expected.data) withData++;
      const problem = compare(c, expected, actual.body);
      if (problem) failures.push(problem);
    }
    // The corpus exercises both sides: successes and failures of every kind.
    assert.ok(withErrors > 80 && withData > 150, `${withErrors} with errors, ${withData} with data`);
    assert.deepEqual(failures, [], `${failures.length} of ${cases.length} differ:\n${failures.slice(0, 15).join('\n')}`);
  });

  test('introspection rebuilds the same schema with buildClientSchema', async () => {
    const query = getIntrospectionQuery({
      descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true,
    });
    const r = await post({ query });
    assert.equal(r.status, 200);
    assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
    const client = buildClientSchema(r.body.data);
    assert.equal(printSchema(lexicographicSortSchema(client)), printSchema(lexicographicSortSchema(schema)));
    // The sample's own types introspect exactly as in graphql-js. Built-ins are compared by name:
    // their descriptions are ours, and graphql-js 16.15 adds post-2021 features (@oneOf).
    const expected = await reference({ query });
    const builtin = (name) => name.startsWith('__') || ['Int', 'Float', 'String', 'Boolean', 'ID'].includes(name);
    const own = (data) => data.__schema.types.filter((t) => !builtin(t.name)).sort((a, b) => a.name.localeCompare(b.name));
    assert.deepStrictEqual(own(r.body.data), own(expected.data));
    const names = (data) => data.__schema.types.map((t) => t.name).sort();
    assert.deepStrictEqual(names(r.body.data), names(expected.data));
    const directives = r.body.data.__schema.directives.map((d) => `${d.name}(${d.args.map((a) => a.name)})`).sort();
    assert.deepStrictEqual(directives, ['deprecated(reason)', 'include(if)', 'skip(if)', 'specifiedBy(url)']);
    assert.equal(r.body.data.__schema.description, expected.data.__schema.description);
  });

  test('GET carries queries; mutations need POST', async () => {
    const q = encodeURIComponent('query Q($id: ID!) { token(id: $id) { symbol } }');
    const vars = encodeURIComponent(JSON.stringify({ id: 'T4' }));
    let r = await fetch(`${server.url}/v1/_test/graphql?query=${q}&variables=${vars}&operationName=Q`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { data: { token: { symbol: 'WBTC' } } });
    const m = encodeURIComponent('mutation { quote(pairId: "P1", amountIn: 1) { amountOut } }');
    r = await fetch(`${server.url}/v1/_test/graphql?query=${m}`);
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'POST');
    r = await fetch(`${server.url}/v1/_test/graphql`);
    assert.equal(r.status, 400);
    assert.match((await r.json()).errors[0].message, /query/);
  });

  test('malformed requests answer 400 with GraphQL errors', async () => {
    for (const body of ['{"query": 1}', '[]', '{"query": "{ __typename }", "variables": 3}', 'not json']) {
      const r = await fetch(`${server.url}/v1/_test/graphql`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, 400, body);
      const json = await r.json();
      assert.ok(Array.isArray(json.errors) && json.errors.length === 1, body);
      assert.equal(json.data, undefined);
    }
    // A client that accepts application/graphql-response+json gets 400 for a document that cannot run.
    const r = await post({ query: '{ nope }' }, { accept: 'application/graphql-response+json' });
    assert.equal(r.status, 400);
    assert.equal(r.body.errors[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
  });

  test('limits answer clear errors', async () => {
    let nested = 'id';
    for (let i = 0; i < 10; i++) nested = `token0 { pairs(first: 1) { ${nested} } }`;
    let r = await post({ query: `{ pairs(page: {first: 1}) { ${nested} } }` });
    assert.equal(r.body.data, undefined);
    assert.equal(r.body.errors[0].extensions.code, 'QUERY_TOO_DEEP');
    assert.match(r.body.errors[0].message, /depth 22 exceeds the maximum depth of 15/);

    const aliases = Array.from({ length: 31 }, (_, i) => `a${i}: __typename`).join(' ');
    r = await post({ query: `{ ${aliases} }` });
    assert.equal(r.body.errors[0].extensions.code, 'TOO_MANY_ALIASES');

    r = await post({ query: '{ pairs { swaps(first: 100) { pair { token0 { pairs(first: 100) { id } } } } } }' });
    assert.equal(r.body.errors[0].extensions.code, 'QUERY_TOO_COMPLEX');
    assert.match(r.body.errors[0].message, /complexity \d+ exceeds the maximum of 5000/);
    // A page size inside an input object counts too.
    r = await post({ query: '{ pairs(page: {first: 100000}) { id } }' });
    assert.equal(r.body.errors?.[0].extensions.code, 'QUERY_TOO_COMPLEX', JSON.stringify(r.body));
    assert.match(r.body.errors[0].message, /complexity 100001 exceeds/);

    r = await post({ query: `{ ${'__typename '.repeat(6_500)} }` });
    assert.equal(r.body.errors[0].extensions.code, 'DOCUMENT_TOO_LARGE');
  });
});
