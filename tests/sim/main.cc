// trib_sim: the deterministic simulation of a Raft group (see simulation.h).
//
//   trib_sim --seed 1234 [--verbose]          one seed; --verbose prints the event trace
//   trib_sim --seeds 0-1999                   a range, with a summary and coverage facts
//   trib_sim --seeds 0-19 --check-determinism every seed twice, trace hashes compared
//   trib_sim --soak 100000                    random seeds until the count is reached
//   --ticks N                                 safety phase length instead of the drawn one
//
// Exit codes: 0 pass; 128 a liveness failure; 129 an invariant violation; 1 a determinism
// mismatch, a coverage fact not met or bad arguments. A failed assertion in the core aborts
// (the crash class); the abort handler prints the seed and its replay command first.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <unistd.h>

#include "sim/rng.h"
#include "sim/simulation.h"

namespace {

using trib::sim::outcome;
using trib::sim::run_result;
using trib::sim::sim_stats;

constexpr int exit_liveness = 128;
constexpr int exit_violation = 129;
// Coverage facts are judged only over ranges at least this long.
constexpr uint64_t coverage_min_seeds = 100;
// Without --check-determinism, every this many seeds runs twice anyway.
constexpr uint64_t determinism_sample = 50;
constexpr double slow_seed_seconds = 2.0;

struct args {
    std::string program;
    uint64_t first = 0;
    uint64_t last = 0;
    bool have_seeds = false;
    uint64_t soak = 0;
    bool verbose = false;
    bool check_determinism = false;
    int64_t ticks = 0;
};

// The replay command of the seed running now, kept ready for the abort handler (which may
// only call async-signal-safe functions).
char g_replay[512];
size_t g_replay_len = 0;

void on_abort(int) {
    static const char head[] = "\nCRASH (abort, e.g. a failed assertion) in ";
    (void)!write(STDERR_FILENO, head, sizeof(head) - 1);
    (void)!write(STDERR_FILENO, g_replay, g_replay_len);
    std::signal(SIGABRT, SIG_DFL);
    std::raise(SIGABRT);
}

std::string replay_command(const args& a, uint64_t seed) {
    std::string cmd = fmt::format("{} --seed {}", a.program, seed);
    if (a.ticks > 0) {
        cmd += fmt::format(" --ticks {}", a.ticks);
    }
    return cmd + " --verbose";
}

void set_replay(const args& a, uint64_t seed) {
    std::string line = fmt::format("seed {}; replay: {}\n", seed, replay_command(a, seed));
    g_replay_len = std::min(line.size(), sizeof(g_replay));
    std::memcpy(g_replay, line.data(), g_replay_len);
}

bool parse_u64(const char* s, uint64_t& out) {
    char* end = nullptr;
    out = std::strtoull(s, &end, 10);
    return end != s && *end == '\0';
}

bool parse(int argc, char** argv, args& a) {
    a.program = argv[0];
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
        if (arg == "--verbose") {
            a.verbose = true;
        } else if (arg == "--check-determinism") {
            a.check_determinism = true;
        } else if (arg == "--seed" && value != nullptr) {
            if (!parse_u64(value, a.first)) {
                return false;
            }
            a.last = a.first;
            a.have_seeds = true;
            ++i;
        } else if (arg == "--seeds" && value != nullptr) {
            std::string range = value;
            auto dash = range.find('-');
            if (dash == std::string::npos || !parse_u64(range.substr(0, dash).c_str(), a.first) ||
                !parse_u64(range.substr(dash + 1).c_str(), a.last) || a.last < a.first) {
                return false;
            }
            a.have_seeds = true;
            ++i;
        } else if (arg == "--soak" && value != nullptr) {
            if (!parse_u64(value, a.soak)) {
                return false;
            }
            ++i;
        } else if (arg == "--ticks" && value != nullptr) {
            uint64_t t = 0;
            if (!parse_u64(value, t)) {
                return false;
            }
            a.ticks = static_cast<int64_t>(t);
            ++i;
        } else {
            return false;
        }
    }
    return a.have_seeds != (a.soak > 0);
}

class runner {
  public:
    explicit runner(const args& a) : _args(a) {}

    void run(uint64_t seed, bool twice) {
        set_replay(_args, seed);
        auto started = std::chrono::steady_clock::now();
        run_result r = trib::sim::run_seed(seed, _args.ticks, _args.verbose);
        double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (seconds > slow_seed_seconds) {
            // Not a failure (wall time is not deterministic), but it eats the CI budget.
            fmt::print("SLOW seed {}: {:.1f}s, {} messages\n", seed, seconds, r.stats.messages);
        }
        if (twice) {
            run_result again = trib::sim::run_seed(seed, _args.ticks, false);
            if (again.trace_hash != r.trace_hash || again.verdict != r.verdict) {
                ++r.stats.determinism_mismatches;
                ++_mismatches;
                fmt::print(
                    "FAIL seed {} (determinism): trace hash {:016x} then {:016x}\n  "
                    "replay: {}\n",
                    seed, r.trace_hash, again.trace_hash, replay_command(_args, seed));
            }
        }
        _total.add(r.stats);
        if (r.stats.messages > _busiest_messages) {
            _busiest_messages = r.stats.messages;
            _busiest_seed = seed;
        }
        if (r.verdict != outcome::pass) {
            bool violation = r.verdict == outcome::violation;
            (violation ? _violations : _liveness) += 1;
            fmt::print("FAIL seed {} ({}): {}\n  replay: {}\n", seed,
                       violation ? "invariant violation" : "liveness", r.reason,
                       replay_command(_args, seed));
        }
        // Each seed's lines reach the log before the next seed can abort.
        std::fflush(stdout);
    }

    int finish(double seconds) {
        fmt::print("{} busiest seed {} ({} messages) wall time {:.1f}s\n", _total.summary(),
                   _busiest_seed, _busiest_messages, seconds);
        bool covered = true;
        if (_total.seeds >= coverage_min_seeds) {
            auto need = [&](uint64_t count, const char* what) {
                if (count == 0) {
                    fmt::print("UNKNOWN: never exercised {} in {} seeds\n", what, _total.seeds);
                    covered = false;
                }
            };
            need(_total.elections, "elections");
            need(_total.transfers_completed, "leadership transfers");
            need(_total.member_changes_committed, "membership changes");
            need(_total.crashes, "crashes");
            need(_total.repairs, "repairs of damaged logs");
            need(_total.snapshots_installed, "snapshot installs");
            need(_total.truncations, "truncations of divergent suffixes");
            need(_total.acked, "acknowledged entries");
            need(_total.images_compared, "controller images compared across nodes");
        }
        if (_violations > 0) {
            return exit_violation;
        }
        if (_liveness > 0) {
            return exit_liveness;
        }
        return _mismatches > 0 || !covered ? 1 : 0;
    }

  private:
    const args& _args;
    sim_stats _total;
    uint64_t _violations = 0;
    uint64_t _liveness = 0;
    uint64_t _mismatches = 0;
    uint64_t _busiest_messages = 0;
    uint64_t _busiest_seed = 0;
};

}  // namespace

int main(int argc, char** argv) {
    args a;
    if (!parse(argc, argv, a)) {
        std::fprintf(stderr,
                     "usage: %s (--seed N | --seeds A-B | --soak COUNT) [--verbose] "
                     "[--check-determinism] [--ticks N]\n",
                     argv[0]);
        return 1;
    }
    std::signal(SIGABRT, on_abort);
    auto started = std::chrono::steady_clock::now();
    runner r(a);
    if (a.have_seeds) {
        for (uint64_t seed = a.first; seed <= a.last; ++seed) {
            r.run(seed, a.check_determinism || seed % determinism_sample == 0);
            if (seed == UINT64_MAX) {
                break;
            }
        }
    } else {
        // Soak: the only place a seed comes from the clock; each run still replays by seed.
        auto base =
            static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
        base ^= static_cast<uint64_t>(getpid()) << 32;
        fmt::print("soak: {} seeds derived from {}\n", a.soak, base);
        for (uint64_t i = 0; i < a.soak; ++i) {
            r.run(trib::sim::mix(base, i) >> 1, a.check_determinism);
            if ((i + 1) % 1000 == 0) {
                fmt::print("soak: {} seeds done\n", i + 1);
                std::fflush(stdout);
            }
        }
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return r.finish(seconds);
}
