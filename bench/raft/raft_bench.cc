// trib-raft-bench: one node of a Raft benchmark cluster. Run three (bench/raft/run): each
// hosts the same groups on real storage and real node-to-node connections; whichever node
// leads a group keeps `--window` proposals of `--batch-bytes` in flight on it and counts
// what commits. Prints JSON: commits, bytes and commit latency percentiles of this node.
//
// For crash tests (tests/integration/test_raft_processes.py): `--unique` makes every proposed
// batch different, `--ack-log FILE` appends "group offset term crc" for each proposal this
// node saw committed while it led, and `--dump` prints every group's log in the same form
// (entries only, from the store on disk) and exits.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <map>
#include <vector>

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include "model/record_batch.h"
#include "raft/host.h"

namespace {

using namespace trib;
using clock_type = std::chrono::steady_clock;

struct pending {
    raft::offset_t last_offset;
    clock_type::time_point proposed;
};

struct group_load {
    raft::group* g = nullptr;
    raft::term_t term = -1;
    std::deque<pending> in_flight;
};

std::map<raft::node_id, rpc::peer_address> parse_peers(const std::string& text) {
    std::map<raft::node_id, rpc::peer_address> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find(',', pos);
        std::string item =
            text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
        size_t eq = item.find('=');
        size_t colon = item.rfind(':');
        if (eq == std::string::npos || colon == std::string::npos || colon < eq) {
            throw CLI::ValidationError("--peers", "expected id=host:port,...");
        }
        out[std::stoi(item.substr(0, eq))] = {
            item.substr(eq + 1, colon - eq - 1),
            static_cast<uint16_t>(std::stoi(item.substr(colon + 1)))};
        if (end == std::string::npos) {
            break;
        }
        pos = end + 1;
    }
    return out;
}

int dump_logs(const std::string& dir, int groups) {
    for (int g = 0; g < groups; ++g) {
        auto store = raft::log_store::open(std::filesystem::path(dir) / fmt::format("group-{}", g),
                                           raft::configuration{}, storage::log_config{});
        if (!store) {
            fmt::print(stderr, "{}\n", store.error().message);
            return 1;
        }
        raft::offset_t next = (*store)->snapshot().last_offset + 1;
        while (next <= (*store)->last_offset()) {
            auto es = (*store)->entries(next, (*store)->last_offset(), 1 << 20);
            if (!es) {
                fmt::print(stderr, "group {}: cannot read at {}: {}\n", g, next,
                           es.error().message());
                return 1;
            }
            for (const auto& e : *es) {
                fmt::print("{} {} {} {}\n", g, e.base_offset, e.term,
                           model::header_fields(e.bytes()).crc);
                next = e.last_offset + 1;
            }
        }
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Raft benchmark node"};
    int id = 1;
    std::string peers_text;
    std::string dir;
    int groups = 1;
    double seconds = 10;
    double warmup = 2;
    size_t batch_bytes = 16 * 1024;
    size_t window = 64;
    int tick_ms = 100;
    bool unique = false;
    bool dump = false;
    std::string ack_log_path;
    app.add_option("--id", id)->required();
    app.add_option("--peers", peers_text, "id=host:port,... for every node")->required();
    app.add_option("--dir", dir)->required();
    app.add_option("--groups", groups);
    app.add_option("--seconds", seconds, "measured time");
    app.add_option("--warmup", warmup, "seconds before measuring (elections happen here)");
    app.add_option("--batch-bytes", batch_bytes);
    app.add_option("--window", window, "proposals in flight per group led here");
    app.add_option("--tick-ms", tick_ms);
    app.add_flag("--unique", unique, "a different batch for every proposal");
    app.add_option("--ack-log", ack_log_path, "append each acknowledged proposal here");
    app.add_flag("--dump", dump, "print every group's log and exit");
    CLI11_PARSE(app, argc, argv);
    if (dump) {
        return dump_logs(dir, groups);
    }
    std::FILE* ack_log = ack_log_path.empty() ? nullptr : std::fopen(ack_log_path.c_str(), "a");

    asio::io_context loop;
    raft::host_config config{
        .id = id, .peers = parse_peers(peers_text), .dir = dir, .tick_ms = tick_ms};
    config.options.seed = static_cast<uint64_t>(id);
    raft::host host(loop, config);
    if (auto st = host.start(); !st) {
        fmt::print(stderr, "{}\n", st.error().message);
        return 1;
    }
    raft::configuration voters;
    for (const auto& [peer, address] : config.peers) {
        voters.voters.push_back(peer);
    }

    uint64_t proposed = 0;
    auto make_batch = [&] {
        size_t records = std::max<size_t>(1, batch_bytes / 1024);
        std::vector<model::record> rs(records);
        for (auto& r : rs) {
            r.value = std::vector<uint8_t>(batch_bytes / records - 70, 0x61);
        }
        // Node id and a counter: no two proposals of a run carry the same bytes.
        std::string tag = fmt::format("n{}-{}-{}", id, ::getpid(), proposed++);
        std::copy(tag.begin(), tag.end(), rs[0].value->begin());
        return model::build_batch({}, rs).value();
    };
    std::vector<uint8_t> records_batch = make_batch();

    bool measuring = false;
    uint64_t commits = 0;
    uint64_t bytes = 0;
    std::vector<double> latencies_ms;
    std::map<raft::group_id, group_load> loads;

    auto top_up = [&](group_load& l) {
        raft::raft_node& n = l.g->node();
        if (n.role() != raft::role::leader || n.term() != l.term) {
            l.in_flight.clear();
            l.term = n.term();
            if (n.role() != raft::role::leader) {
                return;
            }
        }
        while (l.in_flight.size() < window) {
            auto offset = l.g->propose(unique ? make_batch() : records_batch);
            if (!offset) {
                break;
            }
            l.in_flight.push_back({*offset, clock_type::now()});
        }
        l.g->pump();
    };

    for (int g = 0; g < groups; ++g) {
        auto gid = static_cast<raft::group_id>(g);
        auto added = host.add_group(gid, voters, [&, gid](raft::offset_t committed) {
            group_load& l = loads[gid];
            raft::raft_node& n = l.g->node();
            if (n.role() != raft::role::leader || n.term() != l.term) {
                l.in_flight.clear();  // not ours to acknowledge: another leader's commit
                return;
            }
            auto now = clock_type::now();
            while (!l.in_flight.empty() && l.in_flight.front().last_offset <= committed) {
                if (ack_log != nullptr) {
                    auto pos = l.g->store().position_of(l.in_flight.front().last_offset);
                    auto es = l.g->store().entries(pos->base_offset, pos->last_offset, 1);
                    const auto& e = es->front();
                    std::fprintf(
                        ack_log, "%llu %lld %lld %u\n", static_cast<unsigned long long>(gid),
                        static_cast<long long>(e.base_offset), static_cast<long long>(e.term),
                        model::header_fields(e.bytes()).crc);
                    std::fflush(ack_log);
                }
                if (measuring) {
                    ++commits;
                    bytes += records_batch.size();
                    latencies_ms.push_back(std::chrono::duration<double, std::milli>(
                                               now - l.in_flight.front().proposed)
                                               .count());
                }
                l.in_flight.pop_front();
            }
            top_up(l);
        });
        if (!added) {
            fmt::print(stderr, "{}\n", added.error().message);
            return 1;
        }
        loads[gid].g = *added;
    }

    asio::steady_timer poll(loop);
    std::function<void()> poll_again = [&] {
        poll.expires_after(std::chrono::milliseconds(10));
        poll.async_wait([&](std::error_code ec) {
            if (ec) return;
            for (auto& [gid, l] : loads)
                top_up(l);
            poll_again();
        });
    };
    poll_again();

    asio::steady_timer phase(loop);
    auto started = clock_type::now();
    clock_type::time_point measure_start;
    phase.expires_after(std::chrono::milliseconds(static_cast<int64_t>(warmup * 1000)));
    phase.async_wait([&](std::error_code) {
        measuring = true;
        measure_start = clock_type::now();
        phase.expires_after(std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
        phase.async_wait([&](std::error_code) {
            measuring = false;
            poll.cancel();
            loop.stop();
        });
    });
    loop.run();
    double measured = std::chrono::duration<double>(clock_type::now() - measure_start).count();
    (void)started;
    std::sort(latencies_ms.begin(), latencies_ms.end());
    auto pct = [&](double p) {
        return latencies_ms.empty()
                   ? 0.0
                   : latencies_ms[static_cast<size_t>(p * (latencies_ms.size() - 1))];
    };
    int led = 0;
    raft::term_t max_term = 0;
    for (auto& [gid, l] : loads) {
        led += l.g->node().role() == raft::role::leader ? 1 : 0;
        max_term = std::max(max_term, l.g->node().term());
    }
    fmt::print(
        "{{\"id\": {}, \"groups_led\": {}, \"commits\": {}, \"bytes\": {}, \"seconds\": {:.3f}, "
        "\"commits_per_sec\": {:.1f}, \"mb_per_sec\": {:.2f}, \"p50_ms\": {:.2f}, "
        "\"p99_ms\": {:.2f}, \"max_ms\": {:.2f}, \"max_term\": {}, \"frames_sent\": {}, "
        "\"writes\": {}}}\n",
        id, led, commits, bytes, measured, commits / measured, bytes / measured / 1e6, pct(0.5),
        pct(0.99), latencies_ms.empty() ? 0.0 : latencies_ms.back(), max_term,
        host.transport_stats().frames_sent, host.transport_stats().writes);
    host.stop();
    if (ack_log != nullptr) {
        std::fclose(ack_log);
    }
    return 0;
}
