// What every `trib` command shares: how it ends (exit codes), how it reaches the cluster, and
// how a Kafka error becomes a message that says what to do.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "base/result.h"

namespace trib::cli {

// Exit codes a script can act on (the README lists them).
enum class exit_code : int {
    ok = 0,
    failed = 1,       // the cluster refused or failed the operation, or a check found a problem
    usage = 2,        // bad command line
    unreachable = 3,  // no broker answered
};

struct failure {
    exit_code code = exit_code::failed;
    std::string message;
};
template <typename T = void>
using outcome = result<T, failure>;

inline unexpected<failure> fail(std::string message, exit_code code = exit_code::failed) {
    return unexpected(failure{code, std::move(message)});
}

enum class output_format { table, json };

// The global options every command takes.
struct options {
    std::string brokers = "127.0.0.1:9092";
    std::string admin = "127.0.0.1:9644";  // a node's admin HTTP API (admin.listen)
    output_format format = output_format::table;
    double timeout_s = 10;
    bool verbose = false;                    // librdkafka's own log lines on stderr
    std::vector<std::string> client_config;  // -X name=value, passed to librdkafka
    int timeout_ms() const { return static_cast<int>(timeout_s * 1000); }
};

// "UNKNOWN_TOPIC_OR_PART: <what the broker said> (<what to do>)", the error named as Kafka
// names it; transport errors become exit_code::unreachable.
failure kafka_failure(rd_kafka_resp_err_t err, const std::string& detail, const options& opts);

// Splits "name=value" (the first '='); an error names the flag.
outcome<std::pair<std::string, std::string>> split_assignment(const std::string& text,
                                                              const std::string& flag);

// A whole non-negative decimal number (offsets, timestamps), or nullopt.
std::optional<int64_t> parse_non_negative(std::string_view text);

// What a --wait loop learns from one look: whether it is done, and the line that says where it
// stands (the final line once done).
struct progress {
    bool done = false;
    std::string line;
};
// Looks every 500 ms until `look` says done, printing its line on stderr (tables only) when it
// changes and "<line> after N s" at the end; past timeout_s fails with "<line> after N s: "
// followed by `advice`.
outcome<> wait_with_progress(const options& opts, double timeout_s,
                             const std::function<outcome<progress>()>& look,
                             const std::string& advice);

}  // namespace trib::cli
