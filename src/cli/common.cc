#include "cli/common.h"

#include <charconv>
#include <chrono>
#include <thread>

#include <fmt/format.h>

namespace trib::cli {

namespace {

// What a user can do about the errors a command meets most.
const char* hint_for(rd_kafka_resp_err_t err) {
    switch (err) {
        case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
            return "`trib topic list` shows the topics there are";
        case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
            return "choose another name, or `trib topic delete` it first";
        case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
            return "`trib broker list` shows how many brokers are live";
        case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
            return "a topic has 1 or more partitions, and can only gain partitions";
        case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
            return "check the setting's name and value against the README's topic settings";
        case RD_KAFKA_RESP_ERR_NOT_CONTROLLER:
        case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        case RD_KAFKA_RESP_ERR__TIMED_OUT:
            return "the cluster may be electing a leader: try again, or raise --timeout";
        case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
            return "too few replicas are in sync: `trib cluster health` shows which";
        case RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND:
            return "`trib group list` shows the groups there are";
        case RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP:
        case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
            return "the group has members: stop its consumers first";
        case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
            return "topic names use letters, digits, '.', '_' and '-', at most 249 of them";
        case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
        case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
            return "the broker's log says why";
        default:
            return nullptr;
    }
}

}  // namespace

failure kafka_failure(rd_kafka_resp_err_t err, const std::string& detail, const options& opts) {
    if (err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
        err == RD_KAFKA_RESP_ERR__RESOLVE) {
        return {exit_code::unreachable,
                fmt::format("cannot reach a broker at {} ({}): is Tributary running there? "
                            "(set --brokers or TRIB_BROKERS)",
                            opts.brokers, detail.empty() ? rd_kafka_err2str(err) : detail)};
    }
    std::string text = rd_kafka_err2name(err);
    // librdkafka's own errors carry a leading '_': name them as it does, they are not Kafka's.
    if (!detail.empty()) {
        text += ": " + detail;
    } else {
        text += fmt::format(": {}", rd_kafka_err2str(err));
    }
    if (const char* hint = hint_for(err)) {
        text += fmt::format(" ({})", hint);
    }
    return {exit_code::failed, std::move(text)};
}

outcome<std::pair<std::string, std::string>> split_assignment(const std::string& text,
                                                              const std::string& flag) {
    auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0) {
        return fail(fmt::format("{} takes name=value, not \"{}\"", flag, text), exit_code::usage);
    }
    return std::pair{text.substr(0, eq), text.substr(eq + 1)};
}

std::optional<int64_t> parse_non_negative(std::string_view text) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size() || v < 0) return std::nullopt;
    return v;
}

outcome<> wait_with_progress(const options& opts, double timeout_s,
                             const std::function<outcome<progress>()>& look,
                             const std::string& advice) {
    auto started = std::chrono::steady_clock::now();
    auto deadline = started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::chrono::duration<double>(timeout_s));
    bool tell = opts.format == output_format::table;
    std::string last;
    while (true) {
        auto now = TRIB_TRY(look());
        double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (now.done) {
            if (tell) fmt::print(stderr, "{} after {:.1f} s\n", now.line, seconds);
            return {};
        }
        if (now.line != last && tell) fmt::print(stderr, "{} ({:.1f} s)\n", now.line, seconds);
        last = now.line;
        if (std::chrono::steady_clock::now() > deadline) {
            return fail(fmt::format("{} after {:.0f} s: {}", now.line, seconds, advice));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
}

}  // namespace trib::cli
