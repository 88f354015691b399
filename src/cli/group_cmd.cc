// trib group list | describe | delete | seek: consumer groups, their members, committed
// offsets and lag, and resetting where a stopped group resumes.
#include <algorithm>
#include <chrono>
#include <map>
#include <optional>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/kafka.h"
#include "cli/output.h"

namespace trib::cli {

namespace {

struct group_args {
    std::vector<std::string> groups;
    std::string topic;  // seek
    std::string to;     // seek: earliest, latest, offset:N, timestamp:MS
    bool execute = false;
};

using list_ptr =
    std::unique_ptr<rd_kafka_topic_partition_list_t, void (*)(rd_kafka_topic_partition_list_t*)>;
using tp = std::pair<std::string, int32_t>;

struct member {
    std::string client_id, consumer_id, host;
    std::vector<tp> assigned;
};
struct group_state {
    std::string state;
    std::string assignor;
    std::vector<member> members;
};

// An error the broker gave for one group, named after it.
failure group_failure(const rd_kafka_error_t* e, const std::string& group, const options& opts) {
    return kafka_failure(rd_kafka_error_code(e), group + ": " + rd_kafka_error_string(e), opts);
}

outcome<group_state> describe_group(kafka& k, const std::string& group) {
    const char* name = group.c_str();
    auto ev = TRIB_TRY(k.admin(
        RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT,
        [&](rd_kafka_t* rk, rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
            rd_kafka_DescribeConsumerGroups(rk, &name, 1, o, q);
        }));
    size_t n = 0;
    const rd_kafka_ConsumerGroupDescription_t** gs = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(ev.get()), &n);
    if (n != 1) return fail("DescribeGroups answered no group");
    if (const rd_kafka_error_t* e = rd_kafka_ConsumerGroupDescription_error(gs[0])) {
        return unexpected(group_failure(e, group, k.opts()));
    }
    group_state g{
        .state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(gs[0])),
        .assignor = rd_kafka_ConsumerGroupDescription_partition_assignor(gs[0]),
        .members = {}};
    if (g.state == "Dead") {
        // Kafka answers an unknown group as a dead one with no members.
        return unexpected(kafka_failure(RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND,
                                        fmt::format("no group named '{}'", group), k.opts()));
    }
    for (size_t i = 0; i < rd_kafka_ConsumerGroupDescription_member_count(gs[0]); ++i) {
        const rd_kafka_MemberDescription_t* m = rd_kafka_ConsumerGroupDescription_member(gs[0], i);
        member mm{.client_id = rd_kafka_MemberDescription_client_id(m),
                  .consumer_id = rd_kafka_MemberDescription_consumer_id(m),
                  .host = rd_kafka_MemberDescription_host(m),
                  .assigned = {}};
        const rd_kafka_topic_partition_list_t* parts =
            rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m));
        for (int j = 0; parts && j < parts->cnt; ++j) {
            mm.assigned.emplace_back(parts->elems[j].topic, parts->elems[j].partition);
        }
        g.members.push_back(std::move(mm));
    }
    return g;
}

// The group's committed offsets, every partition it has one for.
outcome<std::map<tp, int64_t>> committed(kafka& k, const std::string& group) {
    rd_kafka_ListConsumerGroupOffsets_t* req =
        rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), nullptr);
    auto ev = k.admin(RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS,
                      RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT,
                      [&](rd_kafka_t* rk, rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                          rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, o, q);
                      });
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    if (!ev) return unexpected(ev.error());
    size_t n = 0;
    const rd_kafka_group_result_t** gs = rd_kafka_ListConsumerGroupOffsets_result_groups(
        rd_kafka_event_ListConsumerGroupOffsets_result(ev->get()), &n);
    std::map<tp, int64_t> out;
    for (size_t i = 0; i < n; ++i) {
        if (const rd_kafka_error_t* e = rd_kafka_group_result_error(gs[i])) {
            return unexpected(group_failure(e, group, k.opts()));
        }
        const rd_kafka_topic_partition_list_t* parts = rd_kafka_group_result_partitions(gs[i]);
        for (int j = 0; parts && j < parts->cnt; ++j) {
            if (parts->elems[j].offset >= 0) {
                out[{parts->elems[j].topic, parts->elems[j].partition}] = parts->elems[j].offset;
            }
        }
    }
    return out;
}

outcome<> list(const options& opts, const group_args&) {
    auto k = TRIB_TRY(kafka::connect(opts));
    TRIB_TRY(k.metadata());  // says at once when no broker answers
    auto ev = TRIB_TRY(
        k.admin(RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS, RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT,
                [&](rd_kafka_t* rk, rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                    rd_kafka_ListConsumerGroups(rk, o, q);
                }));
    const auto* res = rd_kafka_event_ListConsumerGroups_result(ev.get());
    size_t n = 0;
    const rd_kafka_ConsumerGroupListing_t** gs = rd_kafka_ListConsumerGroups_result_valid(res, &n);
    std::vector<std::pair<std::string, std::string>> rows;
    for (size_t i = 0; i < n; ++i) {
        rows.emplace_back(
            rd_kafka_ConsumerGroupListing_group_id(gs[i]),
            rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupListing_state(gs[i])));
    }
    std::sort(rows.begin(), rows.end());
    size_t errors = 0;
    rd_kafka_ListConsumerGroups_result_errors(res, &errors);
    if (opts.format == output_format::json) {
        auto j = nlohmann::json::array();
        for (const auto& [g, s] : rows)
            j.push_back({{"group", g}, {"state", s}});
        print_json(j);
    } else {
        table t({"group", "state"});
        for (const auto& [g, s] : rows)
            t.add({g, s});
        fmt::print("{}", t.render());
    }
    if (errors > 0) {
        return fail(fmt::format("{} brokers did not answer: the list may be incomplete", errors));
    }
    return {};
}

// The timestamp of the record at each position (the next one a group reads), by an
// assign-mode consumer that joins and commits nothing. A partition whose record does not come
// within the time allowed is left out.
std::map<tp, int64_t> record_timestamps(const options& opts, const std::map<tp, int64_t>& at) {
    std::map<tp, int64_t> out;
    if (at.empty()) return out;
    auto k = kafka::connect(opts, RD_KAFKA_CONSUMER,
                            {{"group.id", "trib-lag"}, {"enable.auto.commit", "false"}});
    if (!k) return out;
    rd_kafka_t* rk = k->handle();
    rd_kafka_poll_set_consumer(rk);
    list_ptr list(rd_kafka_topic_partition_list_new(static_cast<int>(at.size())),
                  rd_kafka_topic_partition_list_destroy);
    for (const auto& [p, offset] : at)
        rd_kafka_topic_partition_list_add(list.get(), p.first.c_str(), p.second)->offset = offset;
    if (rd_kafka_assign(rk, list.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
    auto deadline = std::chrono::steady_clock::now() +
                    std::min<std::chrono::milliseconds>(
                        std::chrono::milliseconds(opts.timeout_ms()), std::chrono::seconds(5));
    while (out.size() < at.size() && std::chrono::steady_clock::now() < deadline) {
        std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> m(
            rd_kafka_consumer_poll(rk, 100), rd_kafka_message_destroy);
        if (!m || m->err) continue;
        out.try_emplace({rd_kafka_topic_name(m->rkt), m->partition},
                        rd_kafka_message_timestamp(m.get(), nullptr));
    }
    rd_kafka_consumer_close(rk);
    return out;
}

outcome<> describe(const options& opts, const group_args& a) {
    auto k = TRIB_TRY(kafka::connect(opts));
    const std::string& group = a.groups.front();
    group_state g = TRIB_TRY(describe_group(k, group));
    std::map<tp, int64_t> offsets = TRIB_TRY(committed(k, group));
    std::map<tp, std::string> owner;
    for (const member& m : g.members) {
        for (const tp& p : m.assigned) {
            owner[p] = m.client_id;
            offsets.try_emplace(p, -1);  // assigned, nothing committed yet
        }
    }
    struct row {
        int64_t committed, high, lag;
    };
    std::map<tp, row> rows;
    std::map<tp, int64_t> next_read;  // where a lagging partition is read next
    for (const auto& [p, off] : offsets) {
        auto w = k.query_watermarks(p.first, p.second);
        int64_t high = w ? w->high : -1;
        int64_t from = off < 0 && w ? std::max<int64_t>(w->low, 0) : off;
        int64_t lag = high < 0 ? -1 : std::max<int64_t>(high - from, 0);
        rows[p] = {off, high, lag};
        if (lag > 0) next_read[p] = from;
    }
    // Lag in time: how long ago the next unread record was written (0 when none is unread).
    std::map<tp, int64_t> written = record_timestamps(opts, next_read);
    auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    table t({"topic", "partition", "committed", "high-watermark", "lag", "lag-time", "member"});
    auto pj = nlohmann::json::array();
    int64_t total_lag = 0;
    double max_lag_s = 0;
    for (const auto& [p, r] : rows) {
        total_lag += std::max<int64_t>(r.lag, 0);
        std::optional<double> lag_s;
        if (r.lag == 0) lag_s = 0.0;
        if (auto it = written.find(p); it != written.end()) {
            lag_s = static_cast<double>(std::max<int64_t>(now_ms - it->second, 0)) / 1000.0;
        }
        if (lag_s) max_lag_s = std::max(max_lag_s, *lag_s);
        std::string who = owner.contains(p) ? owner[p] : "";
        t.add({p.first, std::to_string(p.second),
               r.committed < 0 ? "-" : std::to_string(r.committed),
               r.high < 0 ? "-" : std::to_string(r.high), r.lag < 0 ? "-" : std::to_string(r.lag),
               lag_s ? fmt::format("{:.1f}s", *lag_s) : "-", who});
        pj.push_back({{"topic", p.first},
                      {"partition", p.second},
                      {"committed", r.committed},
                      {"high_watermark", r.high},
                      {"lag", r.lag},
                      {"lag_seconds", lag_s ? nlohmann::json(*lag_s) : nlohmann::json(nullptr)},
                      {"member", who}});
    }
    if (opts.format == output_format::json) {
        auto mj = nlohmann::json::array();
        for (const member& m : g.members) {
            mj.push_back({{"client_id", m.client_id},
                          {"member_id", m.consumer_id},
                          {"host", m.host},
                          {"partitions", m.assigned.size()}});
        }
        print_json({{"group", group},
                    {"state", g.state},
                    {"assignor", g.assignor},
                    {"members", mj},
                    {"lag", total_lag},
                    {"lag_seconds", max_lag_s},
                    {"partitions", pj}});
        return {};
    }
    fmt::print(
        "group     {}\nstate     {}\nassignor  {}\nmembers   {}\nlag       {} records, {:.1f} "
        "s\n\n{}",
        group, g.state, g.assignor.empty() ? "-" : g.assignor, g.members.size(), total_lag,
        max_lag_s, t.empty() ? "no committed offsets and no assignment\n" : t.render());
    return {};
}

outcome<> remove(const options& opts, const group_args& a) {
    auto k = TRIB_TRY(kafka::connect(opts));
    std::vector<rd_kafka_DeleteGroup_t*> raw;
    for (const std::string& g : a.groups)
        raw.push_back(rd_kafka_DeleteGroup_new(g.c_str()));
    auto ev = k.admin(RD_KAFKA_ADMIN_OP_DELETEGROUPS, RD_KAFKA_EVENT_DELETEGROUPS_RESULT,
                      [&](rd_kafka_t* rk, rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                          rd_kafka_DeleteGroups(rk, raw.data(), raw.size(), o, q);
                      });
    rd_kafka_DeleteGroup_destroy_array(raw.data(), raw.size());
    if (!ev) return unexpected(ev.error());
    size_t n = 0;
    const rd_kafka_group_result_t** gs =
        rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev->get()), &n);
    std::optional<failure> first;
    table t({"group", "status"});
    auto j = nlohmann::json::array();
    for (size_t i = 0; i < n; ++i) {
        std::string name = rd_kafka_group_result_name(gs[i]);
        std::string status = "deleted";
        const rd_kafka_error_t* e = rd_kafka_group_result_error(gs[i]);
        if (e) {
            failure f = group_failure(e, name, opts);
            status = f.message;
            if (!first) first = f;
        }
        t.add({name, status});
        j.push_back({{"group", name},
                     {"error", e ? nlohmann::json(rd_kafka_err2name(rd_kafka_error_code(e)))
                                 : nlohmann::json(nullptr)},
                     {"status", status}});
    }
    opts.format == output_format::json ? print_json(j) : fmt::print("{}", t.render());
    if (first) return unexpected(*first);
    return {};
}

// Where `to` puts each partition of the topic, clamped to what the log holds.
outcome<std::map<tp, int64_t>> seek_targets(kafka& k, const cluster_info& c,
                                            const std::string& to) {
    std::map<tp, int64_t> out;
    const topic_info& t = c.topics.front();
    std::optional<int64_t> at_offset;
    std::optional<int64_t> at_time;
    if (to.starts_with("offset:")) {
        at_offset = parse_non_negative(to.substr(7));
    } else if (to.starts_with("timestamp:")) {
        at_time = parse_non_negative(to.substr(10));
    }
    if (to != "earliest" && to != "latest" && !at_offset && !at_time) {
        return fail(
            fmt::format("--to takes earliest, latest, offset:N or timestamp:MS, not \"{}\"", to),
            exit_code::usage);
    }
    list_ptr times(rd_kafka_topic_partition_list_new(static_cast<int>(t.partitions.size())),
                   rd_kafka_topic_partition_list_destroy);
    for (const partition_info& p : t.partitions) {
        watermarks w = TRIB_TRY(k.query_watermarks(t.name, p.id));
        int64_t target = to == "earliest" ? w.low : w.high;
        if (at_offset) target = std::clamp(*at_offset, w.low, w.high);
        out[{t.name, p.id}] = target;
        if (at_time)
            rd_kafka_topic_partition_list_add(times.get(), t.name.c_str(), p.id)->offset = *at_time;
    }
    if (at_time) {
        if (auto err = rd_kafka_offsets_for_times(k.handle(), times.get(), k.opts().timeout_ms());
            err) {
            return unexpected(kafka_failure(err, "offsets for the timestamp", k.opts()));
        }
        for (int i = 0; i < times->cnt; ++i) {
            // -1: no record at or after the time, so the end (already the target).
            if (times->elems[i].offset >= 0)
                out[{t.name, times->elems[i].partition}] = times->elems[i].offset;
        }
    }
    return out;
}

outcome<> seek(const options& opts, const group_args& a) {
    auto k = TRIB_TRY(kafka::connect(opts));
    const std::string& group = a.groups.front();
    auto c = TRIB_TRY(k.metadata(&a.topic));
    std::map<tp, int64_t> targets = TRIB_TRY(seek_targets(k, c, a.to));
    std::map<tp, int64_t> now = TRIB_TRY(committed(k, group));
    auto g = describe_group(k, group);
    if (g && !g->members.empty()) {
        return fail(
            fmt::format("group {} has {} members: stop its consumers first (a group's "
                        "offsets are reset only while it is empty)",
                        group, g->members.size()));
    }
    table t({"topic", "partition", "committed", "new"});
    auto j = nlohmann::json::array();
    for (const auto& [p, off] : targets) {
        auto cur = now.find(p);
        int64_t was = cur == now.end() ? -1 : cur->second;
        t.add({p.first, std::to_string(p.second), was < 0 ? "-" : std::to_string(was),
               std::to_string(off)});
        j.push_back(
            {{"topic", p.first}, {"partition", p.second}, {"committed", was}, {"new", off}});
    }
    if (a.execute) {
        list_ptr list(rd_kafka_topic_partition_list_new(static_cast<int>(targets.size())),
                      rd_kafka_topic_partition_list_destroy);
        for (const auto& [p, off] : targets) {
            rd_kafka_topic_partition_list_add(list.get(), p.first.c_str(), p.second)->offset = off;
        }
        rd_kafka_AlterConsumerGroupOffsets_t* req =
            rd_kafka_AlterConsumerGroupOffsets_new(group.c_str(), list.get());
        auto ev = k.admin(RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS,
                          RD_KAFKA_EVENT_ALTERCONSUMERGROUPOFFSETS_RESULT,
                          [&](rd_kafka_t* rk, rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                              rd_kafka_AlterConsumerGroupOffsets(rk, &req, 1, o, q);
                          });
        rd_kafka_AlterConsumerGroupOffsets_destroy(req);
        if (!ev) return unexpected(ev.error());
        size_t n = 0;
        const rd_kafka_group_result_t** gs = rd_kafka_AlterConsumerGroupOffsets_result_groups(
            rd_kafka_event_AlterConsumerGroupOffsets_result(ev->get()), &n);
        for (size_t i = 0; i < n; ++i) {
            if (const rd_kafka_error_t* e = rd_kafka_group_result_error(gs[i])) {
                return unexpected(group_failure(e, group, opts));
            }
            const rd_kafka_topic_partition_list_t* parts = rd_kafka_group_result_partitions(gs[i]);
            for (int x = 0; parts && x < parts->cnt; ++x) {
                if (parts->elems[x].err) {
                    return unexpected(
                        kafka_failure(parts->elems[x].err,
                                      fmt::format("{} {}-{}", group, parts->elems[x].topic,
                                                  parts->elems[x].partition),
                                      opts));
                }
            }
        }
    }
    if (opts.format == output_format::json) {
        print_json({{"group", group}, {"applied", a.execute}, {"partitions", j}});
    } else {
        fmt::print(
            "{}{}", t.render(),
            a.execute ? "offsets reset\n" : "dry run: nothing changed; add --execute to reset\n");
    }
    return {};
}

}  // namespace

void add_group_commands(CLI::App& app, context& ctx) {
    auto a = std::make_shared<group_args>();
    auto* group = app.add_subcommand("group", "Consumer groups: members, offsets, lag");
    group->require_subcommand(1);
    auto on = [&ctx, a](outcome<> (*fn)(const options&, const group_args&)) {
        return [&ctx, a, fn] { ctx.run = [&ctx, a, fn] { return fn(ctx.opts, *a); }; };
    };
    group->add_subcommand("list", "Consumer groups and their states")->callback(on(list));
    auto* d =
        group->add_subcommand("describe", "A group's state, members, committed offsets and lag");
    d->add_option("group", a->groups, "Group id")->required()->expected(1);
    d->callback(on(describe));
    auto* del = group->add_subcommand("delete", "Delete empty groups and their committed offsets");
    del->add_option("groups", a->groups, "Group ids")->required();
    del->callback(on(remove));
    auto* s = group->add_subcommand(
        "seek", "Reset a stopped group's offsets on a topic (a dry run unless --execute)");
    s->add_option("group", a->groups, "Group id")->required()->expected(1);
    s->add_option("-t,--topic", a->topic, "Topic whose offsets to reset")->required();
    s->add_option("--to", a->to, "earliest, latest, offset:N or timestamp:MS")->required();
    s->add_flag("--execute", a->execute, "Apply the reset (without it: show what it would do)");
    s->callback(on(seek));
}

}  // namespace trib::cli
