# The two commands of the quick start are `make run` and `make test`; the rest are for developers.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
DATA_DIR ?= ./var
RUN_ARGS ?=

.PHONY: all deps build build-debug run test test-unit test-integration request-corpus bench bench-indexer bench-gateway bench-post bench-search bench-automod bench-thread-archive fuzz fmt lint clean soak test-race

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)
	@ln -sfn release/bin/gatehouse build/gatehouse

build-debug: deps
	@cmake --preset debug >/dev/null
	@cmake --build --preset debug -j $(JOBS)

run: build
	@scripts/run-dev $(RUN_ARGS)

test: build build-debug
	@scripts/run-tests

# The unit tier is built once, in the sanitizer build; the release build holds the db, chain and
# slow tiers (ctest --preset release after scripts/test-services start).
test-unit: build-debug
	@ctest --preset debug -L unit -j $(JOBS)

# Every fuzz target for FUZZ_SECONDS each (default 10 minutes); the corpus grows across runs.
FUZZ_SECONDS ?= 600
fuzz: ; @scripts/run-fuzz $(FUZZ_SECONDS)

# Times the eth hot paths against ethers v6 and siwe 3 and prints the ratios (reports only).
bench:
	@scripts/run-bench

# Long soaks, outside make test: the indexer killed at random points of a long backfill
# (tests/integration/*.release.mjs, which make test runs once) repeated for SOAK_ROUNDS rounds of
# kills and restarts on one chain, against the release server, on SQLite and PostgreSQL.
SOAK_ROUNDS ?= 10
soak: build
	@scripts/test-services start >/dev/null
	@set -a; . build/test-services.env; set +a; GATEHOUSE_TEST_SOAK_ROUNDS=$(SOAK_ROUNDS) \
	  node --test tests/integration/*.release.mjs; rc=$$?; \
	  scripts/test-services stop >/dev/null; exit $$rc

# The valid requests the hostile-input sweep (tests/integration/malformed.test.mjs) starts from:
# every fetch of the other integration suites recorded, then a few bodies and queries per route
# kept in tests/integration/lib/requests.json. Run it when a route is added (the sweep says so).
request-corpus: build
	@rm -f build/requests.jsonl
	@GATEHOUSE_RECORD_REQUESTS=$(CURDIR)/build/requests.jsonl NODE_OPTIONS="--import ./tests/integration/lib/request-corpus.mjs" \
	  GATEHOUSE_BIN=$(CURDIR)/build/release/bin/gatehouse node --test --test-concurrency=2 \
	  $$(ls tests/integration/*.test.mjs | grep -v malformed)
	@GATEHOUSE_BIN=$(CURDIR)/build/release/bin/gatehouse node tests/integration/lib/request-corpus.mjs build/requests.jsonl

# The integration suites against a ThreadSanitizer build of the server (build/tsan), outside make
# test: about 3 minutes to build, 6 to run on 2 cores. Fails on a failed test or on any report
# (a data race, or a crash TSan caught), which it prints; the reports stay in build/tsan/reports.
test-race: deps
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan -j $(JOBS) --target gatehouse
	@scripts/test-services start >/dev/null
	@rm -rf build/tsan/reports && mkdir -p build/tsan/reports
	@set -a; . build/test-services.env; set +a; export GATEHOUSE_REQUIRE_SERVICES=1; \
	  TSAN_OPTIONS="halt_on_error=0 history_size=3 log_path=$(CURDIR)/build/tsan/reports/report" \
	  GATEHOUSE_BIN=$(CURDIR)/build/tsan/bin/gatehouse node --test --test-concurrency=2 tests/integration/*.test.mjs; \
	  rc=$$?; scripts/test-services stop >/dev/null; \
	  if compgen -G 'build/tsan/reports/report.*' >/dev/null; then \
	    cat build/tsan/reports/report.*; echo "make test-race: ThreadSanitizer reported (build/tsan/reports)"; exit 1; fi; \
	  exit $$rc

# The chain indexer's decode + apply path: 200k ERC-20 transfers plus Uniswap V2 swaps on SQLite and,
# when scripts/test-services runs, PostgreSQL; logs/s against the raw insert rate (reports only).
# The chain indexer: first end to end (bench/indexer_backfill.mjs: the release server backfills a
# cached anvil chain of 200,000 ERC-20 transfers and 3,000 Uniswap V2 swaps, SQLite then PostgreSQL
# when build/test-services.env names one, and Ponder 0.16 (bench/ponder, its own package, installed
# here from its lockfile when missing or older than it, never by the root npm ci) does the same work
# on PGlite and PostgreSQL as the baseline measured in the same run; 3 runs each, results checked
# against balanceOf and getReserves), then the apply path alone on synthesized logs
# (gh_indexer_bench, BENCH_ARGS). BENCH_REPS, BENCH_BACKENDS, BENCH_PERF=FILE (perf record of the
# first SQLite run). Reports only.
bench-indexer:
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS) --target gatehouse gh_indexer_bench
	@[ -d node_modules/ethers ] || { echo "bench-indexer: run npm ci first" >&2; exit 1; }
	@[ -f bench/ponder/node_modules/.package-lock.json ] && \
	  [ ! bench/ponder/package-lock.json -nt bench/ponder/node_modules/.package-lock.json ] || \
	  npm ci --prefix bench/ponder --no-audit --no-fund
	@set -a; [ -f build/test-services.env ] && . build/test-services.env; set +a; \
	  node bench/indexer_backfill.mjs && build/release/bin/gh_indexer_bench $(BENCH_ARGS)

# The WebSocket gateway's fan-out under load (bench/ws_load.cpp against a fresh release server and
# against a minimal Node ws server): latency, lost frames, server RSS per socket and CPU per frame;
# BENCH_CASES="SOCKETS:RATE:MESSAGES ...", BENCH_REPS (reports only; about 15 minutes on 2 cores).
bench-gateway:
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS) --target gatehouse gh_ws_load gh_ws_floor
	@[ -d node_modules/ws ] || { echo "bench-gateway: run npm ci first" >&2; exit 1; }
	@ulimit -n $$(ulimit -Hn) && node bench/gateway_bench.mjs

# Posting, by the path a message takes (bench/post_bench.mjs): a fresh release server per run,
# SQLite and, when build/test-services.env names one, PostgreSQL; server CPU per post until the work
# it leaves behind is done, posts/s, latency; BENCH_BASELINE_BIN=an older gatehouse runs beside it
# (reports only; about 5 minutes per backend with the default 3 runs).
bench-post:
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS) --target gatehouse
	@[ -d node_modules/ethers ] || { echo "bench-post: run npm ci first" >&2; exit 1; }
	@node bench/post_bench.mjs

# The job messaging.thread_archive over many threads not due (bench/thread_archive.mjs): one run's
# own time, as a process against a control job, SQLite and, when build/test-services.env names one,
# PostgreSQL; BENCH_BASELINE_BIN=an older gatehouse runs beside it on the same rows (reports only).
bench-thread-archive:
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS) --target gatehouse
	@node bench/thread_archive.mjs

# Channel search (bench/search_bench.cpp): gatehouse's term index against SQLite FTS5 and, when
# build/test-services.env names a PostgreSQL, a GIN tsvector index, on the same synthesized corpus
# and database: index cost per message and query latency, results compared (BENCH_ARGS).
bench-search:
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS) --target gh_search_bench
	@set -a; [ -f build/test-services.env ] && . build/test-services.env; set +a; \
	  build/release/bin/gh_search_bench $(BENCH_ARGS) 2>/dev/null

# AutoMod's fold (bench/automod_bench.cpp): the table generated at build time against ICU's NFKD +
# confusable skeleton + case folding at run time, on the same texts; and a 1,000-keyword screen.
bench-automod:
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS) --target gh_automod_bench
	@build/release/bin/gh_automod_bench $(BENCH_ARGS)

fmt:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

# Every check of .clang-tidy (the clang-analyzer and the style checks too) over every library
# source of src/ (incremental: unchanged files that passed are skipped); make test runs the fast
# tier of scripts/check-style over the same files.
lint: build
	@scripts/check-style --tidy-only --full

clean:
	@rm -rf build
